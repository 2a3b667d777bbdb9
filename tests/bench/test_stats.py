"""Aggregation and verdict logic on synthetic per-seed values."""
import math

import numpy as np
import pandas as pd
import pytest

from bench.spec import Claim
from bench.stats import CONTRADICTED, INCONCLUSIVE, REPRODUCED, aggregate, judge, welch_ci


def runs_from(values: dict[str, list[float]], metric="is_mean") -> pd.DataFrame:
    return pd.DataFrame([{"row": r, "seed": s, "metric": metric, "value": v}
                         for r, vs in values.items() for s, v in enumerate(vs)])


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


def test_best_of_several_rivals_is_the_comparison():
    runs = runs_from({"a": [3.0, 3.1, 3.05], "weak": [1.0, 1.1, 1.05], "strong": [3.5, 3.6, 3.55]})
    v = judge(Claim("c", "a is best", "a", ("weak", "strong")), runs)
    assert v["rival"] == "strong" and v["verdict"] == CONTRADICTED


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
