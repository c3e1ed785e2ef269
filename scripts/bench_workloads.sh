#!/usr/bin/env bash
# Training speed of nandspin against PyTorch on every bundled workload, at 1 and 2 threads.
#
# For each workload (lenet5-mnist, lenet5-fashion, vgg-fashion, resnet-fashion; missing files
# are skipped) and each thread count, a round runs, one after the other:
#   nandspin: `nandspin run --quiet --threads N --workload W --set weights.store=float
#             --set training.epochs=E ...`; the figure is summary.csv's train_images_per_s
#             (training only, testing excluded, every epoch counted);
#   PyTorch:  `scripts/torch_reference.py W --threads N` with the same keys and E + 1 epochs;
#             the figure is the median images_per_s of the epochs after the first (warm-up).
# Both see the same data (the workload's own), batch size, image limits and float weights.
# Rounds repeat so that both sides see the same machine load; medians over rounds are quoted,
# with the ratios nandspin / PyTorch at each thread count and 2 threads / 1 thread.
# Measure on a quiet machine: PyTorch's OpenMP threads wait on each other at every operation,
# so its 2-thread figure collapses when other work holds the cores (LeNet-5, 1,000 images, on
# the 2-core development machine under a load average of about 6: median 63 images/s at 2
# threads against 1,410 at 1 thread).
#
# usage: scripts/bench_workloads.sh [ROUNDS] [EPOCHS]     (default 3 rounds, 2 epochs)
# env:   PYTHON     python with torch and numpy (default python3; PyTorch is skipped without)
#        WORKLOADS  names under workloads/ (default "lenet5-mnist lenet5-fashion vgg-fashion
#                   resnet-fashion")
#        THREADS    thread counts (default "1 2")
#        BATCH      batch size for every workload (default: the workload's own; BATCH=1 is the
#                   batch-1 mode, with 4x smaller default image limits); the learning rate
#                   follows the batch (training.learning_rate_batch = the workload's batch)
#        MAX_TRAIN  training images per epoch for every workload (default: 8000 for LeNet-5,
#                   1000 for VGG and ResNet, so that a round stays short)
#        MAX_TEST   test images (default 500; testing is not timed)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
epochs=${2:-2}
python=${PYTHON:-python3}
workloads=${WORKLOADS:-lenet5-mnist lenet5-fashion vgg-fashion resnet-fashion}
threads=${THREADS:-1 2}
batch=${BATCH:-}
max_test=${MAX_TEST:-500}

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/nandspin
if ! "$bin" run --help | grep -q -- '--threads'; then
  echo "error: $bin has no --threads option" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

have_torch=0
if "$python" -c 'import torch, numpy' 2>/dev/null; then
  have_torch=1
  torch_version=$("$python" -c 'import torch; print(torch.__version__)')
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }

max_train_of() {
  local n
  if [ -n "${MAX_TRAIN:-}" ]; then echo "$MAX_TRAIN"; return; fi
  case $1 in lenet5-*) n=8000 ;; *) n=1000 ;; esac
  if [ "$batch" = 1 ]; then n=$((n / 4)); fi
  echo "$n"
}

present=()
for w in $workloads; do
  if [ -f "workloads/$w.toml" ]; then present+=("$w"); else echo "skipped $w: workloads/$w.toml is missing"; fi
done
[ ${#present[@]} -gt 0 ] || { echo "error: no workload to measure" >&2; exit 1; }

for r in $(seq 1 "$rounds"); do
  for w in "${present[@]}"; do
    sets=(--set "training.max_train_images=$(max_train_of "$w")" --set "training.max_test_images=$max_test")
    if [ -n "$batch" ]; then
      sets+=(--set "training.batch_size=$batch")
      # Keep the step per image (batch 1 at the batch-32 rate diverges): the linear scaling
      # rule from the workload's own batch size, unless the file sets its own reference.
      if ! grep -q '^learning_rate_batch' "workloads/$w.toml"; then
        own=$(sed -n 's/^batch_size *= *\([0-9]*\).*/\1/p' "workloads/$w.toml" | head -1)
        sets+=(--set "training.learning_rate_batch=${own:-32}")
      fi
    fi
    line="round $r $w (training images/s):"
    for t in $threads; do
      rm -rf "$tmp/run"
      "$bin" run --quiet --threads "$t" --workload "workloads/$w.toml" --set weights.store=float \
        --set "training.epochs=$epochs" "${sets[@]}" --out "$tmp/run" > /dev/null
      col=$(head -1 "$tmp/run/summary.csv" | tr ',' '\n' | grep -n '^train_images_per_s$' | cut -d: -f1)
      ns=$(sed -n 2p "$tmp/run/summary.csv" | cut -d, -f"$col")
      echo "$ns" >> "$tmp/ns-$w-$t"
      line="$line nandspin ${t}t $ns"
      [ $have_torch = 1 ] || line="$line;"
      if [ $have_torch = 1 ]; then
        # Skip epoch 1 (warm-up), keep the others.
        "$python" scripts/torch_reference.py "workloads/$w.toml" --quiet --threads "$t" \
          --set "training.epochs=$((epochs + 1))" "${sets[@]}" |
          grep '^epoch ' | tail -n +2 | sed 's/.*images_per_s \([0-9.]*\).*/\1/' > "$tmp/pt_r"
        pt=$(median < "$tmp/pt_r")
        echo "$pt" >> "$tmp/pt-$w-$t"
        line="$line, PyTorch ${t}t $pt;"
      fi
    done
    echo "${line%;}"
  done
done

echo
echo "medians over $rounds rounds, training images/s (float store; batch ${batch:-as in the workload};" \
  "nandspin: epochs 1..$epochs; PyTorch ${torch_version:-(not measured)}: epochs 2..$((epochs + 1))):"
set -- $threads
t1=$1; t2=${2:-}
header="workload"
for t in $threads; do header="$header | nandspin ${t}t"; done
if [ $have_torch = 1 ]; then
  for t in $threads; do header="$header | PyTorch ${t}t"; done
  for t in $threads; do header="$header | nandspin/PyTorch ${t}t"; done
fi
[ -n "$t2" ] && header="$header | nandspin ${t2}t/${t1}t"
[ -n "$t2" ] && [ $have_torch = 1 ] && header="$header | PyTorch ${t2}t/${t1}t"
echo "$header"
for w in "${present[@]}"; do
  row="$w"
  declare -A nsm=() ptm=()
  for t in $threads; do nsm[$t]=$(median < "$tmp/ns-$w-$t"); row="$row | ${nsm[$t]}"; done
  if [ $have_torch = 1 ]; then
    for t in $threads; do ptm[$t]=$(median < "$tmp/pt-$w-$t"); row="$row | ${ptm[$t]}"; done
    for t in $threads; do row="$row | $(ratio "${nsm[$t]}" "${ptm[$t]}")"; done
  fi
  [ -n "$t2" ] && row="$row | $(ratio "${nsm[$t2]}" "${nsm[$t1]}")"
  [ -n "$t2" ] && [ $have_torch = 1 ] && row="$row | $(ratio "${ptm[$t2]}" "${ptm[$t1]}")"
  echo "$row"
  unset nsm ptm
done
if [ $have_torch = 0 ]; then
  echo "PyTorch not measured: '$python -c \"import torch, numpy\"' failed"
fi
