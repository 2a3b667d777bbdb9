#!/usr/bin/env bash
# Choose the dense discriminator's dropout rate for the stacked study on the shapes *validation* split (issue #18;
# PROTOCOL.md §3). The paper says its dense D has "dropout" and gives no rate (seed 003, §3.1).
# Candidates: dense_dropout = 0.1, 0.3 (the first guess), 0.5. Each trains the dense Stage-I GAN (mode single at 32 px,
# the quick preset's stage1_steps and its RMSprop rates, which is what every dense stacked row's Stage-I trains),
# seeds 0 and 1, scored by FID, KID and precision/recall of 1,000 images against the val split.
# Decision rule, fixed before running: the candidate with the lowest mean val FID over seeds 0 and 1; 0.3 stays
# unless another is lower by more than 1.0.
# Usage: scripts/stacked_dropout_probes.sh OUT_DIR   (two lanes, one per core, one torch thread each)
set -euo pipefail
R=${1:?out dir}
mkdir -p "$R"
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
RATES="0.1 0.3 0.5"
lane() {
  S=$1
  for P in $RATES; do
    [ -f "$R/p$P-$S/val.json" ] && continue
    $PY -m core.train --model stacked --preset quick --seed "$S" --set num_threads=1 --no-progress \
      --set model.mode=single --set resolution=32 --set model.stage2_steps=0 --set model.layer=dense \
      --set "model.dense_dropout=$P" --out "$R/p$P-$S"
    $PY -m core.metrics score --checkpoint "$R/p$P-$S" --split val --n 1000 --metrics fid,kid,prc \
      --threads 1 --quiet --out "$R/p$P-$S/val.json" > /dev/null
  done
}
lane 0 > "$R/lane0.log" 2>&1 &
p0=$!
lane 1 > "$R/lane1.log" 2>&1 &
p1=$!
wait "$p0" || { echo "lane 0 failed: see $R/lane0.log" >&2; exit 1; }
wait "$p1" || { echo "lane 1 failed: see $R/lane1.log" >&2; exit 1; }
$PY - "$R" $RATES <<'PY'
import json, sys
from pathlib import Path
R, rates = Path(sys.argv[1]), sys.argv[2:]
fid = {}
for p in rates:
    s = [json.loads((R / f"p{p}-{k}" / "val.json").read_text())["scores"] for k in (0, 1)]
    fid[p] = sum(x["fid"] for x in s) / 2
    print(f"dense_dropout {p}:", " ".join(f"{k}={sum(x[k] for x in s) / 2:.3f}" for k in ("fid", "kid_mean", "precision",
                                                                                          "recall")),
          "| per seed fid", [round(x["fid"], 2) for x in s])
best = min(fid, key=fid.get)
print("chosen by the rule: dense_dropout", best if fid[best] < fid["0.3"] - 1.0 else "0.3")
PY
