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
const CERTAIN: [&str; 6] = [
    "--set",
    "device.switching=\"fixed\"",
    "--set",
    "device.fixed_pulse_ns=[1.0]",
    "--set",
    "device.fixed_p_switch=[1.0]",
];

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
        let parts: f64 = [
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
        ]
        .iter()
        .map(|c| num(&s, c))
        .sum();
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
