"""Where a table's numbers come from: the code fingerprint of a cell and the clean-tree rule.

PROTOCOL.md §6: a table comes from one clean commit, and every cell carries a fingerprint of the
code that produced it, so a code change makes old cells stale instead of mixing code states.

The fingerprint hashes what can change a cell's numbers: every module of ``core/`` (models, loop,
metrics, data), the benchmark's own runner and the paper's table file, the shipped evaluation
networks in ``results/classifiers/``, and the torch version. Editing anything else (the demo, docs,
tests, another paper's table) keeps cells valid. A table of an extension package (:mod:`core.discovery`)
hashes every Python file of the extensions instead of ``bench/tables/<paper>.py``.
"""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import torch

from core.discovery import extension_dirs

ROOT = Path(__file__).resolve().parent.parent
# the runner and what makes a cell (cells.py trains and scores it, reproduce.py records its inputs), and the
# paper's table with the gates every table shares (tables/__init__.py)
BENCH_FILES = ("bench/ablations.py", "bench/cells.py", "bench/reproduce.py", "bench/spec.py", "bench/runs.py",
               "bench/provenance.py", "bench/tables/__init__.py")


def fingerprint_files(paper: str, root: Path = ROOT) -> list[Path]:
    """The files whose contents make up the fingerprint of ``paper``'s cells, in a fixed order."""
    table = root / "bench" / "tables" / f"{paper}.py"
    files = sorted((root / "core").rglob("*.py"))
    files += [root / f for f in BENCH_FILES] + [table]
    files += sorted(p for p in (root / "results" / "classifiers").rglob("*") if p.is_file())
    if not table.is_file():  # an extension's table: its model and table are the extensions' files
        files += [f for folder in extension_dirs().values() for f in sorted(folder.rglob("*.py"))]
    return [f for f in files if f.is_file() and "__pycache__" not in f.parts]


def _name(f: Path, root: Path) -> str:
    """``f`` relative to ``root``; a file of an extension as ``<extension>/<path in its package>``."""
    if f.is_relative_to(root):
        return str(f.relative_to(root))
    ext = next(n for n, d in extension_dirs().items() if f.is_relative_to(d))
    return f"{ext}/{f.relative_to(extension_dirs()[ext])}"


def code_fingerprint(paper: str, root: Path = ROOT) -> str:
    """12 hex digits of a SHA-256 over the code and evaluation networks that produce ``paper``'s cells
    (paths relative to ``root`` and contents) and the torch version."""
    h = hashlib.sha256(f"torch {torch.__version__}\n".encode())
    for f in fingerprint_files(paper, root):
        h.update(_name(f, root).encode() + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:12]


def dirty_code(root: Path = ROOT) -> list[str]:
    """Files under the fingerprint's folders that differ from the commit (modified, staged or new and
    not ignored), as ``git status --porcelain`` lines; ``[]`` for a clean tree or outside git."""
    paths = ["core", "bench", "results/classifiers", "requirements.txt", "requirements-dev.txt", "requirements-nodeps.txt",
             "requirements.lock", "constraints.txt"]
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=root, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return [line for line in out.stdout.splitlines() if line.strip() and "__pycache__" not in line]
