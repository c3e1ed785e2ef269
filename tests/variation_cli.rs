//! Device variation run as a user would: spreads of 0 change nothing, spreads change the
//! training and report the worst devices, the chip's organisation never changes the
//! numerics, `nandspin device --variation` prints the spread of P_sw, and bad spreads give
//! one line.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use tempfile::TempDir;

/// Every spread on, at 1 ns where they matter.
const SPREADS: [&str; 14] = [
    "--set",
    "update.program_pulse_ns=1",
    "--set",
    "variation.ic0=0.1",
    "--set",
    "variation.delta=0.05",
    "--set",
    "variation.r_ap=0.05",
    "--set",
    "variation.program_current=0.03",
    "--set",
    "variation.erase_threshold=0.2",
    "--set",
    "string.erase_critical_ua=100",
];

fn run_with(tmp: &TempDir, name: &str, sets: &[&str]) -> PathBuf {
    let out = tmp.path().join(name);
    tiny_run(&out, sets);
    out
}

/// `epochs.csv` without the chip's columns and the wall clock: the training's numerics and
/// the device's activity.
fn numerics(out: &Path) -> Vec<Vec<(String, String)>> {
    epochs(out)
        .into_iter()
        .map(|e| {
            let mut v: Vec<(String, String)> = e
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "cycles" | "energy_pJ" | "wall_s"))
                .collect();
            v.sort();
            v
        })
        .collect()
}

#[test]
fn zero_spreads_change_no_report() {
    let tmp = TempDir::new().unwrap();
    let plain = run_with(&tmp, "plain", &[]);
    let zero = run_with(
        &tmp,
        "zero",
        &[
            "--set",
            "variation.distribution=normal",
            "--set",
            "variation.ic0=0",
            "--set",
            "variation.program_current=0.0",
            "--set",
            "variation.seed=9",
        ],
    );
    assert_eq!(rows_without_wall(&plain), rows_without_wall(&zero));
    for f in ["layers.csv", "components.csv"] {
        assert_eq!(
            fs::read(plain.join(f)).unwrap(),
            fs::read(zero.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn spreads_change_the_training_and_report_the_worst_devices() {
    let tmp = TempDir::new().unwrap();
    let nominal = run_with(&tmp, "nominal", &["--set", "update.program_pulse_ns=1"]);
    let varied = run_with(&tmp, "varied", &SPREADS);
    let (n, v) = (summary(&nominal), summary(&varied));
    let worst = |s: &HashMap<String, String>| s["p_fail_worst1pct"].parse::<f64>().unwrap();
    // 1 ns at 120 µA fails 16 % of pulses on the nominal MTJ; the weak tail much more.
    assert!((worst(&n) - 0.1603).abs() < 1e-3, "{}", worst(&n));
    assert!(worst(&v) > 0.3, "{}", worst(&v));
    assert_ne!(n["bit_errors"], v["bit_errors"]);
    assert_ne!(n["program_energy_pJ"], v["program_energy_pJ"]);
    // Every epoch row reports it too.
    assert!(
        epochs(&varied)
            .iter()
            .all(|e| e["p_fail_worst1pct"] == v["p_fail_worst1pct"])
    );
}

#[test]
fn tiles_and_mapping_never_change_numerics_with_spreads_on() {
    let tmp = TempDir::new().unwrap();
    let base = run_with(&tmp, "base", &SPREADS);
    let mut fewer = SPREADS.to_vec();
    fewer.extend(["--set", "chip.tiles=4", "--set", "chip.mapping=pack"]);
    let other = run_with(&tmp, "other", &fewer);
    // The organisation did change the chip's figures ...
    assert_ne!(
        summary(&base)["total_cycles"],
        summary(&other)["total_cycles"]
    );
    // ... and nothing the device or the training did.
    assert_eq!(numerics(&base), numerics(&other));
    // The same devices again with a fixed device seed and another training seed: the
    // chip stays, the training differs.
    let chip = |seed: &'static str| {
        let mut s = SPREADS.to_vec();
        s.extend(["--set", "variation.seed=4", "--seed", seed]);
        s
    };
    let a = run_with(&tmp, "a", &chip("1"));
    let b = run_with(&tmp, "b", &chip("2"));
    assert_eq!(
        summary(&a)["p_fail_worst1pct"],
        summary(&b)["p_fail_worst1pct"]
    );
    assert_ne!(summary(&a)["bit_errors"], summary(&b)["bit_errors"]);
}

#[test]
fn bad_spreads_give_one_line() {
    for (set, key) in [
        ("variation.ic0=-0.1", "variation.ic0"),
        ("variation.delta=1.5", "variation.delta"),
        ("variation.program_current=nan", "variation.program_current"),
        ("variation.distribution=uniform", "variation.distribution"),
        ("variation.sigma=0.1", "variation"),
    ] {
        let line = bad_run(&["--set", set]);
        assert_contains(&line, key);
    }
    // A spread the law does not use.
    let line = bad_run(&[
        "--set",
        "device.switching=fixed",
        "--set",
        "variation.ic0=0.05",
    ]);
    assert_contains(&line, "variation.ic0");
    assert_contains(&line, "does not depend on device.ic0_ua");
    // In the file: the line is named.
    let tmp = TempDir::new().unwrap();
    let (text, line_no) = edit(&arch_text(), "[variation]", "ic0", "ic0 = -0.05");
    let arch = write(&tmp, "a.toml", &text);
    let out = tmp.path().join("out");
    let r = nandspin(&run_args(&out, &["--arch", arch.to_str().unwrap()]));
    let line = assert_input_error(&r, Some(&out));
    assert_contains(&line, &format!("a.toml:{line_no}"));
    assert_contains(&line, "variation.ic0");
    assert_contains(&line, "from 0 to 1");
}

#[test]
fn device_prints_the_spread_of_the_switching_probability() {
    let r = nandspin(&[
        "device",
        "--variation",
        "--devices",
        "2000",
        "--pulse-ns",
        "1,3",
        "--set",
        "variation.ic0=0.1",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let rows = parse_csv_text(
        &r.stdout,
        "pulse_ns,current_uA,p_switch,p_q01,p_q10,p_q50,p_q90,p_q99",
    );
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let q: Vec<f64> = ["p_q01", "p_q10", "p_q50", "p_q90", "p_q99"]
            .iter()
            .map(|c| row[*c].parse().unwrap())
            .collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{q:?}");
        let nominal: f64 = row["p_switch"].parse().unwrap();
        // The median device is close to the nominal one.
        assert!((q[2] - nominal).abs() < 0.05, "{q:?} vs {nominal}");
    }
    // At 1 ns the weakest percent switches far less often than the nominal device.
    let q01: f64 = rows[0]["p_q01"].parse().unwrap();
    assert!(q01 < 0.6, "{q01}");
    // Without spreads every quantile is the nominal probability.
    let r = nandspin(&["device", "--variation", "--pulse-ns", "1"]);
    let rows = parse_csv_text(
        &r.stdout,
        "pulse_ns,current_uA,p_switch,p_q01,p_q10,p_q50,p_q90,p_q99",
    );
    assert_eq!(rows[0]["p_q01"], rows[0]["p_switch"]);
    assert_eq!(rows[0]["p_q99"], rows[0]["p_switch"]);
}

#[test]
fn an_ic0_spread_on_measured_data_scales_its_current_axis() {
    // A device whose I_c0 is f times the nominal one behaves at current I as the nominal
    // device at I / f: on the precessional model's own surface, the same MTJs fail.
    let tmp = TempDir::new().unwrap();
    let spread = [
        "--set",
        "update.program_pulse_ns=1",
        "--set",
        "variation.ic0=0.05",
        "--set",
        "variation.program_current=0.03",
    ];
    let model = run_with(&tmp, "model", &spread);
    let mut measured = spread.to_vec();
    measured.extend(["--arch", "arch/nandspin-measured.toml"]);
    let measured = run_with(&tmp, "measured", &measured);
    let (m, d) = (summary(&model), summary(&measured));
    for c in [
        "bit_errors",
        "program_failures",
        "final_test_accuracy",
        "p_fail_worst1pct",
    ] {
        assert_eq!(m[c], d[c], "{c}");
    }
    // A spread the measured law cannot use is refused.
    let line = bad_run(&[
        "--arch",
        "arch/nandspin-measured.toml",
        "--set",
        "variation.delta=0.05",
    ]);
    assert_contains(&line, "variation.delta");
}
