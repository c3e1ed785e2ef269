#!/usr/bin/env python3
"""Writes docs/technologies.md and docs/figures/tech_*.svg from the sweeps of
scripts/compare_technologies.sh (arch/sweeps/tech-*.toml). Every number on the page is
computed here from the sweeps' sweep.csv (and the workload's batch size, from a point's
run.toml).

usage: compare_technologies.py [--wall SECONDS] [--docs DIR] NAME=SWEEP_FOLDER...
       NAME is one of nandspin, stt-mram, sot-mram, sram.
"""

import argparse
import csv
import math
import os
import statistics
import sys
import tomllib

LABELS = {
    "nandspin": "NAND-SPIN",
    "stt-mram": "STT-MRAM",
    "sot-mram": "SOT-MRAM",
    "sram": "SRAM",
}
# "Keeps the accuracy": the mean final test accuracy over the seeds is at most this many
# points below the same technology's at 3 ns.
KEEP_POINTS = 0.5
REFERENCE_NS = 3.0
PULSE = "update.program_pulse_ns"
MAC = "tile.mac"
COLOURS = {"fp16": "#4477aa", "int8": "#ee6677", "3 ns": "#4477aa", "fastest": "#228833"}


def ns(p):
    """A pulse width for text: 3, 1.5, 0.5."""
    return f"{p:g}"


def sig(v, digits=4):
    """v with `digits` significant digits, plain notation."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    d = max(digits - 1 - int(math.floor(math.log10(abs(v)))), 0)
    return f"{v:.{d}f}"


def load(folder):
    """The sweep's rows, and the workload's batch size (from its first point's run.toml)."""
    with open(os.path.join(folder, "sweep.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{folder}/sweep.csv has no rows")
    with open(os.path.join(folder, "points", rows[0]["id"], "run.toml"), "rb") as f:
        run = tomllib.load(f)
    return rows, run["workload"]["training"]["batch_size"], run["arch"]


def metrics(row, batch):
    """Per-run figures of one point (a seed at one pulse and MAC precision)."""
    f = lambda c: float(row[c])
    updates = math.ceil(f("train_images") / batch) * f("epochs")
    return {
        "accuracy": f("final_test_accuracy"),
        "write_nj_per_update": f("write_energy_pJ") / updates / 1e3,
        "program_us_per_update": f("program_ns") / updates / 1e3,
        "wu_ms": f("WU_cycles") * 1e-6 * cycle_ns(row),
        "wu_mj": f("energy_WU_pJ") / 1e9,
        "time_ms": f("time_ns") / 1e6,
        "energy_mj": f("energy_pJ") / 1e9,
        "area_mm2": f("area_mm2"),
        "cells_mm2": f("area_cells_mm2"),
        "leakage_mj": f("energy_leakage_pJ") / 1e9,
        "program_failures": f("program_failures"),
        "pulses_per_update": f("program_pulses") / updates,
        "erase_nj_per_update": f("erase_energy_pJ") / updates / 1e3,
    }


def cycle_ns(row):
    """ns per cycle (time_ns over total_cycles: the clock of the run)."""
    return float(row["time_ns"]) / float(row["total_cycles"])


def groups(rows, batch):
    """{(pulse or None, mac): {metric: [values over seeds]}}."""
    out = {}
    for r in rows:
        key = (float(r[PULSE]) if PULSE in r else None, r[MAC])
        g = out.setdefault(key, {})
        for k, v in metrics(r, batch).items():
            g.setdefault(k, []).append(v)
    return out


def cell_f2(tech, g):
    """Area of one cell in F², from the cells' area in the CSV and the chip's geometry in
    run.toml (every cell of every subarray: the same number for all four memories)."""
    a, row = tech["arch"], tech["rows"][0]
    cells = (float(row["tiles"]) * a["tile"]["subarrays"] * a["subarray"]["rows"]
             * a["subarray"]["columns"] * a["weights"]["bits"])
    f2_mm2 = (a["tech"]["node_nm"] * 1e-6) ** 2
    return mean(g, "cells_mm2") / (cells * f2_mm2)


def mean(g, k):
    return statistics.fmean(g[k])


def fastest(gs):
    """The shortest pulse whose mean accuracy keeps within KEEP_POINTS of 3 ns (None for
    technologies without a pulse axis)."""
    pulses = sorted({p for p, _ in gs if p is not None})
    if not pulses:
        return None
    mac = sorted({m for _, m in gs})[0]
    ref = mean(gs[(REFERENCE_NS, mac)], "accuracy")
    ok = [p for p in pulses if mean(gs[(p, mac)], "accuracy") >= ref - KEEP_POINTS / 100]
    return min(ok)


def bar_svg(path, title, unit, categories, series):
    """Grouped horizontal bars: `categories` (labels), `series` [(name, [value per
    category])]."""
    n_s = len(series)
    bar_h, gap, left, width = 16, 14, 190, 420
    top = 48
    height = top + len(categories) * (n_s * bar_h + gap) + 40
    vmax = max(v for _, vals in series for v in vals) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{title}</text>',
        f'<text x="10" y="38" fill="#555">{unit}</text>',
    ]
    y = top
    for i, c in enumerate(categories):
        out.append(
            f'<text x="{left - 8}" y="{y + n_s * bar_h / 2 + 4}" text-anchor="end">{c}</text>'
        )
        for name, vals in series:
            w = width * vals[i] / vmax
            colour = COLOURS.get(name, "#888")
            out.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colour}"/>'
            )
            out.append(
                f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 5}">{sig(vals[i])}</text>'
            )
            y += bar_h
        y += gap
    lx = left
    for name, _ in series:
        out.append(
            f'<rect x="{lx}" y="{height - 24}" width="12" height="12" '
            f'fill="{COLOURS.get(name, "#888")}"/>'
        )
        out.append(f'<text x="{lx + 16}" y="{height - 14}">{name}</text>')
        lx += 110
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wall", type=int, default=None)
    ap.add_argument("--docs", default="docs")
    ap.add_argument("sweeps", nargs="+")
    a = ap.parse_args()
    data = {}
    for spec in a.sweeps:
        name, folder = spec.split("=", 1)
        if name not in LABELS:
            sys.exit(f"unknown technology {name!r} (one of {', '.join(LABELS)})")
        rows, batch, arch = load(folder)
        data[name] = {"groups": groups(rows, batch), "rows": rows, "arch": arch, "folder": folder}
    techs = [t for t in LABELS if t in data]
    for t in techs:
        data[t]["fastest"] = fastest(data[t]["groups"])
    macs = sorted({m for t in techs for _, m in data[t]["groups"]})
    first = data[techs[0]]["rows"][0]
    seeds = sorted({r["seed"] for r in data[techs[0]]["rows"]})

    def pick(t, which, mac):
        """The group of technology t at 3 ns ("3 ns") or its fastest pulse."""
        p = None if data[t]["fastest"] is None else (
            REFERENCE_NS if which == "3 ns" else data[t]["fastest"])
        return data[t]["groups"][(p, mac)]

    lines = []
    w = lines.append
    w("# NAND-SPIN against STT-MRAM, SOT-MRAM and SRAM")
    w("")
    w("The same chip (`arch/nandspin.toml`: "
      f"{first['tiles']} tiles, the default organisation) with its weights in four memories, "
      "training the same workload: "
      f"`{first['workload']}`, {first['epochs']} epochs of {first['train_images']} images, "
      f"seeds {', '.join(seeds)}, 8-bit weights. "
      "The memories: `arch/nandspin.toml` (NAND-SPIN strings: SOT erase, then STT programs "
      "0 -> 1), `arch/stt-mram.toml` (1T1MTJ cells written both ways by STT, P -> AP needing "
      "more current), `arch/sot-mram.toml` (2T1MTJ cells written through their own "
      "heavy-metal line) and `arch/sram.toml` (exact 6T cells that leak). Only the weight "
      "memory differs; every default and its source is in those files and in "
      "[config.md](config.md#memory-technologies-stt-sot-sram).")
    w("")
    trainings = sum(len({(r.get(PULSE), r["seed"]) for r in data[t]["rows"]}) for t in techs)
    wall = (f" The run that wrote this page took {a.wall} s of wall-clock time on a 2-core "
            f"machine for the sweeps' {trainings} trainings; like `nandspin sweep run`, the "
            "script reuses the points a previous run finished (delete `runs/sweeps/tech-*` to "
            "time the whole comparison)." if a.wall is not None else "")
    w("This page, its tables and figures are written by `scripts/compare_technologies.sh` from "
      "the sweeps `arch/sweeps/tech-*.toml` (every number is computed from their `sweep.csv`; "
      f"rerun the script to regenerate them).{wall}")
    w("")
    w("Each MRAM trains at write pulses of "
      + ", ".join(ns(p) for p in sorted({p for p, _ in data[techs[0]]["groups"] if p}, reverse=True))
      + " ns. **Its fastest pulse that keeps the accuracy** is the shortest whose mean final "
      f"test accuracy over the seeds is at most {KEEP_POINTS} points below its own at "
      f"{ns(REFERENCE_NS)} ns. SRAM writes take `sram.access_ns` whatever the pulse. The MAC "
      "precision (`tile.mac`) changes the cost only: both precisions share each training.")
    w("")
    w("## Accuracy against the write pulse")
    w("")
    pulses = sorted({p for t in techs for p, _ in data[t]["groups"] if p is not None}, reverse=True)
    w("| memory | " + " | ".join(f"{ns(p)} ns" for p in pulses) + " | fastest that keeps it |")
    w("|---|" + "---|" * (len(pulses) + 1))
    mac0 = macs[0]
    for t in techs:
        g = data[t]["groups"]
        span = lambda acc: (
            f"{100 * statistics.fmean(acc):.2f} ({100 * min(acc):.2f}-{100 * max(acc):.2f})")
        if data[t]["fastest"] is None:
            cells = ["-"] * len(pulses)
            fast = f"exact writes: {span(g[(None, mac0)]['accuracy'])}"
        else:
            cells = [span(g[(p, mac0)]["accuracy"]) for p in pulses]
            fast = f"{ns(data[t]['fastest'])} ns"
        w(f"| {LABELS[t]} | " + " | ".join(cells) + f" | {fast} |")
    w("")
    w("Final test accuracy in %, mean over the seeds (lowest-highest).")
    w("")

    cols = [
        ("accuracy (%)", lambda g: 100 * mean(g, "accuracy")),
        ("write energy / update (nJ)", lambda g: mean(g, "write_nj_per_update")),
        ("program time / update (µs)", lambda g: mean(g, "program_us_per_update")),
        ("WU time (ms)", lambda g: mean(g, "wu_ms")),
        ("WU energy (mJ)", lambda g: mean(g, "wu_mj")),
        ("training time (ms)", lambda g: mean(g, "time_ms")),
        ("training energy (mJ)", lambda g: mean(g, "energy_mj")),
        ("area (mm²)", lambda g: mean(g, "area_mm2")),
        ("cell area (mm²)", lambda g: mean(g, "cells_mm2")),
        ("leakage (mJ)", lambda g: mean(g, "leakage_mj")),
    ]
    for mac in macs:
        w(f"## Cost of the training, {mac} MACs")
        w("")
        w("| memory | pulse | " + " | ".join(c for c, _ in cols) + " |")
        w("|---|---|" + "---|" * len(cols))
        for t in techs:
            whiches = ["3 ns"] if data[t]["fastest"] is None else ["3 ns", "fastest"]
            for which in whiches:
                g = pick(t, which, mac)
                if data[t]["fastest"] is None:
                    pulse = "exact"
                elif which == "3 ns":
                    pulse = f"{ns(REFERENCE_NS)} ns"
                else:
                    pulse = f"{ns(data[t]['fastest'])} ns (fastest)"
                w(f"| {LABELS[t]} | {pulse} | " + " | ".join(sig(f(g)) for _, f in cols) + " |")
        w("")
    w("Per update: over the training's weight updates (one per batch). *Write energy*: the "
      "weight memory's erase, program and read-before-write energy (`write_energy_pJ`); "
      "*program time*: the write pulses' durations summed over the write units (`program_ns`); "
      "*WU*: the weight-update phase on the chip (`WU_cycles`, `energy_WU_pJ`: optimiser "
      "MACs and the writes); *training*: the whole simulated training (`time_ns`, "
      "`energy_pJ`); *leakage*: of every tile, and of the SRAM cells with `sram` "
      "(`energy_leakage_pJ`); *area*: `area_mm2` and its `area_cells_mm2` "
      "([reports.md](reports.md)).")
    w("")

    figs = os.path.join(a.docs, "figures")
    os.makedirs(figs, exist_ok=True)
    cats = [LABELS[t] for t in techs]
    at = lambda t, mac: pick(t, "fastest", mac)
    charts = [
        ("tech_energy", "Training energy at each memory's fastest pulse", "mJ",
         [(m, [mean(at(t, m), "energy_mj") for t in techs]) for m in macs]),
        ("tech_wu_energy", "Weight-update energy at 3 ns and at the fastest pulse", "mJ (fp16 MACs)",
         [(which, [mean(pick(t, which, macs[0]), "wu_mj") for t in techs]) for which in ("3 ns", "fastest")]),
        ("tech_write_energy", "Write energy per update at 3 ns and at the fastest pulse", "nJ",
         [(which, [mean(pick(t, which, macs[0]), "write_nj_per_update") for t in techs]) for which in ("3 ns", "fastest")]),
        ("tech_time", "Training time at 3 ns and at the fastest pulse", "ms (fp16 MACs)",
         [(which, [mean(pick(t, which, macs[0]), "time_ms") for t in techs]) for which in ("3 ns", "fastest")]),
        ("tech_area", "Chip area", "mm²",
         [("fastest", [mean(at(t, macs[0]), "area_mm2") for t in techs])]),
    ]
    w("## Figures")
    w("")
    for name, title, unit, series in charts:
        bar_svg(os.path.join(figs, f"{name}.svg"), title, unit, cats, series)
        w(f"![{title}](figures/{name}.svg)")
        w("")
    # The NAND-SPIN literature's claims, beside ours.
    w("## Against the NAND-SPIN literature")
    w("")
    claims = []
    if {"nandspin", "stt-mram"} <= set(techs):
        n3, s3 = pick("nandspin", "3 ns", macs[0]), pick("stt-mram", "3 ns", macs[0])
        ratio = mean(s3, "write_nj_per_update") / mean(n3, "write_nj_per_update")
        if 3.0 <= ratio <= 5.0:
            verdict, why = "agree", (
                "NAND-SPIN pulses fewer bits, and cheaper ones, per update than STT-MRAM's "
                "read-before-write.")
        elif ratio > 5.0:
            verdict, why = "find more than claimed", (
                "NAND-SPIN pulses far fewer bits per update than STT-MRAM here.")
        else:
            verdict, why = "do not agree", (
                "every NAND-SPIN rewrite erases the whole string and programs every 1 of its "
                "code again, changed or not "
                f"({sig(mean(n3, 'pulses_per_update'))} program pulses and "
                f"{sig(mean(n3, 'erase_nj_per_update'))} nJ of erase per update), while an STT "
                "word is read and only its changed bits are pulsed "
                f"({sig(mean(s3, 'pulses_per_update'))} pulses per update). Both write at "
                "the same current here (`update.program_current_ua`); the paper credits "
                "NAND-SPIN's one-way programming with a lower switching current and a smaller "
                "access transistor, which this chip does not model")
        claims.append(
            f"- **Write energy, NAND-SPIN against STT-MRAM.** Z. Wang et al., \"High-density "
            f"NAND-like spin transfer torque memory with spin orbit torque erase operation\", "
            f"IEEE EDL 39(3), 343 (2018), claim 3-5x less write energy than STT-MRAM. Here, at "
            f"3 ns, STT-MRAM spends {sig(ratio, 3)}x NAND-SPIN's write energy per update "
            f"({sig(mean(s3, 'write_nj_per_update'))} against "
            f"{sig(mean(n3, 'write_nj_per_update'))} nJ): we {verdict}. Why: {why}.")
        pf = pick("stt-mram", "fastest", macs[0])
        nf = pick("nandspin", "fastest", macs[0])
        claims.append(
            f"- **Fastest reliable write.** Both MRAMs written by STT keep the accuracy down to "
            f"{ns(data['nandspin']['fastest'])} ns (NAND-SPIN) and "
            f"{ns(data['stt-mram']['fastest'])} ns (STT-MRAM) in this workload, with the "
            f"update rules of the arch files (no master copy, no verify); their program time "
            f"per update there: {sig(mean(nf, 'program_us_per_update'))} µs against "
            f"{sig(mean(pf, 'program_us_per_update'))} µs.")
    if {"nandspin", "sot-mram"} <= set(techs):
        n, s = pick("nandspin", "fastest", macs[0]), pick("sot-mram", "fastest", macs[0])
        f2_sot, f2_nand = cell_f2(data["sot-mram"], s), cell_f2(data["nandspin"], n)
        ca = f2_sot / f2_nand
        claims.append(
            f"- **Density, NAND-SPIN against SOT-MRAM.** Wang et al. (2018) claim 2-4x less "
            f"bit-cell area than SOT-MRAM at 28 nm. Our cell areas are inputs, not findings: "
            f"{sig(f2_sot, 3)} F² against {sig(f2_nand, 3)} F² per bit, {sig(ca, 3)}x, "
            f"taken inside the claimed range; so the weight cells take "
            f"{sig(mean(s, 'cells_mm2'))} against {sig(mean(n, 'cells_mm2'))} mm². The chip's "
            f"area moves far less ({sig(mean(s, 'area_mm2'))} against "
            f"{sig(mean(n, 'area_mm2'))} mm²): its SRAM buffers and MAC lanes dominate it.")
        others = {t: mean(pick(t, "fastest", macs[0]), "wu_ms")
                  for t in ("nandspin", "stt-mram") if t in techs}
        shortest = all(mean(s, "wu_ms") < v for v in others.values())
        rank = "the shortest of the MRAMs" if shortest else "not the shortest of the MRAMs"
        claims.append(
            f"- **SOT's speed.** SOT-MRAM writes reliably down to "
            f"{ns(data['sot-mram']['fastest'])} ns here (with the switching table of "
            "`arch/sot-mram.toml`, after K. Garello et al., Appl. Phys. Lett. 105, 212402 "
            f"(2014)), so its weight update is {rank}: {sig(mean(s, 'wu_ms'))} ms of WU "
            f"against {sig(mean(n, 'wu_ms'))} ms for NAND-SPIN at its fastest pulse. The "
            "NAND-SPIN papers trade SOT's speed for density (K. Shi et al., IEEE EDL 42(4), "
            "513 (2021), report the joint SOT-STT write faster and more efficient than STT "
            "alone, not than SOT).")
    if "sram" in techs:
        r = pick("sram", "3 ns", macs[0])
        n = pick("nandspin", "fastest", macs[0]) if "nandspin" in techs else None
        extra = ""
        if n is not None:
            extra = (f" against {sig(mean(n, 'leakage_mj'))} mJ with NAND-SPIN, whose cells "
                     "do not leak")
        claims.append(
            f"- **SRAM.** Exact and fast, it leaks {sig(mean(r, 'leakage_mj'))} mJ over the "
            f"training{extra}, and its {sig(cell_f2(data['sram'], r), 3)} F² cells make a "
            f"chip of {sig(mean(r, 'area_mm2'))} mm².")
    w("\n".join(claims))
    w("")
    w("Where the whole training's energy barely moves between memories, the MACs are why: "
      "the weights are written once per batch, while every image costs its MACs. At int8 MACs "
      "the memories' share of the energy grows (see the second table).")
    os.makedirs(a.docs, exist_ok=True)
    tmp = os.path.join(a.docs, "technologies.md.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(a.docs, "technologies.md"))
    print(f"wrote {a.docs}/technologies.md and {figs}/tech_*.svg", file=sys.stderr)


if __name__ == "__main__":
    main()
