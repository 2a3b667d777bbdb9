"""The benchmark machinery: table declarations, resumable cells, atomic runs.csv."""
import pandas as pd
import pytest

import bench.ablations as ab
import bench.cells as cells
from bench.runs import RUN_COLUMNS
from bench.spec import Unit
from bench.tables.stackgan import TABLE


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_stackgan_table_resolves_to_valid_configs(preset, tmp_path):
    rows = TABLE.rows_for(preset)
    assert len(rows) == 13 and len({r.id for r in rows}) == 13  # Table 2, GAN-INT-CLS, two matched budgets
    lo, mid, hi = {"smoke": (16, 32, 64), "quick": (16, 32, 64), "paper": (64, 128, 256)}[preset]
    for row in rows:
        for u in ab.chain(row.unit):
            cfg = cells.unit_config(u, preset, 0, "shapes", "cpu", tmp_path)  # raises on any bad key
            assert cfg.resolution in (lo, mid, hi)
    ids = {r.id for r in rows}
    for c in TABLE.claims:
        assert c.better in ids and set(c.worse) <= ids


def test_stage1_is_shared_between_rows():
    rows = {r.id: r for r in TABLE.rows_for("quick")}
    k = lambda u: u.key("quick", 0)  # noqa: E731
    assert k(rows["stack-hi-ca-tt"].unit.parent) == k(rows["stage1-lo-ca"].unit)
    assert k(rows["stack-mid-tt"].unit.parent) == k(rows["stage1-lo"].unit)
    assert k(rows["stage1-lo"].unit) != k(rows["stage1-lo-ca"].unit)
    assert Unit("m", {"a": 1}).key("quick", 0) != Unit("m", {"a": 1}).key("quick", 1)


def test_resume_skips_finished_cells(tmp_path, monkeypatch):
    calls = []

    def fake_cell(row, seed, table, args, out):
        calls.append((row.id, seed))
        if row.id == "stage1-hi":
            raise_ = [{"row": row.id, "seed": seed, "metric": "__failed__", "value": float("nan"), "error": "boom"}]
            return raise_
        return [{"row": row.id, "seed": seed, "metric": "is_mean", "value": 1.0 + seed, "preset": args.preset,
                 "code_fingerprint": args.fingerprint}]

    monkeypatch.setattr(ab, "run_cell", fake_cell)
    monkeypatch.setattr("bench.report.write_outputs", lambda *a, **k: None)
    argv = ["--paper", "stackgan", "--preset", "smoke", "--seeds", "2", "--out", str(tmp_path),
            "--only", "stage1-lo", "--only", "stage1-hi", "--no-progress", "--jobs", "1"]
    assert ab.main(argv) == 0
    assert sorted(calls) == [("stage1-hi", 0), ("stage1-hi", 1), ("stage1-lo", 0), ("stage1-lo", 1)]
    assert ab.main(argv) == 2  # runs.csv exists: refuse without --resume
    calls.clear()
    assert ab.main(argv + ["--resume"]) == 0
    assert sorted(calls) == [("stage1-hi", 0), ("stage1-hi", 1)]  # failed cells retried, finished ones kept
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert list(runs.columns) == RUN_COLUMNS
    assert ((runs["row"] == "stage1-lo") & (runs["metric"] == "is_mean")).sum() == 2


def test_unknown_row_is_rejected(tmp_path, capsys):
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--only", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown row" in capsys.readouterr().err


def test_a_run_trained_with_another_config_is_set_aside(tmp_path):
    """Run directories are named after the row's overrides; a preset change must not reuse them."""
    from core.resolve import build_config

    stage1 = {"model.stages": 1, "model.stage1_resolution": 16, "resolution": 16, "model.stage2_steps": 0}
    run = tmp_path / "stackgan-abc"
    run.mkdir()
    (run / "config.json").write_text(build_config("stackgan", "quick", stage1).to_json())
    # a Stage-II-only field does not change a single-stage run: it is kept
    same = build_config("stackgan", "quick", {**stage1, "model.stage2_encoder_down": 0, "model.ngf2": 7})
    assert not cells.set_aside_if_stale(run, same) and run.is_dir()
    # a field the run uses does: it is moved aside, nothing is deleted
    other = build_config("stackgan", "quick", {**stage1, "model.ngf1": 8})
    assert cells.set_aside_if_stale(run, other)
    assert not run.exists()
    (aside,) = tmp_path.glob("stackgan-abc.stale-*")
    assert (aside / "config.json").is_file()


def test_readme_results_section_is_replaced_between_markers(tmp_path):
    from bench.report import update_readme

    report = tmp_path / "results" / "stackgan" / "report.md"
    report.parent.mkdir(parents=True)
    report.write_text("# T\n\n- Cells finished: 3 of 33\n- Code: git abc\n\n## Table\n\n| a |\n|---|\n| 1 |\n\n"
                      "## Claims\n\n| c |\n|---|\n| x |\n\n## Plots\n\n![p](ablation.png)\n")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- stackgan-results:start -->\nold\n<!-- stackgan-results:end -->\noutro\n")
    assert update_readme(readme, "stackgan", report)
    text = readme.read_text()
    assert text.startswith("intro\n<!-- stackgan-results:start -->") and text.endswith("<!-- stackgan-results:end -->\noutro\n")
    assert "old" not in text and "| 1 |" not in text and "(results/stackgan/report.md)" in text
    pd.DataFrame({"row": ["a", "b"], "passed": [True, False]}).to_csv(report.parent / "health.csv", index=False)
    assert update_readme(readme, "stackgan", report) and "failing a health gate on val: `b`" in readme.read_text()
    other = tmp_path / "OTHER.md"
    other.write_text("no markers\n")
    assert not update_readme(other, "stackgan", report) and other.read_text() == "no markers\n"


def test_every_claim_on_every_metric_marks_intervals_that_exclude_zero():
    from bench.report import _claims_on_every_metric
    from bench.spec import Claim

    table = TABLE.__class__(**{**TABLE.__dict__, "claims": (Claim("c", "b beats a", "b", ("a",)),
                                                             Claim("c-fid", "b beats a (FID)", "b", ("a",), "fid"))})
    runs = pd.DataFrame([{"row": r, "seed": s, "metric": m, "value": v}
                         for s in range(3) for r, is_, fid in (("a", 2.0, 10.0), ("b", 2.0, 8.0))
                         for m, v in (("is_mean", is_ + 0.1 * (-1) ** s), ("fid", fid + 0.1 * s))])
    lines = _claims_on_every_metric(table, runs, ["is_mean", "fid"])
    rows = [ln for ln in "\n".join(lines).splitlines() if ln.startswith("| b beats a")]
    assert len(rows) == 1  # the FID restatement is the same comparison: one line
    is_cell, fid_cell = rows[0].split(" | ")[1:3]
    assert not is_cell.startswith("**")  # equal IS: inside the noise
    assert fid_cell.startswith("**+2.000")  # lower FID counts as the paper's direction
    assert "2 intervals" in " ".join(lines) and "1 do" in " ".join(lines)


def test_plan_from_refuses_a_pilot_without_row_definitions_and_plans_one_made_under_todays(tmp_path, capsys):
    """--plan-from (PROTOCOL.md rule 4): the committed pilot predates row fingerprints, so it is refused; the
    same cells stamped with today's definitions plan every claim by its SESOI, at least 4 seeds, within the cap;
    the confirmatory command follows the plan on seeds after the pilot's."""
    from pathlib import Path

    from bench.cells import definitions

    pilot = Path(__file__).resolve().parents[2] / "results" / "stackgan" / "pilot" / "runs.csv"
    assert ab.main(["--paper", "stackgan", "--preset", "quick", "--plan-from", str(pilot), "--out", str(tmp_path)]) == 2
    assert "predate protocol v2" in capsys.readouterr().err
    defs = definitions(TABLE, "quick", "shapes")
    stamped = pd.read_csv(pilot)
    stamped["row_definition"] = stamped["row"].map(defs["rows"])
    stamped.to_csv(tmp_path / "pilot.csv", index=False)
    assert ab.main(["--paper", "stackgan", "--preset", "quick", "--plan-from", str(tmp_path / "pilot.csv"),
                    "--out", str(tmp_path), "--cap-hours", "40"]) == 0
    plan = pd.read_csv(tmp_path / "plan.csv")
    assert set(plan["claim"]) == {c.id for c in TABLE.claims} and (plan["seeds"] >= 4).all()
    assert (plan["sesoi"] == [c.sesoi for c in TABLE.claims]).all() and (plan["cap_core_h"] == 40).all()
    assert plan["metric_definition"].str.len().eq(12).all()
    printed = capsys.readouterr().out
    assert "--follow-plan --first-seed 3" in printed and "--dataset" not in printed
    # a pilot of another dataset is refused: its cells are not this dataset's
    assert ab.main(["--paper", "stackgan", "--dataset", "mnist5k", "--preset", "quick", "--plan-from",
                    str(tmp_path / "pilot.csv"), "--out", str(tmp_path)]) == 2
    assert "holds cells of shapes/quick, not mnist5k/quick" in capsys.readouterr().err
