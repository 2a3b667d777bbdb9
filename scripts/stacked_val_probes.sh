#!/usr/bin/env bash
# Choose the stacked study's optimizer per layer type on the shapes *validation* split (issue #18; PROTOCOL.md §3:
# never on test or on the benchmark's scores). The paper says only "either Adam or RMSprop, depending on the layer
# composition" (§3.2). For each layer type, the Stage-I GAN (mode single at 32 px, the quick preset's stage1_steps,
# which is what every stacked row's Stage-I trains) under the two candidates:
#   adam     Adam 2e-4 / 2e-4, β1 0.5 (DCGAN's)
#   rmsprop  RMSprop G 4e-4 / D 8e-4 (Chollet's Keras DCGAN)
# Decision rule, fixed before running: per layer type, the candidate with the lower mean val FID over seeds 0 and 1
# (1,000 images, 32 px); the current default (core/models/stacked.py LAYER_OPTIM) stays unless the other is lower
# by more than 1.0.
# Usage: scripts/stacked_val_probes.sh OUT_DIR   (two lanes, one per core, one torch thread each)
set -euo pipefail
R=${1:?out dir}
mkdir -p "$R"
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
declare -A SET=([adam]="model.optimizer=adam model.lr_g=2e-4 model.lr_d=2e-4"
                [rmsprop]="model.optimizer=rmsprop model.lr_g=4e-4 model.lr_d=8e-4")
lane() {
  S=$1
  for L in dense deepconv conv; do
    for O in adam rmsprop; do
      sets=()
      for kv in ${SET[$O]}; do sets+=(--set "$kv"); done
      $PY -m core.train --model stacked --preset quick --seed "$S" --set num_threads=1 --no-progress \
        --set model.mode=single --set resolution=32 --set model.stage2_steps=0 --set "model.layer=$L" \
        "${sets[@]}" --out "$R/$L-$O-$S"
      $PY -m core.metrics score --checkpoint "$R/$L-$O-$S" --split val --n 1000 --metrics fid,kid,prc \
        --threads 1 --quiet --out "$R/$L-$O-$S/val.json" > /dev/null
    done
  done
}
lane 0 > "$R/lane0.log" 2>&1 &
p0=$!
lane 1 > "$R/lane1.log" 2>&1 &
p1=$!
wait "$p0" || { echo "lane 0 failed: see $R/lane0.log" >&2; exit 1; }
wait "$p1" || { echo "lane 1 failed: see $R/lane1.log" >&2; exit 1; }
$PY - "$R" <<'PY'
import json, sys
from pathlib import Path
R = Path(sys.argv[1])
for layer in ("dense", "conv", "deepconv"):
    for opt in ("adam", "rmsprop"):
        s = [json.loads((R / f"{layer}-{opt}-{k}" / "val.json").read_text())["scores"] for k in (0, 1)]
        print(layer, opt, " ".join(f"{k}={sum(x[k] for x in s) / 2:.3f}" for k in ("fid", "kid_mean", "precision",
                                                                                   "recall")),
              "| per seed fid", [round(x["fid"], 2) for x in s])
PY
