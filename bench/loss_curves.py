"""Training-loss curves of several runs on one figure, with each loss's chance value and gate:
``python -m bench.loss_curves --run "before=RUN" --run "after=RUN" --key ent0 --key ent1 --chance 0.08333
--out results/sgan/loss-curves/entropy.png``.

Reads each run's ``log.jsonl`` (:func:`bench.health.read_log`), draws one panel per key (the logged value
and a moving average over ``--smooth`` logged steps), the chance line and the health gate at
``--gate`` × chance (PROTOCOL.md rule 6: 0.9), and a dotted line where a run changes phase.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench.health import read_log


def curves(run: Path, key: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(steps, values, the first step of each phase after the first) of ``key`` in ``run``'s log.

    Raises:
        ValueError: no line logs ``key``.
    """
    records = read_log(Path(run) / "log.jsonl")
    steps = [s for s in sorted(records) if key in records[s]]
    if not steps:
        raise ValueError(f"{run}/log.jsonl logs no {key!r}")
    phases = [records[s].get("phase") for s in steps]
    changes = [s for s, a, b in zip(steps[1:], phases, phases[1:]) if a != b]
    return np.array(steps), np.array([float(records[s][key]) for s in steps]), changes


def smooth(values: np.ndarray, k: int) -> np.ndarray:
    """Trailing moving average over ``k`` points (fewer at the start)."""
    c = np.cumsum(np.insert(values, 0, 0.0))
    n = np.minimum(np.arange(1, len(values) + 1), k)
    return (c[1:] - c[np.arange(1, len(values) + 1) - n]) / n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loss_curves", description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", required=True, metavar="LABEL=RUN_DIR")
    p.add_argument("--key", action="append", required=True, help="a loss logged in log.jsonl (repeatable)")
    p.add_argument("--chance", type=float, default=None, help="the losses' chance value (a horizontal line)")
    p.add_argument("--gate", type=float, default=0.9, help="the gate, as a multiple of chance (default 0.9)")
    p.add_argument("--smooth", type=int, default=4, help="moving average over this many logged steps")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    runs = []
    for spec in args.run:
        label, sep, path = spec.partition("=")
        if not sep or not (Path(path) / "log.jsonl").is_file():
            print(f"error: --run {spec!r}: expected LABEL=RUN_DIR with a log.jsonl", file=sys.stderr)
            return 2
        runs.append((label, Path(path)))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.key), figsize=(5 * len(args.key), 3.6), squeeze=False)
    for ax, key in zip(axes[0], args.key):
        for i, (label, run) in enumerate(runs):
            try:
                steps, values, changes = curves(run, key)
            except ValueError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            colour = f"C{i}"
            ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
            ax.plot(steps, smooth(values, args.smooth), color=colour, label=label)
            for s in changes:
                ax.axvline(s, color=colour, linestyle=":", linewidth=0.8)
        if args.chance is not None:
            ax.axhline(args.chance, color="black", linewidth=0.8, label=f"chance {args.chance:.4g}")
            ax.axhline(args.gate * args.chance, color="black", linestyle="--", linewidth=0.8,
                       label=f"gate {args.gate:g} × chance")
        ax.set_xlabel("step")
        ax.set_title(key)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    if args.title:
        fig.suptitle(args.title, fontsize=10)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
