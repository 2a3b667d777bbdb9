"""bench.sweep: candidates become rows with their overrides, the rule decides as declared, and a smoke sweep
trains, measures its gates on val and writes its decision."""
import math

import pandas as pd
import pytest

from bench import sweep as sw
from bench.cells import get_table


def _smoke(**kw) -> sw.Sweep:
    base = dict(name="t", paper="sgan", dataset="mnist5k", preset="smoke", rows=("sgan",),
                candidates=(sw.Candidate("a", {}), sw.Candidate("b", {"model.ent_weight": 5.0})), seeds=(0,),
                rule=sw.Rule(gates=True, maximise="cond_acc"), question="q?", metrics=("cond_acc",))
    return sw.Sweep(**{**base, **kw})


def test_candidates_become_rows_with_their_overrides():
    table = get_table("sgan")
    rows = sw.candidate_rows(_smoke(rows=("sgan", "sgan-no-ent")), table)
    assert [r.id for r in rows] == ["a:sgan", "a:sgan-no-ent", "b:sgan", "b:sgan-no-ent"]
    assert rows[2].unit.overrides == {"model.ent_weight": 5.0}
    assert rows[3].unit.overrides == {"model.ent_weight": 5.0}  # the candidate's wins over the row's 0
    assert rows[0].unit.key("smoke", 0) != rows[2].unit.key("smoke", 0)  # their own run directories
    assert rows[0].gates == {r.id: r for r in table.rows_for("smoke")}["sgan"].gates
    with pytest.raises(ValueError, match="no row"):
        sw.candidate_rows(_smoke(rows=("nope",)), table)
    # a sweep may train a row of its own (not in the table), with its own gates
    from bench.spec import Row, Unit
    own = Row("alone", "a sub-network alone", Unit("sgan", {"model.ent_weight": 1.0}),
              gates=table.rows_for("smoke")[0].gates[:1])
    rows = sw.candidate_rows(_smoke(rows=(own, "sgan")), table)
    assert [r.id for r in rows] == ["a:alone", "a:sgan", "b:alone", "b:sgan"]
    assert rows[2].unit.overrides == {"model.ent_weight": 5.0} and rows[2].gates == own.gates
    mixed = _smoke(rows=(own, "sgan"), rule=sw.Rule(rows=("alone",), maximise="cond_acc"))
    assert mixed.row_ids == ("alone", "sgan")
    with pytest.raises(ValueError, match="unique"):
        _smoke(candidates=(sw.Candidate("a", {}), sw.Candidate("a", {})))


def _health(passed: dict) -> pd.DataFrame:
    return pd.DataFrame([{"row": f"{c}:sgan", "gate": "recall >= 0.05", "value": 0.1, "threshold": 0.05,
                          "passed": p} for c, p in passed.items()])


def _values(**means) -> pd.DataFrame:
    return pd.DataFrame([{"candidate": c, "row": "sgan", "seed": 0, "metric": m, "value": v}
                         for c, mv in means.items() for m, v in mv.items()])


def test_the_rule_decides_as_declared():
    s = _smoke(candidates=tuple(sw.Candidate(n, {}) for n in "abc"), metrics=("cond_acc", "fid"),
               rule=sw.Rule(gates=True, maximise="cond_acc", tie=0.05, tie_break="fid"))
    vals = _values(a={"cond_acc": 0.9, "fid": 5.0}, b={"cond_acc": 0.88, "fid": 3.0}, c={"cond_acc": 0.99, "fid": 1.0})
    chosen, why = sw.decide(s, _health({"a": True, "b": True, "c": False}), vals)
    assert chosen == "b" and "within 0.05" in why[-1]  # c fails a gate; a and b tie, b has the lower FID
    assert sw.decide(s, _health({"a": True, "b": None, "c": False}), vals)[0] == "a"  # not measured is no pass
    assert sw.decide(s, _health({"a": False, "b": False, "c": False}), vals)[0] is None
    no_gates = _smoke(candidates=tuple(sw.Candidate(n, {}) for n in "abc"), rule=sw.Rule(gates=False, maximise="cond_acc"))
    assert sw.decide(no_gates, _health({"a": False, "b": False, "c": False}), vals)[0] == "c"
    first = _smoke(candidates=tuple(sw.Candidate(n, {}) for n in "abc"), rule=sw.Rule())
    assert sw.decide(first, _health({"a": False, "b": True, "c": True}), vals)[0] == "b"


def test_a_smoke_sweep_trains_measures_on_val_and_decides(tmp_path, monkeypatch):
    s = _smoke()
    monkeypatch.setattr(sw, "sweeps", lambda: {"t": s})
    assert sw.main(["t", "--out", str(tmp_path)]) == 0
    health = pd.read_csv(tmp_path / "health.csv")
    assert set(health["row"]) == {"a:sgan", "b:sgan"} and set(health["split"]) == {"val"}
    assert {"fid <= 0.5 x noise", "recall >= 0.05"} <= set(health["gate"])
    values = pd.read_csv(tmp_path / "sweep.csv")
    assert set(values["candidate"]) == {"a", "b"} and (values["metric"] == "cond_acc").all()
    assert all(0 <= v <= 1 for v in values["value"] if not math.isnan(v))
    text = (tmp_path / "decision.md").read_text()
    assert "Rule (declared before running)" in text and "model.ent_weight=5.0" in text
    assert "Chosen:" in text or "Nothing chosen" in text
    assert sw.main(["t", "--out", str(tmp_path)]) == 0  # again: nothing retrained (same run directories)
    assert sorted(p.name.split("-")[1] for p in (tmp_path / "runs").iterdir()).count("encoder") == 1
    assert len([p for p in (tmp_path / "runs").iterdir() if "stale" not in p.name]) == 3  # E, a, b


def test_a_rule_can_minimise_keep_an_incumbent_and_guard():
    abc = tuple(sw.Candidate(n, {}) for n in "abc")
    passed = _health({"a": True, "b": True, "c": True})
    vals = _values(a={"fid": 10.0, "cond_acc": 0.5}, b={"fid": 9.5, "cond_acc": 0.6}, c={"fid": 8.0, "cond_acc": 0.4})

    def pick(**rule):
        return sw.decide(_smoke(candidates=abc, metrics=("fid", "cond_acc"), rule=sw.Rule(gates=False, **rule)),
                         passed, vals)

    assert pick(minimise="fid")[0] == "c"
    assert pick(minimise="fid", keep="a", margin=1.0)[0] == "c"         # c beats a by 2.0 > 1.0
    chosen, why = pick(minimise="fid", keep="a", margin=2.0)             # 2.0 is not more than 2.0
    assert chosen == "a" and "kept" in why[-1]
    assert pick(maximise="cond_acc", keep="a", margin=0.05)[0] == "b"    # 0.1 > 0.05
    assert pick(maximise="cond_acc", keep="c", margin=0.05, guards=(("fid", 2.0),))[0] == "b"  # fid 1.5 worse: held
    chosen, why = pick(maximise="cond_acc", keep="c", margin=0.05, guards=(("fid", 1.0),))
    assert chosen == "c" and "fid is worse" in why[-1]
    # an incumbent that fails a gate cannot be kept
    gated = _smoke(candidates=abc, metrics=("fid",), rule=sw.Rule(gates=True, minimise="fid", keep="a", margin=5.0))
    assert sw.decide(gated, _health({"a": False, "b": True, "c": True}), vals)[0] == "c"
    # a metric with no value ranks last
    assert pick(minimise="fid")[0] == "c" and sw.decide(
        _smoke(candidates=abc, metrics=("fid",), rule=sw.Rule(gates=False, minimise="fid")), passed,
        vals[~((vals["candidate"] == "c") & (vals["metric"] == "fid"))])[0] == "b"


def test_a_rule_is_checked_against_its_sweep():
    with pytest.raises(ValueError, match="not both"):
        sw.Rule(maximise="cond_acc", minimise="fid")
    with pytest.raises(ValueError, match="name the incumbent"):
        sw.Rule(minimise="fid", guards=(("cond_acc", 0.1),))
    with pytest.raises(ValueError, match="no candidate"):
        _smoke(rule=sw.Rule(maximise="cond_acc", keep="z"))
    with pytest.raises(ValueError, match="add them to metrics"):
        _smoke(rule=sw.Rule(minimise="fid"))
    assert "lower than a's by more than 1" in sw.Rule(minimise="fid", keep="a", margin=1.0).words()


def test_every_defined_sweep_resolves_to_rows_whose_configs_build():
    """Each probe kept as data (bench/sweeps/) names real rows of its table, and every candidate's overrides are
    real config fields: what ``python -m bench.sweep NAME`` would train builds."""
    from core.resolve import build_config

    found = sw.sweeps()
    assert {"sgan-shapes-rates", "stackgan-kl-reduction", "stackgan-joint-grid", "stacked-optimizer-dense",
            "stacked-optimizer-conv", "stacked-optimizer-deepconv", "stacked-dense-dropout",
            "stacked-dense-norm"} <= set(found)  # SWEEPS tuples are found as well as SWEEP
    for s in found.values():
        rows = sw.candidate_rows(s, get_table(s.paper))
        assert len(rows) == len(s.candidates) * len(s.rows)
        for row in rows:
            for unit in (row.unit, row.unit.parent):
                if unit is not None:
                    build_config(unit.model, s.preset, dict(unit.overrides), dataset=s.dataset)


def test_find_row_takes_a_tables_row_or_a_sweeps_row_under_its_candidate():
    from bench.cells import get_table
    from bench.sweep import find_row

    table = get_table("s2gan")
    assert find_row(table, "quick", "style-fcn").unit.overrides.get("model.style_d_init") is None
    row = find_row(table, "quick", "style-fcn", "s2gan-style-ms", "zh-ms0.1")
    assert row.id == "style-fcn" and row.unit.overrides["model.style_ms_weight"] == 0.1
    with pytest.raises(ValueError, match="no candidate"):
        find_row(table, "quick", "style-fcn", "s2gan-style-ms", "zh-ms7")
    with pytest.raises(ValueError, match="no row 'nothing'"):
        find_row(table, "quick", "nothing")
