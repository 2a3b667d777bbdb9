"""Health gates (PROTOCOL.md rule 6) and real-data references (rule 12): bench.health and the --health /
--references options of bench.ablations."""
import dataclasses
import json
import math
import types

import pandas as pd
import pytest

import bench.ablations as ab
import bench.health as health
from bench.runs import RUN_COLUMNS, append_runs
from bench.spec import Gate
from bench.tables.stackgan import TABLE

pytestmark = pytest.mark.usefixtures("one_thread")

FID_NOISE = Gate("fid", "<=", 0.5, "noise", why="well below noise")
DIV_REAL = Gate("diversity", ">=", 0.5, "real", why="half the real data's")
RECALL_FLOOR = Gate("recall", ">=", 0.1, why="a floor")
Q_CHANCE = Gate("log:loss_q0", "<=", 0.9, "chance", chance=1 / 12, why="Q reads z0")


def _args(**kw):
    base = dict(paper="stackgan", preset="smoke", dataset="shapes", eval_n=None, no_progress=True, threads=1,
                device="cpu", only=[], health_from=None, references=None, health=False)
    return types.SimpleNamespace(**{**base, **kw})


def _rows(gates: dict[str, tuple]):
    """The smoke table's first rows, renamed a, b, c..., with ``gates`` declared on them."""
    base = TABLE.rows_for("smoke")
    return [dataclasses.replace(base[i], id=rid, gates=g) for i, (rid, g) in enumerate(gates.items())]


def _runs(tmp_path, cells: dict[tuple[str, int], bool]) -> pd.DataFrame:
    """A pilot runs.csv frame of ``(row, seed) -> whether its checkpoint is on disk`` (under tmp_path)."""
    records = []
    for (row, seed), on_disk in cells.items():
        ck = f"runs/{row}-{seed}/checkpoints/final"
        if on_disk:
            (tmp_path / ck).mkdir(parents=True)
        records.append({"row": row, "seed": seed, "metric": "fid", "value": 1.0, "preset": "smoke",
                        "dataset": "shapes", "checkpoint": ck})
    return pd.DataFrame(records, columns=RUN_COLUMNS)


def _write_log(run, lines):
    run.mkdir(parents=True, exist_ok=True)
    (run / "log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


# ---------------------------------------------------------------------------------------------- thresholds

def test_thresholds_are_computed_as_declared():
    refs = {"noise": 54.8, "real": 0.3}
    assert FID_NOISE.threshold(refs) == pytest.approx(27.4)
    assert DIV_REAL.threshold(refs) == pytest.approx(0.15)
    assert Q_CHANCE.threshold() == pytest.approx(0.075)
    assert RECALL_FLOOR.threshold() == 0.1
    assert FID_NOISE.passes(27.4, refs) and not FID_NOISE.passes(27.5, refs)  # <=
    assert DIV_REAL.passes(0.15, refs) and not DIV_REAL.passes(0.149, refs)  # >=
    assert math.isnan(FID_NOISE.threshold({"real": 1.0})) and not FID_NOISE.passes(1.0, {"real": 1.0})
    assert not RECALL_FLOOR.passes(float("nan"))


def test_score_keys_map_to_the_evaluator_metrics_that_write_them():
    assert health.evaluate_metric("recall") == ("prc", False)
    assert health.evaluate_metric("kid_mean") == ("kid", False)
    assert health.evaluate_metric("cond_acc_texture") == ("cond_acc", False)
    assert health.evaluate_metric("diversity_detail") == ("diversity_detail", False)
    assert health.evaluate_metric("normal_error_deg_relief") == ("normals", False)
    assert health.evaluate_metric("inception_fid") == ("fid", True)
    with pytest.raises(ValueError, match="sharpness"):
        health.evaluate_metric("sharpness")


# ---------------------------------------------------------------------------------------------- the training log

def test_log_metric_is_averaged_over_the_last_tenth_of_its_steps(tmp_path):
    lines = [{"step": s, "phase": "one", "loss_d": 1.0} for s in range(10, 1001, 10)]
    lines += [{"step": s, "phase": "two", "loss_q0": float(s)} for s in range(1010, 2001, 10)]
    lines.insert(50, {"step": 500, "phase": "one", "loss_d": 1.0})  # a resumed run's repeated line
    lines.append({"step": 2000, "event": "done", "wall_time_s": 1.0})
    _write_log(tmp_path, lines)
    # loss_q0: its phase runs from step 1000 to 2000, so the last tenth is steps 1910..2000
    assert health.log_tail_mean(tmp_path / "log.jsonl", "loss_q0") == pytest.approx(sum(range(1910, 2001, 10)) / 10)
    _write_log(tmp_path, [{"step": s, "x": float(s)} for s in range(10, 1001, 10)])
    assert health.log_tail_mean(tmp_path / "log.jsonl", "x") == pytest.approx(955.0)  # steps 910..1000
    # stopped at step 500: the last tenth of 0..500 is steps 460..500
    assert health.log_tail_mean(tmp_path / "log.jsonl", "x", until=500) == pytest.approx(480.0)
    with pytest.raises(ValueError, match="loss_q1"):
        health.log_tail_mean(tmp_path / "log.jsonl", "loss_q1")


# ---------------------------------------------------------------------------------------------- measure_health

@pytest.fixture
def fake_measure(monkeypatch):
    """Stand-ins for the evaluator: each run's values by run directory name, and fixed references."""
    measured = {
        "a-0": {"fid": 18.0, "diversity": 0.04}, "a-1": {"fid": 22.0, "diversity": 0.06},
        "c-0": {"fid": 60.0}, "e-0": {"fid": 20.0},
    }
    calls = []

    def measure_run(run, keys, table, args, split, n):
        got = {k: v for k, v in measured[run.name].items() if k in keys}
        return got, {k: "MetricsError: cannot measure it" for k in keys if k not in got and not k.startswith("log:")}

    def references(table, args, split, metrics, n, conditions=None, data_seed=None):
        calls.append((split, {s: list(v) for s, v in metrics.items()}))
        return {"noise": {"fid": 54.8} if "fid" in metrics["noise"] else {},
                "real": {"diversity": 0.3} if "diversity" in metrics["real"] else {}}

    monkeypatch.setattr(health, "measure_run", _wrap_logs(measure_run))
    monkeypatch.setattr(health, "references", references)
    return calls


def _wrap_logs(fake):
    """The fake for evaluator keys, the real log reader for log: keys."""
    real = health.measure_run

    def measure_run(run, keys, table, args, split, n):
        logs = [k for k in keys if k.startswith("log:")]
        got, errors = real(run, logs, table, args, split, n)
        more, more_errors = fake(run, [k for k in keys if k not in logs], table, args, split, n)
        return {**got, **more}, {**errors, **more_errors}
    return measure_run


def test_health_measures_each_gate_on_val_and_names_failures(tmp_path, fake_measure):
    rows = _rows({"a": (FID_NOISE, DIV_REAL), "b": (FID_NOISE,), "c": (FID_NOISE, RECALL_FLOOR, Q_CHANCE),
                  "d": ()})
    runs = _runs(tmp_path, {("a", 0): True, ("a", 1): True, ("a", 2): False, ("b", 0): False, ("b", 1): False,
                            ("c", 0): True, ("d", 0): True})
    _write_log(tmp_path / "runs" / "c-0", [{"step": s, "loss_q0": 0.0833} for s in range(10, 101, 10)])
    frame = health.measure_health(TABLE, rows, runs, _args(), tmp_path)
    assert list(frame.columns) == health.HEALTH_COLUMNS
    assert set(frame["split"]) == {"val"} and all(split == "val" for split, _ in fake_measure)
    by = {(r, g): line for r, g, line in zip(frame["row"], frame["gate"], frame.to_dict("records"))}
    assert set(by) == {("a", FID_NOISE.name), ("a", DIV_REAL.name), ("b", FID_NOISE.name),
                       ("c", FID_NOISE.name), ("c", RECALL_FLOOR.name), ("c", Q_CHANCE.name)}  # d: no gates

    fid = by[("a", FID_NOISE.name)]  # mean over the seeds on disk; seed 2's checkpoint is missing
    assert fid["value"] == pytest.approx(20.0) and fid["threshold"] == pytest.approx(27.4) and fid["passed"] is True
    assert fid["seeds"] == 2 and "checkpoint missing for seed 2" in fid["note"]
    div = by[("a", DIV_REAL.name)]
    assert div["value"] == pytest.approx(0.05) and div["threshold"] == pytest.approx(0.15) and div["passed"] is False

    b = by[("b", FID_NOISE.name)]  # nothing on disk: not measured, which is not a measured failure
    assert b["passed"] is None and b["note"].startswith("not measured: checkpoint missing") and b["seeds"] == 0

    recall = by[("c", RECALL_FLOOR.name)]  # cannot be measured: a failing gate, kept with its reason
    assert recall["passed"] is False and math.isnan(recall["value"]) and "cannot measure it" in recall["note"]
    q = by[("c", Q_CHANCE.name)]  # read from the run's log: 0.0833 > 0.9 x 1/12
    assert q["value"] == pytest.approx(0.0833) and q["threshold"] == pytest.approx(0.075) and q["passed"] is False

    bad = health.unhealthy_rows(frame)
    assert set(bad) == {"a", "c"}  # b was not measured, not failed
    unmeasured = health.unmeasured_rows(frame)
    assert list(unmeasured) == ["b"] and "checkpoint missing" in unmeasured["b"][0]
    assert bad["a"] == ["diversity 0.05 < 0.15 (0.5 x real)"]
    assert "fid 60 > 27.4 (0.5 x noise)" in bad["c"] and "log:loss_q0 0.0833 > 0.075 (0.9 x chance 0.08333)" in bad["c"]
    assert any(x.startswith("recall not measured") and "cannot measure it" in x for x in bad["c"])
    assert health.describe_failure({"gate": RECALL_FLOOR.name, "value": 0.0, "threshold": 0.1}) == "recall 0 < 0.1"

    path = health.write_health(frame, tmp_path / "health.csv")  # the report and the verdicts read it back
    back = health.read_health(path)
    assert list(back["passed"]) == list(frame["passed"]) and health.unhealthy_rows(back) == bad
    assert health.read_health(tmp_path / "none.csv") is None and health.unhealthy_rows(None) == {}


def test_a_training_log_gate_on_an_export_without_a_log_is_not_measured_not_failed(tmp_path, fake_measure):
    rows = _rows({"e": (FID_NOISE, Q_CHANCE)})
    runs = _runs(tmp_path, {("e", 0): True})  # a checkpoint, but no log.jsonl beside it (a shipped export)
    frame = health.measure_health(TABLE, rows, runs, _args(), tmp_path)
    q = frame[frame["gate"] == Q_CHANCE.name].iloc[0]
    assert q["passed"] is None and "no training log" in q["note"]
    assert "e" not in health.unhealthy_rows(frame) and "e" in health.unmeasured_rows(frame)


def test_a_reference_that_cannot_be_measured_fails_its_gate(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "measure_run", lambda run, keys, *a: ({"fid": 1.0}, {}))

    def broken(*a, **k):
        raise RuntimeError("no val split")

    monkeypatch.setattr(health, "references", broken)
    frame = health.measure_health(TABLE, _rows({"a": (FID_NOISE,)}), _runs(tmp_path, {("a", 0): True}), _args(),
                                  tmp_path)
    line = frame.iloc[0]
    assert line["passed"] is False and line["value"] == 1.0 and math.isnan(line["threshold"])
    assert "no val split" in line["note"] and health.unhealthy_rows(frame)["a"][0].startswith("fid 1, no threshold")


# ---------------------------------------------------------------------------------------------- real data

def test_references_measure_only_what_is_asked_on_the_split():
    refs = health.references(TABLE, _args(), "val", {"noise": ["fid"], "real": ["fid", "diversity"]}, 64)
    assert set(refs["noise"]) == {"fid"} and set(refs["real"]) == {"fid", "diversity"}
    assert refs["noise"]["fid"] > 20 * refs["real"]["fid"]  # noise is far from the data, real images are not
    assert 0 <= refs["real"]["diversity"] < 2


def test_references_csv_holds_the_real_value_of_toward_real_metrics(tmp_path):
    plain = tuple(dataclasses.replace(c, toward_real=False) for c in TABLE.claims)
    claim = dataclasses.replace(plain[0], metric="diversity", toward_real=True)  # judged as distance to real
    table = dataclasses.replace(TABLE, claims=(claim,) + plain[1:])
    frame = health.real_reference_frame(table, _args())
    assert list(frame["metric"]) == ["diversity"] and list(frame["split"]) == ["test"] and list(frame["n"]) == [64]
    assert 0 <= frame["value"][0] < 2 and "6 conditions x 10 images" in frame["source"][0]
    back = health.read_references(health.write_references(frame, tmp_path / "references.csv"))
    assert list(back.columns) == health.REFERENCE_COLUMNS and back["value"][0] == pytest.approx(frame["value"][0])
    assert health.real_reference_frame(dataclasses.replace(TABLE, claims=plain), _args()).empty  # none declared


@pytest.mark.slow
def test_health_command_on_a_trained_smoke_cell(tmp_path, monkeypatch, capsys):
    """--health end to end: one smoke cell trained, its fid gate measured on val against noise."""
    from bench.cells import train_unit

    row = dataclasses.replace(TABLE.rows_for("smoke")[0], gates=(FID_NOISE, Gate("log:loss_d", "<=", 100.0)))
    table = dataclasses.replace(TABLE, rows_for=lambda preset: [row])
    monkeypatch.setattr(ab, "get_table", lambda paper: table)
    out = tmp_path / "stackgan"
    run, _ = train_unit(row.unit, _args(), 0, out / "pilot" / "runs")
    checkpoint = str((run / "checkpoints" / "final").relative_to(out / "pilot"))
    append_runs(out / "pilot" / "runs.csv", [{"row": row.id, "seed": 0, "metric": "fid", "value": 1.0,
                                              "preset": "smoke", "dataset": "shapes", "checkpoint": checkpoint}])
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--out", str(out), "--health", "--no-progress"]) == 0
    frame = health.read_health(out / "health.csv")
    assert list(frame["seeds"]) == [1, 1] and frame["value"].notna().all() and frame["threshold"].notna().all()
    assert frame["note"].eq("").all(), frame["note"].tolist()
    assert "unhealthy" in capsys.readouterr().out or frame["passed"].all()


def test_health_command_without_checkpoints_writes_not_measured(tmp_path, monkeypatch, capsys):
    """Committed pilots have no checkpoints: every gate is written as not measured, and the command says why."""
    row = dataclasses.replace(TABLE.rows_for("smoke")[0], gates=(FID_NOISE,))
    monkeypatch.setattr(ab, "get_table", lambda paper: dataclasses.replace(TABLE, rows_for=lambda preset: [row]))
    out = tmp_path / "stackgan"
    append_runs(out / "pilot" / "runs.csv", _runs(tmp_path, {(row.id, 0): False}).to_dict("records"))
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--out", str(out), "--health", "--no-progress"]) == 0
    frame = health.read_health(out / "health.csv")
    assert list(frame["passed"]) == [None] and frame["note"][0].startswith("not measured: checkpoint missing")
    assert "no gate could be measured" in capsys.readouterr().err
    append_runs(out / "pilot" / "runs.csv", [{"row": row.id, "seed": 1, "preset": "quick", "dataset": "shapes"}])
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--out", str(out), "--health"]) == 2  # other preset
