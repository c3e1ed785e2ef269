//! The memory technologies through the `nandspin` binary, as a user runs them: the shipped
//! arch files `arch/stt-mram.toml`, `arch/sot-mram.toml` and `arch/sram.toml`, and
//! `--set weights.store=...` on the default chip.
//!
//! Covered: every technology trains on the simulated chip and its reports add up (layers.csv
//! to summary.csv, the energy parts to the total, the device's write energy to the chip's);
//! with switching forced to certainty each technology gives exactly the `fixed` store's
//! epochs, and SRAM always does; SRAM's cells leak and MRAM's do not; bad input (an unknown
//! technology, variation on a word technology) is a one-line error, and a section of
//! another technology than the store's is a warning. Every run is tiny (256 images).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

mod common;
use common::*;

const ARCHS: [(&str, &str); 3] = [
    ("stt", "arch/stt-mram.toml"),
    ("sot", "arch/sot-mram.toml"),
    ("sram", "arch/sram.toml"),
];

/// Certain switching for the `[device]` law (STT's, in both directions).
fn run(tmp: &TempDir, name: &str, extra: &[&str]) -> PathBuf {
    let out = tmp.path().join(name);
    tiny_run(&out, extra);
    out
}

fn close(a: f64, b: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + 1e-9 * a.abs().max(b.abs())
}

/// The numerics of epochs.csv: losses and accuracies.
fn accuracy_columns(out: &Path) -> Vec<Vec<String>> {
    let (header, rows) = read_csv(&out.join("epochs.csv"));
    assert_eq!(header[1], "train_loss");
    assert_eq!(header[4], "test_accuracy");
    rows.into_iter().map(|r| r[..5].to_vec()).collect()
}

fn layer_rows(out: &Path) -> Vec<HashMap<String, String>> {
    records(&out.join("layers.csv"))
}

#[test]
fn every_technology_trains_on_the_chip_and_its_reports_add_up() {
    let tmp = TempDir::new().unwrap();
    for (name, arch) in ARCHS {
        let out = run(&tmp, name, &["--arch", arch]);
        let s = summary(&out);
        let total = num(&s, "energy_pJ");
        assert!(total > 0.0 && int(&s, "total_cycles") > 0, "{name}: {s:?}");
        let rows = layer_rows(&out);
        let summed: f64 = rows.iter().map(|r| num(r, "energy_pJ")).sum();
        assert!(
            close(summed, total, 0.001 * rows.len() as f64),
            "{name}: layers.csv sums to {summed} pJ, summary says {total} pJ"
        );
        let parts: f64 = PART_ENERGY.iter().map(|c| num(&s, c)).sum();
        assert!(
            close(parts, total, 0.01),
            "{name}: parts {parts}, total {total}"
        );
        // No erase in a word technology; the chip's write energy is the device's.
        assert_eq!(num(&s, "energy_erase_pJ"), 0.0, "{name}");
        assert_eq!(num(&s, "erase_energy_pJ"), 0.0, "{name}");
        assert!(
            close(
                num(&s, "energy_program_pJ"),
                num(&s, "program_energy_pJ"),
                0.005
            ),
            "{name}: {} vs {}",
            s["energy_program_pJ"],
            s["program_energy_pJ"]
        );
        assert!(int(&s, "program_pulses") > 0, "{name}");
        // The weight cells leak only in SRAM, as a chip row of their own.
        let leak: Vec<_> = rows
            .iter()
            .filter(|r| r["component"] == "weights" && r["action"] == "leakage")
            .collect();
        assert_eq!(leak.len(), usize::from(name == "sram"), "{name}: {leak:?}");
        if name == "sram" {
            // 16 tiles x 8 subarrays x 128 x 64 words x 8 cells x 1.2 nW over the run.
            let ns = num(&s, "time_ns");
            let want = 16.0 * 8.0 * 128.0 * 64.0 * 8.0 * 1.2e-6 * ns;
            assert!(
                close(num(leak[0], "energy_pJ"), want, want * 1e-3),
                "{leak:?} vs {want}"
            );
        }
        // Read-before-write (STT and SOT by default) is costed as reads.
        if name != "sram" {
            assert!(int(&s, "bits_written") > 0 && num(&s, "read_energy_pJ") > 0.0);
        }
    }
}

#[test]
fn certain_switching_gives_the_fixed_store_s_epochs() {
    let tmp = TempDir::new().unwrap();
    let fixed = accuracy_columns(&run(&tmp, "fixed", &["--set", "weights.store=fixed"]));
    let mut stt = vec!["--set", "weights.store=stt"];
    stt.extend(CERTAIN);
    let cases: [(&str, Vec<&str>); 4] = [
        ("stt", stt),
        // The default SOT table is certain from 0.5 ns on.
        ("sot", vec!["--set", "weights.store=sot"]),
        (
            "sot-1ns",
            vec![
                "--set",
                "weights.store=sot",
                "--set",
                "update.program_pulse_ns=1",
            ],
        ),
        ("sram", vec!["--set", "weights.store=sram"]),
    ];
    for (name, extra) in cases {
        let out = run(&tmp, name, &extra);
        assert_eq!(accuracy_columns(&out), fixed, "{name}");
        let s = summary(&out);
        assert_eq!(
            (int(&s, "program_failures"), int(&s, "bit_errors")),
            (0, 0),
            "{name}"
        );
    }
    // And at 1 ns, STT's own law fails pulses, in both directions.
    let out = run(
        &tmp,
        "stt-1ns",
        &[
            "--arch",
            "arch/stt-mram.toml",
            "--set",
            "update.program_pulse_ns=1",
        ],
    );
    let s = summary(&out);
    assert!(
        int(&s, "program_failures") > 0 && int(&s, "bit_errors") > 0,
        "{s:?}"
    );
    assert_ne!(accuracy_columns(&out), fixed);
}

#[test]
fn bad_technologies_are_one_line_errors_and_foreign_sections_warn() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("bad");
    let r = nandspin(&run_args(&out, &["--set", "weights.store=pcm"]));
    let line = assert_input_error(&r, Some(&out));
    assert_contains(&line, "weights.store");
    assert_contains(&line, "stt");
    let r = nandspin(&run_args(
        &out,
        &[
            "--arch",
            "arch/stt-mram.toml",
            "--set",
            "variation.ic0=0.05",
        ],
    ));
    let line = assert_input_error(&r, Some(&out));
    assert_contains(&line, "\"nandspin\" only");
    let r = nandspin(&run_args(
        &out,
        &[
            "--arch",
            "arch/sot-mram.toml",
            "--set",
            "sot.line_resistance_ohm=-1",
        ],
    ));
    assert_contains(
        &assert_input_error(&r, Some(&out)),
        "sot.line_resistance_ohm",
    );
    // A section of another technology: a warning, and the run goes on unchanged.
    let warned = tmp.path().join("warned");
    let r = tiny_run(&warned, &["--set", "stt.write=\"all\""]);
    assert_contains(
        &r.stderr,
        "[stt] is set but weights.store = \"nandspin\": its keys have no effect",
    );
    let plain = run(&tmp, "plain", &[]);
    assert_eq!(accuracy_columns(&warned), accuracy_columns(&plain));
}

/// A run.toml's recorded `[energy_scaling]` entry `name`: (factor, scaled_pj).
fn recorded_scaling(out: &Path, name: &str) -> (f64, f64) {
    let text = std::fs::read_to_string(out.join("run.toml")).unwrap();
    let t: toml::Table = toml::from_str(&text).unwrap();
    let e = &t["energy_scaling"][name];
    (
        e["factor"].as_float().unwrap(),
        e["scaled_pj"].as_float().unwrap(),
    )
}

#[test]
fn the_node_scales_the_digital_energies_once_and_the_area_by_its_square() {
    let tmp = TempDir::new().unwrap();
    let at45 = run(&tmp, "45", &[]);
    let at32 = run(&tmp, "32", &["--set", "tech.node_nm=32"]);
    // Stillmaker and Baas 2017, 45 nm and 32 nm (HP) fits at 0.9 V.
    let e45: f64 = 1.018 * 0.81 - 0.3107 * 0.9 + 0.1539;
    let e32: f64 = 0.8367 * 0.81 - 0.4341 * 0.9 + 0.1701;
    let f = e32 / e45;
    let (rec, mac) = recorded_scaling(&at32, "energy.mac_fp16_pj");
    assert!(
        (rec - f).abs() < 1e-12 && (mac - 1.5 * f).abs() < 1e-12,
        "{rec} {mac}"
    );
    assert_eq!(recorded_scaling(&at45, "energy.mac_fp16_pj"), (1.0, 1.5));
    let (s45, s32) = (summary(&at45), summary(&at32));
    for col in [
        "energy_mac_pJ",
        "energy_buffer_pJ",
        "energy_noc_pJ",
        "energy_rng_pJ",
    ] {
        let want = num(&s45, col) * f;
        assert!(
            close(num(&s32, col), want, 0.01),
            "{col}: {} vs {want}",
            s32[col]
        );
    }
    // DRAM and the device's own actions are not scaled.
    for col in ["energy_dram_pJ", "energy_program_pJ", "energy_erase_pJ"] {
        assert_eq!(s32[col], s45[col], "{col}");
    }
    let a = (32.0f64 / 45.0).powi(2);
    assert!(close(
        num(&s32, "area_mm2"),
        num(&s45, "area_mm2") * a,
        2e-4
    ));
    // Timing and numerics do not move.
    assert_eq!(s32["total_cycles"], s45["total_cycles"]);
    assert_eq!(accuracy_columns(&at32), accuracy_columns(&at45));
}

#[test]
fn the_mac_precision_picks_the_mac_energy_and_the_bytes_moved() {
    let tmp = TempDir::new().unwrap();
    let rows = |out: &Path, comp: &str, action: &str| -> u64 {
        layer_rows(out)
            .iter()
            .filter(|r| r["component"] == comp && r["action"] == action)
            .map(|r| int(r, "count"))
            .sum()
    };
    let fp16 = run(&tmp, "fp16", &[]);
    let fp32 = run(&tmp, "fp32", &["--set", "tile.mac=\"fp32\""]);
    let int8 = run(&tmp, "int8", &["--set", "tile.mac=\"int8\""]);
    let macs = rows(&fp16, "compute", "mac");
    assert_eq!(macs, rows(&fp32, "compute", "mac"));
    for (out, pj) in [(&fp16, 1.5), (&fp32, 4.6), (&int8, 0.3)] {
        let s = summary(out);
        assert!(
            close(
                num(&s, "energy_mac_pJ"),
                macs as f64 * pj,
                0.01 * macs as f64
            ),
            "{out:?}"
        );
        assert_eq!(accuracy_columns(out), accuracy_columns(&fp16));
    }
    // Buffer bytes: 4, 2 and 1 per value.
    let b16 = rows(&fp16, "buffer", "byte");
    assert_eq!(rows(&fp32, "buffer", "byte"), 2 * b16);
    assert_eq!(2 * rows(&int8, "buffer", "byte"), b16);
    // energy.mac_pj, when given, replaces the precision's figure.
    let over = run(&tmp, "over", &["--set", "energy.mac_pj=0.5"]);
    assert!(close(
        num(&summary(&over), "energy_mac_pJ"),
        macs as f64 * 0.5,
        0.01 * macs as f64
    ));
}

#[test]
fn bad_nodes_areas_and_scaling_entries_are_one_line_errors() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("bad");
    for (sets, key) in [
        (vec!["--set", "tech.node_nm=5"], "tech.node_nm"),
        (vec!["--set", "tech.node_nm=250"], "tech.node_nm"),
        (vec!["--set", "tech.vdd_v=0"], "tech.vdd_v"),
        (
            vec!["--set", "string.cell_area_f2=0"],
            "string.cell_area_f2",
        ),
        (
            vec![
                "--arch",
                "arch/stt-mram.toml",
                "--set",
                "stt.cell_area_f2=0",
            ],
            "stt.cell_area_f2",
        ),
        (
            vec!["--set", "energy.measured_at.dram_byte_pj=[45.0, 0.9]"],
            "energy.measured_at.dram_byte_pj",
        ),
        (
            vec!["--set", "energy.measured_at.mac_fp16_pj=[3.0, 0.9]"],
            "energy.measured_at.mac_fp16_pj",
        ),
        (vec!["--set", "tile.mac=\"fp8\""], "tile.mac"),
    ] {
        let r = nandspin(&run_args(&out, &sets));
        let line = assert_input_error(&r, Some(&out));
        assert_contains(&line, key);
    }
}
