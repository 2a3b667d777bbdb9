"""One benchmark cell: train a table row's units for one seed through :mod:`core.train`, score the final
model with :mod:`core.metrics`, and return one record per metric (with the cell's provenance).

Shared by the command line (:mod:`bench.ablations`) and the job launcher (:mod:`bench.launch`), so
neither imports the other.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import torch

from bench.provenance import code_fingerprint
from bench.reproduce import UnitRecorder, cell_inputs, machine_inputs
from bench.spec import Row, Table, Unit
from core.checkpoint import git_sha
from core.discovery import discover

EVAL_SEED = 2024  # noise seeds and captions for scoring: identical for every row and training seed

_REGISTERED: dict[str, Table] = {}


def register_table(table: Table) -> Table:
    """Register a table defined outside ``bench/tables/`` at run time (tests); the process's own workers
    (``--jobs``) do not see it: an extension package (:mod:`core.discovery`) is found by every process."""
    _REGISTERED[table.paper] = table
    return table


def tables() -> dict[str, Table]:
    """Every table by its paper's name: the module-level ``TABLE`` of each module of ``bench/tables/`` and of
    every extension's ``tables`` (:mod:`core.discovery`), then those registered with :func:`register_table`.

    Raises:
        SystemExit: two tables declare the same paper.
    """
    found: dict[str, Table] = {}
    for module in discover("tables", "bench.tables"):
        table = getattr(module, "TABLE", None)
        if not isinstance(table, Table):
            continue
        if table.paper in found:
            raise SystemExit(f"error: two tables declare the paper {table.paper!r} (one in {module.__name__})")
        found[table.paper] = table
    return {**found, **_REGISTERED}


def get_table(paper: str) -> Table:
    found = tables()
    if paper not in found:
        raise SystemExit(f"error: unknown paper {paper!r}; choose one of {sorted(found)}")
    return found[paper]


# ---------------------------------------------------------------------------------------------- configs

def unit_config(unit: Unit, preset: str, seed: int, dataset: str, device: str, runs_dir: Path, threads: int = 1):
    """The resolved :class:`TrainConfig` of ``unit`` for one seed (a parent becomes ``init_from`` and/or
    ``frozen`` entries), trained
    with ``threads`` torch threads."""
    from core.resolve import build_config

    fields = {"model_seed": seed, "data_seed": seed, "dataset": dataset, "device": device, "num_threads": threads}
    if unit.parent is not None:
        parent = runs_dir / unit.parent.key(preset, seed)
        if unit.init_modules:
            fields["init_from"] = str(parent)
            fields["init_modules"] = tuple(unit.init_modules)
        if unit.frozen_modules:
            fields["frozen"] = tuple(f"{m}={parent}:{m}" for m in unit.frozen_modules)
    return build_config(unit.model, preset, dict(unit.overrides), **fields)


def chain(unit: Unit) -> list[Unit]:
    """The unit's ancestors first, then itself."""
    out = []
    while unit is not None:
        out.append(unit)
        unit = unit.parent
    return out[::-1]


# ---------------------------------------------------------------------------------------------- one cell

def set_aside_if_stale(run: Path, cfg) -> bool:
    """Rename ``run`` to ``<run>.stale-<time>`` when it was trained with another config than ``cfg``.

    A run directory is named after the row's overrides, not the whole preset, so after a preset
    changes in the code the old directory must not be reused (nor resumed: a resumed run keeps its
    own config). Returns whether it was set aside."""
    from core.resolve import config_differences, load_config

    saved = run / "config.json"
    if not saved.is_file() or not config_differences(load_config(json.loads(saved.read_text())), cfg):
        return False
    aside = run.with_name(f"{run.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    run.rename(aside)
    print(f"warning: {run} was trained with another config (the preset changed); moved it to {aside} "
          "and training again", file=sys.stderr)
    return True


def train_unit(unit: Unit, args, seed: int, runs_dir: Path) -> tuple[Path, float]:
    """Train ``unit`` (and its parents) for ``seed`` unless already finished; (run dir, seconds). Each run
    directory gets the hashes of its data and its first steps' losses (:class:`bench.reproduce.UnitRecorder`)."""
    from core.checkpoint import find_checkpoint
    from core.train import train

    total = 0.0
    run = None
    for u in chain(unit):
        run = runs_dir / u.key(args.preset, seed)
        cfg = unit_config(u, args.preset, seed, args.dataset, args.device, runs_dir, args.threads)
        set_aside_if_stale(run, cfg)
        if (run / "checkpoints" / "final").is_dir():
            continue
        t0 = time.time()
        recorder = UnitRecorder(run)
        train(cfg, run, resume=run.exists(), progress=not args.no_progress, step_hook=recorder.step_hook,
              data_hook=recorder.data_hook)
        recorder.finish()
        total += time.time() - t0
    find_checkpoint(run)
    return run, total


def scoring_resolutions(table: Table, args) -> tuple[int, int]:
    """(side every row is scored at, side whose visible attributes every row is judged on): the table's
    highest and lowest final resolutions (PROTOCOL.md §9-10)."""
    sides = [unit_config(r.unit, args.preset, 0, args.dataset, args.device, Path("."), args.threads).resolution
             for r in table.rows_for(args.preset)]
    return max(sides), min(sides)


def eval_n(table: Table, args) -> int:
    """Images per measurement: ``--eval-n``, else the table's for the preset (what every cell is scored with)."""
    return int(getattr(args, "eval_n", None) or table.eval_n[args.preset])


def table_evaluate(generator, table: Table, args, metrics: list[str], data_seed: int, *, split: str = "test",
                   n: int | None = None, dataset: str | None = None, inception: bool = False) -> dict[str, float]:
    """:func:`core.metrics.evaluate` with the table's evaluation settings, the same for every row: the
    evaluation seed, ``n`` images (default :func:`eval_n`), the scoring resolution and scored attributes
    (:func:`scoring_resolutions`), on ``split``. ``generator``: a pipeline or a stand-in (noise, real data)."""
    from core.metrics import evaluate

    high, low = scoring_resolutions(table, args)
    return dict(evaluate(generator, dataset or args.dataset, metrics=metrics, n=n or eval_n(table, args),
                         seed=EVAL_SEED, split=split, inception=inception, data_seed=data_seed,
                         progress=not getattr(args, "no_progress", True), score_resolution=high, attributes_at=low))


def score(run: Path, table: Table, args, seed: int, metrics: tuple[str, ...] | None = None) -> dict[str, float]:
    """Every score of the run's final model on the test split: the same evaluation seed, real reference
    set, scoring resolution and scored attributes for every row. ``metrics``: the row's subset of the
    table's metrics (``Row.metrics``; default: all of them)."""
    from core.pipeline import Pipeline

    pipe = Pipeline.from_checkpoint(run)
    chosen = [m for m in table.metrics if metrics is None or m in metrics]
    return table_evaluate(pipe, table, args, chosen, pipe.cfg.dataset_seed, dataset=pipe.cfg.dataset,
                          inception=args.inception)


def device_kind(device: str) -> str:
    """The device a cell runs on, as recorded: ``cpu`` or ``cuda: <GPU name>``."""
    if device == "cpu" or not torch.cuda.is_available():
        return "cpu"
    return f"cuda: {torch.cuda.get_device_name(0)}"


def code_runs_dir(out: Path, args) -> Path:
    """Run directories of the code that runs now: ``<out>/runs/<code fingerprint>``, so runs trained by
    other code are never resumed or reused."""
    return out / "runs" / fingerprint_of(args)


def fingerprint_of(args) -> str:
    if getattr(args, "fingerprint", None) is None:
        args.fingerprint = code_fingerprint(args.paper)
    return args.fingerprint


def run_cell(row: Row, seed: int, table: Table, args, out: Path) -> list[dict]:
    """Train and score one (row, seed) cell into ``out``: one record per metric, each with the cell's
    provenance (code, device, threads, machine, lock, data and first steps: :mod:`bench.reproduce`) and
    the row's definition (:func:`row_definition`)."""
    base = {"row": row.id, "seed": seed, "preset": args.preset, "dataset": args.dataset, "git_sha": git_sha(),
            "code_fingerprint": fingerprint_of(args), "device": device_kind(args.device), "threads": args.threads,
            **machine_inputs()}
    t0 = time.time()
    try:
        base["row_definition"] = row_definition(row, args.preset, args.dataset)
        runs_dir = code_runs_dir(out, args)
        run, _ = train_unit(row.unit, args, seed, runs_dir)
        base.update(cell_inputs([(u.key(args.preset, seed), runs_dir / u.key(args.preset, seed))
                                 for u in chain(row.unit)]))
        values = score(run, table, args, seed, row.metrics)
        wall = round(time.time() - t0, 1)
        ckpt = os.path.relpath(run / "checkpoints" / "final", out)
        return [{**base, "metric": m, "value": float(v), "checkpoint": ckpt, "wall_time_s": wall, "error": ""}
                for m, v in values.items()]
    except Exception as e:  # a failing cell is recorded; the rest go on
        msg = f"{type(e).__name__}: {e}".replace("\n", " ")[:500]
        traceback.print_exc()
        return [{**base, "metric": "__failed__", "value": float("nan"), "checkpoint": "",
                 "wall_time_s": round(time.time() - t0, 1), "error": msg}]


# ---------------------------------------------------------------------------------------------- definitions

def _digest(obj) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def row_definition(row: Row, preset: str, dataset: str) -> str:
    """12 hex digits naming what row ``row`` *is* at ``preset`` on ``dataset``: the resolved training config
    of every unit of its chain (seed, device, threads and run paths fixed, so only the definition counts)
    and the metrics it is scored on. A plan records it per row (PROTOCOL.md rule 4): when it changes, a
    plan made on the old row is void."""
    units = []
    for u in chain(row.unit):
        cfg = unit_config(u, preset, 0, dataset, "cpu", Path("runs"), 1).to_dict()
        units.append({"key": u.key(preset, 0), "config": cfg})
    return _digest({"units": units, "metrics": list(row.metrics) if row.metrics is not None else None})


def metric_definition(table: Table, preset: str, dataset: str, metric: str, root: Path | None = None) -> str:
    """12 hex digits naming how ``metric`` is measured for ``table``: the metrics asked of the evaluator,
    the number of images, the scoring resolutions, the table's floors, and the source of ``core/metrics``
    (a change there, e.g. which attributes ``cond_acc`` averages, voids a plan made before it)."""
    from types import SimpleNamespace

    root = root or Path(__file__).resolve().parent.parent
    high, low = scoring_resolutions(table, SimpleNamespace(preset=preset, dataset=dataset, device="cpu", threads=1))
    src = {str(f.relative_to(root)): f.read_text() for f in sorted((root / "core" / "metrics").rglob("*.py"))}
    return _digest({"metric": metric, "asked": list(table.metrics), "eval_n": table.eval_n.get(preset),
                    "score_at": [high, low], "floor": table.floors.get(metric), "source": src})


def definitions(table: Table, preset: str, dataset: str) -> dict:
    """Today's fingerprints of every row and of every metric a claim is judged on (or guards with):
    ``{"rows": {row: fp}, "metrics": {metric: fp}}``, what a plan records and is checked against."""
    metrics = sorted({c.metric for c in table.claims} | {m for c in table.claims for m, _ in c.guards})
    return {"rows": {r.id: row_definition(r, preset, dataset) for r in table.rows_for(preset)},
            "metrics": {m: metric_definition(table, preset, dataset, m) for m in metrics}}
