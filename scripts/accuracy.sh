#!/usr/bin/env bash
# Accuracy of the reference setup (LeNet-5, bundled 8,000/2,000 split, SGD momentum 0.9,
# lr 0.01, batch 32, 10 epochs) over seeds 0, 1, 2 for three weight stores:
# float, fixed 8-bit with stochastic rounding, fixed 8-bit rounded to nearest.
# Prints final test accuracy per seed, the mean, and the gap of each store to float.
#
# usage: scripts/accuracy.sh [SEEDS...]       (default: 0 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("${@:-0 1 2}")
read -r -a seeds <<< "${seeds[*]}"
cargo build --release --quiet
bin=target/release/nandspin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A sets=(
  [float]="--set weights.store=float"
  [fixed8_stochastic]="--set weights.store=fixed --set weights.bits=8 --set weights.rounding=stochastic"
  [fixed8_nearest]="--set weights.store=fixed --set weights.bits=8 --set weights.rounding=nearest"
  [nandspin_3ns]=""
)
printf '%-18s' store; for s in "${seeds[@]}"; do printf '  seed%-4s' "$s"; done; printf '  %-8s  %s\n' mean vs_float
float_mean=""
for store in float fixed8_stochastic fixed8_nearest nandspin_3ns; do
  accs=()
  for s in "${seeds[@]}"; do
    # shellcheck disable=SC2086
    "$bin" run --quiet --seed "$s" ${sets[$store]} --out "$tmp/$store-$s" > /dev/null
    accs+=("$(tail -1 "$tmp/$store-$s/epochs.csv" | cut -d, -f5)")
  done
  mean=$(printf '%s\n' "${accs[@]}" | awk '{s+=$1} END {printf "%.4f", s/NR}')
  [ -z "$float_mean" ] && float_mean=$mean
  printf '%-18s' "$store"; for a in "${accs[@]}"; do printf '  %-8.4f' "$a"; done
  printf '  %-8s  %+.4f\n' "$mean" "$(awk -v a="$mean" -v b="$float_mean" 'BEGIN{print a-b}')"
done
