#!/usr/bin/env bash
# Cost of the whole simulation: the nandspin store with the chip's timing and energy model
# against the float store (numerics only), measured in the same run; and the event engine's
# speed.
#
# Default workload (LeNet-5, batch 32, 8,000 training images). Each round runs both variants
# once, in turn, so that both see the same machine load; medians over rounds are printed,
# with the ratio to the float store (the ratio of the medians, and the median of each round's
# ratio, which drifting machine load disturbs less). The speed is the run's training images/s
# (summary.csv's train_images_per_s: training only, testing excluded; for nandspin it
# includes the device writes and the chip simulation of every batch). The engine's figures
# come from the run's console line "engine: N events in S s": events per second of the
# engine, and its share of the training time.
#
# usage: scripts/bench_chip.sh [ROUNDS] [EPOCHS]     (default 5 rounds of 2 epochs)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
epochs=${2:-2}

cargo build --release --quiet
bin=target/release/nandspin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

: > "$tmp/float"; : > "$tmp/full"; : > "$tmp/eps"; : > "$tmp/share"; : > "$tmp/ratio"
for r in $(seq 1 "$rounds"); do
  f=$("$bin" run --quiet --set weights.store=float --set training.epochs="$epochs" --out "$tmp/f" \
    | sed -n 's/.* \([0-9][0-9]*\) training images\/s.*/\1/p')
  "$bin" run --quiet --set training.epochs="$epochs" --out "$tmp/n" > "$tmp/out"
  n=$(sed -n 's/.* \([0-9][0-9]*\) training images\/s.*/\1/p' "$tmp/out")
  # "  engine: 632873 events in 0.021 s (3.01e7 events/s, 2.9% of the training time)"
  read -r events secs share < <(sed -n \
    's/.*engine: \([0-9]*\) events in \([0-9.]*\) s (.*, \([0-9.]*\)% of the training time).*/\1 \2 \3/p' "$tmp/out")
  echo "$f" >> "$tmp/float"; echo "$n" >> "$tmp/full"; echo "$share" >> "$tmp/share"
  awk -v n="$n" -v f="$f" 'BEGIN { printf "%.4f\n", n / f }' >> "$tmp/ratio"
  awk -v e="$events" -v s="$secs" 'BEGIN { printf "%.0f\n", e / (s > 0 ? s : 1e-9) }' >> "$tmp/eps"
  echo "round $r: float $f  nandspin+chip $n images/s; engine $events events in $secs s ($share% of training)"
done
fm=$(median < "$tmp/float"); nm=$(median < "$tmp/full")
printf "float store           median %6d training images/s\n" "$fm"
awk -v n="$nm" -v f="$fm" -v r="$(median < "$tmp/ratio")" \
  'BEGIN { printf "nandspin + chip model median %6d training images/s   ratio of medians %.2f, median of per-round ratios %.2f\n", n, n / f, r }'
printf "engine                median %.3g events/s, %.1f%% of the training time\n" \
  "$(median < "$tmp/eps")" "$(median < "$tmp/share")"
