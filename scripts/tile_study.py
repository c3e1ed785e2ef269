#!/usr/bin/env python3
"""Writes the tile-count study page (docs/tiles.md) from the output folders of the tile sweeps.

Called by scripts/tile_study.sh after the sweeps have run and `nandspin plot` has drawn their
figures; Python standard library only. Every number on the page is read from, or computed
from, the sweeps' CSV files (sweep.csv and each point's components.csv), apart from the
weights' subarray needs, which come from `nandspin map` on the sweep's own configuration.

usage: tile_study.py --bin NANDSPIN --out PAGE --figures DIR --figure-prefix PREFIX
                     --wall-s SECONDS --sweep KEY=DIR[=LINE] [--sweep ...]

KEY names the workload on the page and in the figure file names (tiles_<KEY>_<metric>.svg,
copied by the shell script); DIR is the sweep's output folder; LINE is the sweep command's
final line (what it ran and how long it took).
"""

import argparse
import csv
import math
import os
import subprocess
import sys
import tomllib

# The knee rules. Both are stated on the page with these values.
EDP_WITHIN = 0.10  # the EDP knee: the smallest tile count within 10 % of the lowest EDP
TIME_SPEEDUP = 4.0 / 3.0  # the time knee: doublings from there on speed up by less than this

# The figures of each workload: file suffix, `nandspin plot` metric, caption.
FIGURES = [
    ("time", "time_per_image", "simulated training time per image"),
    ("energy", "energy_per_image", "chip energy per training image"),
    ("edp", "edp_per_image", "energy-delay product per image"),
    ("area", "area_mm2", "chip area"),
    ("compute", "utilisation_compute", "utilisation of the compute units (MAC lanes)"),
    ("drivers", "utilisation_write_drivers", "utilisation of the write drivers"),
]

# The energy components of summary.csv (`energy_<name>_pJ`) and their names on the page.
COMPONENTS = {
    "erase": "erase pulses",
    "program": "program pulses",
    "read": "MTJ reads",
    "mac": "MACs",
    "buffer": "tile buffers",
    "noc": "network",
    "dram": "DRAM",
    "leakage": "leakage",
    "master": "master SRAM",
    "rng": "random bits",
}

TILES = "chip.tiles"
PULSE = "update.program_pulse_ns"


def sig(v, digits=4):
    """`v` rounded to `digits` significant digits, in plain (not scientific) notation."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    places = digits - 1 - math.floor(math.log10(abs(v)))
    if places <= 0:
        return f"{round(v, places):.0f}"
    return f"{v:.{places}f}"


def num(text):
    return float(text) if text not in (None, "") else None


def fmt_tiles(t):
    return str(int(t)) if float(t).is_integer() else str(t)


def tiles_of(t):
    """`1 tile`, `8 tiles`."""
    return f"{fmt_tiles(t)} tile" + ("" if t == 1 else "s")


def fmt_pulse(v):
    return f"{v:g}"


def utilisation(components_csv, kind, total_cycles):
    """Chip-wide utilisation of one kind of component: sum busy / (sum servers x time)."""
    busy = servers = 0.0
    with open(components_csv, newline="") as f:
        for row in csv.DictReader(f):
            if row["component"] == kind:
                busy += float(row["busy_cycles"])
                servers += float(row["servers"])
    if servers <= 0 or total_cycles <= 0:
        return None
    return busy / (servers * total_cycles)


def read_sweep(folder):
    """The sweep's points with their derived metrics, in `sweep.csv` order."""
    points = []
    with open(os.path.join(folder, "sweep.csv"), newline="") as f:
        for row in csv.DictReader(f):
            images = float(row["train_images"]) * float(row["epochs"])
            time_us = float(row["time_ns"]) / images / 1e3
            energy_uj = float(row["energy_pJ"]) / images / 1e6
            total = float(row["total_cycles"])
            comp = os.path.join(folder, "points", row["id"], "components.csv")
            points.append(
                {
                    "row": row,
                    "tiles": float(row[TILES]),
                    "pulse": float(row[PULSE]),
                    "images": images,
                    "time_us": time_us,
                    "energy_uj": energy_uj,
                    "edp": time_us * energy_uj,
                    "area": float(row["area_mm2"]),
                    "util_compute": utilisation(comp, "compute", total),
                    "util_drivers": utilisation(comp, "write_drivers", total),
                    "folds": int(row["folds"]),
                    "shares": {
                        c: float(row[f"energy_{c}_pJ"]) / float(row["energy_pJ"])
                        for c in COMPONENTS
                    },
                }
            )
    return points


def edp_knee(series):
    """The smallest tile count whose EDP is within EDP_WITHIN of the lowest, and the lowest."""
    best = min(series, key=lambda p: (p["edp"], p["tiles"]))
    knee = min(
        (p for p in series if p["edp"] <= best["edp"] * (1 + EDP_WITHIN)),
        key=lambda p: p["tiles"],
    )
    return knee, best


def time_knee(series):
    """The smallest tile count from which every doubling in the sweep speeds training up by
    less than TIME_SPEEDUP; None when the last doubling still does (the knee lies beyond)."""
    by_tiles = {p["tiles"]: p for p in series}
    doublings = sorted(t for t in by_tiles if 2 * t in by_tiles)
    knee = None
    for t in reversed(doublings):
        speedup = by_tiles[t]["time_us"] / by_tiles[2 * t]["time_us"]
        if speedup >= TIME_SPEEDUP:
            break
        knee = by_tiles[t]
    return knee, {t: by_tiles[t]["time_us"] / by_tiles[2 * t]["time_us"] for t in doublings}


def map_needs(binary, point_dir):
    """Each layer's least subarrays (`nandspin map --csv` under pack on a large chip) and the
    subarrays of a tile, for the configuration of the point in `point_dir`."""
    with open(os.path.join(point_dir, "run.toml"), "rb") as f:
        record = tomllib.load(f)
    run = record["run"]
    args = [binary, "map", "--csv", "--arch", run["arch_file"], "--workload", run["workload_file"]]
    for o in run.get("overrides", []):
        if not o.startswith(("chip.tiles=", "chip.mapping=")):
            args += ["--set", o]
    args += ["--set", "chip.tiles=65536", "--set", "chip.mapping=pack"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    layers = [(r["layer"], int(r["subarrays"])) for r in csv.DictReader(out.splitlines())]
    return layers, int(record["arch"]["tile"]["subarrays"])


def table(points):
    head = (
        "| tiles | pulse (ns) | folds | tiles used | time / image (µs) | energy / image (µJ) "
        "| EDP / image (µJ·µs) | area (mm²) | compute util. (%) | write-driver util. (%) |"
    )
    lines = [head, "|" + "---|" * 10]
    for p in sorted(points, key=lambda p: (-p["pulse"], p["tiles"])):
        pct = lambda u: "" if u is None else sig(100 * u)
        lines.append(
            f"| {fmt_tiles(p['tiles'])} | {fmt_pulse(p['pulse'])} | {p['folds']} | "
            f"{p['row']['tiles_used']} | {sig(p['time_us'])} | {sig(p['energy_uj'])} | "
            f"{sig(p['edp'])} | {sig(p['area'])} | {pct(p['util_compute'])} | "
            f"{pct(p['util_drivers'])} |"
        )
    return "\n".join(lines)


def fold_counts(points):
    """The fold counts of `points`: `2`, or `4 to 10` when they differ."""
    lo, hi = min(p["folds"] for p in points), max(p["folds"] for p in points)
    return str(hi) if lo == hi else f"{lo} to {hi}"


def paragraph(key, pulse, series):
    t = lambda p: fmt_tiles(p["tiles"])
    fitting = [p for p in series if p["folds"] == 1]
    first, last = series[0], series[-1]
    fits = min(fitting, key=lambda p: p["tiles"]) if fitting else None
    swapping = [p for p in series if p["folds"] > 1]
    out = [f"**{fmt_pulse(pulse)} ns pulse.**"]
    if fits and swapping:
        worst = max(swapping, key=lambda p: p["tiles"])
        out.append(
            f"The weights fit from {tiles_of(fits['tiles'])} on; with "
            f"{tiles_of(swapping[-1]['tiles']) if len(swapping) == 1 else ', '.join(t(p) for p in swapping) + ' tiles'} "
            f"the chip swaps them through DRAM in {fold_counts(swapping)} folds "
            f"({sig(worst['time_us'])} µs and {sig(worst['energy_uj'])} µJ per image on "
            f"{tiles_of(worst['tiles'])}, against {sig(fits['time_us'])} µs and "
            f"{sig(fits['energy_uj'])} µJ on {t(fits)})."
        )
    elif fits:
        out.append(f"The weights fit at every tile count of the sweep ({t(fits)} and up).")
    else:
        out.append("The weights do not fit at any tile count of the sweep: every point swaps.")
    knee_t, speedups = time_knee(series)
    if knee_t is not None:
        s = speedups[knee_t["tiles"]]
        out.append(
            f"Time per image falls from {sig(first['time_us'])} µs on {tiles_of(first['tiles'])} to "
            f"{sig(last['time_us'])} µs on {t(last)}; from {t(knee_t)} tiles on, every doubling "
            f"speeds training up by less than {sig(TIME_SPEEDUP, 3)}x ({t(knee_t)} to "
            f"{fmt_tiles(2 * knee_t['tiles'])}: {sig(s, 3)}x), so time's knee is at "
            f"**{tiles_of(knee_t['tiles'])}**."
        )
    else:
        top = max(speedups) if speedups else None
        more = (
            f" (the last doubling, {fmt_tiles(top)} to {fmt_tiles(2 * top)}, still gives "
            f"{sig(speedups[top], 3)}x)"
            if top is not None
            else ""
        )
        out.append(
            f"Time per image falls from {sig(first['time_us'])} µs on {tiles_of(first['tiles'])} to "
            f"{sig(last['time_us'])} µs on {t(last)}, and doubling the tiles still pays at the "
            f"end of the sweep{more}: time's knee lies beyond {t(last)} tiles."
        )
    low_e = min(series, key=lambda p: (p["energy_uj"], p["tiles"]))
    # The component whose energy per image grows most from the cheapest point to the last.
    grow = max(
        COMPONENTS,
        key=lambda c: last["shares"][c] * last["energy_uj"] - low_e["shares"][c] * low_e["energy_uj"],
    )
    out.append(
        f"Energy per image is lowest on {tiles_of(low_e['tiles'])} ({sig(low_e['energy_uj'])} µJ) "
        f"and reaches {sig(last['energy_uj'])} µJ on {tiles_of(last['tiles'])}; what grows most "
        f"is the {COMPONENTS[grow]}: {sig(100 * last['shares'][grow], 3)} % of the energy on "
        f"{tiles_of(last['tiles'])} against {sig(100 * low_e['shares'][grow], 3)} % on "
        f"{tiles_of(low_e['tiles'])} (MACs: {sig(100 * last['shares']['mac'], 3)} % and "
        f"{sig(100 * low_e['shares']['mac'], 3)} %)."
    )
    knee, best = edp_knee(series)
    out.append(
        f"The energy-delay product is lowest on {tiles_of(best['tiles'])} ({sig(best['edp'])} µJ·µs); "
        f"the smallest tile count within {sig(100 * EDP_WITHIN, 2)} % of it is "
        f"**{tiles_of(knee['tiles'])}** ({sig(knee['edp'])} µJ·µs), the EDP knee: there the compute "
        f"units are busy {sig(100 * knee['util_compute'], 3)} % of the time, the write drivers "
        f"{sig(100 * knee['util_drivers'], 3)} %, and the chip takes {sig(knee['area'])} mm²."
    )
    return " ".join(out)


def pulse_effect(points):
    """The largest relative difference between the pulse widths, at equal tile counts."""
    by = {}
    for p in points:
        by.setdefault(p["tiles"], []).append(p)
    worst = {"time_us": 0.0, "energy_uj": 0.0}
    for group in by.values():
        for k in worst:
            vals = [p[k] for p in group]
            if len(vals) > 1:
                worst[k] = max(worst[k], (max(vals) - min(vals)) / min(vals))
    return worst


def section(key, folder, line, binary, prefix):
    points = read_sweep(folder)
    row = points[0]["row"]
    tiles = sorted({p["tiles"] for p in points})
    pulses = sorted({p["pulse"] for p in points}, reverse=True)
    layers, per_tile = map_needs(binary, os.path.join(folder, "points", row["id"]))
    total = sum(n for _, n in layers)
    big = max(layers, key=lambda l: l[1])
    accs = ", ".join(
        f"{fmt_pulse(pl)} ns: {sig(100 * float(next(p for p in points if p['pulse'] == pl)['row']['final_test_accuracy']), 3)} %"
        for pl in pulses
    )
    lines = [
        f"## {row['workload']}",
        "",
        f"{row['parameters']} parameters; {int(float(row['train_images']))} training images x "
        f"{row['epochs']} epoch{'' if row['epochs'] == '1' else 's'} = "
        f"{int(points[0]['images'])} images trained per point, "
        f"{row['test_images']} test images; tile counts "
        f"{', '.join(fmt_tiles(t) for t in tiles)}; program pulses "
        f"{', '.join(fmt_pulse(p) + ' ns' for p in pulses)}; {len(points)} points "
        f"(`{line}`).",
        "",
        f"`nandspin map` places the weights in {total} subarrays at the least ({per_tile} per "
        f"tile: {math.ceil(total / per_tile)} tiles hold them all); the largest layer, "
        f"{big[0]}, needs {big[1]} alone, so "
        + (
            "a single tile can run it by swapping. "
            if big[1] <= per_tile
            else f"a chip of fewer than {math.ceil(big[1] / per_tile)} tiles cuts it into equal parts, "
            "each swapped in as a fold of its own. "
        )
        + "Final test accuracy "
        f"(not the point of this study): {accs}.",
        "",
    ]
    for suffix, _, caption in FIGURES:
        lines.append(f"![{row['workload']}: {caption}]({prefix}tiles_{key}_{suffix}.svg)")
    lines += ["", table(points), ""]
    for pl in pulses:
        series = sorted((p for p in points if p["pulse"] == pl), key=lambda p: p["tiles"])
        lines += [paragraph(key, pl, series), ""]
    eff = pulse_effect(points)
    if len(pulses) > 1:
        lines += [
            f"Between the pulse widths, time per image differs by at most "
            f"{sig(100 * eff['time_us'], 3)} % and energy per image by at most "
            f"{sig(100 * eff['energy_uj'], 3)} % at any tile count.",
            "",
        ]
    return "\n".join(lines), points


HEADER = """# Picking a tile count

How a training's time, energy, energy-delay product, area and utilisation change with the
number of tiles (`chip.tiles`), for LeNet-5 and a VGG-style network, at program pulses of 3 ns
and 1 ns: the page to read before choosing a tile count. It is a **cost study**: each point
trains for one epoch on a subset of the images: enough for the chip's cost per training image,
which the MACs (a fixed number per image) dominate and the weight writes (which change as
training goes on) hardly move, not for a trained network; accuracy is not its point. Too few tiles for the weights swap them through DRAM
(`chip.on_overflow = "swap"`, [config.md](config.md#when-the-weights-do-not-fit-chipon_overflow)).
Everything else is the default chip of `arch/nandspin.toml` ({subarrays} subarrays of {strings}
strings and {lanes} MAC lanes per tile, {area} mm² a tile as the area model gives it), apart from the VGG sweep's larger
tile buffer (see its sweep file).

This page, its tables and figures are written by `scripts/tile_study.sh` from the sweeps'
CSV files (`arch/sweeps/tiles-lenet.toml`, `arch/sweeps/tiles-vgg.toml`); {wall}

## What is measured

All per image: over every training image the chip ran (`train_images` x `epochs` of
`summary.csv`); the figures' tile axis is logarithmic.

| quantity | from ([reports.md](reports.md)) |
|---|---|
| time / image | simulated training time `time_ns` / images, µs |
| energy / image | chip energy `energy_pJ` / images, µJ (MACs, weight reads and writes, buffers, network, DRAM, swapping, leakage of every tile) |
| EDP / image | energy / image x time / image, µJ·µs |
| area | `area_mm2`: tiles x the modelled tile (weight cells, subarray periphery, buffer, compute unit) at `tech.node_nm` |
| compute util. | of the compute units (every tile's MAC lanes, idle tiles included): sum of their `busy_cycles` in `components.csv` / (their count x `total_cycles`). A unit is busy while it does MACs or waits for the weight reads they need |
| write-driver util. | of the write drivers of the subarrays that hold strings: sum of the `write_drivers` rows' `busy_cycles` (string writes of the updates and of swap-in, summed over drivers) / (sum of their `servers` x `total_cycles`) |
| folds | `folds` of `summary.csv`: 1 when the weights fit, else the folds swapped through DRAM |

`nandspin plot` draws the same quantities for any sweep folder ([plots.md](plots.md)).

**Knees.** Where adding tiles stops paying, by two rules applied to each pulse width's curve:

- *EDP knee*: the smallest tile count whose energy-delay product per image is within
  {within} % of the lowest in the sweep.
- *time knee*: the smallest tile count from which every doubling of the tiles in the sweep
  speeds training up by less than {speedup}x (two thirds of the ideal 2x).
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--figures", required=True, help="folder of the figures, as the page links it")
    ap.add_argument("--wall-s", type=float, required=True)
    ap.add_argument("--sweep", action="append", required=True)
    a = ap.parse_args()
    minutes, seconds = divmod(round(a.wall_s), 60)
    try:
        load = f" whose load average over the last 15 minutes was {os.getloadavg()[2]:.1f} at the end"
    except OSError:
        load = ""
    wall = (
        "regenerate them with\n\n```\nscripts/tile_study.sh\n```\n\n"
        f"The run that wrote this page took {minutes} min {seconds} s of wall-clock time "
        f"(building, both sweeps, figures and page) on a 2-core machine{load}; each sweep's "
        "line below says "
        "how many of its points that run computed. Like `nandspin sweep run`, the script reuses "
        "the points a previous run finished: delete `runs/sweeps/tiles-lenet` and "
        "`runs/sweeps/tiles-vgg` first to time the whole study."
    )
    # The chip of the first sweep's first point, as its run record resolved it.
    folder = a.sweep[0].split("=", 2)[1]
    with open(os.path.join(folder, "sweep.csv"), newline="") as f:
        first_row = next(csv.DictReader(f))
    first = first_row["id"]
    with open(os.path.join(folder, "points", first, "run.toml"), "rb") as f:
        arch = tomllib.load(f)["arch"]
    parts = [
        HEADER.format(
            wall=wall,
            within=sig(100 * EDP_WITHIN, 2),
            speedup=sig(TIME_SPEEDUP, 3),
            subarrays=arch["tile"]["subarrays"],
            strings=arch["subarray"]["rows"] * arch["subarray"]["columns"],
            lanes=arch["tile"]["mac_lanes"],
            area=sig(float(first_row["area_mm2"]) / float(first_row[TILES])),
        )
    ]
    for spec in a.sweep:
        key, folder, line = (spec.split("=", 2) + [""])[:3]
        line = line.split("; table:")[0].strip() or "no sweep run by this call"
        text, _ = section(key, folder, line, a.bin, a.figures)
        parts.append(text)
    page = "\n".join(parts).rstrip() + "\n"
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, a.out)


if __name__ == "__main__":
    try:
        main()
    except (OSError, KeyError, ValueError, subprocess.CalledProcessError) as e:
        print(f"error: tile_study.py: {e}", file=sys.stderr)
        sys.exit(2)
