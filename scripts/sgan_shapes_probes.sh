#!/usr/bin/env bash
# Choose SGAN's quick rates for `shapes` on the shapes *validation* split (PROTOCOL.md §3; never on test or on the
# benchmark's scores). The mnist5k quick rates (D 1e-3, Q heads 1e-2) give colour blobs on shapes (docs/sgan.md).
# Four settings of (G rate, D rate, Q-head factor), the full SGAN at the quick budget (1,000 + 400 steps), seeds 0
# and 1, each on its own frozen encoder E (quick, same seed):
#   A  1e-4 / 1e-3 / ×10   the mnist5k quick setting
#   B  1e-4 / 1e-4 / ×1    the reference code's rates
#   C  1e-4 / 1e-4 / ×10   reference D, fast Q heads
#   D  2e-4 / 2e-4 / ×10   DCGAN's usual rates, fast Q heads
# Decision rule, fixed before running: the highest mean val cond_acc (the evaluation classifier reads back the
# asked shape) over the two seeds; if the best two are within 0.03, the one with the lower mean val FID.
# Usage: scripts/sgan_shapes_probes.sh OUT_DIR   (two lanes, one per core, one torch thread each; ~25 min)
set -euo pipefail
R=${1:?out dir}
mkdir -p "$R"
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
declare -A SET=([A]="model.lr=1e-4 model.d_lr=1e-3 model.q_lr_scale=10.0"
                [B]="model.lr=1e-4 model.d_lr=1e-4 model.q_lr_scale=1.0"
                [C]="model.lr=1e-4 model.d_lr=1e-4 model.q_lr_scale=10.0"
                [D]="model.lr=2e-4 model.d_lr=2e-4 model.q_lr_scale=10.0")
lane() {
  S=$1
  $PY -m core.train --model sgan-encoder --preset quick --dataset shapes --seed $S --set num_threads=1 \
    --no-progress --out "$R/encoder-$S"
  for P in A B C D; do
    sets=()
    for kv in ${SET[$P]}; do sets+=(--set "$kv"); done
    $PY -m core.train --model sgan --preset quick --dataset shapes --seed $S --set num_threads=1 --no-progress \
      --set "frozen=[\"netE=$R/encoder-$S:netE\"]" "${sets[@]}" --out "$R/$P-$S"
    $PY -m core.metrics score --checkpoint "$R/$P-$S" --split val --n 1000 --metrics fid,cond_acc,diversity \
      --threads 1 --quiet --out "$R/$P-$S/val.json" > /dev/null
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
for p in "ABCD":
    s = [json.loads((R / f"{p}-{k}" / "val.json").read_text())["scores"] for k in (0, 1)]
    ent = [[json.loads(l) for l in (R / f"{p}-{k}" / "log.jsonl").read_text().splitlines()] for k in (0, 1)]
    last = [[r for r in e if "ent0" in r][-1] for e in ent]
    print(p, " ".join(f"{k}={sum(x[k] for x in s) / 2:.3f}" for k in ("cond_acc", "fid", "diversity")),
          "| per seed cond_acc", [round(x["cond_acc"], 3) for x in s],
          "| end ent1/ent0", [(round(r["ent1"], 3), round(r["ent0"], 3)) for r in last])
PY
