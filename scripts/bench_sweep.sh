#!/usr/bin/env bash
# What sweeps cost, measured in the same run against a single run:
#
# 1. Training reuse. arch/sweeps/tiles.toml (8 tile counts, default workload) against one
#    `nandspin run` of the default workload. The tile counts differ only in the timing and
#    energy model, so the sweep trains once and replays the training through 8 chip models;
#    the goal is at most 2x the single run (8 separate runs would cost about 8x).
# 2. Parallel points. arch/sweeps/seeds.toml (4 seeds: 4 independent trainings) with
#    --jobs 1 and --jobs 2; aggregate throughput = points per second; the goal is at least
#    1.7x with 2 jobs on 2 cores.
#
# Each round runs every variant once, in turn, so that all see the same machine load;
# medians over rounds are printed, with the ratios of the medians and the median of the
# per-round ratios (which drifting load disturbs less). Times are wall-clock seconds of the
# whole command (`date +%s.%N` around it), output folders fresh each time.
#
# usage: scripts/bench_sweep.sh [ROUNDS] [SEED_EPOCHS]   (default 3 rounds; 10 epochs per seed, the default workload)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
epochs=${2:-10}

cargo build --release --quiet
bin=target/release/nandspin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
timed() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'; }

for f in single tiles j1 j2 reuse par; do : > "$tmp/$f"; done
for r in $(seq 1 "$rounds"); do
  rm -rf "$tmp"/o*
  s=$(timed "$bin" run --quiet --out "$tmp/o1")
  t=$(timed "$bin" sweep run arch/sweeps/tiles.toml --quiet --out "$tmp/o2")
  j1=$(timed "$bin" sweep run arch/sweeps/seeds.toml --quiet --jobs 1 --set training.epochs="$epochs" --out "$tmp/o3")
  j2=$(timed "$bin" sweep run arch/sweeps/seeds.toml --quiet --jobs 2 --set training.epochs="$epochs" --out "$tmp/o4")
  echo "$s" >> "$tmp/single"; echo "$t" >> "$tmp/tiles"; echo "$j1" >> "$tmp/j1"; echo "$j2" >> "$tmp/j2"
  awk -v a="$t" -v b="$s" 'BEGIN { printf "%.4f\n", a / b }' >> "$tmp/reuse"
  awk -v a="$j1" -v b="$j2" 'BEGIN { printf "%.4f\n", a / b }' >> "$tmp/par"
  replayed=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "replayed") c = i; next } $c == "true" { n++ } END { print n + 0 }' "$tmp/o2/sweep.csv")
  echo "round $r: single run $s s; 8 tile counts $t s ($replayed replayed); 4 seeds: --jobs 1 $j1 s, --jobs 2 $j2 s"
done
sm=$(median < "$tmp/single"); tm=$(median < "$tmp/tiles"); j1m=$(median < "$tmp/j1"); j2m=$(median < "$tmp/j2")
awk -v s="$sm" -v t="$tm" -v r="$(median < "$tmp/reuse")" 'BEGIN {
  printf "training reuse: single run median %.2f s, 8-tile-count sweep median %.2f s: %.2fx a single run (median of per-round ratios %.2fx; goal <= 2x; 8 separate runs ~8x)\n", s, t, t / s, r }'
awk -v a="$j1m" -v b="$j2m" -v r="$(median < "$tmp/par")" -v e="$epochs" 'BEGIN {
  printf "parallel points: 4 seeds x %d epochs, --jobs 1 median %.2f s, --jobs 2 median %.2f s: aggregate throughput %.2fx (median of per-round ratios %.2fx; goal >= 1.7x)\n", e, a, b, a / b, r }'
