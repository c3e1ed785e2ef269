#!/usr/bin/env bash
# The program pulse width on the device: accuracy, bit errors and write cost of training the
# default workload (LeNet-5, 10 epochs) with the default arch at 3 ns, at 1 ns, and at 1 ns
# with the remedies the update policy offers. Totals are over the whole training run.
#
# Columns: final test accuracy (mean over seeds, and the range), bit error rate, program and
# write energy in nJ, program pulses, and the serial string-write time in ms (the sum of
# every string write's duration, before any scheduling onto parallel drivers).
#
# usage: scripts/pulse_widths.sh [SEEDS...]     (default: 0 1 2)
set -euo pipefail
# The --set values below are split into words on purpose; never expand [..] as globs.
set -f
cd "$(dirname "$0")/.."
seeds=("${@:-0 1 2}")
read -r -a seeds <<< "${seeds[*]}"
cargo build --release --quiet
bin=target/release/nandspin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

names=("3 ns (default)" "1 ns" "1 ns + write-verify" "3 MSBs 3 ns, 5 LSBs 1 ns" "1 ns at 150 uA")
sets=(""
  "--set update.program_pulse_ns=1"
  "--set update.program_pulse_ns=1 --set update.verify_bits=8"
  "--set update.program_pulse_ns=[3,3,3,1,1,1,1,1]"
  "--set update.program_pulse_ns=1 --set update.program_current_ua=150")

# Sums named columns of epochs.csv over epochs; prints them space-separated.
sum_cols() {
  awk -F, -v want="$2" 'NR==1 { n=split(want, w, " "); for (i=1;i<=NF;i++) for (j=1;j<=n;j++) if ($i==w[j]) c[j]=i; next }
    { for (j=1;j<=n;j++) s[j]+=$c[j] }
    END { for (j=1;j<=n;j++) printf "%s%.6g", (j>1?" ":""), s[j] }' "$1"
}

echo "| update policy | test accuracy, mean (range) | bit error rate | program energy (nJ) | per pulse (pJ) | write energy (nJ) | program pulses | string write time (ms) |"
echo "|---|---|---|---|---|---|---|---|"
for i in "${!names[@]}"; do
  : > "$tmp/acc"; : > "$tmp/cost"
  for s in "${seeds[@]}"; do
    out="$tmp/run-$i-$s"
    # shellcheck disable=SC2086
    "$bin" run --quiet --seed "$s" ${sets[$i]} --out "$out" > /dev/null
    tail -1 "$out/epochs.csv" | cut -d, -f5 >> "$tmp/acc"
    sum_cols "$out/epochs.csv" "bit_errors bits_written program_energy_pJ write_energy_pJ program_pulses string_write_ns" >> "$tmp/cost"
    echo >> "$tmp/cost"
  done
  acc=$(awk '{s+=$1; if (NR==1||$1<lo) lo=$1; if (NR==1||$1>hi) hi=$1} END {printf "%.4f (%.4f-%.4f)", s/NR, lo, hi}' "$tmp/acc")
  cost=$(awk 'NF {e+=$1; b+=$2; p+=$3; w+=$4; n+=$5; t+=$6; k++}
    END {printf "%.2e|%.1f|%.3f|%.1f|%.0f|%.2f", e/b, p/k/1000, p/n, w/k/1000, n/k, t/k/1e6}' "$tmp/cost")
  IFS='|' read -r ber prog per write pulses ms <<< "$cost"
  echo "| ${names[$i]} | $acc | $ber | $prog | $per | $write | $pulses | $ms |"
done
echo
echo "seeds: ${seeds[*]}; energies, pulses and times are means over seeds of whole-run totals"
