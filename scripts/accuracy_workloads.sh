#!/usr/bin/env bash
# Accuracy of every Fashion-MNIST workload against PyTorch on the same setup: the full
# 60,000 / 10,000 Fashion-MNIST (scripts/get_fashion_mnist.sh), float store, each
# workload's own training section (10 epochs), seeds 0, 1, 2. nandspin and
# scripts/torch_reference.py train the same graph with the same data, batch, optimiser and
# epochs, and from the same draws: PyTorch starts from nandspin's initial weights and sees the
# images in nandspin's order (`nandspin draws`, `torch_reference.py --draws`), so the two
# differ only by floating-point rounding. Prints, per workload, the final test accuracy of
# each seed, the means and the difference in points.
#
# Finished trainings are kept in runs/accuracy/ (nandspin: <workload>-s<seed>/; PyTorch:
# <workload>-s<seed>.torch-draws.txt, from <workload>-s<seed>.draws.toml, or
# <workload>-s<seed>.torch.txt with its own draws) and reused on the next call, so an
# interrupted call resumes.
#
# usage: scripts/accuracy_workloads.sh [WORKLOAD...]
#        (default: lenet5-fashion vgg-fashion resnet-fashion)
# env:   SEEDS="0 1 2"  THREADS=2 (both tools)  PYTHON=python with torch (default python3;
#        PyTorch is skipped when it has no torch)  DATA=folder of the full set (default:
#        the output of scripts/get_fashion_mnist.sh)  EPOCHS (default: each workload's)
#        SAME_DRAWS=1 (0: PyTorch draws its own initial weights and orders from the seed)
set -euo pipefail
cd "$(dirname "$0")/.."
workloads=("${@:-lenet5-fashion vgg-fashion resnet-fashion}")
read -r -a workloads <<< "${workloads[*]}"
read -r -a seeds <<< "${SEEDS:-0 1 2}"
threads=${THREADS:-2}
python=${PYTHON:-python3}
data=${DATA:-$(scripts/get_fashion_mnist.sh)}
cargo build --release --quiet
bin=target/release/nandspin
out=runs/accuracy
mkdir -p "$out"
have_torch=0
if "$python" -c 'import torch' 2>/dev/null; then
  have_torch=1
fi
extra=()
[ -n "${EPOCHS:-}" ] && extra+=(--set "training.epochs=$EPOCHS")

mean() { awk '{s+=$1} END {if (NR) printf "%.4f", s/NR; else printf "-"}'; }

for w in "${workloads[@]}"; do
  file=workloads/$w.toml
  [ -f "$file" ] || { echo "no $file" >&2; exit 2; }
  ns=(); pt=()
  for s in "${seeds[@]}"; do
    dir=$out/$w-s$s
    epochs_want=${EPOCHS:-$(sed -n 's/^epochs *= *\([0-9]*\).*/\1/p' "$file" | head -1)}
    if [ ! -f "$dir/epochs.csv" ] || [ "$(($(wc -l < "$dir/epochs.csv") - 1))" != "$epochs_want" ]; then
      echo "nandspin $w seed $s ..." >&2
      "$bin" run --quiet --threads "$threads" --workload "$file" --seed "$s" \
        --set weights.store=float --set "data.dir=$data" "${extra[@]}" --out "$dir" --force > /dev/null
    fi
    ns+=("$(tail -1 "$dir/epochs.csv" | cut -d, -f5)")
    if [ $have_torch = 1 ]; then
      draws=()
      if [ "${SAME_DRAWS:-1}" = 1 ]; then
        log=$out/$w-s$s.torch-draws.txt
        draws=(--draws "$out/$w-s$s.draws.toml")
      else
        log=$out/$w-s$s.torch.txt
      fi
      if ! grep -q '^final test_accuracy' "$log" 2>/dev/null; then
        echo "PyTorch $w seed $s ..." >&2
        if [ ${#draws[@]} -gt 0 ]; then
          "$bin" draws --workload "$file" --seed "$s" --set "data.dir=$data" "${extra[@]}" \
            --out "$out/$w-s$s.draws.toml" > /dev/null
        fi
        "$python" scripts/torch_reference.py "$file" --seed "$s" --threads "$threads" \
          --set "data.dir=$data" "${extra[@]}" "${draws[@]}" > "$log.part"
        mv "$log.part" "$log"
      fi
      pt+=("$(sed -n 's/^final test_accuracy \([0-9.]*\).*/\1/p' "$log")")
    fi
  done
  ns_mean=$(printf '%s\n' "${ns[@]}" | mean)
  line="$w: nandspin ${ns[*]} mean $ns_mean"
  if [ $have_torch = 1 ]; then
    pt_mean=$(printf '%s\n' "${pt[@]}" | mean)
    # From the accuracies themselves, not from the means rounded for printing.
    diff=$( (printf 'n %s\n' "${ns[@]}"; printf 'p %s\n' "${pt[@]}") |
      awk '{s[$1] += $2; c[$1]++} END {printf "%+.2f", 100 * (s["n"] / c["n"] - s["p"] / c["p"])}')
    line="$line; PyTorch ${pt[*]} mean $pt_mean; nandspin - PyTorch $diff points"
  fi
  echo "$line"
done
