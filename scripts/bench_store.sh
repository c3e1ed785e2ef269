#!/usr/bin/env bash
# Cost of the device model: training speed of the weight stores, measured in the same run.
#
# Default workload (LeNet-5, batch 32, 8,000 training images), one thread. Each round runs
# every variant once, in turn, so that all see the same machine load; medians over rounds
# and the ratio of each to the float store are printed. The figure is the run's training
# images/s (summary.csv's train_images_per_s: training only, testing excluded).
#
# Variants: float, fixed (8-bit), nandspin at 3 ns (the default arch; its writes run on all
# cores, rayon's default), the same on one thread (RAYON_NUM_THREADS=1), and at 1 ns.
#
# usage: scripts/bench_store.sh [ROUNDS] [EPOCHS]     (default 5 rounds of 2 epochs)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
epochs=${2:-2}

cargo build --release --quiet
bin=target/release/nandspin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

names=(float fixed nandspin_3ns nandspin_3ns_1thr nandspin_1ns)
sets=("weights.store=float" "weights.store=fixed" "weights.store=nandspin" "weights.store=nandspin"
  "update.program_pulse_ns=1")
for n in "${names[@]}"; do : > "$tmp/$n"; done
for r in $(seq 1 "$rounds"); do
  line="round $r:"
  for i in "${!names[@]}"; do
    n=${names[$i]}
    extra=()
    [ "$n" = nandspin_1ns ] && extra=(--set weights.store=nandspin)
    threads=()
    [ "$n" = nandspin_3ns_1thr ] && threads=(RAYON_NUM_THREADS=1)
    # The final line names the speed: "..., N training images/s".
    v=$(env "${threads[@]}" "$bin" run --quiet --set "${sets[$i]}" "${extra[@]}" --set training.epochs="$epochs" \
      --out "$tmp/run" | sed -n 's/.* \([0-9][0-9]*\) training images\/s.*/\1/p')
    echo "$v" >> "$tmp/$n"
    line="$line $n $v"
  done
  echo "$line"
done
float=$(median < "$tmp/float")
for n in "${names[@]}"; do
  m=$(median < "$tmp/$n")
  awk -v n="$n" -v m="$m" -v f="$float" \
    'BEGIN { printf "%-17s median %6d training images/s   ratio to float %.2f\n", n, m, m / f }'
done
