//! End-to-end tests of the NAND-SPIN device model through the `nandspin` binary, run the way
//! a user runs it: the bundled arch and workload (or edited copies of them), `--set`
//! overrides, reports on disk.
//!
//! Covered: bad `[device]`, `[string]`, `[update]` and `[weights]` values (one `error: ` line
//! naming the key and where it was given, exit code 2, no report files); `nandspin device`
//! (its CSV, the shape of the switching curve, `--out`, bad grids); and what the device store
//! does to a run (forced certainty equals the `fixed` store, thread count does not matter,
//! 1 ns pulses fail and cost less energy than 3 ns ones, verify helps, `layers.csv` adds up to
//! `summary.csv`). Every training run is tiny (256 images, one or two epochs), so the whole
//! file takes seconds in release mode.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use tempfile::TempDir;

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `bad_run(["--set", set])`, checking that the message starts by blaming that `--set` and
/// names `key`.
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

/// Runs a tiny training on an arch copy edited by `edit(after, key, new_line)`, expecting an
/// input error that names the copy at `line_offset` lines below the edited line, and `name`;
/// `nandspin validate` of the copy must fail the same way. Returns the run's message.
fn bad_arch_at(after: &str, key: &str, new_line: &str, line_offset: usize, name: &str) -> String {
    let tmp = TempDir::new().unwrap();
    let (text, line) = edit(&arch_text(), after, key, new_line);
    let a = write(&tmp, "bad-arch.toml", &text);
    let msg = bad_run(&["--arch", a.to_str().unwrap()]);
    let at = format!("error: {}:{}: ", a.display(), line + line_offset);
    assert!(msg.starts_with(&at), "expected {at:?} first in {msg:?}");
    assert_contains(&msg, name);
    let v = assert_input_error(&nandspin(&["validate", a.to_str().unwrap()]), None);
    assert_eq!(v, msg, "validate and run disagree");
    msg
}

/// [`bad_arch_at`] for an error on the edited line itself.
fn bad_arch(after: &str, key: &str, new_line: &str, name: &str) -> String {
    bad_arch_at(after, key, new_line, 0, name)
}

/// Forces every program pulse to switch (a one-point table at P = 1).
const CERTAIN: [&str; 6] = [
    "--set",
    "device.switching=fixed",
    "--set",
    "device.fixed_pulse_ns=[1]",
    "--set",
    "device.fixed_p_switch=[1]",
];

// ---------------------------------------------------------------------------------------
// 1. Bad device input: via --set
// ---------------------------------------------------------------------------------------

#[test]
fn set_bad_pulse_widths() {
    for v in ["0", "-1"] {
        let msg = bad_set(
            &format!("update.program_pulse_ns={v}"),
            "update.program_pulse_ns",
        );
        assert_contains(&msg, "pulse width");
    }
    bad_set("string.erase_pulse_ns=0", "string.erase_pulse_ns");
}

#[test]
fn set_bad_currents() {
    for v in ["0", "-5"] {
        let msg = bad_set(
            &format!("update.program_current_ua={v}"),
            "update.program_current_ua",
        );
        assert_contains(&msg, "current");
    }
    bad_set("string.erase_current_ua=0", "string.erase_current_ua");
}

#[test]
fn set_current_below_ic0_with_precessional_switching() {
    let msg = bad_set("update.program_current_ua=20", "update.program_current_ua");
    assert_contains(&msg, "device.ic0_ua");
}

#[test]
fn set_bad_damping_and_delta() {
    for v in ["0", "1.5"] {
        bad_set(&format!("device.damping={v}"), "device.damping");
    }
    for v in ["0", "1000"] {
        bad_set(&format!("device.delta={v}"), "device.delta");
    }
}

#[test]
fn set_bad_per_bit_widths() {
    let msg = bad_set("update.program_pulse_ns=[3,3,1]", "update.program_pulse_ns");
    assert_contains(&msg, "weights.bits");
    bad_set(
        "update.program_pulse_ns=[3,3,3,0,1,1,1,1]",
        "update.program_pulse_ns[3]",
    );
}

#[test]
fn set_bits_that_do_not_fit_the_string() {
    let msg = bad_set("weights.bits=6", "weights.bits");
    assert_contains(&msg, "8-MTJ");
    // The same width is fine for a store without strings.
    let tmp = TempDir::new().unwrap();
    tiny_run(
        &tmp.path().join("out"),
        &["--set", "weights.bits=6", "--set", "weights.store=fixed"],
    );
}

#[test]
fn set_bad_string_and_resistances() {
    bad_set("string.program_parallelism=9", "string.program_parallelism");
    let msg = bad_set("device.r_ap_ohm=2000", "device.r_ap_ohm");
    assert_contains(&msg, "device.r_p_ohm");
}

#[test]
fn set_bad_fixed_tables() {
    let msg = bad_run(&[
        "--set",
        "device.switching=fixed",
        "--set",
        "device.fixed_p_switch=[0.5]",
    ]);
    assert!(
        msg.starts_with("error: --set device.fixed_p_switch=[0.5]: device.fixed_p_switch"),
        "{msg}"
    );
    let msg = bad_run(&[
        "--set",
        "device.switching=fixed",
        "--set",
        "device.fixed_p_switch=[0.84,1.5]",
    ]);
    assert!(
        msg.starts_with("error: --set device.fixed_p_switch=[0.84,1.5]: device.fixed_p_switch[1]"),
        "{msg}"
    );
    assert_contains(&msg, "probability");
}

#[test]
fn set_unknown_device_key() {
    let msg = bad_set("device.bogus=1", "bogus");
    assert_contains(&msg, "device.bogus");
}

/// Cross-section checks (bits vs string.mtjs, current vs I_c0, r_ap vs r_p) broken by a
/// `--set` of the *other* key must blame that `--set`: the file alone is fine.
#[test]
fn cross_key_errors_caused_by_set_blame_the_set() {
    bad_set("device.ic0_ua=150", "update.program_current_ua");
    bad_set("string.mtjs=6", "weights.bits");
    bad_set("device.r_p_ohm=7000", "device.r_ap_ohm");
}

// ---------------------------------------------------------------------------------------
// 1. Bad device input: in an arch file
// ---------------------------------------------------------------------------------------

#[test]
fn arch_file_bad_values() {
    bad_arch(
        "[update]",
        "program_pulse_ns",
        "program_pulse_ns = 0",
        "update.program_pulse_ns",
    );
    bad_arch(
        "[update]",
        "program_current_ua",
        "program_current_ua = -5",
        "update.program_current_ua",
    );
    bad_arch(
        "[update]",
        "program_current_ua",
        "program_current_ua = 20",
        "update.program_current_ua",
    );
    bad_arch("[device]", "damping", "damping = 1.5", "device.damping");
    bad_arch("[device]", "delta", "delta = 1000", "device.delta");
    bad_arch(
        "[string]",
        "erase_pulse_ns",
        "erase_pulse_ns = 0",
        "string.erase_pulse_ns",
    );
    bad_arch(
        "[string]",
        "program_parallelism",
        "program_parallelism = 9",
        "string.program_parallelism",
    );
    bad_arch("[weights]", "bits", "bits = 6", "weights.bits");
    bad_arch(
        "[device]",
        "r_ap_ohm",
        "r_ap_ohm = 2000.0",
        "device.r_ap_ohm",
    );
}

#[test]
fn arch_file_unknown_device_key() {
    let msg = bad_arch("[device]", "tau0_ns", "tau0_nz = 1.0", "device.tau0_nz");
    assert_contains(&msg, "unknown field");
}

#[test]
fn arch_file_per_bit_lists() {
    bad_arch(
        "[update]",
        "program_pulse_ns",
        "program_pulse_ns = [3, 3, 1]",
        "update.program_pulse_ns",
    );
    // A list over several lines: the error points at the zero element's own line.
    let msg = bad_arch_at(
        "[update]",
        "program_pulse_ns",
        "program_pulse_ns = [\n  3,\n  3,\n  3,\n  0,\n  1,\n  1,\n  1,\n  1,\n]",
        4,
        "update.program_pulse_ns[3]",
    );
    assert_contains(&msg, "got 0");
}

#[test]
fn arch_file_bad_fixed_table() {
    let tmp = TempDir::new().unwrap();
    let (text, _) = edit(
        &arch_text(),
        "[device]",
        "switching",
        "switching = \"fixed\"",
    );
    let (text, line) = edit(
        &text,
        "[device]",
        "fixed_p_switch",
        "fixed_p_switch = [0.5]",
    );
    let a = write(&tmp, "bad-table.toml", &text);
    let msg = bad_run(&["--arch", a.to_str().unwrap()]);
    assert_contains(&msg, &format!("{}:{line}: ", a.display()));
    assert_contains(&msg, "device.fixed_p_switch");
    let (text, line) = edit(
        &text,
        "[device]",
        "fixed_p_switch",
        "fixed_p_switch = [0.84, 1.01]",
    );
    let a = write(&tmp, "bad-p.toml", &text);
    let msg = bad_run(&["--arch", a.to_str().unwrap()]);
    assert_contains(&msg, &format!("{}:{line}: ", a.display()));
    assert_contains(&msg, "device.fixed_p_switch[1]");
}

// ---------------------------------------------------------------------------------------
// 2. nandspin device
// ---------------------------------------------------------------------------------------

/// One parsed row of the `nandspin device` CSV.
#[derive(Debug)]
struct Point {
    pulse_ns: f64,
    current_ua: f64,
    p_switch: f64,
    energy_pj: f64,
}

const DEVICE_HEADER: &str = "pulse_ns,current_uA,p_switch,mean_switch_ns,energy_pJ";

/// Parses the device CSV, checking its header and that every field is a number (the mean
/// switching time may be empty).
fn parse_curve(text: &str) -> Vec<Point> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(DEVICE_HEADER), "{text}");
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 5, "{l:?}");
            let n = |i: usize| -> f64 {
                f[i].parse()
                    .unwrap_or_else(|_| panic!("field {i} of {l:?}"))
            };
            if !f[3].is_empty() {
                assert!(n(3) >= 0.0, "{l:?}");
            }
            let p = Point {
                pulse_ns: n(0),
                current_ua: n(1),
                p_switch: n(2),
                energy_pj: n(4),
            };
            assert!((0.0..=1.0).contains(&p.p_switch), "{l:?}");
            assert!(p.energy_pj > 0.0, "{l:?}");
            p
        })
        .collect()
}

/// Runs `nandspin device ARGS`, asserting success; returns stdout.
fn device_ok(args: &[&str]) -> Outcome {
    let mut all = vec!["device"];
    all.extend(args);
    let r = nandspin(&all);
    assert_eq!(r.code, Some(0), "nandspin {all:?}: {}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    r
}

#[test]
fn device_default_grid() {
    let r = device_ok(&[]);
    let pts = parse_curve(&r.stdout);
    assert_eq!(pts.len(), 10, "0.5:5:0.5 has 10 widths:\n{}", r.stdout);
    for (k, p) in pts.iter().enumerate() {
        assert!((p.pulse_ns - 0.5 * (k + 1) as f64).abs() < 1e-9, "{p:?}");
        assert_eq!(p.current_ua, 120.0, "the arch's program current");
    }
    for w in pts.windows(2) {
        assert!(w[1].p_switch >= w[0].p_switch, "{w:?}");
        assert!(w[1].energy_pj > w[0].energy_pj, "{w:?}");
    }
}

#[test]
fn device_grid_of_currents() {
    let r = device_ok(&["--current-ua", "60,120,150", "--pulse-ns", "1,3"]);
    let pts = parse_curve(&r.stdout);
    assert_eq!(pts.len(), 6, "{}", r.stdout);
    let at = |pulse: f64, current: f64| -> &Point {
        pts.iter()
            .find(|p| p.pulse_ns == pulse && p.current_ua == current)
            .unwrap_or_else(|| panic!("no point {pulse} ns, {current} uA:\n{}", r.stdout))
    };
    assert!(at(1.0, 60.0).p_switch < at(1.0, 120.0).p_switch);
    assert!(at(1.0, 120.0).p_switch < at(1.0, 150.0).p_switch);
    // The arch file's calibration point: P = 0.84 at 1 ns, 120 uA.
    let p = at(1.0, 120.0).p_switch;
    assert!((p - 0.84).abs() < 0.01, "P(1 ns, 120 uA) = {p}");
    for c in [60.0, 120.0, 150.0] {
        assert!(at(3.0, c).p_switch >= at(1.0, c).p_switch);
    }
}

#[test]
fn device_out_file_equals_stdout() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("curve.csv");
    let args = ["--current-ua", "60:150:30", "--pulse-ns", "0.5,1,2"];
    let printed = device_ok(&args);
    let mut with_out = args.to_vec();
    let f = file.to_str().unwrap();
    with_out.extend(["--out", f]);
    let r = device_ok(&with_out);
    assert!(r.stdout.is_empty(), "stdout with --out: {:?}", r.stdout);
    assert_eq!(fs::read(&file).unwrap(), printed.raw_stdout);
    assert_eq!(parse_curve(&printed.stdout).len(), 4 * 3);
    let names: Vec<String> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["curve.csv"], "temporaries left");
}

#[test]
fn device_set_changes_the_curve() {
    let base = parse_curve(&device_ok(&["--pulse-ns", "1"]).stdout);
    let weaker = parse_curve(&device_ok(&["--pulse-ns", "1", "--set", "device.ic0_ua=40"]).stdout);
    assert!(
        weaker[0].p_switch < base[0].p_switch,
        "a higher I_c0 (less overdrive) switches less often: {base:?} {weaker:?}"
    );
}

#[test]
fn device_bad_arguments() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("curve.csv");
    let f = file.to_str().unwrap();
    for (args, needle) in [
        (vec!["--pulse-ns", "0"], "--pulse-ns 0"),
        (vec!["--pulse-ns", "1:0:1"], "--pulse-ns 1:0:1"),
        (vec!["--current-ua", "x"], "--current-ua x"),
        (
            vec!["--set", "training.epochs=1"],
            "--set training.epochs=1",
        ),
        (vec!["--set", "device.delta=0"], "device.delta"),
    ] {
        let mut all = vec!["device"];
        all.extend(&args);
        all.extend(["--out", f]);
        let msg = assert_input_error(&nandspin(&all), Some(tmp.path()));
        assert_contains(&msg, needle);
    }
    assert!(!file.exists());
}

#[test]
fn device_rejects_currents_that_are_not_positive() {
    // No current is no program pulse: one short line naming the option and the allowed
    // range, exit code 2, nothing written; never the digits of the smallest float.
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("curve.csv");
    let f = file.to_str().unwrap();
    for spec in ["0", "-1", "0:120:60", "60,0", "-0"] {
        let r = nandspin(&["device", "--current-ua", spec, "--out", f]);
        let msg = assert_input_error(&r, Some(tmp.path()));
        assert_contains(&msg, &format!("--current-ua {spec}: "));
        assert_contains(&msg, "currents in µA must be above 0 and at most 1e5");
        assert!(msg.len() < 120, "a short message: {msg}");
    }
    let r = nandspin(&["device", "--current-ua=0"]);
    let msg = assert_input_error(&r, None);
    assert_eq!(
        msg,
        "error: --current-ua 0: currents in µA must be above 0 and at most 1e5, got 0"
    );
    assert!(!file.exists());
}

#[test]
fn device_tiny_currents_print_short_numbers() {
    // A current far below I_c0 is accepted (a precessional pulse never switches) and
    // printed in scientific notation, not as hundreds of digits.
    let r = device_ok(&["--current-ua", "1e-300,1e-4,0.5", "--pulse-ns", "1"]);
    let pts = parse_curve(&r.stdout);
    assert_eq!(pts.len(), 3);
    let currents: Vec<&str> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(currents, ["1e-300", "1e-4", "0.5"]);
    assert!(r.stdout.lines().all(|l| l.len() < 80), "{}", r.stdout);
    assert!(pts.iter().all(|p| p.p_switch == 0.0), "{}", r.stdout);
}

// ---------------------------------------------------------------------------------------
// 3-6. What the device store does to a run
// ---------------------------------------------------------------------------------------

/// Columns 1-4 of `epochs.csv`: train_loss, train_accuracy, test_loss, test_accuracy.
fn losses(out: &Path) -> Vec<Vec<String>> {
    let (header, rows) = read_csv(&out.join("epochs.csv"));
    assert_eq!(
        header[1..5],
        ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    );
    rows.into_iter().map(|r| r[1..5].to_vec()).collect()
}

#[test]
fn forced_certainty_equals_the_fixed_store() {
    let tmp = TempDir::new().unwrap();
    let two = ["--set", "training.epochs=2"];
    let dev = tmp.path().join("device");
    let mut args = two.to_vec();
    args.extend(CERTAIN);
    tiny_run(&dev, &args);
    let fixed = tmp.path().join("fixed");
    let mut args = two.to_vec();
    args.extend(["--set", "weights.store=fixed"]);
    tiny_run(&fixed, &args);

    let a = losses(&dev);
    assert_eq!(a.len(), 2);
    assert_eq!(
        a,
        losses(&fixed),
        "certain switching differs from exact writes"
    );
    for e in epochs(&dev) {
        assert_eq!(num(&e, "program_failures"), 0.0, "{e:?}");
        assert_eq!(num(&e, "bit_errors"), 0.0, "{e:?}");
        assert!(num(&e, "program_pulses") > 0.0, "{e:?}");
    }
    let s = summary(&dev);
    assert_eq!(num(&s, "program_failures"), 0.0);
    assert_eq!(num(&s, "bit_errors"), 0.0);
    assert_eq!(num(&s, "program_pulses"), num(&s, "switches"));
}

/// Runs `extra` with one and with two rayon threads; the reports must agree.
fn check_thread_count(extra: &[&str]) {
    let tmp = TempDir::new().unwrap();
    let mut args = vec!["--set", "training.epochs=2"];
    args.extend(extra);
    let run = |n: &str| {
        let out = tmp.path().join(format!("t{n}"));
        tiny_run_env(&out, &args, &[("RAYON_NUM_THREADS", n)]);
        out
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(
        rows_without_wall(&one),
        rows_without_wall(&two),
        "epochs.csv depends on the thread count ({extra:?})"
    );
    assert_eq!(
        fs::read(one.join("layers.csv")).unwrap(),
        fs::read(two.join("layers.csv")).unwrap(),
        "layers.csv depends on the thread count ({extra:?})"
    );
}

#[test]
fn thread_count_does_not_change_results() {
    check_thread_count(&[]);
    // With failing pulses every random draw shows in the results.
    check_thread_count(&["--set", "update.program_pulse_ns=1"]);
}

/// Program energy per program pulse of a run, in pJ.
fn energy_per_pulse(s: &HashMap<String, String>) -> f64 {
    let pulses = num(s, "program_pulses");
    assert!(pulses > 0.0, "{s:?}");
    num(s, "program_energy_pJ") / pulses
}

#[test]
fn one_ns_pulses_fail_and_cost_less() {
    let tmp = TempDir::new().unwrap();
    let three = tmp.path().join("3ns");
    tiny_run(&three, &[]);
    let one = tmp.path().join("1ns");
    tiny_run(&one, &["--set", "update.program_pulse_ns=1"]);
    let verify = tmp.path().join("1ns-verify");
    tiny_run(
        &verify,
        &[
            "--set",
            "update.program_pulse_ns=1",
            "--set",
            "update.verify_bits=8",
        ],
    );
    let (s3, s1, sv) = (summary(&three), summary(&one), summary(&verify));

    assert!(num(&s1, "program_failures") > 0.0, "{s1:?}");
    assert!(num(&s1, "bit_errors") > 0.0, "{s1:?}");
    let ber1 = num(&s1, "bit_error_rate");
    assert!(ber1 > 0.0, "{s1:?}");
    assert_eq!(num(&s1, "verify_reads"), 0.0, "verify is off by default");

    let (e3, e1) = (energy_per_pulse(&s3), energy_per_pulse(&s1));
    assert!(
        e1 < 0.6 * e3,
        "energy per program pulse: {e1} pJ at 1 ns, {e3} pJ at 3 ns"
    );

    assert!(num(&sv, "verify_reads") > 0.0, "{sv:?}");
    assert!(num(&sv, "read_energy_pJ") > 0.0, "{sv:?}");
    let berv = num(&sv, "bit_error_rate");
    assert!(berv < ber1, "verify: BER {berv}, without: {ber1}");
}

#[test]
fn layers_csv_adds_up_to_the_summary() {
    let tmp = TempDir::new().unwrap();
    for (name, extra) in [
        ("3ns", vec![]),
        (
            "verify",
            vec![
                "--set",
                "update.program_pulse_ns=1",
                "--set",
                "update.verify_bits=8",
            ],
        ),
    ] {
        let out = tmp.path().join(name);
        let mut args = vec!["--set", "training.epochs=2"];
        args.extend(&extra);
        tiny_run(&out, &args);
        let text = fs::read_to_string(out.join("layers.csv")).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("layer,phase,component,action,count,busy_cycles,energy_pJ")
        );
        let (_, rows) = read_csv(&out.join("layers.csv"));
        assert!(!rows.is_empty(), "{name}: layers.csv has no rows");
        let (mut write_energy, mut energy, mut pulses) = (0.0, 0.0, 0.0);
        for r in &rows {
            let count: u64 = r[4].parse().unwrap_or_else(|_| panic!("{r:?}"));
            let e: f64 = r[6].parse().unwrap_or_else(|_| panic!("{r:?}"));
            assert!(e >= 0.0, "{r:?}");
            energy += e;
            let device = matches!(
                (r[2].as_str(), r[3].as_str()),
                ("hm_strip", "erase_pulse") | ("mtj", "program_pulse")
            ) || (r[1] == "WU" && (r[2].as_str(), r[3].as_str()) == ("mtj", "read"));
            if device {
                write_energy += e;
            }
            if (r[2].as_str(), r[3].as_str()) == ("mtj", "program_pulse") {
                pulses += count as f64;
            }
        }
        let s = summary(&out);
        let total = num(&s, "write_energy_pJ");
        let tol = 0.001 * rows.len() as f64 + 1e-6 * total;
        assert!(
            (write_energy - total).abs() <= tol,
            "{name}: layers.csv's device rows sum to {write_energy} pJ, summary says {total} pJ"
        );
        let all = num(&s, "energy_pJ");
        assert!(
            (energy - all).abs() <= 0.001 * rows.len() as f64 + 1e-9 * all,
            "{name}: layers.csv sums to {energy} pJ, summary says {all} pJ"
        );
        assert_eq!(pulses, num(&s, "program_pulses"), "{name}");
        // The summary is the sum of the epochs.
        let e: f64 = epochs(&out).iter().map(|e| num(e, "program_pulses")).sum();
        assert_eq!(e, num(&s, "program_pulses"), "{name}");
    }
}

#[test]
fn float_store_has_no_device_reports() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("float");
    tiny_run(&out, &["--set", "weights.store=float"]);
    let layers = fs::read_to_string(out.join("layers.csv")).unwrap();
    assert_eq!(
        layers,
        "layer,phase,component,action,count,busy_cycles,energy_pJ\n"
    );
    let components = fs::read_to_string(out.join("components.csv")).unwrap();
    assert_eq!(components.lines().count(), 1, "{components}");
    for e in epochs(&out) {
        for c in DEVICE_COLUMNS {
            assert_eq!(e[c], "", "{c} of a float-store epoch: {e:?}");
        }
        assert!(num(&e, "test_accuracy") >= 0.0);
    }
    let s = summary(&out);
    for c in DEVICE_COLUMNS {
        assert_eq!(s[c], "", "{c} of a float-store summary");
    }
}

/// Values past physical limits that would turn the model into inf or NaN are refused.
#[test]
fn set_values_beyond_physical_limits() {
    bad_set("device.damping=1e-320", "device.damping");
    bad_set("device.mu0_hk_t=1e-9", "device.mu0_hk_t");
    bad_set("device.ic0_ua=0.01", "device.ic0_ua");
    // The strip's resistance comes from the geometry: 1e-200 nm wide is 1e205 Ω.
    let msg = bad_set("string.hm_width_nm=1e-200", "string");
    assert_contains(&msg, "resistance");
    // Néel-Brown holds below I_c0 only (the default current is 4 x I_c0).
    let msg = bad_set("device.switching=thermal", "update.program_current_ua");
    assert_contains(&msg, "precessional");
    let msg = bad_run(&["--set", "device.damping=1e-320"]);
    assert!(
        !msg.contains("00000000000"),
        "number printed in full: {msg}"
    );
}

/// A cross-key check broken by one `--set` among several blames that one, not the last.
#[test]
fn cross_key_error_blames_the_override_that_caused_it() {
    let msg = bad_run(&["--set", "string.mtjs=12", "--set", "update.verify_bits=8"]);
    assert!(
        msg.starts_with("error: --set string.mtjs=12: weights.bits:"),
        "{msg}"
    );
}

/// Thermal switching below I_c0 trains (a long, weak pulse).
#[test]
fn thermal_switching_below_ic0_trains() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let r = tiny_run(
        &out,
        &[
            "--set",
            "device.switching=thermal",
            "--set",
            "device.delta=10",
            "--set",
            "update.program_current_ua=24",
            "--set",
            "update.program_pulse_ns=20",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_contains(&r.stdout, "program pulses");
}
