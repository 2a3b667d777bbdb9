"""The flow of DESIGN.md, checked on the import graph: no import cycles, and every arrow points one way.

The graph is read with :mod:`ast`, never by importing, so a rule fails on the line that breaks it even
when that line sits in a function body and never runs in the tests. Its nodes are the modules of
``core``, ``bench``, ``demo`` and ``app.py``; an edge ``a → b`` means some line of ``a`` imports ``b``:

- every ``import`` / ``from ... import``, top-level or function-local, relative ones resolved;
- ``import a.b.c`` points at the deepest project module it names; ``from pkg import name`` points at
  the submodule ``pkg.name`` when there is one, else at ``pkg`` (``name`` is defined there);
- a module that imports by name at run time (``importlib.import_module``) points at every string
  constant in it that is exactly a project module's name: a registry that names its modules that way
  (``core.data._MODULES``) has those edges. The model, table and tab registries find their modules by
  scanning a folder (:mod:`core.discovery`) and name none of them.

A submodule importing its own parent package is not counted as a cycle: Python runs the package's
``__init__`` first either way, and ``from core.models.base import X`` inside ``core.models`` is the
usual way to build a package. Every rule names the edges that break it, as ``module:line → import``.

One rule reads the functions instead (issue #28): no function or method under ``core``, ``bench`` or
``demo``, nested ones included, is longer than 80 lines (``end_lineno - lineno + 1`` of its ``def``).
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "bench", "demo")
SCRIPTS = ("app.py",)  # top-level entry points, part of the demo's layer

Graph = dict[str, dict[str, int]]  # module -> {imported project module: first line importing it}


# ---------------------------------------------------------------------------------------------- the graph

def find_modules(root: Path, packages=PACKAGES, scripts=SCRIPTS) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` under ``packages`` and each of ``scripts``."""
    mods = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = f.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = f
    for script in scripts:
        if (root / script).is_file():
            mods[Path(script).stem] = root / script
    return mods


def _resolve(name: str, mods) -> str | None:
    """The deepest project module that ``name`` is or lies in (``core.nn.Upsample`` -> ``core.nn``)."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, mods) -> list[tuple[str, int]]:
    """(imported project module, line) for every import in ``path`` (``module``'s source)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found, dynamic = [], False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(_resolve(a.name, mods), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: anchor at the package holding ``module``, then go up level - 1
                anchor = module.split(".") if is_pkg else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.append((sub if sub in mods else _resolve(base, mods), node.lineno))
        elif isinstance(node, ast.Attribute) and node.attr in ("import_module", "__import__"):
            dynamic = True
        elif isinstance(node, ast.Name) and node.id == "__import__":
            dynamic = True
    if dynamic:  # registries name the modules they import lazily as string constants
        found += [(n.value, n.lineno) for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in mods]
    return [(t, line) for t, line in found if t is not None and t != module]


def import_graph(root: Path = ROOT, packages=PACKAGES, scripts=SCRIPTS) -> Graph:
    """The project's import graph: module -> {imported project module: first line importing it}."""
    mods = find_modules(root, packages, scripts)
    graph: Graph = {}
    for module, path in mods.items():
        edges = graph.setdefault(module, {})
        for target, line in sorted(_imports(module, path, mods), key=lambda e: e[1]):
            edges.setdefault(target, line)
    return graph


def _is_parent(module: str, target: str) -> bool:
    return module.startswith(target + ".")


def import_cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), parent imports left out."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if _is_parent(v, w) or w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:  # v is the root of a component: pop it
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def _in(module: str, *prefixes: str) -> bool:
    """Whether ``module`` is one of ``prefixes`` or lies inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _edge(graph: Graph, module: str, target: str) -> str:
    return f"  {module}:{graph[module][target]} → {target}"


def forbidden(graph: Graph, importers: tuple[str, ...], imported: tuple[str, ...]) -> list[str]:
    """The edges from a module in ``importers`` to one in ``imported``, as ``module:line → target``."""
    return [_edge(graph, m, t) for m in sorted(graph) if _in(m, *importers)
            for t in sorted(graph[m]) if _in(t, *imported)]


def _check(graph: Graph, importers: tuple[str, ...], imported: tuple[str, ...], why: str) -> None:
    bad = forbidden(graph, importers, imported)
    assert not bad, (f"{' / '.join(importers)} must not import {' / '.join(imported)} ({why}); "
                     f"offending imports:\n" + "\n".join(bad))


# ---------------------------------------------------------------------------------------------- function length

MAX_FUNCTION_LINES = 80  # issue #28: split a longer function into smaller, well-named ones


def _functions(node: ast.AST, prefix: str = ""):
    """(qualified name, ``def`` node) of every function and method inside ``node``, nested ones included."""
    for child in ast.iter_child_nodes(node):
        inner = prefix
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = f"{prefix}{child.name}."
            if not isinstance(child, ast.ClassDef):
                yield prefix + child.name, child
        yield from _functions(child, inner)


def long_functions(root: Path = ROOT, packages=PACKAGES, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``path:line name (n lines)`` for every function under ``packages`` longer than ``limit`` lines."""
    found = []
    for path in find_modules(root, packages, scripts=()).values():
        for name, node in _functions(ast.parse(path.read_text(), filename=str(path))):
            n = node.end_lineno - node.lineno + 1
            if n > limit:
                found.append(f"  {path.relative_to(root)}:{node.lineno} {name} ({n} lines)")
    return found


# ---------------------------------------------------------------------------------------------- the rules

GRAPH = import_graph()


def test_the_graph_sees_the_project():
    """Guards the rules below against passing on an empty graph (a wrong root, a renamed package)."""
    for m in ("core.train", "core.pipeline", "core.models.stackgan", "bench.ablations", "demo.app", "app"):
        assert m in GRAPH, m
    assert "core.train" in GRAPH["bench.cells"]  # a function-local import
    assert "demo.app" in GRAPH["app"]


def test_no_import_cycles():
    cycles = import_cycles(GRAPH)
    msg = []
    for comp in cycles:
        msg.append("cycle: " + " ".join(comp))
        msg += [_edge(GRAPH, m, t) for m in comp for t in sorted(GRAPH[m]) if t in comp and not _is_parent(m, t)]
    assert not cycles, "import cycles among the project's modules:\n" + "\n".join(msg)


def test_core_depends_on_neither_bench_nor_demo():
    _check(GRAPH, ("core",), ("bench", "demo", "app"), "demo and bench depend on core, never the reverse")


def test_bench_does_not_import_the_demo():
    _check(GRAPH, ("bench",), ("demo", "app"), "the benchmark and the demo are independent")


def test_the_demo_never_imports_the_trainer():
    _check(GRAPH, ("demo", "app"), ("core.train",), "the demo sees core.pipeline and results/ only")


def test_the_demo_imports_no_model_module():
    """Issue #29: a tab learns what a checkpoint is from its config (core.pipeline) and what a table is from its
    results/<paper>/table.json; it never reads a model's module (e.g. the stacked study's LAYERS, MODES)."""
    _check(GRAPH, ("demo", "app"), ("core.models",), "a tab reads checkpoint configs and table.json, not model code")


def test_no_registry_lists_the_families():
    """Issue #29: models, tables and tabs are found by scanning their folders, so adding a family edits no shared
    list: no registry points at a model module, a table module or a tab module."""
    family = {"core.models": lambda t: _in(t, "core.models") and t not in ("core.models", "core.models.base"),
              "bench.cells": lambda t: _in(t, "bench.tables") and t != "bench.tables",
              "demo.app": lambda t: t.endswith("_tab")}
    for registry, is_family in family.items():
        listed = [t for t in GRAPH[registry] if is_family(t)]
        assert not listed, f"{registry} names family modules {listed}: find them with core.discovery instead"


def test_models_know_nothing_about_training_inference_or_evaluation():
    _check(GRAPH, ("core.models",), ("core.train", "core.pipeline", "core.metrics", "core.config", "core.resolve"),
           "models import core.errors, core.nn, core.losses and core.models.base; they take explicit arguments")


def test_the_run_config_knows_no_model():
    """Issue #28: config and models are independent layers; core.resolve, above both, joins them (presets,
    loading a config by its model's name). The graph holds function-local imports too."""
    _check(GRAPH, ("core.config",), ("core.models", "core.resolve"),
           "core.config holds the run's dataclass; build_config, load_config and canonical live in core.resolve")


def test_the_trainer_does_not_import_the_pipeline():
    _check(GRAPH, ("core.train",), ("core.pipeline",), "inference is separate from training")


def test_errors_import_nothing_from_the_project():
    project = tuple(sorted({m.split(".")[0] for m in GRAPH}))
    _check(GRAPH, ("core.errors",), project, "everyone imports core.errors, so it imports no one")


def test_evaluation_networks_are_never_used_for_training():
    _check(GRAPH, ("core.models", "core.train", "core.nn"), ("core.metrics",),
           "core.metrics holds evaluation networks, never used for training")


def test_bench_goes_through_the_loop_the_pipeline_and_the_metrics():
    _check(GRAPH, ("bench",), ("core.models",),
           "bench uses core.config, core.resolve, core.train, core.pipeline, core.metrics, core.data, core.checkpoint, "
           "core.viz")


def test_no_function_is_longer_than_80_lines():
    long = long_functions()
    assert not long, (f"functions longer than {MAX_FUNCTION_LINES} lines (issue #28: split each into smaller, "
                      "well-named functions):\n" + "\n".join(long))


# ---------------------------------------------------------------------------------------------- the checker itself

def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_checker_finds_cycles_hidden_in_local_and_relative_imports(tmp_path):
    """A tiny package with known edges: the architecture tests above can fail."""
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.util import helper\n",
        "pkg/util.py": "import os\n\ndef helper():\n    return os.sep\n",
        # cycle 1, closed by a function-local import: a -> b -> a
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def late():\n    from pkg.a import thing\n    return thing\n",
        # cycle 2, through relative imports: sub.c -> sub.d -> (two levels up) pkg.e -> sub.c
        "pkg/sub/__init__.py": "from . import c\n",  # a package importing its own submodule: no cycle with c
        "pkg/sub/c.py": "from .d import D\nfrom pkg.sub import c_helper\n",  # the second is a parent import
        "pkg/sub/d.py": "from ..e import E\nD = E\n",
        "pkg/e.py": "import pkg.sub.c as c\nE = 1\n",
        # a registry naming a module it imports by name at run time: reg -> util
        "pkg/reg.py": 'import importlib\n\nMODULES = {"u": "pkg.util", "x": "not.ours"}\n\n'
                      'def get(k):\n    return importlib.import_module(MODULES[k])\n',
        "tool.py": "import pkg.util.helper\nimport numpy\n",
    })
    graph = import_graph(tmp_path, packages=("pkg",), scripts=("tool.py",))
    assert graph["pkg.a"] == {"pkg.b": 1}  # `from pkg import b`: the submodule, not the package
    assert graph["pkg.b"] == {"pkg.a": 2}  # function-local
    assert graph["pkg.sub.c"] == {"pkg.sub.d": 1, "pkg.sub": 2}  # relative; c_helper is no module: the package
    assert graph["pkg.sub.d"] == {"pkg.e": 1}  # two levels up
    assert graph["pkg.sub"] == {"pkg.sub.c": 1}
    assert graph["pkg"] == {"pkg.util": 1} and graph["pkg.util"] == {}
    assert graph["pkg.reg"] == {"pkg.util": 3}
    assert graph["tool"] == {"pkg.util": 1}  # the deepest module named; numpy is not the project's
    assert import_cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.e", "pkg.sub.c", "pkg.sub.d"]]
    assert forbidden(graph, ("pkg.sub",), ("pkg.e",)) == ["  pkg.sub.d:1 → pkg.e"]
    assert forbidden(graph, ("pkg.util",), ("pkg",)) == []


def _function(name: str, lines: int, indent: str = "") -> str:
    """The source of a function ``name`` exactly ``lines`` lines long (at least 2)."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 2))
    return f"{indent}def {name}():\n{body}{indent}    return 0\n"


def test_the_length_checker_finds_long_methods_and_nested_functions(tmp_path):
    """Functions of known lengths: the length rule above can fail, and 80 lines is allowed."""
    _write(tmp_path, {
        "pkg/__init__.py": _function("at_limit", 80),
        "pkg/mod.py": "def outer():\n" + _function("inner", 81, indent="    ") + "    return inner\n\n\n"
                      "class C:\n" + _function("method", 90, indent="    "),
    })
    assert long_functions(tmp_path, packages=("pkg",)) == [
        "  pkg/mod.py:1 outer (83 lines)", "  pkg/mod.py:2 outer.inner (81 lines)", "  pkg/mod.py:87 C.method (90 lines)"]
    assert long_functions(tmp_path, packages=("pkg",), limit=79) == ["  pkg/__init__.py:1 at_limit (80 lines)",
                                                                     *long_functions(tmp_path, packages=("pkg",))]
