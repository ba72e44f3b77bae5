#!/usr/bin/env bash
# SignRep fine-tuning with and without the class-distribution term (Eq. 13: lambda 0 vs
# 0.2), from the learned 3D-CNN encoders of experiments/signrep_cnn_mp.yaml (the
# "priors alone" runs, 3 seeds) on the same data (data seed 5: 10 signs, 18 training
# signers, 120 test clips from 6 unseen signers).  P comes from each encoder's frozen
# features of the training clips (`signssl class-distribution`).
#
#   signssl study experiments/signrep_cnn_mp.yaml --out runs/signrep_cnn_mp --jobs 2
#   bash experiments/signrep_cnn_finetune_cd.sh runs/signrep_cnn_mp runs/signrep_cnn_finetune_cd
#
# EPOCHS (default 40; 10 was too short for the fine-tuning to learn) sets the length.
# Writes OUT/e<EPOCHS>_lambda<lambda>__s<seed>/metrics.json and OUT/summary_e<EPOCHS>.md
# (mean ± 95 % t-interval over the seeds).  Output: docs/results/signrep_cnn_finetune_cd.
set -euo pipefail
STUDY=${1:?usage: $0 STUDY_OUT OUT}
OUT=${2:?usage: $0 STUDY_OUT OUT}
SIGNSSL=${SIGNSSL:-signssl}
DATA="$STUDY/data/s5/manifest.csv"
EPOCHS=${EPOCHS:-40}
# 45 steps per epoch (360 clips, 8 per step): warm up for one epoch; the encoder's clip
# length (16 frames); the pretraining learning rate of the CNN.
COMMON=(--data "$DATA" --epochs "$EPOCHS" --frames 16 --batch-size 8 --lr 0.001 --warmup-steps 45)
mkdir -p "$OUT"
for seed in 0 1 2; do
  run="$STUDY/runs/priors-alone__s$seed"
  [ -f "$OUT/P__s$seed.npz" ] || \
    "$SIGNSSL" class-distribution --checkpoint "$run" --data "$DATA" --out "$OUT/P__s$seed.npz"
  [ -f "$OUT/e${EPOCHS}_lambda0__s$seed/metrics.json" ] || \
    "$SIGNSSL" finetune-video --checkpoint "$run" "${COMMON[@]}" --seed "$seed" \
      --out "$OUT/e${EPOCHS}_lambda0__s$seed"
  [ -f "$OUT/e${EPOCHS}_lambda0.2__s$seed/metrics.json" ] || \
    "$SIGNSSL" finetune-video --checkpoint "$run" "${COMMON[@]}" --seed "$seed" \
      --class-distribution "$OUT/P__s$seed.npz" --lambda-cd 0.2 --out "$OUT/e${EPOCHS}_lambda0.2__s$seed"
done
python - "$OUT" "$EPOCHS" <<'PY'
import json
import sys
from pathlib import Path

from signssl.eval.metrics import mean_confidence_interval

out, epochs = Path(sys.argv[1]), sys.argv[2]
rows = ["| lambda | top-1 per instance | top-1 per class | seeds (per instance) |", "|---|---|---|---|"]
for lam in ("0", "0.2"):
    ms = [json.loads((out / f"e{epochs}_lambda{lam}__s{s}" / "metrics.json").read_text()) for s in (0, 1, 2)]
    cells = []
    for key in ("top1_per_instance", "top1_per_class"):
        mean, half = mean_confidence_interval([m["metrics"][key] if "metrics" in m else m[key] for m in ms])
        cells.append(f"{mean:.3f} ± {half:.3f}")
    seeds = ", ".join(f"{(m['metrics'] if 'metrics' in m else m)['top1_per_instance']:.3f}" for m in ms)
    rows.append(f"| {lam} | {cells[0]} | {cells[1]} | {seeds} |")
(out / f"summary_e{epochs}.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
