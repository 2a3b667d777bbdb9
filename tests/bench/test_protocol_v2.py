"""PROTOCOL.md version 2 in the bench, on synthetic per-seed data with known answers: equivalence (*absent*),
Holm across a table's claims in both directions, verdicts that follow the data whatever the plan said,
plans sized by SESOI and the pooled spread, plan fingerprints, health gates and floors, guards never dropped."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.spec import Claim, Gate, Table
from bench.stats import (ABSENT, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, REPRODUCED, holm, judge, judge_table,
                         metric_sd, pilot_mismatch, plan_table, plan_void_reason, read_plan, seeds_needed, tost,
                         write_plan)


def runs_from(values: dict[str, list[float]], metric="is_mean", first_seed=0) -> pd.DataFrame:
    return pd.DataFrame([{"row": r, "seed": first_seed + s, "metric": metric, "value": v}
                         for r, vs in values.items() for s, v in enumerate(vs)])


def table_of(*claims, floors=None) -> Table:
    return Table("toy", "toy", "shapes", (), (), lambda preset: [], tuple(claims), floors=floors or {})


# ---------------------------------------------------------------------------------------------- equivalence

def test_tost_gives_absent_inside_the_sesoi_and_inconclusive_when_the_interval_straddles_it():
    tight = runs_from({"a": [5.00, 5.02, 4.98, 5.01, 4.99, 5.00], "b": [5.01, 4.99, 5.00, 5.02, 4.98, 5.00]})
    v = judge(Claim("c", "a beats b", "a", ("b",), sesoi=0.5), tight)
    assert v["verdict"] == ABSENT and v["p_tost"] < 0.05 and v["ci_low"] > -0.5 and v["ci_high"] < 0.5
    # the same means, a wide spread: the 90% interval reaches past ±SESOI, so neither absent nor present
    wide = runs_from({"a": [4.0, 6.0, 5.0, 3.5], "b": [6.0, 4.0, 5.5, 4.5]})
    v = judge(Claim("c", "a beats b", "a", ("b",), sesoi=0.5), wide)
    assert v["verdict"] == INCONCLUSIVE and v["ci_low"] < -0.5 and v["ci_high"] > 0.5 and v["p_tost"] > 0.05
    # without a SESOI, absence cannot be shown
    assert judge(Claim("c", "a beats b", "a", ("b",)), tight)["verdict"] == INCONCLUSIVE


def test_tost_p_is_the_larger_of_two_one_sided_welch_tests():
    a, b = np.array([1.0, 1.2, 0.9, 1.1]), np.array([1.05, 0.95, 1.0, 1.1])
    lo = stats.ttest_ind(a + 0.3, b, equal_var=False, alternative="greater").pvalue  # diff > -0.3
    hi = stats.ttest_ind(a - 0.3, b, equal_var=False, alternative="less").pvalue     # diff < +0.3
    assert tost(a, b, 0.3) == pytest.approx(max(lo, hi), rel=1e-9)


# ---------------------------------------------------------------------------------------------- Holm across claims

def test_holm_across_claims_can_undo_a_marginal_result_in_both_directions():
    # one clear claim, one marginal win and one marginal loss (raw p just under 0.05), three claims in all
    rng = np.random.default_rng(3)
    base = list(rng.normal(0, 1, 6))
    runs = pd.concat([runs_from({"clear": [x + 10 for x in base], "base": base}),
                      runs_from({"win": [1.15, 2.75, 0.25, 2.05, 0.95, 2.45], "ref": [0.2, 1.0, -0.6, 1.4, 0.1, 0.3]}),
                      runs_from({"lose": [0.2, 1.0, -0.6, 1.4, 0.1, 0.3], "ref2": [1.15, 2.75, 0.25, 2.05, 0.95, 2.45]})])
    claims = (Claim("clear", "x", "clear", ("base",)), Claim("win", "x", "win", ("ref",)),
              Claim("lose", "x", "lose", ("ref2",)))
    alone = {c.id: judge(c, runs) for c in claims}
    assert alone["win"]["verdict"] == REPRODUCED and alone["lose"]["verdict"] == CONTRADICTED
    assert 0.025 < alone["win"]["p"] < 0.05
    v = judge_table(table_of(*claims), runs).set_index("claim")
    assert list(v["p_adj"]) == pytest.approx(list(holm(v["p"])))
    assert v.loc["clear", "verdict"] == REPRODUCED
    assert v.loc["win", "verdict"] == INCONCLUSIVE and v.loc["lose", "verdict"] == INCONCLUSIVE
    assert v.loc["win", "p_adj"] > 0.05 and v.loc["lose", "p_adj"] > 0.05


def test_a_claim_against_several_rivals_takes_its_largest_p_and_contradiction_is_bonferroni_inside():
    runs = runs_from({"a": [3.0, 3.1, 3.05, 2.95], "weak": [1.0, 1.1, 1.05, 0.95], "strong": [3.5, 3.6, 3.55, 3.45]})
    v = judge(Claim("c", "a is best", "a", ("weak", "strong")), runs)
    p_strong = stats.ttest_ind([3.0, 3.1, 3.05, 2.95], [3.5, 3.6, 3.55, 3.45], equal_var=False).pvalue
    assert v["verdict"] == CONTRADICTED and v["rival"] == "strong" and v["p"] == pytest.approx(2 * p_strong)


# ---------------------------------------------------------------------------------------------- plans

PILOT = pd.concat([runs_from({"base": [0.0, 1.0, -1.0], "big": [10.0, 11.0, 9.0], "other": [5.0, 6.0, 4.0]}),
                   runs_from({"base": [0.0, 2.0, -2.0], "big": [1.0, 3.0, -1.0]}, metric="fid")])
PILOT["wall_time_s"] = 3600.0  # one core-hour per cell


def test_plans_size_by_sesoi_and_the_pooled_sd_with_at_least_four_seeds():
    claims = (Claim("small", "x", "big", ("base",), sesoi=1.0), Claim("large", "x", "other", ("base",), sesoi=5.0),
              Claim("f", "x", "big", ("base",), metric="fid", sesoi=2.0))
    plan = plan_table(table_of(*claims), PILOT, cap_hours=1000).set_index("claim")
    # the pilot's effects (10 and 5) play no part: only the spread pooled over every row scored on is_mean (sd 1)
    assert metric_sd(PILOT, "is_mean")[:2] == (pytest.approx(1.0), 3)
    assert plan.loc["small", "sd"] == pytest.approx(1.0) and plan.loc["small", "seeds"] == seeds_needed(1.0, 1.0) == 17
    assert plan.loc["large", "seeds"] == 4  # d = 5 needs 2; the floor is 4
    assert plan.loc["f", "sd"] == pytest.approx(2.0) and plan.loc["f", "seeds"] == 17
    assert not plan["underpowered"].any() and plan.loc["small", "cost_core_h"] == pytest.approx(17 * 2)


def test_a_claim_the_cap_cannot_fund_is_underpowered_with_its_mde_and_still_runs():
    claims = (Claim("small", "x", "big", ("base",), sesoi=1.0), Claim("large", "x", "other", ("base",), sesoi=5.0))
    # 3 rows x 4 seeds = 12 core-hours of floor; "small" would raise two rows to 17 seeds: 34 in all > 20
    plan = plan_table(table_of(*claims), PILOT, cap_hours=20).set_index("claim")
    assert plan.loc["small", "underpowered"] and plan.loc["small", "seeds"] == 4
    assert plan.loc["small", "mde_at_seeds"] > 1.0 and not plan.loc["large", "underpowered"]


def test_paired_claims_plan_on_the_sd_of_a_difference():
    claims = (Claim("p", "x", "big", ("base",), sesoi=1.0, paired=True), Claim("w", "x", "big", ("base",), sesoi=1.0))
    plan = plan_table(table_of(*claims), PILOT, cap_hours=1000).set_index("claim")
    assert plan.loc["p", "sd"] == pytest.approx(math.sqrt(2))


def test_a_changed_row_definition_voids_the_plan(tmp_path):
    claims = (Claim("c", "x", "big", ("base",), sesoi=1.0),)
    defs = {"rows": {"big": "aaa", "base": "bbb"}, "metrics": {"is_mean": "mmm"}}
    plan = read_plan(write_plan(plan_table(table_of(*claims), PILOT, definitions=defs), tmp_path / "plan.csv"))
    assert json.loads(plan.loc[0, "row_definitions"]) == {"big": "aaa", "base": "bbb"}
    assert plan_void_reason(plan, defs) == ""
    changed = {"rows": {"big": "zzz", "base": "bbb"}, "metrics": {"is_mean": "mmm"}}
    assert "row definition changed since planning: big" in plan_void_reason(plan, changed)
    assert "metric definition changed" in plan_void_reason(plan, {**defs, "metrics": {"is_mean": "new"}})
    conf = runs_from({"big": [10.0, 10.1, 9.9, 10.0], "base": [0.0, 0.1, -0.1, 0.0]})
    v = judge_table(table_of(*claims), conf, plan=plan, plan_void=plan_void_reason(plan, changed)).iloc[0]
    assert v["verdict"] == REPRODUCED and "plan void: row definition changed" in v["plan_status"]
    # a pilot whose cells were made under another definition (or none recorded) cannot plan
    pilot = PILOT.assign(row_definition=PILOT["row"].map({"big": "old", "base": "bbb", "other": "c"}))
    assert "big" in pilot_mismatch(pilot, defs) and "predate" in pilot_mismatch(PILOT, defs)
    assert pilot_mismatch(pilot.assign(row_definition=pilot["row"].map({"big": "aaa", "base": "bbb"})), defs) == ""


def test_a_claim_planned_underpowered_gets_its_datas_verdict(tmp_path):
    claims = (Claim("small", "x", "big", ("base",), sesoi=1.0),)
    plan = read_plan(write_plan(plan_table(table_of(*claims), PILOT, cap_hours=1), tmp_path / "plan.csv"))
    assert bool(plan.loc[0, "underpowered"])
    conf = runs_from({"big": [10.0, 10.1, 9.9, 10.0], "base": [0.0, 0.1, -0.1, 0.0]}, first_seed=3)
    v = judge_table(table_of(*claims), conf, plan=plan).iloc[0]
    assert v["verdict"] == REPRODUCED and bool(v["planned_underpowered"])
    assert v["plan_status"].startswith("planned underpowered") and "may be inflated" in v["why"]
    assert v["n"] == 4 and math.isfinite(v["mde"])


def test_a_protocol_v1_plan_is_shown_as_void_beside_the_datas_verdict():
    v1 = pd.DataFrame([{"claim": "small", "metric": "is_mean", "seeds": 10, "underpowered": True}])
    conf = runs_from({"big": [10.0, 10.1, 9.9, 10.0], "base": [0.0, 0.1, -0.1, 0.0]})
    v = judge_table(table_of(Claim("small", "x", "big", ("base",), sesoi=1.0)), conf, plan=v1).iloc[0]
    assert v["verdict"] == REPRODUCED and "protocol v1 plan, void" in v["plan_status"]


# ---------------------------------------------------------------------------------------------- health and floors

def test_an_unhealthy_row_makes_its_claims_not_testable_and_gets_no_seeds():
    claims = (Claim("c", "x", "big", ("base",), sesoi=1.0), Claim("d", "x", "other", ("big",), sesoi=1.0))
    health = {"base": ["fid 60.0 > 27.5 (fid <= 0.5 x noise)"]}
    plan = plan_table(table_of(*claims), PILOT, health=health, cap_hours=1000).set_index("claim")
    assert plan.loc["c", "seeds"] == 0 and "unhealthy: base" in plan.loc["c", "not_testable"]
    assert plan.loc["d", "seeds"] > 0
    conf = runs_from({"big": [10.0, 10.1, 9.9, 10.0], "base": [0.0, 0.1, -0.1, 0.0], "other": [1.0, 1.1, 0.9, 1.0]})
    v = judge_table(table_of(*claims), conf, health=health).set_index("claim")
    assert v.loc["c", "verdict"] == NOT_TESTABLE and "fid 60.0 > 27.5" in v.loc["c", "why"]
    assert v.loc["d", "verdict"] == CONTRADICTED  # not testable claims leave the Holm family
    assert math.isnan(v.loc["c", "p_adj"])


def test_a_metric_at_chance_in_every_compared_row_is_not_testable():
    runs = runs_from({"a": [0.254, 0.26, 0.25, 0.249], "b": [0.249, 0.24, 0.25, 0.25]}, "cond_acc_texture")
    claim = Claim("tt", "x", "a", ("b",), "cond_acc_texture", sesoi=0.03)
    v = judge_table(table_of(claim, floors={"cond_acc_texture": 0.25}), runs).iloc[0]
    assert v["verdict"] == NOT_TESTABLE and "floor (0.25)" in v["why"]
    lifted = runs_from({"a": [0.40, 0.41, 0.42, 0.40], "b": [0.249, 0.24, 0.25, 0.25]}, "cond_acc_texture")
    assert judge_table(table_of(claim, floors={"cond_acc_texture": 0.25}), lifted).iloc[0]["verdict"] == REPRODUCED


def test_gates_compute_their_thresholds_as_declared():
    g = Gate("fid", "<=", 0.5, "noise")
    assert g.threshold({"noise": 50.0}) == 25.0 and g.passes(24.0, {"noise": 50.0}) and not g.passes(26.0, {"noise": 50.0})
    assert not g.passes(1.0, {})  # the reference was not measured: never a pass
    q = Gate("log:ent0", "<=", 0.9, "chance", chance=1 / 12)
    assert q.threshold() == pytest.approx(0.075) and not q.passes(0.081) and q.passes(0.05)
    assert Gate("recall", ">=", 0.05).passes(0.06) and not Gate("recall", ">=", 0.05).passes(0.0)
    with pytest.raises(ValueError):
        Gate("x", "<", 1.0)


# ---------------------------------------------------------------------------------------------- guards, two-sided

def test_a_failing_guard_is_never_dropped_in_the_plan_or_the_verdict():
    pilot = pd.concat([runs_from({"a": [10.0, 11.0, 9.0], "b": [0.0, 1.0, -1.0]}, "diversity"),
                       runs_from({"a": [0.50, 0.50, 0.51], "b": [0.60, 0.60, 0.61]}, "cond_acc")])
    claim = Claim("c", "x", "a", ("b",), "diversity", guards=(("cond_acc", 0.02),), sesoi=1.0)
    plan = plan_table(table_of(claim), pilot, cap_hours=1000).iloc[0]
    assert "guard cond_acc already fails in the pilot" in plan["note"] and "never dropped" in plan["note"]
    assert plan["power_each"] == pytest.approx(0.9)  # the guard still counts as an interval to clear
    v = judge(claim, pilot)
    assert v["verdict"] == INCONCLUSIVE and "guard" in v["why"] and "cond_acc vs b" in v["why"]
    assert v["guards_hold"] is False or v["guards_hold"] == False  # noqa: E712 (numpy bool)


def test_two_sided_diversity_is_judged_as_distance_to_the_real_value():
    runs = runs_from({"ca": [0.40, 0.41, 0.39, 0.40], "no": [0.30, 0.31, 0.29, 0.30]}, "diversity")
    claim = Claim("ca", "CA adds diversity", "ca", ("no",), "diversity", sesoi=0.03, toward_real=True)
    # more diversity than the other row, but the real data's is 0.30: the other row is the closer one
    v = judge(claim, runs, references={"diversity": 0.30})
    assert v["verdict"] == CONTRADICTED and v["effect"] == pytest.approx(-0.095) and v["real_value"] == 0.30
    assert judge(claim, runs, references={"diversity": 0.45})["verdict"] == REPRODUCED
    assert "not measured" in judge(claim, runs)["why"]


def test_a_two_stage_design_is_declared_in_the_plan_and_tests_at_its_alpha():
    claims = (Claim("c", "x", "big", ("base",), sesoi=1.0),)
    plan = plan_table(table_of(*claims), PILOT, cap_hours=1000, two_stage=(4, 0.0294))
    assert plan.loc[0, "alpha"] == pytest.approx(0.0294) and "two-stage" in plan.loc[0, "design"]
    # the stage's α, not 0.05: a p of about 0.04 is not enough
    rng = np.random.default_rng(7)
    for _ in range(200):
        a, b = rng.normal(1.2, 1, 6), rng.normal(0, 1, 6)
        if 0.0294 < stats.ttest_ind(a, b, equal_var=False).pvalue < 0.05:
            break
    conf = runs_from({"big": list(a), "base": list(b)})
    assert judge_table(table_of(*claims), conf).iloc[0]["verdict"] == REPRODUCED
    assert judge_table(table_of(*claims), conf, plan=plan).iloc[0]["verdict"] == INCONCLUSIVE
