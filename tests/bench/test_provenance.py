"""PROTOCOL.md §6 and §15: a dirty tree is refused, a code change makes cells stale, and --verify
retrains a cell and reproduces its numbers bit for bit."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pandas as pd
import pytest
import torch

import bench.ablations as ab
import bench.cells as cells
import bench.provenance as prov
from bench.runs import finished_cells

SMOKE = ["--paper", "stackgan", "--preset", "smoke", "--seeds", "1", "--only", "stage1-lo", "--no-progress",
         "--jobs", "1"]


def test_fingerprint_follows_the_code_and_the_evaluation_networks(tmp_path):
    for d in ("core/models", "bench/tables", "results/classifiers/x", "demo"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "core/models/m.py").write_text("A = 1\n")
    (tmp_path / "bench/tables/stackgan.py").write_text("T = 1\n")
    (tmp_path / "results/classifiers/x/model.safetensors").write_bytes(b"w")
    (tmp_path / "demo/app.py").write_text("x = 1\n")
    first = prov.code_fingerprint("stackgan", tmp_path)
    (tmp_path / "demo/app.py").write_text("x = 2\n")  # the demo does not produce cells
    assert prov.code_fingerprint("stackgan", tmp_path) == first
    (tmp_path / "core/models/m.py").write_text("A = 2\n")
    second = prov.code_fingerprint("stackgan", tmp_path)
    assert second != first
    (tmp_path / "results/classifiers/x/model.safetensors").write_bytes(b"v")
    assert prov.code_fingerprint("stackgan", tmp_path) not in (first, second)


def test_dirty_code_is_found_by_git(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (tmp_path / "core").mkdir()
    (tmp_path / "core/a.py").write_text("A = 1\n")
    (tmp_path / "notes.md").write_text("x\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    assert prov.dirty_code(tmp_path) == []
    (tmp_path / "notes.md").write_text("y\n")  # outside the code: still clean
    assert prov.dirty_code(tmp_path) == []
    (tmp_path / "core/a.py").write_text("A = 2\n")
    (tmp_path / "core/new.py").write_text("B = 1\n")
    assert sorted(l[3:] for l in prov.dirty_code(tmp_path)) == ["core/a.py", "core/new.py"]


def test_a_dirty_tree_is_refused_except_for_smoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ab, "dirty_code", lambda: [" M core/train.py"])
    code = ab.main(["--paper", "stackgan", "--preset", "quick", "--out", str(tmp_path / "q"), "--no-progress"])
    assert code == 2 and "uncommitted changes" in capsys.readouterr().err and not (tmp_path / "q").exists()
    assert ab.main([*SMOKE, "--out", str(tmp_path / "s")]) == 0  # smoke runs anyway


def test_a_code_change_makes_cells_stale_and_verify_reproduces_a_cell(tmp_path, monkeypatch, capsys):
    out = tmp_path / "t"
    monkeypatch.setattr(cells, "code_fingerprint", lambda paper: "aaaaaaaaaaaa")
    assert ab.main([*SMOKE, "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["code_fingerprint"]) == {"aaaaaaaaaaaa"} and set(runs["threads"]) == {1}
    assert set(runs["device"]) == {"cpu"}
    # what the cell depended on (PROTOCOL.md rule 17), on every line of it
    for col in ("cpu_model", "cpu_capability", "torch_version", "lock_hash", "data_hash", "embedding_hash", "loss_hash",
                "first_losses", "row_definition"):
        assert runs[col].notna().all() and runs[col].nunique() == 1, col
    from bench.tables.stackgan import TABLE

    row = next(r for r in TABLE.rows_for("smoke") if r.id == "stage1-lo")
    assert runs["row_definition"][0] == cells.row_definition(row, "smoke", "shapes")
    lock = hashlib.sha256(prov.ROOT.joinpath("requirements.lock").read_bytes()).hexdigest()[:12]
    assert runs["lock_hash"][0] == lock and runs["cpu_capability"][0] == torch.backends.cpu.get_cpu_capability()
    assert ab.main([*SMOKE, "--out", str(out), "--verify", "stage1-lo", "0"]) == 0
    log = capsys.readouterr().out  # the whole verify log is on stdout
    assert "inputs: the same" in log and log.rstrip().endswith("reproduced bit for bit")
    # another code state: the committed cell is stale, --resume trains it again, in its own run folder
    monkeypatch.setattr(cells, "code_fingerprint", lambda paper: "bbbbbbbbbbbb")
    assert finished_cells(pd.read_csv(out / "runs.csv"), "bbbbbbbbbbbb") == set()
    assert ab.main([*SMOKE, "--out", str(out), "--verify", "stage1-lo", "0"]) == 2  # nothing of this code to verify
    assert ab.main([*SMOKE, "--out", str(out), "--resume"]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["code_fingerprint"]) == {"aaaaaaaaaaaa", "bbbbbbbbbbbb"}
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]


def test_verify_detects_a_difference(tmp_path, monkeypatch, capsys):
    out = tmp_path / "t"
    monkeypatch.setattr(cells, "code_fingerprint", lambda paper: "cccccccccccc")
    assert ab.main([*SMOKE, "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    runs.loc[runs["metric"] == "fid", "value"] += 1e-9  # a committed number the code does not give
    runs.to_csv(out / "runs.csv", index=False)
    assert ab.main([*SMOKE, "--out", str(out), "--verify", "stage1-lo", "0"]) == 1
    log = capsys.readouterr().out
    assert "fid: committed" in log and "inputs: the same" in log
    assert log.rstrip().endswith("NOT reproduced: training agrees at every step: it departs in the last update or in "
                                 "scoring")  # smoke runs are shorter than the 20 recorded steps
    # the committed cell trained on other data: the first input that differs is named
    runs.assign(data_hash="0123456789ab").to_csv(out / "runs.csv", index=False)
    assert ab.main([*SMOKE, "--out", str(out), "--verify", "stage1-lo", "0"]) == 1
    assert "NOT reproduced: inputs differ (data hash 0123456789ab vs " in capsys.readouterr().out
    # same inputs, a loss that differs at step 2: the step is named
    losses = json.loads(runs["first_losses"][0])
    losses[0][1]["loss_g"][1] += 0.5
    runs.assign(first_losses=json.dumps(losses)).to_csv(out / "runs.csv", index=False)
    assert ab.main([*SMOKE, "--out", str(out), "--verify", "stage1-lo", "0"]) == 1
    assert f"NOT reproduced: training departs at step 2 of unit {losses[0][0]} (1 of 1): loss_g committed" in (
        capsys.readouterr().out)


def test_the_code_that_makes_a_cell_is_in_its_fingerprint():
    from bench.provenance import ROOT, fingerprint_files

    names = {str(f.relative_to(ROOT)) for f in fingerprint_files("stacked")}
    assert {"bench/cells.py", "bench/reproduce.py", "bench/tables/stacked.py", "core/models/stacked.py"} <= names
    assert "bench/tables/sgan.py" not in names and "bench/report.py" not in names  # another table; verdicts only
