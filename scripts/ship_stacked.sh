#!/usr/bin/env bash
# Train the stacked-study models the demo ships (results/checkpoints/stacked-<layer>-<mode>, issue #18): per layer
# type, the units of the table's rows (bench/tables/stacked.py) at training seed 0:
#   - single: one GAN at the final resolution R for stage1_steps + stage2_steps (model.mode=single);
#   - Stage-I: a single GAN at R/2 for stage1_steps (model.stage2_steps=0), trained once and shared by
#   - stacked / full: Stage-II only (model.stage1_steps=0), netG1 and netD1 initialised from that Stage-I
#     (init_from / init_modules), Stage-I frozen (stacked) or trained on by Stage-II's loss (full).
# Each model is shipped as an inference export (python -m core.checkpoint export): its generators only, in float16,
# so every file stays under the 10 MB a Hugging Face Space takes without Git LFS (dense: 6-8 MB).
# Usage: scripts/ship_stacked.sh [LAYER ...]   (default: dense conv deepconv)
# PRESET (default quick), RUNS (run directories) and CKPT (where the checkpoints go) can be set in the environment.
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PY:-python}
PRESET=${PRESET:-quick}
RUNS=${RUNS:-runs/ship-stacked}
CKPT=${CKPT:-results/checkpoints}
layers=("$@")
[ ${#layers[@]} -eq 0 ] && layers=(dense conv deepconv)

# The preset's final resolution R; Stage-I works at R/2 (as bench/tables/stacked.py's _stage1 unit).
R=$($PY -m core.train --model stacked --preset "$PRESET" --dry-run | $PY -c 'import json, sys; print(json.load(sys.stdin)["resolution"])')
train() {  # train OUT [--set ...]: one run at the preset, seed 0, resumable
  local out=$1; shift
  $PY -m core.train --model stacked --preset "$PRESET" --seed 0 --out "$out" --resume --no-progress "$@"
}
ship() {  # ship RUN NAME MODULES: an inference export of RUN (its generators, float16) to $CKPT/NAME
  $PY -m core.checkpoint export "$1" "$CKPT/$2" --modules "$3" --half
  echo "$CKPT/$2: $(grep wall_time_s "$1/log.jsonl" | tail -1)"
}

for layer in "${layers[@]}"; do
  case $layer in dense|conv|deepconv) ;; *) echo "error: unknown layer type '$layer' (dense, conv, deepconv)" >&2; exit 2;; esac
  train "$RUNS/$layer-single" --set model.layer="$layer" --set model.mode=single
  ship "$RUNS/$layer-single" "stacked-$layer-single" netG1
  stage1="$RUNS/$layer-stage1"
  train "$stage1" --set resolution=$((R / 2)) --set model.layer="$layer" --set model.mode=single \
    --set model.stage2_steps=0
  for mode in stacked full; do
    train "$RUNS/$layer-$mode" --set model.layer="$layer" --set model.mode="$mode" --set model.stage1_steps=0 \
      --set init_from="$stage1" --set 'init_modules=["netG1", "netD1"]'
    ship "$RUNS/$layer-$mode" "stacked-$layer-$mode" netG1,netG2
  done
done
