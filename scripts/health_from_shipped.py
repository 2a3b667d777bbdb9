"""Health gates (PROTOCOL.md rule 6) on the `val` split for the pilot cells that ship in `results/checkpoints/`.

The pilots' run directories are not committed, but some of their seed-0 cells ship as demo models
(`results/checkpoints/README.md` says which cell each one is). This measures the gates of those rows on them,
so that a table can name its unhealthy rows from measurements before new pilots exist:

    OMP_NUM_THREADS=1 python scripts/health_from_shipped.py            # every table with shipped cells
    OMP_NUM_THREADS=1 python scripts/health_from_shipped.py stacked    # one

It writes a one-seed runs file pointing at the shipped checkpoints into a scratch folder and runs
`python -m bench.ablations --paper P --health --health-from <that file> --out results/<table>`. Rows
without a shipped cell, and `log:` gates (an inference export keeps no training log), are "not measured".
One seed of two pilot seeds, and the stacked models are float16 exports (within 1.2 grey levels of their
float32 weights): read the numbers as the pilot's seed 0, not as the pilot. `mnist5k` has no `val` split, so
the SGAN table on it has nothing to measure here.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "results" / "checkpoints"
# table directory -> (paper, dataset, {row: shipped checkpoint directory})
CELLS = {
    "sgan-shapes": ("sgan", "shapes", {"sgan": "sgan-shapes", "sgan-no-ent": "sgan-shapes-noent"}),
    "s2gan": ("s2gan", "shapes", {"stack-joint": "s2gan-shapes", "style-fcn": "s2gan-shapes-style"}),
    "stacked": ("stacked", "shapes", {f"{mode}-{layer}": f"stacked-{layer}-{mode}" for layer in
                                      ("dense", "conv", "deepconv") for mode in ("single", "stacked", "full")}),
}


def pilot_file(rows: dict[str, str], dataset: str, folder: Path) -> Path:
    """A runs.csv of one seed-0 cell per shipped row, its checkpoint column the shipped directory."""
    recs = [{"row": row, "seed": 0, "metric": "shipped", "value": 0.0, "preset": "quick", "dataset": dataset,
             "checkpoint": str(SHIPPED / name), "error": ""} for row, name in rows.items()]
    path = folder / "runs.csv"
    pd.DataFrame(recs).to_csv(path, index=False)
    return path


def main(argv: list[str]) -> int:
    chosen = argv or list(CELLS)
    unknown = [t for t in chosen if t not in CELLS]
    if unknown:
        print(f"error: no shipped cells for {unknown}; choose from {list(CELLS)}", file=sys.stderr)
        return 2
    code = 0
    for name in chosen:
        paper, dataset, rows = CELLS[name]
        with tempfile.TemporaryDirectory(prefix="shipped-") as tmp:
            src = pilot_file(rows, dataset, Path(tmp))
            cmd = [sys.executable, "-m", "bench.ablations", "--paper", paper, "--dataset", dataset, "--preset",
                   "quick", "--health", "--health-from", str(src), "--out", str(ROOT / "results" / name),
                   "--no-progress"]
            print("$ " + " ".join(cmd[1:]), flush=True)
            code |= subprocess.run(cmd, cwd=ROOT).returncode
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
