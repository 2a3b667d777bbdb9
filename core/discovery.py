"""Finding a family's parts by module discovery, not by shared lists (issue #29).

Each registry scans its own folder of the repository: :mod:`core.models` the modules of ``core/models/``
(a module-level :class:`~core.models.base.ModelSpec`), :mod:`bench.cells` those of ``bench/tables/`` (a
module-level ``TABLE``), :mod:`demo.app` the ``demo/*_tab.py`` modules (a module-level ``TAB``). Adding a
family is adding its files; no list names it.

A family kept outside the repository is an **extension**: a package laid out like the repository, named in
the environment variable :data:`ENV` (comma-separated, importable from ``sys.path``/``PYTHONPATH``)::

    toyfam/models/toy.py       SPEC = ModelSpec(name="toy", ...)
    toyfam/tables/toy.py       TABLE = Table(paper="toy", ...)
    toyfam/demo/toy_tab.py     TAB = Tab("Toy", build, order=25)

    STACKED_GANS_EXTENSIONS=toyfam python -m bench.ablations --paper toy --preset smoke

Every registry then scans the same folder of each extension after its own (any of the three may be absent),
so the training loop, the benchmark (and its worker processes, which inherit the variable) and the demo find
the extension's model, table and tab without a file of the repository being edited.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from pathlib import Path
from types import ModuleType

from core.errors import ConfigError

ENV = "STACKED_GANS_EXTENSIONS"


def extensions() -> list[str]:
    """The extension packages named in ``$STACKED_GANS_EXTENSIONS``, in order."""
    return [name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip()]


def extension_packages(part: str) -> list[str]:
    """``<extension>.<part>`` for every extension that has that part (``part``: ``models``, ``tables``, ``demo``).

    Raises:
        ConfigError: an extension named in :data:`ENV` cannot be imported.
    """
    found = []
    for name in extensions():
        try:
            spec = importlib.util.find_spec(f"{name}.{part}")
        except ModuleNotFoundError as e:
            raise ConfigError(f"${ENV} names {name!r}, which cannot be imported ({e}); put the folder holding "
                              f"the package on PYTHONPATH, or remove it from ${ENV}") from e
        if spec is not None:
            found.append(f"{name}.{part}")
    return found


def extension_dirs() -> dict[str, Path]:
    """{extension: the folder of its package} for every extension of :data:`ENV` (what a code fingerprint of its
    cells hashes, :mod:`bench.provenance`).

    Raises:
        ConfigError: an extension cannot be imported.
    """
    found = {}
    for name in extensions():
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"${ENV} names {name!r}, which is not an importable package; put the folder holding "
                              f"it on PYTHONPATH, or remove it from ${ENV}")
        found[name] = Path(next(iter(spec.submodule_search_locations)))
    return found


def submodules(package: str, suffix: str = "") -> list[ModuleType]:
    """Every module directly inside ``package`` whose name ends with ``suffix`` (private ``_x`` ones left out),
    imported, in name order; a plain module (no package) is its own only module."""
    pkg = importlib.import_module(package)
    if not hasattr(pkg, "__path__"):
        return [pkg]
    names = sorted(info.name for info in pkgutil.iter_modules(pkg.__path__))
    return [importlib.import_module(f"{package}.{n}") for n in names if n.endswith(suffix) and not n.startswith("_")]


def discover(part: str, builtin: str, suffix: str = "") -> list[ModuleType]:
    """The modules of the repository's ``builtin`` package, then those of every extension's ``part``
    (:func:`extension_packages`), each filtered by ``suffix`` (:func:`submodules`)."""
    return [m for package in (builtin, *extension_packages(part)) for m in submodules(package, suffix)]
