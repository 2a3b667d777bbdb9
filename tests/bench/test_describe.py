"""A table's own description, ``table.json`` (:mod:`bench.describe`, issue #29): built from the table file alone,
directions from the metric registry, written beside every report (``--report-only`` included)."""
import json

import pytest

import bench.ablations as ab
from bench.cells import get_table
from bench.describe import describe
from core.metrics import registry


def test_the_description_of_a_smoke_table_is_its_declaration():
    table = get_table("stackgan")
    d = describe(table, "smoke", "shapes")
    assert json.loads(json.dumps(d)) == d  # plain JSON values only
    assert (d["paper"], d["title"], d["dataset"], d["preset"]) == ("stackgan", table.title, "shapes", "smoke")
    assert d["class_noun"] == "shape" and d["conditions"] == ["text"]  # from the dataset's traits, the models' specs
    assert d["paper_data"] == "CUB birds" and "conditioning augmentation" in d["settings"] and d["order"] == 10
    rows = {r["id"]: r for r in d["rows"]}
    assert list(rows) == [r.id for r in table.rows_for("smoke")]
    assert rows["stage1-lo"]["paper"] == {"is_mean": [2.66, 0.03]} and rows["stage1-lo"]["resolution"] == 16
    assert rows["stage1-lo"]["params"] == {"CA": "no", "text twice": "–", "resolution": 16}
    assert rows["gan-int-cls"]["model"] == "gan-int-cls" and rows["stack-hi-ca-tt"]["conditions"] == ["text"]
    assert rows["stage1-lo"]["gates"] == ["fid <= 0.5 x noise", "diversity >= 0.5 x real", "recall >= 0.05"]
    assert [c["id"] for c in d["claims"]] == [c.id for c in table.claims]
    for c, declared in zip(d["claims"], table.claims):
        assert c["direction"] == registry.direction(declared.metric)  # the registry's word, never the table's
        assert (c["text"], c["better"], c["worse"], c["sesoi"]) == (declared.text, declared.better,
                                                                   list(declared.worse), declared.sesoi)
    ca = d["claims"][0]
    assert ca["direction"] == "two-sided" and ca["toward_real"] and ca["guards"] == [
        {"metric": "cond_acc", "margin": 0.02, "direction": "higher"}]
    assert ca["holds_equal"].startswith("everything but CA") and "sesoi_why" in ca and ca["why"]
    assert next(c for c in d["claims"] if c["id"] == "stacking")["direction"] == "lower"
    assert "Resolutions:" in d["notes"]


def test_the_same_table_on_another_dataset_says_so():
    d = describe(get_table("sgan"), "smoke", "mnist5k")
    assert d["class_noun"] == "digit" and d["conditions"] == ["label"] and d["paper_data"] == "CIFAR-10"
    assert describe(get_table("sgan"), "smoke", "shapes")["class_noun"] == "shape"
    stacked = describe(get_table("stacked"), "smoke")
    assert stacked["conditions"] == [] and stacked["dataset"] == "shapes"
    gates = {r["id"]: r["gates"] for r in d["rows"]}
    assert any(g.startswith("log:ent0") for g in gates["sgan"]) and gates["dcgan-adv-cond"] == ["fid <= 0.5 x noise"]


def test_every_report_writes_table_json_report_only_included(tmp_path, monkeypatch):
    def fake_cell(row, seed, table, args, out):
        return [{"row": row.id, "seed": seed, "metric": "fid", "value": 1.0 + seed, "preset": args.preset,
                 "dataset": args.dataset, "code_fingerprint": args.fingerprint}]

    monkeypatch.setattr(ab, "run_cell", fake_cell)
    monkeypatch.setattr("bench.report.write_outputs", lambda *a, **k: None)
    argv = ["--paper", "stacked", "--preset", "smoke", "--seeds", "1", "--out", str(tmp_path), "--only",
            "single-conv", "--no-progress", "--jobs", "1"]
    assert ab.main(argv) == 0
    written = json.loads((tmp_path / "table.json").read_text())
    assert written == describe(get_table("stacked"), "smoke", "shapes")
    (tmp_path / "table.json").unlink()
    assert ab.main(argv + ["--report-only"]) == 0
    assert json.loads((tmp_path / "table.json").read_text()) == written


@pytest.mark.parametrize("paper", ["stackgan", "sgan", "s2gan", "stacked"])
def test_every_committed_table_describes_itself(paper):
    """Every table of bench/tables/ can be described at every preset (what --report-only needs)."""
    for preset in ("smoke", "quick"):
        d = describe(get_table(paper), preset)
        assert d["claims"] and all(c["direction"] in ("higher", "lower", "two-sided") for c in d["claims"])


def test_describe_writes_the_description_of_an_existing_results_folder(tmp_path, capsys):
    """``python -m bench.describe --paper sgan <folder>``: preset and dataset from the folder's runs.csv."""
    import pandas as pd

    from bench.describe import main

    pd.DataFrame([{"row": "sgan", "seed": 0, "metric": "fid", "value": 1.0, "preset": "smoke",
                   "dataset": "shapes"}]).to_csv(tmp_path / "runs.csv", index=False)
    assert main(["--paper", "sgan", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "table.json").read_text()) == describe(get_table("sgan"), "smoke", "shapes")
    pd.DataFrame([{"row": "sgan", "seed": s, "metric": "fid", "value": 1.0, "preset": "smoke", "dataset": d}
                  for s, d in ((0, "shapes"), (1, "mnist5k"))]).to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(SystemExit, match="2 \\(preset, dataset\\) pairs"):
        main(["--paper", "sgan", str(tmp_path)])
