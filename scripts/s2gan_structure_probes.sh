#!/usr/bin/env bash
# Choose how S²-GAN's `quick` preset trains its Structure-D, on the shapes *validation* split (issue #17;
# PROTOCOL.md §3: never on test or on the benchmark's scores).
#
# Why: the first quick pilot's Structure-GAN collapsed. At quick (n = 16, 24² maps) its discriminator's loss stays
# at ln 2 for all 750 steps while G draws one high-frequency texture; trained alone against flat maps the same D
# separates them within 50 steps, so it is not broken, it is outpaced (docs/s2gan.md).
#
# Round 1 (this script's first version, commit b43dd01): the Structure-D's rate alone, 2e-4 (the reference), 5e-4,
# 1e-3, 2e-3, scored by the FID of the maps drawn as images under the shapes classifier. It kept 2e-4 and fixed
# nothing: every candidate still collapsed (spread 0.006-0.009 against 0.062 for val maps), and that FID turned out
# to compress normal maps (train vs val 0.007, an all-flat set 2.9, every candidate 0.9-3.1).
# Round 2 (this version), from an exploratory look at the training losses only: most pixels of a shapes map face
# the viewer, n = (0, 0, 1), and the constant 1 on z swamps the few tilted pixels at D's bias-free start; a D fed
# n − (0, 0, 1) leaves ln 2 within 100 steps. Candidates, everything else quick's:
#   reference   structure_d_center=false, structure_d_lr=2e-4
#   center      structure_d_center=true,  structure_d_lr=2e-4
#   center-fast structure_d_center=true,  structure_d_lr=1e-3
# Each trains the Structure-GAN alone (quick's structure_steps), seeds 0 and 1.
# Score: "structure FD", the Fréchet distance between 1,000 sampled normal maps and the first 1,000 val maps, each
# average-pooled to 8 × 8 × 3 (192 numbers; at 32 px). Its range, measured before running: the first 1,000 train
# maps 0.010, an all-flat set 0.66. Also reported: the round-1 classifier FID and the maps' spread (per-pixel std
# over samples, averaged) against the val maps'.
# Decision rule, fixed before running: the candidate with the lowest mean structure FD over the two seeds; the
# reference stays unless another is lower by more than 10%.
# Usage: scripts/s2gan_structure_probes.sh OUT_DIR   (two lanes, one per core, one torch thread each)
set -euo pipefail
R=${1:?out dir}
mkdir -p "$R"
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
declare -A SET=([reference]="model.structure_d_center=false model.structure_d_lr=2e-4"
                [center]="model.structure_d_center=true model.structure_d_lr=2e-4"
                [center-fast]="model.structure_d_center=true model.structure_d_lr=1e-3")
NAMES="reference center center-fast"
lane() {
  S=$1
  for N in $NAMES; do
    [ -f "$R/$N-$S/done" ] && continue
    sets=()
    for kv in ${SET[$N]}; do sets+=(--set "$kv"); done
    rm -rf "$R/$N-$S"
    $PY -m core.train --model s2gan --preset quick --seed "$S" --set num_threads=1 --no-progress \
      --set model.style=false --set model.style_steps=0 --set model.joint_steps=0 "${sets[@]}" --out "$R/$N-$S"
    touch "$R/$N-$S/done"
  done
}
lane 0 > "$R/lane0.log" 2>&1 &
p0=$!
lane 1 > "$R/lane1.log" 2>&1 &
p1=$!
wait "$p0" || { echo "lane 0 failed: see $R/lane0.log" >&2; exit 1; }
wait "$p1" || { echo "lane 1 failed: see $R/lane1.log" >&2; exit 1; }
OMP_NUM_THREADS=2 $PY - "$R" $NAMES <<'PY'
import json, sys
from pathlib import Path
import torch
from core.data import load_dataset
from core.metrics import fidelity as fd
from core.metrics.classifiers import load_classifier
from core.metrics.data import to_uint8
import numpy as np
from scipy import linalg
from core.pipeline import Pipeline

R, names = Path(sys.argv[1]), sys.argv[2:]
val = load_dataset("shapes", split="val", resolution=32)
real = torch.stack([val[i]["normals"] for i in range(1000)])            # [1000, 3, 32, 32], unit normals


def structure_fd(a, b):
    """Fréchet distance between Gaussians fitted to the 8 × 8 average-pooled maps ([N, 192])."""
    a, b = (torch.nn.functional.avg_pool2d(x.float(), 4).flatten(1).double().numpy() for x in (a, b))
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(ca @ cb).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * root))


clf = load_classifier("shapes").path
real_u8, real_spread = to_uint8(real), real.std(0).mean().item()
rows = {}
for name in names:
    fds, fids, spreads = [], [], []
    for seed in (0, 1):
        with torch.no_grad():
            fake = Pipeline.from_checkpoint(R / f"{name}-{seed}").generate(seeds=range(1000))["normals"].float()
        fds.append(structure_fd(fake, real))
        fids.append(fd.fidelity_scores(to_uint8(fake), real_u8, ["fid"], fd.CLASSIFIER_EXTRACTOR, clf)[0]["fid"])
        spreads.append(fake.std(0).mean().item())
    rows[name] = {"structure_fd": sum(fds) / 2, "per_seed_fd": fds, "classifier_fid": sum(fids) / 2,
                  "spread": sum(spreads) / 2, "val_spread": real_spread}
    print(f"{name}: structure FD {rows[name]['structure_fd']:.4f} (seeds {fds[0]:.4f}, {fds[1]:.4f}); "
          f"classifier FID {rows[name]['classifier_fid']:.2f}; spread {rows[name]['spread']:.4f} vs val "
          f"{real_spread:.4f}", flush=True)
(R / "probes.json").write_text(json.dumps(rows, indent=1))
best = min(rows, key=lambda k: rows[k]["structure_fd"])
chosen = best if rows[best]["structure_fd"] < 0.9 * rows["reference"]["structure_fd"] else "reference"
print(f"chosen by the rule: {chosen}")
PY
