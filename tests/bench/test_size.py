"""bench.size: one seed of a table's training time, from timed steps of every unit's phases."""
from bench.cells import get_table
from bench.size import main, measure, table_units
from core.resolve import build_config


def test_every_unit_of_a_seed_is_timed_once_per_phase_and_scaled_by_its_steps(tmp_path, capsys):
    units = table_units("stacked", "smoke")
    rows = [r.id for r in get_table("stacked").rows_for("smoke")]
    assert len(units) == len(rows) + 3  # nine rows, and one shared Stage-I parent per layer type
    out = measure("stacked", "smoke", steps=1)
    assert len(out) == len(units)  # smoke: every unit trains one phase
    parents = [r for r in out if r["rows"].startswith("parent of")]
    assert len(parents) == 3 and all(", parent of full-" in r["rows"] for r in parents)
    single = next(r for r in out if r["rows"] == "single-dense")
    m = build_config("stacked", "smoke").model
    assert single["steps"] == m.stage1_steps + m.stage2_steps
    assert all(r["ms_per_step"] > 0 and abs(r["seconds"] - r["ms_per_step"] * r["steps"] / 1e3) < 1e-9 for r in out)
    assert main(["--paper", "sgan", "--preset", "smoke", "--steps", "1", "--out", str(tmp_path / "s.md")]) == 0
    text = (tmp_path / "s.md").read_text()
    assert "parent of sgan" in text and "One seed of the table:" in text and text in capsys.readouterr().out


def test_set_overrides_the_rows_units_and_not_their_parents():
    base = {r["rows"]: r["steps"] for r in measure("stacked", "smoke", steps=1)}
    over = {r["rows"]: r["steps"] for r in measure("stacked", "smoke", steps=1,
                                                  overrides={"model.stage1_steps": 5, "model.stage2_steps": 5})}
    assert over["single-dense"] == 10 != base["single-dense"]  # a row's own unit takes the setting
    parents = [k for k in base if k.startswith("parent of")]
    assert parents and all(over[k] == base[k] for k in parents)  # its Stage-I parent keeps the preset's
