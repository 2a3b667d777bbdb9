"""Power, minimum detectable effect and seed planning, checked against independent answers: textbook
sample sizes (Cohen 1988, Table 2.4.1: two-sided α = 0.05, 80% power), simulation with a fixed seed,
and the normal-approximation closed form it must approach for many seeds."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.spec import Claim, Table
from bench.stats import (UNDERPOWERED, confirmatory_seeds, fresh_seeds, judge, mde, plan_seeds, power_each, power_t,
                         read_plan, seeds_needed, write_plan)


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


def pilot(values: dict[str, list[float]], metric="is_mean") -> pd.DataFrame:
    return pd.DataFrame([{"row": r, "seed": s, "metric": metric, "value": v}
                         for r, vs in values.items() for s, v in enumerate(vs)])


TABLE = Table(paper="toy", title="toy", dataset="shapes", metrics=("is",), display=("is_mean",),
              rows_for=lambda preset: [],
              claims=(Claim("big", "big effect", "big", ("base",), why="large"),
                      Claim("tiny", "tiny effect", "tiny", ("base",), why="small"),
                      Claim("two", "beats both", "big", ("base", "tiny"))))
PILOT = pilot({"base": [0.0, 1.0, -1.0], "big": [10.0, 11.0, 9.0], "tiny": [0.1, 1.1, -0.9]})


def test_planner_gives_a_large_effect_few_seeds_and_a_tiny_one_the_cap_underpowered():
    plan = plan_seeds(TABLE, PILOT, cap=10).set_index("claim")
    assert list(plan.reset_index().columns[:3]) == ["claim", "metric", "paired"]
    big, tiny = plan.loc["big"], plan.loc["tiny"]
    assert big["pilot_effect"] == pytest.approx(10.0) and big["pilot_sd"] == pytest.approx(1.0)
    assert big["seeds"] == 2 and not big["underpowered"]  # d = 10: two seeds per row already detect it
    assert tiny["pilot_effect"] == pytest.approx(0.1) and tiny["underpowered"]
    assert tiny["seeds"] == 10 and tiny["seeds_needed"] == seeds_needed(0.1, 1.0) > 10
    assert tiny["mde_at_seeds"] == pytest.approx(mde(1.0, 10))  # the MDE at the cap
    assert plan.loc["two", "power_each"] == pytest.approx(0.9)  # two rivals: each planned at 90%
    assert plan.loc["two", "pilot_seeds"] == "0 1 2"
    assert confirmatory_seeds(plan.reset_index()) == 2 and confirmatory_seeds(plan.reset_index(), True) == 10
    assert fresh_seeds(PILOT, 3) == [3, 4, 5]


def test_planner_plans_guards_and_notes_a_guard_that_fails_in_the_pilot():
    runs = pd.concat([pilot({"a": [10.0, 11.0, 9.0], "b": [0.0, 1.0, -1.0]}, "diversity"),
                      pilot({"a": [0.59, 0.60, 0.61], "b": [0.60, 0.60, 0.60]}, "cond_acc")])
    slack = Claim("c", "x", "a", ("b",), "diversity", guards=(("cond_acc", 0.001),))
    p = plan_seeds(Table("t", "t", "shapes", (), (), lambda p: [], (slack,)), runs, cap=10).iloc[0]
    # the guard's effect is 0 and its margin tiny: the guard, not the large main effect, sets the count
    assert p["binding"].startswith("guard cond_acc") and p["underpowered"] and p["power_each"] == pytest.approx(0.9)
    assert p["pilot_effect"] == pytest.approx(10.0)  # still the declared metric's effect
    failing = Claim("c", "x", "a", ("b",), "diversity", guards=(("cond_acc", 0.0),))
    runs2 = pd.concat([runs[runs["metric"] == "diversity"],
                       pilot({"a": [0.5, 0.5, 0.51], "b": [0.6, 0.6, 0.61]}, "cond_acc")])
    p = plan_seeds(Table("t", "t", "shapes", (), (), lambda p: [], (failing,)), runs2).iloc[0]
    assert "fails in the pilot" in p["note"] and not p["underpowered"] and p["seeds"] == 2


def test_paired_planning_uses_the_sd_of_differences():
    runs = pilot({"a": [1.1, 3.1, 2.1, 5.1], "b": [1.0, 3.0, 2.0, 5.0]})
    runs.loc[(runs["row"] == "a") & (runs["seed"] == 0), "value"] = 1.12
    table = Table("t", "t", "shapes", (), (), lambda p: [], (Claim("c", "x", "a", ("b",), paired=True),
                                                             Claim("w", "x", "a", ("b",))))
    plan = plan_seeds(table, runs).set_index("claim")
    assert plan.loc["c", "seeds"] < plan.loc["w", "seeds"]  # blocking by seed removes the seed effect
    d = np.array([0.12, 0.1, 0.1, 0.1])
    assert plan.loc["c", "pilot_sd"] == pytest.approx(d.std(ddof=1))


def test_judge_with_a_plan_declares_underpowered_whatever_the_interval(tmp_path):
    plan = plan_seeds(TABLE, PILOT, cap=10)
    path = write_plan(plan, tmp_path / "plan.csv")
    plan = read_plan(path)
    assert read_plan(tmp_path / "missing.csv") is None
    # confirmatory data where the tiny claim happens to come out clearly positive: still underpowered
    conf = pilot({"base": [0.0, 0.01, -0.01], "tiny": [0.5, 0.51, 0.49], "big": [10.0, 10.1, 9.9]})
    v = judge(TABLE.claims[1], conf, plan=plan)
    assert v["verdict"] == UNDERPOWERED and v["ci_low"] > 0  # the interval alone would say reproduced
    assert "declared underpowered before running" in v["why"] and "cap of 10" in v["why"]
    assert v["effect"] == pytest.approx(0.5) and v["n"] == 3 and math.isfinite(v["mde"])
    assert v["planned_seeds"] == 10 and v["planned_underpowered"] is True
    assert "only 3 of the 10 planned seeds" in v["why"]
    ok = judge(TABLE.claims[0], conf, plan=plan)
    assert ok["verdict"] == "reproduced" and ok["planned_seeds"] == 2
    changed = judge(Claim("big", "big effect", "big", ("base",), metric="fid"),
                    pilot({"base": [1.0, 1.1, 0.9], "big": [0.0, 0.1, -0.1]}, "fid"), plan=plan)
    assert "changed after planning" in changed["why"]
