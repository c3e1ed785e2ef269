//! The update schemes, run as a user would: with certain switching each scheme trains
//! exactly as the `fixed` store does; the randomness's source changes cost, never numerics;
//! master weights are costed and their capacity checked; bad values give one line.

mod common;

use std::path::Path;

use common::*;
use tempfile::TempDir;

/// A device whose every pulse switches (a fixed table at P = 1).
const CERTAIN: [&str; 8] = [
    "--set",
    "device.switching=fixed",
    "--set",
    "device.fixed_pulse_ns=[1.0]",
    "--set",
    "device.fixed_p_switch=[1.0]",
    "--set",
    "update.program_pulse_ns=1",
];

/// Losses and accuracies of every epoch.
fn accuracy(out: &Path) -> Vec<Vec<String>> {
    epochs(out)
        .iter()
        .map(|e| {
            ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]
                .iter()
                .map(|c| e[*c].clone())
                .collect()
        })
        .collect()
}

fn run_with(tmp: &TempDir, name: &str, sets: &[&str]) -> std::path::PathBuf {
    let out = tmp.path().join(name);
    let mut args = vec!["--set", "training.epochs=2"];
    args.extend_from_slice(sets);
    tiny_run(&out, &args);
    out
}

#[test]
fn with_certain_switching_every_scheme_trains_as_the_fixed_store() {
    let tmp = TempDir::new().unwrap();
    let fixed = accuracy(&run_with(&tmp, "fixed", &["--set", "weights.store=fixed"]));
    // Inversion: 7-bit codes and their flag fill the 8-MTJ strings.
    let invert = [
        "--set",
        "weights.invert=fewer_ones",
        "--set",
        "weights.bits=7",
    ];
    for (name, scheme) in [
        ("erase", vec!["--set", "update.erase=when_needed"]),
        ("invert", invert.to_vec()),
        ("verify", vec!["--set", "update.verify_bits=2"]),
    ] {
        let mut fixed_sets = vec!["--set", "weights.store=fixed"];
        fixed_sets.extend(&scheme);
        let reference = accuracy(&run_with(&tmp, &format!("fixed-{name}"), &fixed_sets));
        if name != "invert" {
            assert_eq!(
                reference, fixed,
                "{name} changes nothing in the fixed store"
            );
        }
        let mut sets = CERTAIN.to_vec();
        sets.extend(&scheme);
        let dev = run_with(&tmp, name, &sets);
        assert_eq!(accuracy(&dev), reference, "{name}");
        assert_eq!(int(&summary(&dev), "bit_errors"), 0, "{name}");
    }
    // Master weights: the same with and without the device, and not what the store alone
    // gives (each update starts from the f32 copy, not from the held codes).
    let master = ["--set", "update.master=digital"];
    let mut fixed_sets = vec!["--set", "weights.store=fixed"];
    fixed_sets.extend(master);
    let reference = accuracy(&run_with(&tmp, "fixed-master", &fixed_sets));
    let mut sets = CERTAIN.to_vec();
    sets.extend(master);
    assert_eq!(accuracy(&run_with(&tmp, "master", &sets)), reference);
    assert_ne!(reference, fixed);
    // The fixed store at 8 bits and the certain device at 8 bits agree too (the baseline).
    assert_eq!(accuracy(&run_with(&tmp, "certain", &CERTAIN)), fixed);
}

#[test]
fn erase_when_needed_skips_erases_and_saves_their_energy() {
    let tmp = TempDir::new().unwrap();
    let always = summary(&run_with(&tmp, "always", &CERTAIN));
    let mut sets = CERTAIN.to_vec();
    sets.extend(["--set", "update.erase=when_needed"]);
    let needed = summary(&run_with(&tmp, "needed", &sets));
    assert_eq!(int(&always, "erases_skipped"), 0);
    let skipped = int(&needed, "erases_skipped");
    assert!(skipped > 0, "{skipped}");
    assert_eq!(
        int(&needed, "strings_written"),
        int(&always, "strings_written")
    );
    assert!(num(&needed, "erase_energy_pJ") < num(&always, "erase_energy_pJ"));
    assert!(num(&needed, "program_ns") < num(&always, "program_ns"));
    // Same codes held (certain switching), so the same training.
    assert_eq!(
        num(&needed, "final_test_accuracy"),
        num(&always, "final_test_accuracy")
    );
}

#[test]
fn the_random_source_changes_the_cost_not_the_numerics() {
    let tmp = TempDir::new().unwrap();
    let lfsr_dir = run_with(&tmp, "lfsr", &[]);
    let mtj_dir = run_with(&tmp, "mtj", &["--set", "weights.random_source=mtj"]);
    assert_eq!(accuracy(&lfsr_dir), accuracy(&mtj_dir));
    let (lfsr, mtj) = (summary(&lfsr_dir), summary(&mtj_dir));
    for c in [
        "bit_errors",
        "strings_written",
        "random_bits",
        "program_pulses",
    ] {
        assert_eq!(lfsr[c], mtj[c], "{c}");
    }
    // 8 bits per weight rounded at every update: LeNet-5's 61,470 weights, 2 x 8 updates.
    assert_eq!(int(&lfsr, "random_bits"), 61_470 * 8 * 16);
    assert!((num(&lfsr, "energy_rng_pJ") - 61_470.0 * 8.0 * 16.0 * 0.03).abs() < 1e-3);
    assert!(num(&mtj, "energy_rng_pJ") > num(&lfsr, "energy_rng_pJ"));
    assert!(int(&mtj, "WU_cycles") > int(&lfsr, "WU_cycles"));
    // The rows of layers.csv count the same bits.
    let rows = records(&mtj_dir.join("layers.csv"));
    let bits: u64 = rows
        .iter()
        .filter(|r| r["component"] == "rng")
        .map(|r| int(r, "count"))
        .sum();
    assert_eq!(bits, int(&mtj, "random_bits"));
    // Rounding to nearest needs none.
    let near = summary(&run_with(
        &tmp,
        "nearest",
        &["--set", "weights.rounding=nearest"],
    ));
    assert_eq!(int(&near, "random_bits"), 0);
    assert_eq!(num(&near, "energy_rng_pJ"), 0.0);
}

#[test]
fn master_weights_are_costed_and_must_fit() {
    let tmp = TempDir::new().unwrap();
    let plain = summary(&run_with(&tmp, "plain", &[]));
    let dir = run_with(&tmp, "master", &["--set", "update.master=digital"]);
    let s = summary(&dir);
    // 8 bytes per stored weight per update, at 1.25 pJ each.
    let bytes: u64 = records(&dir.join("layers.csv"))
        .iter()
        .filter(|r| r["component"] == "master" && r["action"] == "byte")
        .map(|r| int(r, "count"))
        .sum();
    assert_eq!(bytes, 61_470 * 8 * 16);
    let leak: f64 = records(&dir.join("layers.csv"))
        .iter()
        .filter(|r| r["component"] == "master" && r["action"] == "leakage")
        .map(|r| num(r, "energy_pJ"))
        .sum();
    assert!(leak > 0.0);
    assert!((num(&s, "energy_master_pJ") - bytes as f64 * 1.25).abs() < 1e-3);
    // 16 tiles x 128 KiB x 0.0011 mm^2 per KiB more area.
    let more = num(&s, "area_mm2") - num(&plain, "area_mm2");
    assert!((more - 16.0 * 128.0 * 0.0011).abs() < 1e-3, "{more}");
    // components.csv lists every tile's master SRAM with the bytes it holds.
    let comps = records(&dir.join("components.csv"));
    let held: u64 = comps
        .iter()
        .filter(|r| r["component"] == "master")
        .map(|r| int(r, "bytes"))
        .sum();
    assert_eq!(held, 61_470 * 4);
    // Too small an SRAM is refused, naming the key.
    let msg = bad_run(&[
        "--set",
        "update.master=digital",
        "--set",
        "tile.master_kib=16",
    ]);
    assert_contains(&msg, "tile.master_kib");
    assert_contains(&msg, "raise it to at least 94");
}

#[test]
fn bad_scheme_values_give_one_line_naming_the_key() {
    for (sets, key, needle) in [
        (
            vec!["update.master=copy"],
            "update.master",
            "unknown variant",
        ),
        (
            vec!["update.erase=never"],
            "update.erase",
            "unknown variant",
        ),
        (
            vec!["update.write_threshold_lsb=0"],
            "update.write_threshold_lsb",
            "from 1",
        ),
        (
            vec!["update.verify_bits=9"],
            "update.verify_bits",
            "from 0 to weights.bits (8)",
        ),
        (
            vec!["update.verify=true"],
            "update.verify",
            "replaced by update.verify_bits",
        ),
        (
            vec!["weights.invert=fewer_ones"],
            "weights.invert",
            "9 MTJs",
        ),
        (
            vec!["weights.random_bits=0"],
            "weights.random_bits",
            "from 1 to 32",
        ),
        (
            vec!["weights.random_source=dice"],
            "weights.random_source",
            "unknown variant",
        ),
        (
            vec![
                "weights.random_source=mtj",
                "device.switching=fixed",
                "device.fixed_p_switch=[0.3, 0.4]",
            ],
            "weights.random_source",
            "probability 0.5",
        ),
    ] {
        let mut args = Vec::new();
        for s in &sets {
            args.extend(["--set", s]);
        }
        let msg = bad_run(&args);
        assert_contains(&msg, key);
        assert_contains(&msg, needle);
    }
}
