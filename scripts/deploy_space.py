"""Assemble the Hugging Face Space's folder, check it against the Hub's rules, and (only when asked) upload it.

    python scripts/deploy_space.py --dry-run --out /tmp/space      # assemble + check; no network at all
    HF_TOKEN=hf_... python scripts/deploy_space.py --repo-id OWNER/NAME [--out DIR]   # + upload

The folder holds exactly what the Space runs: README.md (its YAML header configures the Space), app.py, demo/,
core/, the shipped models and results files the demo opens (:func:`space_files`), LICENSE, a requirements.txt
with the runtime packages only (:func:`space_requirements`: requirements.txt and its dependencies, each at its
version in requirements.lock, with torch's CPU build), and a .gitattributes whose LFS rules cover every binary
type (:data:`LFS_PATTERNS`), for a git push of that folder.

The upload goes through ``huggingface_hub.HfApi().upload_folder`` (repo_type="space"), which stores binaries
the Hub's way (LFS/Xet) whatever the .gitattributes says. It needs ``--repo-id`` and a write token in
``$HF_TOKEN``, refuses to start without both or with a folder that fails :func:`check`, and is never run by
the tests (nothing here may contact the Hub).

The Hub's rules checked (:func:`check`), as far as they are documented: no file over 10 MB outside LFS; every
binary file (not valid UTF-8 text) LFS-tracked; the README header names ``sdk`` (and ``sdk_version`` for
gradio) and an ``app_file`` that exists; a LICENSE for the header's ``license``; and, for this project, no
development-only requirement on the Space.
"""
from __future__ import annotations

import argparse
import fnmatch
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_PLAIN_BYTES = 10 * 1000 * 1000  # the Hub refuses files over 10 MB pushed without LFS (decimal MB: the stricter)

# Binary types the Space's .gitattributes sends through LFS: the Hub's default list for new repositories plus
# the images the demo serves. :func:`check` verifies that every binary file of the folder matches one.
LFS_PATTERNS = (
    "*.safetensors", "*.pt", "*.pth", "*.bin", "*.ckpt", "*.h5", "*.hdf5", "*.mat", "*.npy", "*.npz",
    "*.pkl", "*.pickle", "*.joblib", "*.onnx", "*.msgpack", "*.model", "*.parquet", "*.arrow",
    "*.png", "*.jpg", "*.jpeg", "*.gif", "*.webp", "*.ico", "*.pdf",
    "*.zip", "*.gz", "*.tgz", "*.tar", "*.xz", "*.zst", "*.7z", "*.bz2", "*.rar", "*.wasm", "*tfevents*",
)

# torch's CPU build for the cpu-basic Space: the default Linux wheel pulls ~4 GB (installed) of CUDA libraries
# (the nvidia-*, cuda-* and triton packages of requirements.lock), which the CPU wheel does not need.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_BUILD = ("torch", "torchvision")  # pinned as VERSION+cpu from TORCH_CPU_INDEX
CUDA_ONLY = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")

# What the demo opens besides its code (measured with an audit hook on `open` while building the app and
# showing every paper of the Results tab; tests/test_deploy_space.py launches the app from the folder):
# every shipped checkpoint (demo/*_tab.py: results/checkpoints/<name>), and, for every results/<paper>/
# holding an ablation.csv, the files demo/results_tab.py and demo/stacked_tab.py read (table.json: what the
# table is, bench.describe), and the index of every claim the Results tab shows above the papers (INDEX_FILES,
# written by python -m bench.index: the forest plot and its phone variant; shipped when committed, the tab
# leaves out what is missing), and each table's sample sheets (SHEETS: results/<paper>/samples/<row>.png, which
# the Results tab shows through demo/files.py).
CHECKPOINTS = "results/checkpoints/"
SHEETS = re.compile(r"results/[^/]+/samples/[^/]+\.png")
RESULT_FILES = ("ablation.csv", "ablation.png", "report.md", "runs.csv", "verdicts.csv", "health.csv", "table.json",
                "showcase/scores.json", "figures/mnist5k/scores.json", "figures/shapes/scores.json")
INDEX_FILES = ("results/forest.png", "results/forest-phone.png")
CODE = ("demo/", "core/")
TOP = ("README.md", "app.py", "LICENSE", "docs/demo.png")  # docs/demo.png: the link preview (demo/sharing.py)


def norm(name: str) -> str:
    """A distribution name in PEP 503 normal form: ``PyYAML`` → ``pyyaml``, ``gradio_client`` → ``gradio-client``."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------------------------- requirements

def read_requirements(path: Path, follow: bool = True) -> list:
    """The requirements of a requirements file (``packaging.requirements.Requirement``), following ``-r FILE``
    (unless ``follow`` is false); option lines (``--extra-index-url``, ...) and comments are skipped."""
    from packaging.requirements import Requirement

    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            if follow:
                out += read_requirements(Path(path).parent / line.split(None, 1)[1])
            continue
        if line.startswith("-"):
            continue
        out.append(Requirement(line))
    return out


def read_lock(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of a ``pip freeze`` lock file."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[norm(name)] = version.strip()
    return pins


def runtime_closure(requirements: list, lock: dict[str, str]) -> dict[str, str]:
    """``{name: locked version}`` of ``requirements`` and everything they depend on, read from the installed
    packages' metadata (markers evaluated for this Python and platform, the Space's: CPython 3.11 on Linux),
    without the CUDA-only packages of torch's default build.

    Raises:
        RuntimeError: a package is not in the lock, or the installed version is not the locked one (the
            dependency graph must be the locked environment's: run it in ``make setup``'s venv).
    """
    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    todo = [(r, set(r.extras)) for r in requirements]
    while todo:
        req, extras = todo.pop()
        name = norm(req.name)
        if CUDA_ONLY.match(name) or name in found:
            continue
        if name not in lock:
            raise RuntimeError(f"{req.name} is needed at run time but not pinned in requirements.lock")
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeError(f"{req.name} is not installed: run this in the locked venv (make setup)") from None
        if norm(dist.version) != norm(lock[name]):
            raise RuntimeError(f"{req.name} {dist.version} is installed, requirements.lock pins {lock[name]}: "
                               "run this in the locked venv (make setup)")
        found[name] = lock[name]
        for spec in dist.requires or []:
            dep = Requirement(spec)
            if dep.marker is not None and not any(dep.marker.evaluate({"extra": e}) for e in (extras or {""})):
                continue
            todo.append((dep, set(dep.extras)))
    return found


def dev_only(root: Path = ROOT) -> set[str]:
    """Packages declared for development (requirements-dev.txt, requirements-nodeps.txt) that the runtime does
    not need: none of them may be installed on the Space."""
    declared = {norm(r.name) for f in ("requirements-dev.txt", "requirements-nodeps.txt")
                for r in read_requirements(root / f, follow=False)}
    runtime = runtime_closure(read_requirements(root / "requirements.txt"), read_lock(root / "requirements.lock"))
    return declared - set(runtime)


def space_requirements(root: Path = ROOT) -> str:
    """The Space's requirements.txt: the runtime closure of requirements.txt, every package at its locked
    version, torch and torchvision as their CPU builds from PyTorch's index."""
    pins = runtime_closure(read_requirements(root / "requirements.txt"), read_lock(root / "requirements.lock"))
    lines = [f"{n}=={v}+cpu" if n in CPU_BUILD else f"{n}=={v}" for n, v in sorted(pins.items())]
    return ("# The Space's runtime requirements, written by scripts/deploy_space.py: the repository's\n"
            "# requirements.txt and every package it depends on, each at its version in requirements.lock (the\n"
            "# tested environment). torch and torchvision are PyTorch's CPU builds (the Space is cpu-basic): the\n"
            "# default Linux wheels would pull ~4 GB (installed) of CUDA libraries.\n"
            f"--extra-index-url {TORCH_CPU_INDEX}\n" + "\n".join(lines) + "\n")


# -------------------------------------------------------------------------------------------------- files

def tracked_files(root: Path = ROOT) -> list[str]:
    """The repository's committed files (``git ls-files``), as they are in the working tree; outside a git
    checkout, every file under ``root`` but caches."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, timeout=60, check=True)
        files = [f for f in out.stdout.decode().split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    return sorted(f for f in files if "__pycache__" not in f and not f.endswith(".pyc") and (root / f).is_file())


def space_files(root: Path = ROOT) -> dict[str, Path]:
    """``{path in the Space: source file}``: the README, app.py, LICENSE, docs/demo.png (the link preview), the
    Python files of demo/ and core/, every file under results/checkpoints/, the :data:`RESULT_FILES` and the
    sample sheets (:data:`SHEETS`) of every results/<paper>/ with an ablation.csv (the papers the Results tab
    lists), and the committed
    :data:`INDEX_FILES` (the forest plot above them)."""
    files = tracked_files(root)
    papers = {f.split("/")[1] for f in files if re.fullmatch(r"results/[^/]+/ablation\.csv", f)}
    wanted = set(TOP)
    wanted |= {f for f in files if f.startswith(CODE) and f.endswith(".py")}
    wanted |= {f for f in files if f.startswith(CHECKPOINTS)}
    wanted |= {f"results/{p}/{name}" for p in papers for name in RESULT_FILES} & set(files)
    wanted |= {f for f in files if SHEETS.fullmatch(f) and f.split("/")[1] in papers}
    wanted |= set(INDEX_FILES) & set(files)
    missing = [f for f in TOP if not (root / f).is_file()]
    if missing:
        raise FileNotFoundError(f"the Space needs {', '.join(missing)}")
    return {f: root / f for f in sorted(wanted)}


def gitattributes() -> str:
    return ("# LFS rules of the Space (scripts/deploy_space.py): every binary type goes through LFS.\n"
            + "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS))


def assemble(out: Path, root: Path = ROOT) -> Path:
    """Write the Space's folder into ``out`` (created; it must not hold anything yet)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: give a new or empty folder")
    requirements = space_requirements(root)  # fails before anything is written if the venv is not the lock's
    for dst, src in space_files(root).items():
        (out / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / dst)
    (out / "requirements.txt").write_text(requirements)
    (out / ".gitattributes").write_text(gitattributes())
    return out


# ------------------------------------------------------------------------------------------------- checks

def lfs_patterns(folder: Path) -> list[str]:
    """The patterns of ``folder/.gitattributes`` that set ``filter=lfs``."""
    f = Path(folder) / ".gitattributes"
    if not f.is_file():
        return []
    return [line.split()[0] for line in f.read_text().splitlines()
            if line.strip() and not line.startswith("#") and "filter=lfs" in line.split()[1:]]


def lfs_tracked(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` (relative, with ``/``) matches a .gitattributes pattern: a pattern without a slash
    matches the file's name in any folder, one with a slash the path from the top (as git does)."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path, p.lstrip("/")) if "/" in p else fnmatch.fnmatchcase(name, p)
               for p in patterns)


def is_binary(path: Path) -> bool:
    """Not valid UTF-8 text (or holding a NUL byte): what the Hub wants stored through LFS/Xet."""
    data = Path(path).read_bytes()
    if b"\0" in data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def readme_header(folder: Path) -> dict | None:
    """The YAML header of ``folder/README.md`` (``None`` without one)."""
    import yaml

    f = Path(folder) / "README.md"
    if not f.is_file():
        return None
    text = f.read_text()
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    return yaml.safe_load(m.group(1)) if m else None


def files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def check(folder: Path, root: Path = ROOT) -> list[str]:
    """What in ``folder`` breaks the Hub's rules or this project's (see the module docstring); [] if nothing."""
    folder = Path(folder)
    problems = []
    patterns = lfs_patterns(folder)
    for rel in files_of(folder):
        path, tracked = folder / rel, lfs_tracked(rel, patterns)
        if rel == ".gitattributes" or tracked:
            continue
        if path.stat().st_size > MAX_PLAIN_BYTES:
            problems.append(f"{rel}: {path.stat().st_size / 1e6:.1f} MB, over 10 MB and not LFS-tracked")
        elif is_binary(path):
            problems.append(f"{rel}: a binary file that no LFS rule of .gitattributes matches")
        if "__pycache__" in rel or rel.endswith(".pyc"):
            problems.append(f"{rel}: a Python cache file")
    req = folder / "requirements.txt"
    if not req.is_file():
        problems.append("requirements.txt is missing")
    else:
        dev = dev_only(root)
        for r in read_requirements(req):
            if norm(r.name) in dev:
                problems.append(f"requirements.txt: {r.name} is a development-only package")
    header = readme_header(folder)
    if header is None:
        problems.append("README.md has no YAML header (---) configuring the Space")
    else:
        for key in ("sdk", "app_file"):
            if not header.get(key):
                problems.append(f"README.md header: no {key}")
        if header.get("sdk") == "gradio" and not header.get("sdk_version"):
            problems.append("README.md header: no sdk_version for the gradio sdk")
        if header.get("app_file") and not (folder / str(header["app_file"])).is_file():
            problems.append(f"README.md header: app_file {header['app_file']} is not in the folder")
        if header.get("license") == "mit" and "MIT License" not in _text(folder / "LICENSE"):
            problems.append("README.md header says license: mit, but there is no MIT LICENSE file")
    if not (folder / "LICENSE").is_file():
        problems.append("LICENSE is missing")
    return problems


def _text(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def summary(folder: Path) -> dict[str, int]:
    """File count, total bytes, and the LFS-tracked and binary files' counts and bytes of ``folder``."""
    folder, patterns = Path(folder), lfs_patterns(folder)
    out = dict(files=0, bytes=0, lfs_files=0, lfs_bytes=0, binary_files=0)
    for rel in files_of(folder):
        size = (folder / rel).stat().st_size
        out["files"] += 1
        out["bytes"] += size
        if lfs_tracked(rel, patterns):
            out["lfs_files"] += 1
            out["lfs_bytes"] += size
        if is_binary(folder / rel):
            out["binary_files"] += 1
    return out


def readme_links_outside(folder: Path) -> list[str]:
    """Relative links and images of README.md that point to files not in the Space (they work on the
    repository's page, not on the Space's Files page): reported, not an error."""
    text = _text(Path(folder) / "README.md")
    links = re.findall(r"\]\(([^)\s#]+)", text)
    return sorted({t for t in links if not re.match(r"[a-z]+:", t) and not (Path(folder) / t).exists()})


# ------------------------------------------------------------------------------------------------- upload

def upload(folder: Path, repo_id: str, token: str, message: str) -> str:
    """Upload ``folder`` as the whole Space ``repo_id`` (created if needed; remote files not in the folder are
    deleted, so the Space is exactly the folder). Needs network access to the Hub: never run by the tests."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="space",
                             commit_message=message, delete_patterns="*")
    return str(getattr(info, "commit_url", info))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="assemble and check the folder; upload nothing")
    ap.add_argument("--out", type=Path, help="the folder to assemble (new or empty; default: a temporary one)")
    ap.add_argument("--repo-id", help="the Space, OWNER/NAME (upload only)")
    ap.add_argument("--message", default="Deploy from scripts/deploy_space.py", help="commit message (upload)")
    args = ap.parse_args(argv)
    token = os.environ.get("HF_TOKEN", "")
    if not args.dry_run and (not args.repo_id or not token):
        ap.error("an upload needs --repo-id OWNER/NAME and a write token in $HF_TOKEN (or use --dry-run)")
    out = args.out or Path(tempfile.mkdtemp(prefix="space-"))
    try:
        assemble(out)
    except (OSError, RuntimeError) as e:
        print(f"deploy_space: {e}", file=sys.stderr)
        return 2
    s = summary(out)
    print(f"{out}: {s['files']} files, {s['bytes'] / 1e6:.1f} MB; {s['lfs_files']} LFS-tracked "
          f"({s['lfs_bytes'] / 1e6:.1f} MB), {s['binary_files']} binary")
    outside = readme_links_outside(out)
    if outside:
        print(f"note: {len(outside)} README links point outside the Space (fine on the repository's page): "
              + ", ".join(outside[:5]) + (", ..." if len(outside) > 5 else ""))
    problems = check(out)
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    if problems:
        return 1
    print("checks passed: binaries and files over 10 MB LFS-tracked, runtime requirements only, "
          "README header and LICENSE")
    if args.dry_run:
        print("dry run: nothing uploaded")
        return 0
    print(f"uploading to https://huggingface.co/spaces/{args.repo_id} ...")
    print(upload(out, args.repo_id, token, args.message))
    return 0


if __name__ == "__main__":
    sys.exit(main())
