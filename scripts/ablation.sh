#!/bin/bash
# The fixed-budget ablation of the sample-efficient training options (docs/training.md, issue 14).
#
# Every arm trains recipes/gm_small.yaml on the same data, with the same seed and the same number
# of images; each differs from the "all" arm by one option (left out, or added), and "none" has
# none of them. Each arm is exported and measured with `gansynth evaluate` against the dataset's
# valid split (unseen instruments); the figures land in OUT/<arm>.json, and
#   .venv/bin/python scripts/ablation_table.py OUT
# prints the table. Arms run JOBS at a time, one thread each.
#
#   bash scripts/ablation.sh DATA OUT [JOBS] [ARM ...]
#     DATA: a GM dataset folder with splits.csv and a feature cache in DATA/cache
#           (gansynth data build-gm ... --out DATA; gansynth data cache DATA --config
#           recipes/gm_small.yaml --set data.path=DATA --out DATA/cache)
#     OUT:  the folder for runs, models and figures
#   IMAGES_PER_STAGE=400 (default) sets the budget: 13 stages of it.
set -euo pipefail
DATA=${1:?usage: ablation.sh DATA OUT [JOBS] [ARM ...]}
OUT=${2:?usage: ablation.sh DATA OUT [JOBS] [ARM ...]}
JOBS=${3:-2}
shift 3 || shift $#
BIN=${BIN:-.venv/bin}
PER=${IMAGES_PER_STAGE:-400}
TOTAL=$((PER * 13))
# Per-stage counts with the same total, more of it on the high-resolution blocks (x 1/2 .. 2).
COUNTS=$(python3 -c "p=$PER; c=[p//2]*4+[3*p//4]*2+[p]*2+[5*p//4]*2+[3*p//2]*2; c.append(13*p-sum(c)); print('['+','.join(map(str,c))+']')")

LAZY="train.reg_interval=4"
AUG="train.augment=time_shift,time_cutout,freq_cutout"
EMA="train.ema_half_life_images=500 train.ema_rampup=0.2"
LOW="data.oversample_below=48 data.oversample_factor=2"
SCHED="schedule.stage_image_counts=$COUNTS"
ALL="$LAZY $AUG $EMA $LOW $SCHED"

arm_settings() {
  # ARM_seedN: the arm ARM with train.seed=N (a repeat, to see the spread between seeds)
  if [[ $1 =~ ^(.+)_seed([0-9]+)$ ]]; then
    echo "$(arm_settings "${BASH_REMATCH[1]}") train.seed=${BASH_REMATCH[2]}"
    return
  fi
  case $1 in
    none) echo "$LAZY" ;;
    all) echo "$ALL" ;;
    no_augment) echo "$LAZY $EMA $LOW $SCHED" ;;
    no_freq_cutout) echo "$LAZY train.augment=time_shift,time_cutout $EMA $LOW $SCHED" ;;
    no_ema) echo "$LAZY $AUG $LOW $SCHED" ;;
    no_oversample) echo "$LAZY $AUG $EMA $SCHED" ;;
    no_schedule) echo "$LAZY $AUG $EMA $LOW" ;;
    ns_r1) echo "$ALL train.loss=ns-r1" ;;
    projection) echo "$ALL model.projection_weight=1.0" ;;
    balance) echo "$ALL data.pitch_balance=1.0" ;;
    spectrum) echo "$ALL train.spectrum_weight=1.0" ;;
    *) echo "unknown arm: $1" >&2; return 2 ;;
  esac
}

ARMS=("$@")
if [ ${#ARMS[@]} -eq 0 ]; then
  ARMS=(none all no_augment no_freq_cutout spectrum all_seed1 no_ema no_oversample no_schedule ns_r1
        projection)
fi
mkdir -p "$OUT"

run_arm() {
  local arm=$1 settings
  settings=$(arm_settings "$arm")
  if [ -f "$OUT/$arm.json" ]; then echo "$arm: done before"; return 0; fi
  echo "$arm: $settings" > "$OUT/$arm.settings"
  local start=$SECONDS
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE "$BIN/gansynth" train --config recipes/gm_small.yaml \
    --no-progress-bar data.path="$DATA" data.cache="$DATA/cache" schedule.stage_images="$PER" \
    schedule.max_images="$TOTAL" train.sample_every_images=100000 output="$OUT/$arm" $settings \
    > "$OUT/$arm.log" 2>&1
  echo "train_seconds $((SECONDS - start))" >> "$OUT/$arm.settings"
  "$BIN/gansynth" export "$OUT/$arm/checkpoints/last.ckpt" -o "$OUT/$arm.pt" >> "$OUT/$arm.log" 2>&1
  OMP_NUM_THREADS=1 "$BIN/gansynth" evaluate --model "$OUT/$arm.pt" --real "$DATA" --split valid \
    --seed 0 --quiet --json "$OUT/$arm.json" >> "$OUT/$arm.log" 2>&1
  echo "$arm: $((SECONDS - start)) s"
}

for arm in "${ARMS[@]}"; do
  arm_settings "$arm" > /dev/null
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_arm "$arm" &
done
wait
