#!/usr/bin/env bash
# What a tune costs against its reference alone, measured in the same run:
#
# runs a tune file (default arch/tune/example.toml) with `nandspin tune`, then its reference
# policy over the same seeds at the full training (`nandspin sweep run` of a sweep over the
# seeds, with the tune's [set] and [reference]), and prints the cost ratio:
#   - in trained images (deterministic): the images every rung trained (each training counted
#     once: epochs x training images, over sweep.csv's rows that are not replayed) against the
#     reference's seeds x epochs x images;
#   - in wall-clock seconds of the two commands (this machine, this load).
# The goal for the bundled example is a ratio of at most 6 (printed, not asserted).
#
# usage: scripts/bench_tune.sh [TUNE.toml] [JOBS]     (default arch/tune/example.toml, all CPUs)
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-arch/tune/example.toml}
jobs=${2:-$(nproc)}

cargo build --release --quiet
bin=target/release/nandspin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

timed() { local t0 t1; t0=$(date +%s.%N); "$@" > "$tmp/last.out"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'; }
# Images trained by the trainings of a sweep folder: epochs x train_images over the rows
# that ran a training of their own (replayed = false).
images() {
  python3 - "$@" <<'PY'
import csv, sys
print(sum(int(r["epochs"]) * int(r["train_images"])
          for f in sys.argv[1:] for r in csv.DictReader(open(f)) if r["replayed"] == "false"))
PY
}

# The reference as a sweep over the tune's seeds: the tune file's keys, its [set] and its
# [reference] (as [set]), one axis: training.seed.
python3 - "$file" "$tmp/reference.toml" <<'PY'
import sys, tomllib, os
src, dst = sys.argv[1], sys.argv[2]
t = tomllib.load(open(src, "rb"))
base = os.path.dirname(os.path.abspath(src))
def flat(d, p=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, p + k + ".")
        else:
            yield p + k, v
def val(v):
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, str): return '"' + v + '"'
    if isinstance(v, list): return "[" + ", ".join(val(x) for x in v) + "]"
    return repr(v)
lines = ['name = "tune-reference"',
         'arch = "%s"' % os.path.join(base, t["arch"]),
         'workload = "%s"' % os.path.join(base, t["workload"]), "[set]"]
# [reference] comes after [set], and wins where both set a key.
merged = dict(flat(t.get("set", {})))
merged.update(flat(t.get("reference", {})))
for k, v in merged.items():
    lines.append("%s = %s" % (k, val(v)))
lines += ["[[axis]]", 'key = "training.seed"', "values = %s" % val(t.get("seeds", [0]))]
open(dst, "w").write("\n".join(lines) + "\n")
PY

# BENCH_TUNE_OUT=DIR keeps the tune's outputs there (a fresh folder) instead of a temporary one.
tune_out=${BENCH_TUNE_OUT:-$tmp/tune}
tw=$(timed "$bin" tune "$file" --quiet --jobs "$jobs" --out "$tune_out")
tail -3 "$tmp/last.out"
rw=$(timed "$bin" sweep run "$tmp/reference.toml" --quiet --jobs "$jobs" --out "$tmp/reference")
ti=$(images "$tune_out"/rung-*/sweep.csv)
ri=$(images "$tmp/reference/sweep.csv")
awk -v ti="$ti" -v ri="$ri" -v tw="$tw" -v rw="$rw" -v f="$file" 'BEGIN {
  printf "tune %s: %d trained images, %.2f s; its reference alone: %d trained images, %.2f s\n", f, ti, tw, ri, rw
  printf "cost ratio: %.2fx in trained images (goal <= 6x), %.2fx in wall-clock time\n", ti / ri, tw / rw }'
