"""Aggregation and verdict logic on synthetic per-seed values."""
import math

import numpy as np
import pandas as pd
import pytest

from bench.spec import Claim
from bench.stats import (CONTRADICTED, INCONCLUSIVE, REPRODUCED, aggregate, holm, judge, paired_test, welch_ci,
                         welch_test)


def runs_from(values: dict[str, list[float]], metric="is_mean") -> pd.DataFrame:
    return pd.DataFrame([{"row": r, "seed": s, "metric": metric, "value": v}
                         for r, vs in values.items() for s, v in enumerate(vs)])


def runs_multi(values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """{metric: {row: per-seed values}} -> tidy runs."""
    return pd.concat([runs_from(v, m) for m, v in values.items()], ignore_index=True)


def test_aggregate_mean_std_n_and_paper_column():
    runs = runs_from({"a": [1.0, 2.0, 3.0], "b": [5.0, float("nan")]})
    agg = aggregate(runs, paper={"a": {"is_mean": (2.5, 0.1)}}).set_index("row")
    assert agg.loc["a", "mean"] == pytest.approx(2.0) and agg.loc["a", "std"] == pytest.approx(1.0)
    assert agg.loc["a", "n"] == 3 and agg.loc["b", "n"] == 1  # the failed (NaN) cell is not counted
    assert agg.loc["a", "paper_mean"] == 2.5 and math.isnan(agg.loc["b", "paper_mean"])


def test_clear_effect_is_reproduced_and_reverse_is_contradicted():
    runs = runs_from({"new": [3.0, 3.1, 2.9, 3.05], "old": [2.0, 2.1, 1.9, 2.05]})
    assert judge(Claim("c", "new beats old", "new", ("old",)), runs)["verdict"] == REPRODUCED
    assert judge(Claim("c", "old beats new", "old", ("new",)), runs)["verdict"] == CONTRADICTED


def test_effect_inside_the_noise_is_inconclusive():
    rng = np.random.default_rng(0)
    runs = runs_from({"a": list(2 + rng.normal(0, 1, 3)), "b": list(2.1 + rng.normal(0, 1, 3))})
    v = judge(Claim("c", "a beats b", "a", ("b",)), runs)
    assert v["verdict"] == INCONCLUSIVE and v["ci_low"] < 0 < v["ci_high"]


def test_one_seed_gives_no_verdict():
    runs = runs_from({"a": [10.0], "b": [1.0]})
    v = judge(Claim("c", "a beats b", "a", ("b",)), runs)
    assert v["verdict"] == INCONCLUSIVE and "fewer than 2 seeds" in v["why"]


def test_lower_is_better_metrics_flip_the_sign():
    runs = runs_from({"a": [10.0, 11.0, 10.5], "b": [30.0, 31.0, 29.0]}, metric="fid")
    v = judge(Claim("c", "a beats b on FID", "a", ("b",), metric="fid"), runs)
    assert v["verdict"] == REPRODUCED and v["effect"] > 0


def test_losing_clearly_to_any_rival_contradicts():
    runs = runs_from({"a": [3.0, 3.1, 3.05], "weak": [1.0, 1.1, 1.05], "strong": [3.5, 3.6, 3.55]})
    v = judge(Claim("c", "a is best", "a", ("weak", "strong")), runs)
    assert v["rival"] == "strong" and v["verdict"] == CONTRADICTED


# the intersection–union rule: "a beats every rival". `tight` has the best observed mean and `a` clears it
# clearly; `noisy` has a lower mean but so much spread that `a`'s interval against it contains zero.
IU = {"a": [3.0, 3.1, 2.9, 3.0], "tight": [2.5, 2.55, 2.45, 2.5], "noisy": [0.5, 4.5, 0.0, 4.0]}


def test_a_claim_must_clear_every_rival_not_the_best_by_mean():
    runs = runs_from(IU)
    # what the old rule did: pick the rival with the best observed mean, and judge only against it
    best = max(("tight", "noisy"), key=lambda r: np.mean(IU[r]))
    _, lo_best, _ = welch_ci(np.array(IU["a"]), np.array(IU[best]))
    assert best == "tight" and lo_best > 0  # the old rule would have said "reproduced"
    _, lo_noisy, hi_noisy = welch_ci(np.array(IU["a"]), np.array(IU["noisy"]))
    assert lo_noisy < 0 < hi_noisy
    v = judge(Claim("c", "a beats both", "a", ("tight", "noisy")), runs)
    assert v["verdict"] == INCONCLUSIVE and v["rival"] == "noisy"
    assert "noisy" in v["why"] and "tight" not in v["why"]
    assert v["ci_low"] == pytest.approx(lo_noisy) and v["ci_high"] == pytest.approx(hi_noisy)
    assert "tight: +0.500" in v["rivals"] and "noisy: +0.750" in v["rivals"]  # every rival's effect is reported
    # against each rival alone: reproduced vs tight, inconclusive vs noisy
    assert judge(Claim("c", "x", "a", ("tight",)), runs)["verdict"] == REPRODUCED
    assert judge(Claim("c", "x", "a", ("noisy",)), runs)["verdict"] == INCONCLUSIVE


def test_clearing_every_rival_is_reproduced():
    runs = runs_from({"a": [3.0, 3.1, 2.9, 3.0], "b": [2.0, 2.1, 1.9, 2.0], "c": [1.0, 1.2, 0.8, 1.0]})
    v = judge(Claim("c", "a beats b and c", "a", ("b", "c")), runs)
    assert v["verdict"] == REPRODUCED and v["rival"] == "b"  # the deciding (lowest lower end) rival


# non-inferiority guards: CA is declared on diversity, guarded by conditional accuracy
GUARDED = {"diversity": {"ca": [0.40, 0.41, 0.39, 0.40], "no": [0.20, 0.21, 0.19, 0.20]},
           "cond_acc": {"ca": [0.55, 0.56, 0.55, 0.54], "no": [0.60, 0.60, 0.61, 0.59]}}


def test_a_failing_guard_turns_reproduced_into_inconclusive():
    runs = runs_multi(GUARDED)
    plain = Claim("ca", "CA adds diversity", "ca", ("no",), "diversity")
    assert judge(plain, runs)["verdict"] == REPRODUCED
    guarded = Claim("ca", "CA adds diversity", "ca", ("no",), "diversity", guards=(("cond_acc", 0.02),))
    v = judge(guarded, runs)  # cond_acc falls by 0.05, with a tight interval: more than the 0.02 allowed
    assert v["verdict"] == INCONCLUSIVE and "guard fails" in v["why"] and v["guards_hold"] is False
    assert v["effect"] == pytest.approx(0.20)  # the declared metric's effect is still reported
    loose = Claim("ca", "CA adds diversity", "ca", ("no",), "diversity", guards=(("cond_acc", 0.10),))
    v = judge(loose, runs)
    assert v["verdict"] == REPRODUCED and v["guards_hold"] is True and "guard" in v["why"]


def test_a_guard_is_checked_against_every_rival():
    runs = runs_multi({"diversity": {**GUARDED["diversity"], "other": [0.10, 0.11, 0.09, 0.10]},
                       "cond_acc": {**GUARDED["cond_acc"], "other": [0.50, 0.51, 0.50, 0.49]}})
    c = Claim("ca", "x", "ca", ("other", "no"), "diversity", guards=(("cond_acc", 0.02),))
    v = judge(c, runs)  # holds against `other` (ca is better on cond_acc), fails against `no`
    assert v["verdict"] == INCONCLUSIVE and "vs no" in v["why"] and "vs other" not in v["why"]


def test_a_guard_never_masks_a_contradiction():
    runs = runs_multi({"diversity": {"ca": [0.1, 0.11, 0.09], "no": [0.3, 0.31, 0.29]},
                       "cond_acc": {"ca": [0.5, 0.5, 0.5], "no": [0.9, 0.9, 0.9]}})
    c = Claim("ca", "x", "ca", ("no",), "diversity", guards=(("cond_acc", 0.02),))
    assert judge(c, runs)["verdict"] == CONTRADICTED


def test_paired_analysis_only_where_declared():
    # seed effects dominate: each seed moves both rows alike; the paired difference is a steady +0.1
    base = [1.0, 3.0, 2.0, 4.0, 2.5]
    runs = runs_from({"a": [b + 0.1 + 0.01 * (-1) ** i for i, b in enumerate(base)], "b": base})
    welch = judge(Claim("c", "a beats b", "a", ("b",)), runs)
    paired = judge(Claim("c", "a beats b", "a", ("b",), paired=True), runs)
    assert welch["verdict"] == INCONCLUSIVE and welch["method"] == "Welch t"
    assert paired["verdict"] == REPRODUCED and paired["method"] == "paired t"


def test_paired_analysis_uses_only_seeds_both_rows_have():
    runs = runs_from({"a": [1.1, 2.1, 3.1], "b": [1.0, 2.0, 3.0]})
    runs = runs[~((runs["row"] == "a") & (runs["seed"] == 2))]
    v = judge(Claim("c", "x", "a", ("b",), paired=True), runs)
    assert v["n"] == 2 and v["effect"] == pytest.approx(0.1)


def test_welch_and_paired_p_values_match_scipy():
    from scipy import stats

    a, b = np.array([1.0, 2.0, 3.5, 4.0]), np.array([2.0, 4.0, 6.0, 5.0])
    assert welch_test(a, b)["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    t = stats.ttest_rel(a, b)
    r = paired_test(a, b)
    ci = t.confidence_interval(0.95)
    assert r["p"] == pytest.approx(t.pvalue) and (r["low"], r["high"]) == pytest.approx((ci.low, ci.high))


def test_holm_known_survivors():
    p = [0.04, 0.001, 0.3, 0.011, 0.02]
    adj = holm(p)
    # sorted: 0.001·5, 0.011·4, 0.02·3, 0.04·2, 0.3·1 -> 0.005, 0.044, 0.06, 0.08, max(0.3, 0.08)
    assert adj == pytest.approx([0.08, 0.005, 0.3, 0.044, 0.06])
    assert list(np.flatnonzero(adj < 0.05)) == [1, 3]  # two survive (unadjusted: four; Bonferroni: one)
    assert sum(x < 0.05 for x in p) == 4 and sum(x * 5 < 0.05 for x in p) == 1


def test_holm_is_monotone_capped_and_skips_nan():
    adj = holm([0.5, float("nan"), 0.01, 0.6])
    assert math.isnan(adj[1])
    assert adj[2] == pytest.approx(0.03) and adj[0] == pytest.approx(1.0) and adj[3] == pytest.approx(1.0)
    assert holm([]).size == 0


def test_missing_rows_are_inconclusive():
    v = judge(Claim("c", "x", "a", ("b",)), runs_from({"a": [1.0, 2.0]}))
    assert v["verdict"] == INCONCLUSIVE and "no results for b" in v["why"]


def test_welch_ci_matches_scipy_ttest():
    from scipy import stats

    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0])
    diff, lo, hi = welch_ci(a, b)
    t = stats.ttest_ind(a, b, equal_var=False)
    ci = t.confidence_interval(0.95)
    assert diff == pytest.approx(a.mean() - b.mean())
    assert (lo, hi) == pytest.approx((ci.low, ci.high))
