//! End-to-end tests of the timing and energy model through the `nandspin` binary, run the
//! way a user runs it: the bundled arch and workload (or an edited copy of the arch), `--set`
//! overrides of the `[chip]`, `[tile]`, `[subarray]`, `[noc]`, `[dram]` and `[energy]`
//! sections, reports on disk, and `nandspin map`.
//!
//! Covered: more tiles never make a run slower and never change its numerics, a chip too
//! small for the weights is refused unless it swaps folds through DRAM; shorter program
//! pulses and more write drivers shorten the weight update; timing and energy keys (by
//! `--set` or in an arch file) leave the numerics alone; the reports add up (`layers.csv`,
//! `epochs.csv`, `summary.csv`, `components.csv`); bad chip values are one-line input errors;
//! `nandspin map` (table, CSV, per-string places); the float store simulates no chip. Every
//! training run is tiny (256 images, one or two epochs), so the whole file takes seconds in
//! release mode.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The weight layers of the bundled LeNet-5, in graph order.
const WEIGHT_LAYERS: [&str; 5] = ["conv1", "conv2", "fc1", "fc2", "fc3"];

/// Strings holding LeNet-5's weights (one 8-bit weight per 8-MTJ string), biases digital.
const LENET_WEIGHT_STRINGS: u64 = 61470;
/// LeNet-5's biases: 6 + 16 + 120 + 84 + 10.
const LENET_BIASES: u64 = 236;

/// Header of `layers.csv`.
const LAYERS_HEADER: &str = "layer,phase,component,action,count,busy_cycles,energy_pJ";
/// Header of `components.csv`.
const COMPONENTS_HEADER: &str =
    "component,tile,subarray,layer,servers,busy_cycles,utilisation,bytes";
/// Header of `nandspin map --csv`.
const MAP_HEADER: &str =
    "layer,fold,strings,tiles,tile_list,subarrays,strings_per_subarray,utilisation";
/// Header of `nandspin map --strings`.
const STRINGS_HEADER: &str = "layer,tensor,string,tile,subarray,row,column";

/// Chip columns of `summary.csv`, `tiles` to `engine_events`.
const CHIP_COLUMNS: [&str; 43] = [
    "tiles",
    "tiles_used",
    "folds",
    "mapping",
    "total_cycles",
    "time_ns",
    "energy_pJ",
    "energy_FW_pJ",
    "energy_AG_pJ",
    "energy_WG_pJ",
    "energy_WU_pJ",
    "energy_SWAP_pJ",
    "energy_erase_pJ",
    "energy_program_pJ",
    "energy_read_pJ",
    "energy_mac_pJ",
    "energy_buffer_pJ",
    "energy_noc_pJ",
    "energy_dram_pJ",
    "energy_leakage_pJ",
    "energy_master_pJ",
    "energy_rng_pJ",
    "energy_operand_write_pJ",
    "energy_and_row_pJ",
    "energy_popcount_pJ",
    "energy_shift_add_pJ",
    "FW_cycles",
    "AG_cycles",
    "WG_cycles",
    "WU_cycles",
    "SWAP_cycles",
    "operand_write_bits",
    "and_rows",
    "popcounts",
    "shift_adds",
    "area_mm2",
    "area_cells_mm2",
    "area_periphery_mm2",
    "area_buffer_mm2",
    "area_compute_mm2",
    "area_master_mm2",
    "area_extra_mm2",
    "engine_events",
];

/// The phase energy columns of `summary.csv`.
const PHASE_ENERGY: [&str; 5] = [
    "energy_FW_pJ",
    "energy_AG_pJ",
    "energy_WG_pJ",
    "energy_WU_pJ",
    "energy_SWAP_pJ",
];

/// The timing and energy keys changed together in the "timing only" tests, as
/// (section, key, value); none of them may change the numerics.
const TIMING_KEYS: [(&str, &str, &str); 12] = [
    ("chip", "tiles", "8"),
    ("chip", "clock_ghz", "2"),
    ("chip", "mapping", "\"pack\""),
    ("tile", "mac_lanes", "32"),
    ("tile", "subarrays", "16"),
    ("subarray", "write_drivers", "2"),
    ("subarray", "sense_amps", "16"),
    ("noc", "bytes_per_cycle", "8"),
    ("noc", "hop_cycles", "3"),
    ("dram", "bandwidth_gb_s", "10"),
    ("energy", "mac_fp16_pj", "0.5"),
    ("energy", "tile_leakage_mw", "5"),
];

/// The numerics of a run: the columns of `epochs.csv` from `epoch` up to and including
/// `program_ns` (losses, accuracies, device counts and energies), row by row.
fn numerics(out: &Path) -> Vec<Vec<String>> {
    let (header, rows) = read_csv(&out.join("epochs.csv"));
    assert_eq!(
        header[..5],
        [
            "epoch",
            "train_loss",
            "train_accuracy",
            "test_loss",
            "test_accuracy"
        ]
    );
    assert_eq!(
        header[5..23],
        DEVICE_COLUMNS,
        "device columns of epochs.csv"
    );
    assert_eq!(header[23..], ["cycles", "energy_pJ", "wall_s"]);
    assert!(!rows.is_empty(), "epochs.csv has no rows");
    rows.into_iter().map(|r| r[..23].to_vec()).collect()
}

/// Columns 1-4 of `epochs.csv`: the losses and accuracies.
fn accuracy(out: &Path) -> Vec<Vec<String>> {
    numerics(out)
        .into_iter()
        .map(|r| r[1..5].to_vec())
        .collect()
}

/// `--set` pairs for `sets`.
fn set_args<'a>(sets: &[&'a str]) -> Vec<&'a str> {
    sets.iter().flat_map(|s| ["--set", *s]).collect()
}

/// Runs `nandspin run TINY --set SETS... --out <tmp>/name`, asserting success; returns the
/// report folder.
fn run_with(tmp: &TempDir, name: &str, sets: &[&str]) -> PathBuf {
    let out = tmp.path().join(name);
    tiny_run(&out, &set_args(sets));
    out
}

/// `layers.csv` rows by column name, after checking its header.
fn layer_rows(out: &Path) -> Vec<HashMap<String, String>> {
    let text = fs::read_to_string(out.join("layers.csv")).unwrap();
    assert_eq!(text.lines().next(), Some(LAYERS_HEADER));
    records(&out.join("layers.csv"))
}

/// The `count` of the `layers.csv` row (layer, phase, component, action), if there is one
/// (there must not be two).
fn count_of(rows: &[HashMap<String, String>], key: [&str; 4]) -> Option<u64> {
    let hits: Vec<&HashMap<String, String>> = rows
        .iter()
        .filter(|r| {
            r["layer"] == key[0]
                && r["phase"] == key[1]
                && r["component"] == key[2]
                && r["action"] == key[3]
        })
        .collect();
    assert!(hits.len() <= 1, "{key:?} appears {} times", hits.len());
    hits.first().map(|r| int(r, "count"))
}

/// Runs `nandspin map ARGS`, asserting success and a quiet standard error.
fn map_ok(args: &[&str]) -> Outcome {
    let mut all = vec!["map"];
    all.extend(args);
    let r = nandspin(&all);
    assert_eq!(
        r.code,
        Some(0),
        "nandspin {all:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stderr.is_empty(), "stderr of {all:?}: {}", r.stderr);
    r
}

/// `a == b` up to `abs` plus `rel` times the larger magnitude.
fn close(a: f64, b: f64, abs: f64, rel: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

// ---------------------------------------------------------------------------------------
// 1. Tile doubling
// ---------------------------------------------------------------------------------------

#[test]
fn more_tiles_are_never_slower_and_never_change_the_numerics() {
    let tmp = TempDir::new().unwrap();
    let mut runs: Vec<(u32, PathBuf)> = Vec::new();
    // Up to well past saturation (LeNet-5 uses at most 591 tiles): extra tiles stay idle
    // and must not slow the run down.
    for n in [2u32, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] {
        let set = format!("chip.tiles={n}");
        runs.push((n, run_with(&tmp, &format!("t{n}"), &[&set])));
    }
    let reference = numerics(&runs[0].1);
    let mut cycles: Vec<(u32, u64)> = Vec::new();
    for (n, out) in &runs {
        let s = summary(out);
        assert_eq!(int(&s, "tiles"), u64::from(*n), "tiles of chip.tiles={n}");
        assert!(int(&s, "tiles_used") <= u64::from(*n), "{n}: {s:?}");
        assert_eq!(int(&s, "folds"), 1, "{n} tiles hold LeNet-5: no folds");
        assert_eq!(num(&s, "energy_SWAP_pJ"), 0.0, "{n}: nothing is swapped");
        assert_eq!(
            numerics(out),
            reference,
            "chip.tiles={n} changed the numerics of epochs.csv"
        );
        cycles.push((*n, int(&s, "total_cycles")));
    }
    for w in cycles.windows(2) {
        assert!(
            w[1].1 <= w[0].1,
            "doubling the tiles made the run slower: {cycles:?}"
        );
    }
    let (first, last) = (cycles[0].1, cycles[cycles.len() - 1].1);
    assert!(
        last < first,
        "2048 tiles are no faster than 2 (the tile count does nothing?): {cycles:?}"
    );
}

#[test]
fn one_tile_is_refused_unless_it_swaps() {
    let msg = bad_run(&["--set", "chip.tiles=1"]);
    assert!(
        msg.starts_with("error: --set chip.tiles=1: "),
        "the error blames the --set: {msg}"
    );
    assert_contains(&msg, "chip.tiles");
    assert_contains(&msg, "on_overflow");

    let tmp = TempDir::new().unwrap();
    let two = run_with(&tmp, "two", &["chip.tiles=2"]);
    let swap = run_with(&tmp, "swap", &["chip.tiles=1", "chip.on_overflow=swap"]);
    let s = summary(&swap);
    assert_eq!(int(&s, "tiles"), 1);
    assert!(int(&s, "folds") >= 2, "folds of a 1-tile chip: {s:?}");
    assert!(num(&s, "energy_SWAP_pJ") > 0.0, "{s:?}");
    assert!(int(&s, "SWAP_cycles") > 0, "{s:?}");
    // Whole cycles cover the time (the DRAM's time is not a whole number of cycles).
    let time_ns = num(&s, "time_ns");
    assert_eq!(int(&s, "total_cycles"), time_ns.ceil() as u64, "{s:?}");
    let rows = layer_rows(&swap);
    let swap_rows: Vec<_> = rows.iter().filter(|r| r["phase"] == "SWAP").collect();
    assert!(!swap_rows.is_empty(), "no SWAP rows in layers.csv");
    let swap_energy: f64 = swap_rows.iter().map(|r| num(r, "energy_pJ")).sum();
    assert!(
        close(
            swap_energy,
            num(&s, "energy_SWAP_pJ"),
            0.001 * swap_rows.len() as f64,
            1e-9
        ),
        "SWAP rows sum to {swap_energy} pJ, summary says {}",
        s["energy_SWAP_pJ"]
    );
    assert!(
        swap_rows.iter().any(|r| r["component"] == "dram"),
        "swapping moves weights through DRAM: {swap_rows:?}"
    );
    assert_eq!(
        accuracy(&swap),
        accuracy(&two),
        "swapping changed the accuracy columns"
    );
    assert_eq!(
        numerics(&swap),
        numerics(&two),
        "swapping changed the device columns (swap writes are the chip's, not the store's)"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Program pulse and write drivers
// ---------------------------------------------------------------------------------------

/// On 2 tiles the layers are packed (no spare tiles to hand out), so the placement does
/// not depend on the device or driver keys and only the write times change.
#[test]
fn shorter_pulses_shorten_the_weight_update() {
    let tmp = TempDir::new().unwrap();
    let slow = run_with(&tmp, "3ns", &["chip.tiles=2", "update.program_pulse_ns=3"]);
    let fast = run_with(
        &tmp,
        "1.5ns",
        &["chip.tiles=2", "update.program_pulse_ns=1.5"],
    );
    let (s3, s15) = (summary(&slow), summary(&fast));
    assert_eq!(s3["mapping"], "pack");
    assert_eq!(s15["mapping"], "pack");
    let (wu3, wu15) = (int(&s3, "WU_cycles"), int(&s15, "WU_cycles"));
    assert!(
        wu15 < wu3,
        "WU_cycles: {wu15} with 1.5 ns pulses, {wu3} with 3 ns"
    );
}

#[test]
fn fewer_write_drivers_lengthen_the_weight_update() {
    let tmp = TempDir::new().unwrap();
    let eight = run_with(
        &tmp,
        "8drivers",
        &["chip.tiles=2", "subarray.write_drivers=8"],
    );
    let four = run_with(
        &tmp,
        "4drivers",
        &["chip.tiles=2", "subarray.write_drivers=4"],
    );
    let (s8, s4) = (summary(&eight), summary(&four));
    let (wu8, wu4) = (int(&s8, "WU_cycles"), int(&s4, "WU_cycles"));
    assert!(
        wu4 > wu8,
        "WU_cycles: {wu4} with 4 write drivers, {wu8} with 8"
    );
    assert_eq!(
        numerics(&four),
        numerics(&eight),
        "the number of write drivers changed the numerics"
    );
    // On the default chip too: the placement does not depend on the drivers, so the
    // same strings queue on fewer of them.
    let mut last = 0;
    for k in [8, 4, 2] {
        let set = format!("subarray.write_drivers={k}");
        let out = run_with(&tmp, &format!("default{k}"), &[set.as_str()]);
        let wu = int(&summary(&out), "WU_cycles");
        assert!(
            wu > last,
            "WU_cycles: {wu} with {k} drivers, {last} with {}",
            2 * k
        );
        last = wu;
    }
    // The driver pools say how many drivers they have.
    for (out, k) in [(&eight, "8"), (&four, "4")] {
        let comps = records(&out.join("components.csv"));
        let pools: Vec<_> = comps
            .iter()
            .filter(|c| c["component"] == "write_drivers")
            .collect();
        assert!(!pools.is_empty());
        for p in pools {
            assert_eq!(p["servers"], k, "{p:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. Timing-only keys keep the numerics
// ---------------------------------------------------------------------------------------

#[test]
fn timing_and_energy_keys_keep_the_numerics() {
    let tmp = TempDir::new().unwrap();
    let default = run_with(&tmp, "default", &[]);
    let sets: Vec<String> = TIMING_KEYS
        .iter()
        .map(|(section, key, value)| format!("{section}.{key}={}", value.trim_matches('"')))
        .collect();
    let set_refs: Vec<&str> = sets.iter().map(String::as_str).collect();
    let changed = run_with(&tmp, "changed", &set_refs);

    assert_eq!(
        numerics(&changed),
        numerics(&default),
        "timing and energy keys changed the numerics of epochs.csv"
    );
    let (sd, sc) = (summary(&default), summary(&changed));
    assert_eq!(sc["tiles"], "8");
    assert_eq!(sc["mapping"], "pack");
    assert_ne!(
        sc["total_cycles"], sd["total_cycles"],
        "total_cycles did not move"
    );
    assert_ne!(sc["energy_pJ"], sd["energy_pJ"], "energy_pJ did not move");
    // At 2 GHz a cycle is half a nanosecond.
    assert_eq!(
        int(&sc, "total_cycles"),
        (2.0 * num(&sc, "time_ns")).ceil() as u64,
        "{sc:?}"
    );
    for e in epochs(&changed) {
        assert!(int(&e, "cycles") > 0, "{e:?}");
    }

    // The same keys in an arch file give the same run as the --set overrides.
    let mut text = arch_text();
    for (section, key, value) in TIMING_KEYS {
        text = edit(
            &text,
            &format!("[{section}]"),
            key,
            &format!("{key} = {value}"),
        )
        .0;
    }
    let arch = write(&tmp, "timing.toml", &text);
    let from_file = tmp.path().join("file");
    tiny_run(&from_file, &["--arch", arch.to_str().unwrap()]);
    assert_eq!(
        numerics(&from_file),
        numerics(&default),
        "an arch file differing in timing keys changed the numerics"
    );
    assert_eq!(
        rows_without_wall(&from_file),
        rows_without_wall(&changed),
        "the arch file and the --set overrides disagree"
    );
    assert_eq!(
        fs::read(from_file.join("layers.csv")).unwrap(),
        fs::read(changed.join("layers.csv")).unwrap(),
        "layers.csv: the arch file and the --set overrides disagree"
    );
    assert_eq!(summary(&from_file)["total_cycles"], sc["total_cycles"]);
}

// ---------------------------------------------------------------------------------------
// 4. The reports add up
// ---------------------------------------------------------------------------------------

#[test]
fn reports_are_consistent() {
    let tmp = TempDir::new().unwrap();
    // Two epochs, so that the per-epoch columns have something to add up.
    let out = run_with(&tmp, "default", &["training.epochs=2"]);
    let s = summary(&out);
    let rows = layer_rows(&out);
    let eps = epochs(&out);
    assert_eq!(eps.len(), 2);
    let total = num(&s, "energy_pJ");
    assert!(total > 0.0, "{s:?}");
    let total_cycles = int(&s, "total_cycles");
    assert!(total_cycles > 0, "{s:?}");

    // The summary's chip columns.
    assert_eq!(s["tiles"], "16");
    assert_eq!(s["tiles_used"], "16");
    assert_eq!(s["folds"], "1");
    assert_eq!(s["mapping"], "spread");
    assert_eq!(num(&s, "energy_SWAP_pJ"), 0.0);
    assert_eq!(int(&s, "SWAP_cycles"), 0);
    // The area adds up over its components; the default tile by hand (45 nm, F² = 2025 nm²):
    // cells 8 x 8192 x 8 x 13 F², periphery 8 x (8 x 5000 + 64 x 2500) F², buffer
    // 64 KiB x 190 F² / 0.7, compute 128 x 500,000 F².
    let parts: f64 = [
        "area_cells_mm2",
        "area_periphery_mm2",
        "area_buffer_mm2",
        "area_compute_mm2",
        "area_master_mm2",
        "area_extra_mm2",
    ]
    .iter()
    .map(|c| num(&s, c))
    .sum();
    assert!(close(parts, num(&s, "area_mm2"), 4e-4, 0.0), "{s:?}");
    let f2 = 45e-6 * 45e-6;
    let tile = (8.0 * 8192.0 * 8.0 * 13.0
        + 8.0 * (8.0 * 5000.0 + 64.0 * 2500.0)
        + 65536.0 * 8.0 * 190.0 / 0.7
        + 128.0 * 500_000.0)
        * f2;
    assert!(close(num(&s, "area_mm2"), 16.0 * tile, 1e-4, 0.0), "{s:?}");
    assert!(int(&s, "engine_events") > 0, "{s:?}");
    for c in ["FW_cycles", "AG_cycles", "WG_cycles", "WU_cycles"] {
        let v = int(&s, c);
        assert!(v > 0 && v <= total_cycles, "{c} = {v} of {total_cycles}");
    }

    // layers.csv sums to the summary.
    let layers_energy: f64 = rows.iter().map(|r| num(r, "energy_pJ")).sum();
    assert!(
        close(layers_energy, total, 0.001 * rows.len() as f64, 1e-9),
        "layers.csv sums to {layers_energy} pJ, summary says {total} pJ"
    );
    for r in &rows {
        assert!(num(r, "energy_pJ") >= 0.0, "{r:?}");
    }
    // The summary's energy by phase and by component.
    let phases: f64 =
        PHASE_ENERGY.iter().map(|c| num(&s, c)).sum::<f64>() + num(&s, "energy_leakage_pJ");
    assert!(
        close(phases, total, 0.001 * 6.0, 1e-9),
        "phases + leakage = {phases} pJ, energy_pJ = {total} pJ"
    );
    let parts: f64 = PART_ENERGY.iter().map(|c| num(&s, c)).sum();
    assert!(
        close(parts, total, 0.001 * 10.0, 1e-9),
        "components sum to {parts} pJ, energy_pJ = {total} pJ"
    );
    // Without swapping, the chip's erase and program energy is the device's write energy.
    for (chip, dev) in [
        ("energy_erase_pJ", "erase_energy_pJ"),
        ("energy_program_pJ", "program_energy_pJ"),
    ] {
        assert!(
            close(num(&s, chip), num(&s, dev), 0.001 * 5.0, 1e-9),
            "{chip} = {}, {dev} = {}",
            s[chip],
            s[dev]
        );
    }

    // The leakage row covers the whole run.
    let leak: Vec<_> = rows.iter().filter(|r| r["layer"] == "chip").collect();
    assert_eq!(leak.len(), 1, "chip rows: {leak:?}");
    let leak = leak[0];
    assert_eq!(
        (
            leak["phase"].as_str(),
            leak["component"].as_str(),
            leak["action"].as_str()
        ),
        ("all", "tile", "leakage")
    );
    assert_eq!(int(leak, "busy_cycles"), total_cycles, "{leak:?}");
    assert_eq!(int(leak, "count"), 16, "one leakage count per tile");
    assert!(
        close(
            num(leak, "energy_pJ"),
            num(&s, "energy_leakage_pJ"),
            0.001,
            1e-9
        ),
        "{leak:?}"
    );

    // epochs.csv adds up to the summary.
    let epoch_cycles: u64 = eps.iter().map(|e| int(e, "cycles")).sum();
    assert!(
        epoch_cycles.abs_diff(total_cycles) <= eps.len() as u64,
        "epochs' cycles sum to {epoch_cycles}, total_cycles = {total_cycles}"
    );
    for e in &eps {
        assert!(int(e, "cycles") > 0, "{e:?}");
    }
    let epoch_energy: f64 = eps.iter().map(|e| num(e, "energy_pJ")).sum();
    assert!(
        close(epoch_energy, total, 0.001 * eps.len() as f64, 1e-9),
        "epochs' energy sums to {epoch_energy} pJ, energy_pJ = {total} pJ"
    );

    // At 1 GHz a cycle is a nanosecond: time_ns is total_cycles (rounded up to a cycle).
    let time_ns = num(&s, "time_ns");
    assert_eq!(
        total_cycles,
        time_ns.ceil() as u64,
        "time_ns {time_ns}, total_cycles {total_cycles}"
    );

    // Phases and the layers' rows.
    let allowed = ["FW", "AG", "WG", "WU", "SWAP", "all"];
    for r in &rows {
        assert!(allowed.contains(&r["phase"].as_str()), "phase of {r:?}");
        assert!(
            r["layer"] == "chip" || WEIGHT_LAYERS.contains(&r["layer"].as_str()),
            "layer of {r:?}"
        );
    }
    let layer_names: HashSet<&str> = rows.iter().map(|r| r["layer"].as_str()).collect();
    assert_eq!(
        layer_names.len(),
        WEIGHT_LAYERS.len() + 1,
        "{layer_names:?}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r["layer"] == "conv1" && r["phase"] == "AG"),
        "conv1 is fed by the data: no activation gradient"
    );
    assert!(
        count_of(&rows, ["conv1", "FW", "dram", "byte"]).is_some_and(|c| c > 0),
        "conv1 reads its input from DRAM"
    );
    for l in WEIGHT_LAYERS {
        let mac = |phase: &str| count_of(&rows, [l, phase, "compute", "mac"]);
        let fw = mac("FW").unwrap_or_else(|| panic!("{l}: no FW compute/mac row"));
        let wg = mac("WG").unwrap_or_else(|| panic!("{l}: no WG compute/mac row"));
        let wu = mac("WU").unwrap_or_else(|| panic!("{l}: no WU compute/mac row"));
        assert!(fw > 0 && wu > 0, "{l}: FW {fw}, WU {wu} MACs");
        assert_eq!(fw, wg, "{l}: FW and WG MACs");
        match mac("AG") {
            Some(ag) => assert_eq!(ag, fw, "{l}: AG and FW MACs"),
            None => assert_eq!(l, "conv1", "{l} has a source layer, so an AG pass"),
        }
    }

    // components.csv.
    let text = fs::read_to_string(out.join("components.csv")).unwrap();
    assert_eq!(text.lines().next(), Some(COMPONENTS_HEADER));
    let comps = records(&out.join("components.csv"));
    for c in &comps {
        let u = num(c, "utilisation");
        assert!((0.0..=1.0).contains(&u), "utilisation of {c:?}");
        assert!(
            int(c, "busy_cycles") <= total_cycles * int(c, "servers"),
            "{c:?}"
        );
    }
    let compute: Vec<u64> = comps
        .iter()
        .filter(|c| c["component"] == "compute")
        .map(|c| int(c, "tile"))
        .collect();
    assert_eq!(
        compute,
        (0..16).collect::<Vec<u64>>(),
        "one compute row per tile"
    );
    let place = |kind: &str| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = comps
            .iter()
            .filter(|c| c["component"] == kind)
            .map(|c| (c["tile"].clone(), c["subarray"].clone(), c["layer"].clone()))
            .collect();
        v.sort();
        v
    };
    let subarrays = place("subarray");
    assert!(!subarrays.is_empty());
    assert_eq!(
        place("write_drivers"),
        subarrays,
        "one write_drivers row per subarray row"
    );
    let unique: HashSet<_> = subarrays.iter().map(|(t, s, _)| (t, s)).collect();
    assert_eq!(unique.len(), subarrays.len(), "a subarray placed twice");
    for kind in ["noc", "dram"] {
        assert_eq!(place(kind).len(), 1, "one {kind} row");
    }
    // The subarrays are those `nandspin map` shows for the same chip.
    let map = parse_csv_text(&map_ok(&["--csv"]).stdout, MAP_HEADER);
    for m in &map {
        let in_components = subarrays
            .iter()
            .filter(|(_, _, l)| *l == m["layer"])
            .count();
        assert_eq!(
            in_components as u64,
            int(m, "subarrays"),
            "subarrays of {} in components.csv and nandspin map",
            m["layer"]
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. Bad chip input
// ---------------------------------------------------------------------------------------

/// `bad_run(["--set", set])`, checking that the message blames that `--set` and names
/// `key`.
fn bad_set(set: &str, key: &str) -> String {
    let msg = bad_run(&["--set", set]);
    let blame = format!("error: --set {set}: ");
    assert!(
        msg.starts_with(&blame),
        "expected {blame:?} first in {msg:?}"
    );
    assert_contains(&msg, key);
    msg
}

#[test]
fn bad_chip_values_are_input_errors() {
    let msg = bad_set("chip.tiles=0", "chip.tiles");
    assert_contains(&msg, "at least 1");
    bad_set("subarray.write_drivers=0", "subarray.write_drivers");
    bad_set("tile.mac_lanes=0", "tile.mac_lanes");
    let msg = bad_set("tile.buffer_kib=4", "tile.buffer_kib");
    assert_contains(&msg, "conv1");
    let msg = bad_set("energy.bogus_pj=1", "bogus_pj");
    assert_contains(&msg, "energy.bogus_pj");
    bad_set("chip.clock_ghz=-1", "chip.clock_ghz");
    let msg = bad_set("chip.mapping=\"diagonal\"", "chip.mapping");
    assert_contains(&msg, "diagonal");
    let msg = bad_set("chip.on_overflow=\"shrug\"", "chip.on_overflow");
    assert_contains(&msg, "shrug");
}

#[test]
fn arch_file_zero_write_drivers() {
    let tmp = TempDir::new().unwrap();
    let (text, line) = edit(
        &arch_text(),
        "[subarray]",
        "write_drivers",
        "write_drivers = 0",
    );
    let a = write(&tmp, "no-drivers.toml", &text);
    let msg = bad_run(&["--arch", a.to_str().unwrap()]);
    let at = format!("error: {}:{line}: ", a.display());
    assert!(msg.starts_with(&at), "expected {at:?} first in {msg:?}");
    assert_contains(&msg, "subarray.write_drivers");
    let v = assert_input_error(&nandspin(&["validate", a.to_str().unwrap()]), None);
    assert_eq!(v, msg, "validate and run disagree");
}

// ---------------------------------------------------------------------------------------
// 6. nandspin map
// ---------------------------------------------------------------------------------------

#[test]
fn map_table_shows_every_weight_layer() {
    let table = map_ok(&[]).stdout;
    let csv = parse_csv_text(&map_ok(&["--csv"]).stdout, MAP_HEADER);
    let layer_lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first().is_some_and(|f| WEIGHT_LAYERS.contains(f)))
        .collect();
    let names: Vec<&str> = layer_lines.iter().map(|w| w[0]).collect();
    assert_eq!(names, WEIGHT_LAYERS, "layer lines of:\n{table}");
    // The table shows the CSV's fields.
    assert_eq!(csv.len(), layer_lines.len());
    let columns: Vec<&str> = MAP_HEADER.split(',').collect();
    for (words, rec) in layer_lines.iter().zip(&csv) {
        let fields: Vec<&str> = columns.iter().map(|c| rec[*c].as_str()).collect();
        assert_eq!(*words, fields, "table and --csv disagree:\n{table}");
    }
    let total: Vec<&str> = table.lines().filter(|l| l.starts_with("total:")).collect();
    assert_eq!(total.len(), 1, "one total line in:\n{table}");
    assert_contains(total[0], &format!("{LENET_WEIGHT_STRINGS} strings"));
}

#[test]
fn map_csv_holds_every_weight() {
    let csv = parse_csv_text(&map_ok(&["--csv"]).stdout, MAP_HEADER);
    let names: Vec<&str> = csv.iter().map(|r| r["layer"].as_str()).collect();
    assert_eq!(names, WEIGHT_LAYERS);
    let strings: u64 = csv.iter().map(|r| int(r, "strings")).sum();
    assert_eq!(strings, LENET_WEIGHT_STRINGS);
    for r in &csv {
        assert_eq!(r["fold"], "0", "{r:?}");
        let (tiles, subarrays) = (int(r, "tiles"), int(r, "subarrays"));
        assert!((1..=16).contains(&tiles), "{r:?}");
        assert!(subarrays >= 1 && subarrays <= tiles * 8, "{r:?}");
        assert!(
            int(r, "strings_per_subarray") * subarrays >= int(r, "strings"),
            "{r:?}"
        );
        assert!(int(r, "strings_per_subarray") <= 128 * 64, "{r:?}");
        let u = num(r, "utilisation");
        assert!(u > 0.0 && u <= 1.0, "{r:?}");
    }
    // Biases in the store add one string per bias (8-bit codes, one per string).
    let with_biases = parse_csv_text(
        &map_ok(&["--csv", "--set", "weights.biases=store"]).stdout,
        MAP_HEADER,
    );
    let strings: u64 = with_biases.iter().map(|r| int(r, "strings")).sum();
    assert_eq!(strings, LENET_WEIGHT_STRINGS + LENET_BIASES);
}

#[test]
fn map_strings_places_every_string_once() {
    let r = map_ok(&["--strings"]);
    let rows = parse_csv_text(&r.stdout, STRINGS_HEADER);
    assert_eq!(rows.len() as u64, LENET_WEIGHT_STRINGS);
    let mut places: HashSet<(u64, u64, u64, u64)> = HashSet::new();
    let mut per_layer: HashMap<String, u64> = HashMap::new();
    let mut next_string: HashMap<String, u64> = HashMap::new();
    for row in &rows {
        let (tile, sub, r, c) = (
            int(row, "tile"),
            int(row, "subarray"),
            int(row, "row"),
            int(row, "column"),
        );
        assert!(tile < 16 && sub < 8, "{row:?}");
        assert!(r < 128 && c < 64, "{row:?}");
        assert!(
            places.insert((tile, sub, r, c)),
            "two strings at tile {tile}, subarray {sub}, row {r}, column {c}"
        );
        *per_layer.entry(row["layer"].clone()).or_default() += 1;
        // A tensor's strings are listed in order, from 0.
        let next = next_string.entry(row["tensor"].clone()).or_default();
        assert_eq!(int(row, "string"), *next, "{row:?}");
        *next += 1;
        assert!(
            row["tensor"].starts_with(&format!("{}.", row["layer"])),
            "{row:?}"
        );
    }
    let csv = parse_csv_text(&map_ok(&["--csv"]).stdout, MAP_HEADER);
    for m in &csv {
        assert_eq!(
            per_layer.get(&m["layer"]).copied(),
            Some(int(m, "strings")),
            "strings of {} in --strings and --csv",
            m["layer"]
        );
    }
}

#[test]
fn a_layer_larger_than_the_chip_is_cut_into_folds() {
    // With 16-row subarrays (1,024 strings), fc1's 48,000 strings need 47 subarrays: more
    // than a whole 8-subarray tile, so with one tile it is cut into 6 equal parts, each in a
    // fold of its own (after the fold of conv1 and conv2).
    let small = ["subarray.rows=16", "chip.on_overflow=swap"];
    let m = map_ok(&[
        "--csv",
        "--set",
        "chip.tiles=1",
        "--set",
        small[0],
        "--set",
        small[1],
    ]);
    let rows = parse_csv_text(&m.stdout, MAP_HEADER);
    let fc1 = rows.iter().find(|r| r["layer"] == "fc1").unwrap();
    let (a, b) = fc1["fold"].split_once('-').expect("fc1 spans folds a-b");
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    assert_eq!(
        b - a + 1,
        6,
        "fc1 in 47 subarrays of a 8-subarray chip: {fc1:?}"
    );
    // Every part fills at most the chip: 8 subarrays of at most 1,024 strings each.
    assert_eq!(int(fc1, "subarrays"), 6 * 8, "{fc1:?}");
    assert!(int(fc1, "strings_per_subarray") <= 1024, "{fc1:?}");
    // fc2's 10,080 strings (10 subarrays) take 2 parts; the others fit whole.
    let fc2 = rows.iter().find(|r| r["layer"] == "fc2").unwrap();
    assert_eq!(fc2["fold"], format!("{}-{}", b + 1, b + 2), "{fc2:?}");
    for r in rows.iter().filter(|r| !r["layer"].starts_with("fc")) {
        assert!(!r["fold"].contains('-'), "{r:?}");
    }

    let tmp = TempDir::new().unwrap();
    let fits = run_with(&tmp, "fits", &["chip.tiles=16", small[0]]);
    let cut = run_with(&tmp, "cut", &["chip.tiles=1", small[0], small[1]]);
    let s = summary(&cut);
    assert_eq!(int(&s, "folds"), b + 4, "{s:?}");
    assert_eq!(int(&summary(&fits), "folds"), 1);
    assert_eq!(
        numerics(&cut),
        numerics(&fits),
        "folds changed the numerics"
    );
    // The parts share out the layer's work exactly: the MACs of every phase, the bits
    // sensed and the strings written are those of the chip that holds it whole.
    let (rf, rc) = (layer_rows(&fits), layer_rows(&cut));
    for layer in WEIGHT_LAYERS {
        for key in [
            ["FW", "compute", "mac"],
            ["AG", "compute", "mac"],
            ["WG", "compute", "mac"],
            ["WU", "compute", "mac"],
            ["FW", "mtj", "read"],
            ["WU", "subarray", "write"],
        ] {
            let k = [layer, key[0], key[1], key[2]];
            assert_eq!(count_of(&rc, k), count_of(&rf, k), "{k:?}");
        }
    }
    // Every part reads the layer's whole input and writes its share of the output, in the
    // buffer, per pass: 256 images x (parts x inputs + outputs) x 2 bytes (fp16 values).
    for (layer, inputs, outputs, parts) in [("fc1", 400, 120, 6), ("fc2", 120, 84, 2)] {
        for phase in ["FW", "AG", "WG"] {
            let k = [layer, phase, "buffer", "byte"];
            let whole = 256 * (inputs + outputs) * 2;
            assert_eq!(count_of(&rf, k), Some(whole), "{k:?}");
            let cut = 256 * (parts * inputs + outputs) * 2;
            assert_eq!(count_of(&rc, k), Some(cut), "{k:?}");
        }
    }
    // Folds: 0 (conv1, conv2), 1-6 (fc1), 7-8 (fc2), 9 (fc3). A batch runs forward from the
    // resident fold 0 to 9, then backward to 0: fold 0 leaves once and comes back once, the
    // last fold comes in once and leaves once, the others come in and leave twice. Per
    // batch (8 of them), strings written as a fold comes in, and bits (8 per string) sensed
    // as it leaves.
    for (layer, strings, times) in [
        ("conv1", 150, 1),
        ("conv2", 2400, 1),
        ("fc1", 48_000, 2),
        ("fc2", 10_080, 2),
        ("fc3", 840, 1),
    ] {
        let swapped = count_of(&rc, [layer, "SWAP", "subarray", "write"]);
        assert_eq!(swapped, Some(8 * times * strings), "{layer} brought in");
        let sensed = count_of(&rc, [layer, "SWAP", "mtj", "read"]);
        assert_eq!(sensed, Some(8 * times * strings * 8), "{layer} sent out");
    }
}

#[test]
fn map_refuses_a_chip_too_small() {
    let r = nandspin(&["map", "--set", "chip.tiles=1"]);
    let msg = assert_input_error(&r, None);
    assert!(
        msg.starts_with("error: --set chip.tiles=1: "),
        "the error blames the --set: {msg}"
    );
    assert_contains(&msg, "chip.tiles");
    assert!(r.stdout.is_empty(), "stdout of a failed map: {}", r.stdout);
}

// ---------------------------------------------------------------------------------------
// 7. The float store simulates no chip
// ---------------------------------------------------------------------------------------

#[test]
fn float_store_has_no_chip_columns() {
    let tmp = TempDir::new().unwrap();
    let out = run_with(&tmp, "float", &["weights.store=float"]);
    let eps = epochs(&out);
    assert_eq!(eps.len(), 1);
    for e in &eps {
        for c in ["cycles", "energy_pJ"] {
            assert_eq!(e[c], "", "{c} of a float-store epoch: {e:?}");
        }
        assert!(num(e, "test_accuracy") >= 0.0, "{e:?}");
    }
    let s = summary(&out);
    for c in CHIP_COLUMNS {
        assert_eq!(s[c], "", "{c} of a float-store summary: {s:?}");
    }
    assert!(num(&s, "final_test_accuracy") >= 0.0);
    let components = fs::read_to_string(out.join("components.csv")).unwrap();
    assert_eq!(components, format!("{COMPONENTS_HEADER}\n"));
}
