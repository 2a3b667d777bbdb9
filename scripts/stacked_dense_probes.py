"""Issue #27: why the dense GANs of the stacked study draw static, and what the dense D's normalisation should be.

Diagnosis (docs/stacked.md, "Why the dense GANs drew static"): the dense D is the paper's
Linear → LeakyReLU → BN → dropout per hidden layer, then a linear head. Real and fake batches go through D in
separate calls, so the last BN makes every batch's features mean-free, and the linear head's batch-mean logit
cannot depend on what the batch holds: D cannot learn "real batches score higher", and G's gradient through the
same BN cannot move its batch towards the data. The training log shows it: d_real = d_fake = 0.50 from step 25 on.

The choice, on the shapes **val** split, rule written before running:
    candidates: model.dense_d_norm = batch (the paper's, kept unless beaten), layer (LayerNorm, per sample), none;
    the dense single GAN at 64 px for the quick budget (600 + 600 steps), training seeds 0 and 1;
    score: FID on 1,000 val images (the table's evaluation seed, resolution and classifier);
    take the candidate with the lowest mean val FID if it is lower than batch's by more than 1.0, else keep batch.
The health gates (FID <= 0.5 x noise's, recall >= 0.05, diversity >= 0.5 x real's) are reported beside, not used
to choose.

    OMP_NUM_THREADS=1 python scripts/stacked_dense_probes.py --out /tmp/dense-probes   # ~8 min on one core
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ("batch", "layer", "none")
SEEDS = (0, 1)
MARGIN = 1.0  # val FID a candidate must beat the paper's BN by


def train(out: Path, norm: str, seed: int) -> Path:
    run = out / f"{norm}-{seed}"
    if not (run / "checkpoints" / "final").is_dir():
        subprocess.run([sys.executable, "-m", "core.train", "--model", "stacked", "--preset", "quick", "--seed",
                        str(seed), "--set", "model.layer=dense", "--set", "model.mode=single", "--set",
                        f"model.dense_d_norm={norm}", "--out", str(run), "--no-progress"], cwd=ROOT, check=True)
    return run


def last_losses(run: Path) -> dict:
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    lines = [x for x in lines if "loss_d" in x]
    return {k: round(lines[-1][k], 3) for k in ("loss_d", "loss_g", "d_real", "d_fake")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from core.metrics import evaluate
    from core.pipeline import Pipeline

    rows = []
    for norm in CANDIDATES:
        for seed in SEEDS:
            run = train(args.out, norm, seed)
            s = evaluate(Pipeline.from_checkpoint(run), "shapes", metrics=["fid", "prc", "diversity"], n=1000,
                         seed=2024, split="val", score_resolution=64)
            rows.append({"norm": norm, "seed": seed, "fid": s["fid"], "recall": s["recall"],
                         "diversity": s["diversity"], **last_losses(run)})
            print(json.dumps(rows[-1]), flush=True)
    mean = {n: sum(r["fid"] for r in rows if r["norm"] == n) / len(SEEDS) for n in CANDIDATES}
    best = min(mean, key=mean.get)
    taken = best if mean["batch"] - mean[best] > MARGIN else "batch"
    print("mean val FID: " + ", ".join(f"{n} {v:.2f}" for n, v in mean.items()) + f"; rule takes: {taken}")
    (args.out / "probes.json").write_text(json.dumps({"rows": rows, "mean_fid": mean, "taken": taken}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
