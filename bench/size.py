"""Size a table's budget by measurement: how long one training seed of the whole table takes on one core.

    python -m bench.size --paper stacked --preset quick
    python -m bench.size --paper s2gan --preset quick --steps 8 --out results/stacked/sizing.md

Every unit one seed of the table trains (each row's unit and its parents, each once, as ``bench.ablations``
runs them) is built from its resolved config; each of its phases is timed with :mod:`bench.perf`'s training
step (the model's own ``train_step`` on a synthetic batch of the run's shape, one torch thread, median of
``--steps`` steps after warm-up); ms/step × the phase's steps is its training time. Data loading, checkpoints,
samples and scoring are not in it: add the measured per-cell scoring time (the ``wall_time_s`` of a pilot's
cells minus their training) before comparing with an issue's minutes-per-seed target.
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from bench.cells import chain, get_table, unit_config
from bench.perf import Job, Settings, our_train_step, time_calls
from bench.report import md_table
from core.config import parse_value
from core.train import get_model_spec


def table_units(paper: str, preset: str) -> list:
    """The distinct units one seed of ``paper``'s table trains, parents first, as (row ids, unit)."""
    seen: dict[str, tuple[list[str], object]] = {}
    for row in get_table(paper).rows_for(preset):
        for unit in chain(row.unit):
            entry = seen.setdefault(unit.key(preset, 0), ([], unit))
            entry[0].append(row.id if unit is row.unit else f"parent of {row.id}")
    return list(seen.values())


def measure(paper: str, preset: str, dataset: str | None = None, steps: int = 5, threads: int = 1,
            overrides: dict | None = None) -> list[dict]:
    """One dict per (unit, phase): rows, model, phase, steps, ms_per_step, seconds. ``overrides`` (dotted keys, as
    ``core.train --set``) apply to every row's own unit, not to its parents (a candidate setting, sized before a
    sweep or a preset takes it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _measure(paper, preset, dataset, steps, threads, overrides or {})
    finally:
        torch.set_num_threads(before)


def _measure(paper: str, preset: str, dataset: str | None, steps: int, threads: int, overrides: dict) -> list[dict]:
    table = get_table(paper)
    s = Settings(device="cpu", steps=steps, min_steps=steps, max_seconds=float("inf"), warmup=2)
    out = []
    with tempfile.TemporaryDirectory() as runs:
        for rows, unit in table_units(paper, preset):
            if overrides and any(not r.startswith("parent of ") for r in rows):
                unit = replace(unit, overrides={**unit.overrides, **overrides})
            cfg = unit_config(unit, preset, 0, dataset or table.dataset, "cpu", Path(runs), threads=threads)
            for phase in get_model_spec(cfg.model_name).phases(cfg):
                if phase.steps <= 0:
                    continue
                stepper = our_train_step(Job("train", cfg.model_name, preset, phase.name, threads=threads), cfg,
                                         torch.device("cpu"))
                for _ in range(s.warmup):
                    stepper.step()
                ms = statistics.median(time_calls(stepper.step, s, torch.device("cpu"))) * 1e3
                out.append({"rows": ", ".join(rows), "model": cfg.model_name,
                            "phase": phase.name, "steps": phase.steps, "ms_per_step": ms,
                            "seconds": ms * phase.steps / 1e3})
    return out


def report(rows: list[dict], command: str, threads: int) -> str:
    total = sum(r["seconds"] for r in rows)
    body = md_table(["rows", "model", "phase", "steps", "ms/step", "training s"],
                    [[r["rows"], r["model"], r["phase"], r["steps"], f"{r['ms_per_step']:.1f}", f"{r['seconds']:.0f}"]
                     for r in rows])
    return (f"`{command}`\n\n{body}\n\n**One seed of the table: {total:.0f} s = {total / 60:.1f} min of training on "
            f"{threads} thread(s)**, scoring, data loading and checkpoints not included.\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.size", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paper", required=True)
    p.add_argument("--preset", default="quick")
    p.add_argument("--dataset", default=None, help="default: the table's")
    p.add_argument("--steps", type=int, default=5, help="timed steps per phase (after 2 warm-up steps)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="also write the markdown here")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a dotted override for every row's unit (not its parents), as core.train's --set")
    args = p.parse_args(argv)
    over = {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    text = report(measure(args.paper, args.preset, args.dataset, args.steps, args.threads, over),
                  "python -m bench.size " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])), args.threads)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
