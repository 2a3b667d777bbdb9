"""How a table row's health metrics evolve with its training budget, from one long run (issues #26/#27).

Trains one row of a table for a multiple of its preset's steps, keeping a checkpoint every ``--every``
steps, then scores each kept checkpoint on ``val`` (the row's health metrics, as ``bench.health`` measures
them; never the test split). One long run stands in for separate runs at 1×, 2×, 4×... only where the
preset's rates do not depend on the total steps (constant rates: the stacked study, S²-GAN). ``--scale``
multiplies the listed step fields of the row's own unit (its parents, e.g. SGAN's encoder or a Stage-I, train
at the preset's budget).

    OMP_NUM_THREADS=1 python scripts/budget_curve.py --paper stacked --row single-deepconv --seed 0 \\
        --scale 4 --steps-fields model.stage1_steps model.stage2_steps --every 1200 --out /work/budget/deepconv

Writes ``<out>/curve.csv`` (row, seed, step, metric, value) and ``<out>/curve.png`` (one panel per metric, the row's gate dashed in red;
the dotted line marks the preset's own budget).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from bench.cells import eval_n, get_table, train_unit, unit_config  # noqa: E402
from bench.health import HEALTH_SPLIT, LOG_PREFIX, gate_references, log_tail_mean, measure_run  # noqa: E402
from bench.sweep import find_row  # noqa: E402
from core.checkpoint import list_checkpoints  # noqa: E402
from core.config import parse_value  # noqa: E402


def _get(cfg, dotted: str):
    obj = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paper", required=True)
    p.add_argument("--row", required=True, help="a row of the table (or of --sweep)")
    p.add_argument("--sweep", default=None, help="take the row from this sweep (bench/sweeps/), with --candidate's "
                                                 "overrides on top")
    p.add_argument("--candidate", default=None, help="with --sweep: the candidate whose overrides apply")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="quick")
    p.add_argument("--dataset", default=None, help="default: the table's")
    p.add_argument("--scale", type=float, default=4.0, help="multiply the step fields by this")
    p.add_argument("--steps-fields", nargs="+", required=True, help="dotted config fields holding the steps")
    p.add_argument("--every", type=int, required=True, help="checkpoint (and score) every this many steps")
    p.add_argument("--set", action="append", default=[], help="extra dotted override KEY=VALUE (as core.train's --set)")
    p.add_argument("--metrics", nargs="*", default=None, help="default: the row's gate metrics")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)

    table = get_table(a.paper)
    try:
        row = find_row(table, a.preset, a.row, a.sweep, a.candidate)
    except ValueError as e:
        p.error(str(e))
    args = argparse.Namespace(preset=a.preset, dataset=a.dataset or table.dataset, device="cpu", threads=1,
                              no_progress=False, eval_n=None, inception=False)
    base = unit_config(row.unit, a.preset, a.seed, args.dataset, "cpu", a.out)
    over = dict(row.unit.overrides)
    for f in a.steps_fields:
        over[f] = int(round(_get(base, f) * a.scale))
    over.update({"checkpoint_every": a.every, "keep_last": 1000})
    for kv in a.set:
        k, v = kv.split("=", 1)
        over[k] = parse_value(v)
    unit = replace(row.unit, overrides=over)
    run, secs = train_unit(unit, args, a.seed, a.out / "runs")
    print(f"trained {run} in {secs:.0f} s", flush=True)

    keys = a.metrics or sorted({g.metric for g in row.gates})
    recs = []
    for step, ckpt in list_checkpoints(run):
        if not ckpt.name.startswith("step_"):
            continue
        scored = [k for k in keys if not k.startswith(LOG_PREFIX)]
        got, errors = measure_run(ckpt, scored, table, args, HEALTH_SPLIT, eval_n(table, args)) if scored else ({}, {})
        for k in [k for k in keys if k.startswith(LOG_PREFIX)]:  # the training log up to this checkpoint
            got[k] = log_tail_mean(run / "log.jsonl", k[len(LOG_PREFIX):], until=step)
        print(step, {k: round(v, 4) for k, v in got.items()}, errors or "", flush=True)
        recs += [{"row": a.row, "seed": a.seed, "step": step, "metric": k, "value": v} for k, v in got.items()]
    frame = pd.DataFrame(recs)
    a.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(a.out / "curve.csv", index=False)
    refs = gate_references(table, [row], args, HEALTH_SPLIT, eval_n(table, args))[row.id][0]
    gates = {g.metric: (g.op, g.threshold(refs.get(g.metric))) for g in row.gates}
    _plot(frame, row, a.out / "curve.png", base_steps=sum(_get(base, f) for f in a.steps_fields), gates=gates)
    print(f"wrote {a.out / 'curve.csv'} and curve.png", flush=True)
    return 0


def _plot(frame: pd.DataFrame, row, path: Path, base_steps: int, gates: dict[str, tuple[str, float]]) -> None:
    """One panel per metric; the row's gate on it (``gates``: metric → (op, threshold)) as a red dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(frame["metric"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 2.8), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        sub = frame[frame["metric"] == m]
        ax.plot(sub["step"], sub["value"], marker="o")
        ax.axvline(base_steps, color="grey", lw=0.8, ls=":")
        op, threshold = gates.get(m, ("", float("nan")))
        if threshold == threshold:
            ax.axhline(threshold, color="tab:red", lw=0.8, ls="--")
        ax.set_title(f"{m} (gate {op} {threshold:.3g})" if threshold == threshold else m)
        ax.set_xlabel("step (dotted: the preset's budget)")
    fig.suptitle(f"{row.id}, seed {frame['seed'].iloc[0]}, val")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
