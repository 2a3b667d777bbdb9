"""PROTOCOL.md §6 and §15: a dirty tree is refused, a code change makes cells stale, and --verify
retrains a cell and reproduces its numbers bit for bit."""
from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

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
    assert ab.main([*SMOKE, "--out", str(out), "--verify", "stage1-lo", "0"]) == 0
    assert "reproduced bit for bit" in capsys.readouterr().err
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
    assert "fid: committed" in capsys.readouterr().out
