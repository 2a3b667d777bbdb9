#!/usr/bin/env bash
# Choose the Structure-D's rate for S²-GAN's `quick` preset on the shapes *validation* split (issue #17;
# PROTOCOL.md §3: never on test or on the benchmark's scores).
#
# Why: the first quick pilot's Structure-GAN collapsed. At quick (n = 16, 24² maps) its discriminator's loss
# stays at ln 2 for all 750 steps while G draws one high-frequency texture whose per-pixel mean matches the real
# maps'; trained alone against flat maps the same D separates them within 50 steps, so it is not broken, it is
# outpaced (docs/s2gan.md). A faster D (two time-scale rates, Heusel et al. 2017) is the one-knob remedy tried here;
# the reference trains every network at 2e-4.
#
# Candidates: structure_d_lr = 2e-4 (the reference), 5e-4, 1e-3, 2e-3; everything else is quick's. Each trains the
# Structure-GAN alone (quick's structure_steps), seeds 0 and 1.
# Score: "structure FID", the FID of 1,000 sampled normal maps against the first 1,000 val normal maps, both drawn
# as images ((n + 1) / 2, 32 px) and embedded by the shapes evaluation classifier; also the sampled maps' spread
# (per-pixel std over samples, averaged) against the val maps'.
# Decision rule, fixed before running: the candidate with the lowest mean structure FID over the two seeds; the
# reference's 2e-4 stays unless another is lower by more than 10%.
# Usage: scripts/s2gan_structure_probes.sh OUT_DIR   (two lanes, one per core, one torch thread each)
set -euo pipefail
R=${1:?out dir}
mkdir -p "$R"
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
RATES="2e-4 5e-4 1e-3 2e-3"
lane() {
  S=$1
  for LR in $RATES; do
    [ -f "$R/d$LR-$S/done" ] && continue
    $PY -m core.train --model s2gan --preset quick --seed "$S" --set num_threads=1 --no-progress \
      --set model.style=false --set model.style_steps=0 --set model.joint_steps=0 \
      --set "model.structure_d_lr=$LR" --out "$R/d$LR-$S"
    touch "$R/d$LR-$S/done"
  done
}
lane 0 > "$R/lane0.log" 2>&1 &
p0=$!
lane 1 > "$R/lane1.log" 2>&1 &
p1=$!
wait "$p0" || { echo "lane 0 failed: see $R/lane0.log" >&2; exit 1; }
wait "$p1" || { echo "lane 1 failed: see $R/lane1.log" >&2; exit 1; }
OMP_NUM_THREADS=2 $PY - "$R" $RATES <<'PY'
import json, sys
from pathlib import Path
import torch
from core.data import load_dataset
from core.metrics import fidelity as fd
from core.metrics.classifiers import load_classifier
from core.metrics.data import to_uint8
from core.pipeline import Pipeline

R, rates = Path(sys.argv[1]), sys.argv[2:]
val = load_dataset("shapes", split="val", resolution=32)
real = torch.stack([val[i]["normals"] for i in range(1000)])            # [1000, 3, 32, 32], unit normals
clf = load_classifier("shapes").path
real_u8, real_spread = to_uint8(real), real.std(0).mean().item()
rows = {}
for lr in rates:
    fids, spreads = [], []
    for seed in (0, 1):
        run = R / f"d{lr}-{seed}"
        with torch.no_grad():
            fake = Pipeline.from_checkpoint(run).generate(seeds=range(1000))["normals"].float()  # [1000, 3, 32, 32]
        s, _ = fd.fidelity_scores(to_uint8(fake), real_u8, ["fid"], fd.CLASSIFIER_EXTRACTOR, clf)
        fids.append(s["fid"])
        spreads.append(fake.std(0).mean().item())
    rows[lr] = {"structure_fid": sum(fids) / 2, "per_seed_fid": fids, "spread": sum(spreads) / 2,
                "real_spread": real_spread}
    print(f"structure_d_lr {lr}: structure FID {rows[lr]['structure_fid']:.2f} (seeds {fids[0]:.2f}, {fids[1]:.2f}); "
          f"spread {rows[lr]['spread']:.4f} vs val {real_spread:.4f}", flush=True)
(R / "probes.json").write_text(json.dumps(rows, indent=1))
best = min(rows, key=lambda k: rows[k]["structure_fid"])
ref = rows["2e-4"]["structure_fid"]
chosen = best if rows[best]["structure_fid"] < 0.9 * ref else "2e-4"
print(f"chosen by the rule: structure_d_lr {chosen}")
PY
