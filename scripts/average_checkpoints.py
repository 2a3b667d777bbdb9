"""Average one network's weights over several checkpoints of a run, and score the average on ``val`` with a table
row's gate metrics (issue #27: does weight averaging, the offline form of an exponential moving average of G, pull
an oscillating generator's distribution towards the data?).

    OMP_NUM_THREADS=1 python scripts/average_checkpoints.py --paper s2gan --sweep s2gan-structure-budget \\
        --candidate d3-fast-d-3000 --row structure-gan --module netG_structure \\
        --checkpoints RUN/checkpoints/step_0004500 RUN/checkpoints/step_0005250 RUN/checkpoints/step_0006000 \\
        --out /work/budget/avg

Every floating-point tensor of ``--module`` (weights and BatchNorm running statistics) becomes the mean over the
checkpoints; every other tensor is the last checkpoint's. The averaged checkpoint is written to ``<out>/averaged``
(``config.json`` and ``model.safetensors``, the last checkpoint's config) and scored beside each input checkpoint.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safetensors.torch import load_file, save_file  # noqa: E402

from bench.cells import eval_n, get_table  # noqa: E402
from bench.health import HEALTH_SPLIT, measure_run  # noqa: E402
from bench.sweep import find_row  # noqa: E402


def average(checkpoints: list[Path], module: str, out: Path) -> Path:
    """Writes ``out`` (a checkpoint folder): ``module``'s float tensors averaged over ``checkpoints``."""
    states = [load_file(str(c / "model.safetensors")) for c in checkpoints]
    mixed = dict(states[-1])
    prefix = f"{module}."
    keys = [k for k in mixed if k.startswith(prefix) and mixed[k].is_floating_point()]
    if not keys:
        raise SystemExit(f"no floating-point tensor of {module!r} in {checkpoints[-1]}")
    for k in keys:
        mixed[k] = sum(s[k] for s in states) / len(states)
    out.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(out / "model.safetensors"))
    shutil.copy(checkpoints[-1] / "config.json", out / "config.json")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paper", required=True)
    p.add_argument("--row", required=True, help="the table's (or --sweep's) row whose gates score the checkpoints")
    p.add_argument("--sweep", default=None)
    p.add_argument("--candidate", default=None)
    p.add_argument("--module", required=True, help="the network to average, e.g. netG_structure")
    p.add_argument("--checkpoints", nargs="+", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    table = get_table(a.paper)
    try:
        row = find_row(table, "quick", a.row, a.sweep, a.candidate)
    except ValueError as e:
        p.error(str(e))
    args = argparse.Namespace(preset="quick", dataset=table.dataset, device="cpu", threads=1, no_progress=True,
                              eval_n=None, inception=False)
    keys = sorted({g.metric for g in row.gates})
    averaged = average(a.checkpoints, a.module, a.out / "averaged")
    for ckpt in [*a.checkpoints, averaged]:
        got, errors = measure_run(ckpt, keys, table, args, HEALTH_SPLIT, eval_n(table, args))
        print(ckpt, {k: round(v, 4) for k, v in got.items()}, errors or "", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
