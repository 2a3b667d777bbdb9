"""End to end: ``python -m bench.ablations --paper stackgan --preset smoke`` trains every row of the
table for two seeds and writes every output file with its columns (the values are not checked)."""

import pandas as pd
import pytest
from PIL import Image

import bench.ablations as ab
from bench.runs import RUN_COLUMNS
from bench.tables.stackgan import TABLE

ROWS = [r.id for r in TABLE.rows_for("smoke")]

pytestmark = pytest.mark.slow  # trains every row of a table for two seeds


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "stackgan"
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--seeds", "2", "--out", str(out),
                    "--no-progress", "--jobs", "2"]) == 0
    return out


def test_seeds_ran_in_parallel_processes_one_thread_each(out):
    """--jobs 2: one worker process per seed (each with its log), every run trained with 1 thread."""
    import json

    assert sorted(p.name for p in (out / "logs").iterdir()) == ["seeds-0.log", "seeds-1.log"]
    configs = [json.loads(p.read_text()) for p in (out / "runs").glob("*/*/config.json")]  # runs/<code>/<unit>
    assert configs and {c["num_threads"] for c in configs} == {1}
    assert {c["model_seed"] for c in configs} == {0, 1}


def test_runs_csv_has_every_cell_and_its_provenance(out):
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns) == RUN_COLUMNS
    assert not (runs["metric"] == "__failed__").any(), runs[runs["metric"] == "__failed__"]["error"].tolist()
    cells = runs.drop_duplicates(["row", "seed"])
    assert sorted(zip(cells["row"], cells["seed"])) == sorted((r, s) for r in ROWS for s in (0, 1))
    assert set(TABLE.display) - {"kid_mean"} <= set(runs["metric"])
    assert (runs["preset"] == "smoke").all() and (runs["wall_time_s"] > 0).all() and runs["git_sha"].notna().all()
    for ck in cells["checkpoint"]:
        assert (out / ck / "model.safetensors").is_file() and (out / ck / "config.json").is_file(), ck


def test_aggregate_and_verdicts_have_their_columns(out):
    agg = pd.read_csv(out / "ablation.csv")
    assert list(agg.columns) == ["row", "metric", "mean", "std", "n", "paper_mean", "paper_std"]
    assert set(agg["row"]) == set(ROWS) and (agg["n"] == 2).all()
    verdicts = pd.read_csv(out / "verdicts.csv")
    from bench.stats import VERDICT_COLUMNS

    assert list(verdicts.columns) == VERDICT_COLUMNS
    assert VERDICT_COLUMNS[:12] == ["claim", "text", "metric", "better", "worse", "rival", "effect", "ci_low",
                                    "ci_high", "n", "verdict", "why"]
    assert set(verdicts["claim"]) == {c.id for c in TABLE.claims}
    from bench.stats import VERDICTS

    assert set(verdicts["verdict"]) <= set(VERDICTS)  # underpowered is a plan's label, never a verdict


def test_report_plot_and_sample_sheets(out):
    md = (out / "report.md").read_text()
    assert "python -m bench.ablations --paper stackgan --preset smoke" in md and "## Claims" in md
    assert all(c.text in md for c in TABLE.claims) and f"Cells finished: {2 * len(ROWS)} of {2 * len(ROWS)}" in md
    assert "seed 1:" in md and "fastest measured cell" in md
    assert "<table>" in (out / "report.html").read_text()
    assert Image.open(out / "ablation.png").size[0] > 300
    assert sorted(p.stem for p in (out / "samples").glob("*.png")) == sorted(ROWS)


def test_report_only_rewrites_the_report_and_trains_nothing(out):
    before = (out / "runs.csv").read_bytes()
    (out / "report.md").unlink()
    assert ab.main(["--paper", "stackgan", "--preset", "smoke", "--seeds", "2", "--out", str(out), "--report-only",
                    "--no-progress"]) == 0
    assert (out / "runs.csv").read_bytes() == before and "## Claims" in (out / "report.md").read_text()


def test_report_only_fills_the_readme_block_named_after_the_default_folder(out, tmp_path, monkeypatch):
    """Without --out, a table run on another dataset writes results/<paper>-<dataset> and fills the README block
    of that name (e.g. sgan-shapes), leaving the paper's own block alone."""
    import shutil

    copy = tmp_path / "results" / "stackgan-mnist5k"
    shutil.copytree(out, copy)
    readme = tmp_path / "README.md"
    readme.write_text("")
    monkeypatch.chdir(tmp_path)
    args = ["--paper", "stackgan", "--preset", "smoke", "--seeds", "2", "--dataset", "mnist5k", "--report-only",
            "--no-progress"]
    assert ab.main(args) == 2  # its cells are shapes cells: never reported as mnist5k ones
    pd.read_csv(copy / "runs.csv").assign(dataset="mnist5k").to_csv(copy / "runs.csv", index=False)
    readme.write_text("a\n<!-- stackgan-results:start -->\nold\n<!-- stackgan-results:end -->\n"
                      "<!-- stackgan-mnist5k-results:start -->\n<!-- stackgan-mnist5k-results:end -->\nb\n")
    assert ab.main(args) == 0
    own, other = readme.read_text().split("<!-- stackgan-results:end -->")
    assert own.endswith("old\n")
    assert "results/stackgan-mnist5k/report.md" in other and "claims; verdicts" in other and other.endswith("b\n")


def test_replicate_trains_new_seeds_and_tests_agreement_within_sesoi(out, capsys):
    """--replicate ROW --seeds 2: two seeds after the committed ones (2 and 3), trained under <out>/replicate/ in
    worker processes, then an equivalence test per metric with a SESOI (the table's, or --sesoi); runs.csv is
    left alone. A SESOI nothing can meet makes it exit 1; a second call trains nothing."""
    before = (out / "runs.csv").read_bytes()
    argv = ["--paper", "stackgan", "--preset", "smoke", "--out", str(out), "--no-progress", "--jobs", "2",
            "--replicate", "stage1-lo", "--seeds", "2", "--sesoi", "fid=1000", "--sesoi", "is_mean=1"]
    assert ab.main(argv + ["--sesoi", "diversity=1"]) == 0
    printed = capsys.readouterr().out
    assert "new seeds [2, 3]" in printed and "committed seeds [0, 1]" in printed
    assert "every tested metric agrees within ±SESOI" in printed
    result = pd.read_csv(out / "replicate-stage1-lo.csv")
    from bench.replicate import COLUMNS

    assert list(result.columns) == COLUMNS and set(result["metric"]) == {"fid", "is_mean", "diversity"}
    assert (result["verdict"] == "agrees within ±SESOI").all() and (result["new_seeds"] == "2 3").all()
    assert (result["committed_seeds"] == "0 1").all() and (result["new_n"] == 2).all()
    new = pd.read_csv(out / "replicate" / "runs.csv")
    assert sorted(set(new["seed"])) == [2, 3] and set(new["row"]) == {"stage1-lo"}
    assert (out / "runs.csv").read_bytes() == before
    # FID within ±1e-6 of the committed mean cannot be shown with 2 seeds: not every metric agrees
    assert ab.main(argv[:-4] + ["--sesoi", "fid=1e-6"]) == 1
    printed = capsys.readouterr().out
    assert "NOT every tested metric agrees" in printed and "seeds" not in capsys.readouterr().err
    assert pd.read_csv(out / "replicate" / "runs.csv").shape == new.shape  # nothing retrained
    assert ab.main(argv[:-4] + ["--sesoi", "nope=1"]) == 2  # a metric the row is not scored on
