#!/usr/bin/env bash
# The tile-count study: builds nandspin, runs the tile sweeps of LeNet-5 and the VGG-style
# network (arch/sweeps/tiles-lenet.toml, arch/sweeps/tiles-vgg.toml; points already finished
# are reused, as `nandspin sweep run` does), draws their figures with `nandspin plot`, copies
# the per-image time, energy, energy-delay product, area and utilisation figures to
# docs/figures/tiles_<workload>_<metric>.svg and writes docs/tiles.md from the sweeps' CSV
# files (scripts/tile_study.py).
#
# usage: scripts/tile_study.sh [SWEEP-RUN-OPTIONS...]
#   e.g. scripts/tile_study.sh --set training.max_train_images=256   (a quick look)
# Options are passed to every `nandspin sweep run`. The environment can redirect it (the
# test tests/tile_study.rs does):
#   NANDSPIN           the binary to use; set, nothing is built
#   TILE_STUDY_SWEEPS  the sweep files, `KEY=FILE` separated by spaces
#                      (default: lenet=arch/sweeps/tiles-lenet.toml vgg=arch/sweeps/tiles-vgg.toml)
#   TILE_STUDY_RUNS    folder of the sweeps' output folders (default: runs/sweeps)
#   TILE_STUDY_DOCS    folder of the page and of figures/ (default: docs)
#   TILE_STUDY_JOBS    trainings at once (default: 2)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s.%N)

if [[ -z "${NANDSPIN:-}" ]]; then
  cargo build --release --quiet
  NANDSPIN="${CARGO_TARGET_DIR:-target}/release/nandspin"
fi
sweeps=${TILE_STUDY_SWEEPS:-lenet=arch/sweeps/tiles-lenet.toml vgg=arch/sweeps/tiles-vgg.toml}
runs=${TILE_STUDY_RUNS:-runs/sweeps}
docs=${TILE_STUDY_DOCS:-docs}
jobs=${TILE_STUDY_JOBS:-2}
mkdir -p "$docs/figures"

# name of a sweep: its `name` key, else the file's stem
sweep_name() {
  local n
  n=$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$1" | head -n 1)
  echo "${n:-$(basename "$1" .toml)}"
}

args=()
for spec in $sweeps; do
  key=${spec%%=*}
  file=${spec#*=}
  out="$runs/$(sweep_name "$file")"
  echo "== $key: $file -> $out" >&2
  line=$("$NANDSPIN" sweep run "$file" --jobs "$jobs" --out "$out" --quiet "$@" | tail -n 1)
  echo "$line" >&2
  "$NANDSPIN" plot "$out" > /dev/null
  for m in time:time_per_image energy:energy_per_image edp:edp_per_image area:area_mm2 \
           compute:utilisation_compute drivers:utilisation_write_drivers; do
    cp "$out/plots/${m#*:}_vs_chip-tiles.svg" "$docs/figures/tiles_${key}_${m%%:*}.svg"
  done
  args+=(--sweep "$key=$out=$line")
done

wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
python3 scripts/tile_study.py --bin "$NANDSPIN" --out "$docs/tiles.md" --figures figures/ \
  --wall-s "$wall" "${args[@]}"
echo "wrote $docs/tiles.md and $docs/figures/tiles_*.svg in $wall s" >&2
