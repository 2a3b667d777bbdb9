#!/usr/bin/env bash
# Train the SGAN models the demo ships (results/checkpoints/sgan-<dataset>[-noent]): per dataset, the encoder E
# (sgan-encoder, quick), then SGAN and SGAN without the entropy loss on that frozen E, all at the quick preset,
# training seed 0. Usage: scripts/ship_sgan.sh [DATASET ...]   (default: mnist5k shapes)
set -euo pipefail
export OMP_NUM_THREADS=1
PY=${PY:-python}
RUNS=${RUNS:-runs/ship-sgan}
for ds in "${@:-mnist5k shapes}"; do
  for d in $ds; do
    enc="$RUNS/encoder-$d"
    $PY -m core.train --model sgan-encoder --preset quick --dataset "$d" --seed 0 --out "$enc" --resume --no-progress
    for variant in "" "-noent"; do
      extra=()
      [ "$variant" = "-noent" ] && extra=(--set model.ent_weight=0.0)
      run="$RUNS/sgan-$d$variant"
      $PY -m core.train --model sgan --preset quick --dataset "$d" --seed 0 --out "$run" --resume --no-progress \
        --set "frozen=[\"netE=$enc:netE\"]" "${extra[@]}"
      mkdir -p "results/checkpoints/sgan-$d$variant"
      cp "$run/checkpoints/final/model.safetensors" "$run/checkpoints/final/config.json" "results/checkpoints/sgan-$d$variant/"
      grep wall_time_s "$run/log.jsonl" | tail -1
    done
  done
done
