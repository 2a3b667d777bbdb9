#!/usr/bin/env bash
# Train the S²-GAN model the demo ships (results/checkpoints/s2gan-shapes): the training normal predictor
# (s2gan-fcn), then S²-GAN on that frozen FCN (structure, style and joint phases; the checkpoint copied is the
# final one, after the joint phase), and the tab's rendering engine (results/checkpoints/s2gan-shapes-style): the
# Style-GAN alone on real normals with the same frozen FCN (the table's style-fcn row). All at the quick preset on
# shapes, training seed 0.
# Usage: scripts/ship_s2gan.sh
#   PY=python (the interpreter), RUNS=runs/ship-s2gan (the run directories), DEST=results/checkpoints (where the
#   model's folder goes), PRESET=quick (smoke: a seconds-long check of this script; the tests run it so).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PY:-python}
RUNS=${RUNS:-runs/ship-s2gan}
DEST=${DEST:-results/checkpoints}
PRESET=${PRESET:-quick}
fcn="$RUNS/fcn-shapes"
run="$RUNS/s2gan-shapes"
$PY -m core.train --model s2gan-fcn --preset "$PRESET" --dataset shapes --seed 0 --out "$fcn" --resume --no-progress
grep wall_time_s "$fcn/log.jsonl" | tail -1 || true
$PY -m core.train --model s2gan --preset "$PRESET" --dataset shapes --seed 0 --out "$run" --resume --no-progress \
  --set "frozen=[\"netF=$fcn:netF\"]"
mkdir -p "$DEST/s2gan-shapes"
cp "$run/checkpoints/final/model.safetensors" "$run/checkpoints/final/config.json" "$DEST/s2gan-shapes/"
grep wall_time_s "$run/log.jsonl" | tail -1 || true
style="$RUNS/s2gan-shapes-style"
$PY -m core.train --model s2gan --preset "$PRESET" --dataset shapes --seed 0 --out "$style" --resume --no-progress \
  --set model.structure=false --set model.structure_steps=0 --set model.joint_steps=0 \
  --set "frozen=[\"netF=$fcn:netF\"]"
mkdir -p "$DEST/s2gan-shapes-style"
cp "$style/checkpoints/final/model.safetensors" "$style/checkpoints/final/config.json" "$DEST/s2gan-shapes-style/"
grep wall_time_s "$style/log.jsonl" | tail -1 || true
