#!/usr/bin/env bash
# Training speed of nandspin against the PyTorch reference, measured in the same run.
#
# nandspin: LeNet-5, float store, batch 32, single thread, on the bundled 8,000 training
# images; the figure is summary.csv's train_images_per_s (training only, testing excluded).
# PyTorch: a LeNet-5 script (not bundled) run as `torch_lenet.py DATA --threads 1` with the same setup (lr 0.01,
# momentum 0.9, batch 32); the figure is images_per_s of each epoch after the first.
# Runs alternate between the two so that both see the same machine load; medians are quoted.
#
# usage: scripts/bench.sh [ROUNDS]          (default 5 rounds, 2 epochs each)
# env:   PYTHON=python with torch installed (default: python3; skipped if torch is missing)
#        TORCH_LENET=path/to/torch_lenet.py (no default: PyTorch is skipped without it)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
epochs=2
python=${PYTHON:-python3}
torch_script=${TORCH_LENET:-}
data=workloads/data/mnist

cargo build --release --quiet
bin=target/release/nandspin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

have_torch=0
if [ -f "$torch_script" ] && "$python" -c 'import torch' 2>/dev/null; then
  have_torch=1
  torch_version=$("$python" -c 'import torch; print(torch.__version__)')
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

: > "$tmp/ns"; : > "$tmp/pt"
for r in $(seq 1 "$rounds"); do
  "$bin" run --quiet --set weights.store=float --set training.epochs=$epochs \
    --out "$tmp/run" > /dev/null
  col=$(head -1 "$tmp/run/summary.csv" | tr ',' '\n' | grep -n '^train_images_per_s$' | cut -d: -f1)
  ns=$(sed -n 2p "$tmp/run/summary.csv" | cut -d, -f"$col")
  echo "$ns" >> "$tmp/ns"
  line="round $r: nandspin $ns images/s"
  if [ $have_torch = 1 ]; then
    # Skip epoch 1 (warm-up), keep the others.
    "$python" "$torch_script" "$data" --threads 1 --epochs $((epochs + 1)) --lr 0.01 \
      --momentum 0.9 --batch 32 | tail -n +2 | sed 's/.*images_per_s \([0-9]*\).*/\1/' > "$tmp/pt_r"
    pt=$(median < "$tmp/pt_r")
    echo "$pt" >> "$tmp/pt"
    line="$line, PyTorch $torch_version (1 thread) $pt images/s"
  fi
  echo "$line"
done

ns_med=$(median < "$tmp/ns")
echo "nandspin (float store, batch 32, 1 thread): median ${ns_med} training images/s over $rounds rounds"
if [ $have_torch = 1 ]; then
  pt_med=$(median < "$tmp/pt")
  echo "PyTorch $torch_version (batch 32, 1 thread): median ${pt_med} training images/s"
  awk -v a="$ns_med" -v b="$pt_med" 'BEGIN { printf "ratio nandspin / PyTorch: %.2f\n", a / b }'
else
  echo "PyTorch not measured: '$python -c \"import torch\"' failed or ${torch_script:-TORCH_LENET (unset)} is missing"
fi
