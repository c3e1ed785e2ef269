#!/usr/bin/env bash
# NAND-SPIN against STT-MRAM, SOT-MRAM and SRAM on one chip: trains the default LeNet-5 /
# MNIST workload (10 epochs, seeds 0-2) on arch/nandspin.toml, arch/stt-mram.toml,
# arch/sot-mram.toml and arch/sram.toml (arch/sweeps/tech-*.toml: write pulses from 3 ns down
# to 0.3 ns for the MRAMs, fp16 and int8 MACs), then writes docs/technologies.md and its
# figures (docs/figures/tech_*.svg) from the sweeps' sweep.csv with
# scripts/compare_technologies.py. Every number on the page comes from those CSV files.
#
# The sweeps are resumable: a rerun reuses finished points (delete runs/sweeps/tech-* to
# start afresh).
#
# usage: scripts/compare_technologies.sh [--jobs N] [--set KEY=VALUE ...]
#        --jobs: trainings at once (default: one per CPU); --set: passed to every sweep
#        (e.g. a smaller workload for a quick look).
# env:   NANDSPIN (the binary; default: build target/release/nandspin), TECH_RUNS (sweep
#        output folders, default runs/sweeps), TECH_DOCS (page and figures, default docs)
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs|--set)
      [ -n "${2:-}" ] || { echo "usage: $0 [--jobs N] [--set KEY=VALUE ...]" >&2; exit 2; }
      extra+=("$1" "$2"); shift 2 ;;
    *) echo "usage: $0 [--jobs N] [--set KEY=VALUE ...]" >&2; exit 2 ;;
  esac
done
if [ -z "${NANDSPIN:-}" ]; then
  cargo build --release --quiet
  NANDSPIN=target/release/nandspin
fi
runs=${TECH_RUNS:-runs/sweeps}
docs=${TECH_DOCS:-docs}
t0=$(date +%s)
args=()
for t in nandspin stt-mram sot-mram sram; do
  out=$runs/tech-$t
  "$NANDSPIN" sweep run "arch/sweeps/tech-$t.toml" --out "$out" --quiet "${extra[@]}"
  args+=("$t=$out")
done
t1=$(date +%s)
python3 scripts/compare_technologies.py --wall "$((t1 - t0))" --docs "$docs" "${args[@]}"
