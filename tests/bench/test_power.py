"""Power, minimum detectable effect and seed planning, checked against independent answers: textbook
sample sizes (Cohen 1988, Table 2.4.1: two-sided α = 0.05, 80% power), simulation with a fixed seed,
and the normal-approximation closed form it must approach for many seeds."""
import math

import numpy as np
import pytest
from scipy import stats

from bench.stats import mde, power_each, power_t, seeds_needed


def test_textbook_sample_sizes():
    # exact two-sample t (as G*Power computes it): d = 0.5 needs 64 per group, d = 0.8 needs 26, d = 0.2
    # needs 394 (Cohen's normal-approximation table says 393)
    assert seeds_needed(0.5, 1.0) == 64
    assert seeds_needed(0.8, 1.0) == 26
    assert seeds_needed(0.2, 1.0) == 394
    # and so the MDE at those n is just under those d (the tabled n gives a little over 80%)
    assert 0.49 < mde(1.0, 64) <= 0.5 and 0.78 < mde(1.0, 26) <= 0.8


def test_mde_has_80_percent_power_by_simulation():
    rng = np.random.default_rng(0)
    reps = 40_000
    for n, sd in ((3, 1.0), (5, 2.0), (10, 0.5)):
        delta = mde(sd, n)
        a = rng.normal(delta, sd, (reps, n))
        b = rng.normal(0.0, sd, (reps, n))
        rate = np.mean(stats.ttest_ind(a, b, axis=1).pvalue < 0.05)
        assert rate == pytest.approx(0.80, abs=0.012), (n, sd, rate)


def test_paired_mde_has_80_percent_power_by_simulation():
    rng = np.random.default_rng(1)
    reps = 40_000
    for n, sd in ((3, 1.0), (6, 0.3)):
        delta = mde(sd, n, paired=True)
        d = rng.normal(delta, sd, (reps, n))
        rate = np.mean(stats.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05)
        assert rate == pytest.approx(0.80, abs=0.012), (n, sd, rate)


def test_mde_approaches_the_normal_closed_form_and_exceeds_the_half_width():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.80)
    assert mde(1.0, 2000) == pytest.approx(z * math.sqrt(2 / 2000), rel=2e-3)
    # the old "resolvable" (interval half-width) is an effect detected only about half the time
    for n, tol in ((30, 0.02), (3, 0.06)):
        half = stats.t.ppf(0.975, 2 * n - 2) * math.sqrt(2 / n)
        assert power_t(half, 1.0, n) == pytest.approx(0.5, abs=tol)
        assert mde(1.0, n) > half


def test_power_t_edge_cases():
    assert power_t(1.0, 0.0, 3) == 1.0 and math.isnan(power_t(1.0, 1.0, 1))
    assert mde(1.0, 1) == math.inf and mde(0.0, 5) == 0.0
    assert seeds_needed(0.0, 1.0) == math.inf and seeds_needed(1.0, 0.0) == 2
    assert power_each(1) == pytest.approx(0.8) and power_each(2) == pytest.approx(0.9)
    # with k comparisons, each at 1 - 0.2/k: needs more seeds than one comparison at 80%
    assert seeds_needed(0.8, 1.0, power=power_each(2)) > seeds_needed(0.8, 1.0)


def test_power_and_mde_match_the_noncentral_t_computed_by_hand():
    # statsmodels does the work now: check it against scipy's noncentral t directly (two-sided, pooled df)
    n, sd, effect = 5, 2.0, 3.0
    df, ncp = 2 * n - 2, effect / (sd * math.sqrt(2 / n))
    tc = stats.t.ppf(0.975, df)
    by_hand = stats.nct.sf(tc, df, ncp) + stats.nct.cdf(-tc, df, ncp)
    assert power_t(effect, sd, n) == pytest.approx(by_hand, rel=1e-6)
    assert power_t(mde(sd, n), sd, n) == pytest.approx(0.8, abs=1e-6)
    assert power_t(mde(sd, n, paired=True), sd, n, paired=True) == pytest.approx(0.8, abs=1e-6)
    assert seeds_needed(1.0, 1.0, min_seeds=4) == 17 and seeds_needed(10.0, 1.0, min_seeds=4) == 4
