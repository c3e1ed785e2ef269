//! Measured switching data (`device.switching = "measured"`, `device.measured_csv`) through
//! the `nandspin` binary, as a user meets it: the shipped example (arch/devices/precessional.csv
//! and arch/nandspin-measured.toml) against the model it was made from, in `nandspin device`
//! and in training; reruns of a run record from another folder; bad CSV files (one `error:`
//! line naming the arch file's line and key, then the CSV file and its line; exit code 2;
//! nothing written); and the warning for a program current off the measured grid.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use tempfile::TempDir;

mod common;
use common::*;

/// The shipped example arch's text.
fn measured_arch_text() -> String {
    fs::read_to_string(manifest().join("arch/nandspin-measured.toml")).unwrap()
}

/// The shipped CSV's text.
fn shipped_csv() -> String {
    fs::read_to_string(manifest().join("arch/devices/precessional.csv")).unwrap()
}

/// `nandspin device ARGS`, which must succeed.
fn device(args: &[&str]) -> Outcome {
    let r = subcommand("device", args);
    ok(&r);
    r
}

/// `nandspin device` output as rows by column name.
fn curve(text: &str) -> Vec<HashMap<String, String>> {
    parse_csv_text(
        text,
        "pulse_ns,current_uA,p_switch,mean_switch_ns,energy_pJ",
    )
}

// ---------------------------------------------------------------------------------------
// 1. The shipped example
// ---------------------------------------------------------------------------------------

#[test]
fn the_shipped_csv_is_what_its_documented_command_prints() {
    // The command as arch/devices/README.md gives it, with its --out in a temporary folder.
    let readme = fs::read_to_string(manifest().join("arch/devices/README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("nandspin device "))
        .expect("the README gives the generating command");
    let words: Vec<&str> = line.split_whitespace().collect();
    let out_at = words.iter().position(|w| *w == "--out").unwrap();
    assert_eq!(words[out_at + 1], "arch/devices/precessional.csv");
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("p.csv");
    let mut args: Vec<String> = words[2..out_at].iter().map(|w| w.to_string()).collect();
    args.push("--out".into());
    args.push(out.display().to_string());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = device(&a);
    assert_eq!(r.stderr, "");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        shipped_csv(),
        "arch/devices/precessional.csv is no longer what `{line}` writes: rerun it"
    );
    // And the grid holds the study's two writes at 120 µA.
    for row in ["1,120,0.839683973,", "3,120,0.999999452,"] {
        assert!(shipped_csv().contains(&format!("\n{row}")), "{row}");
    }
}

#[test]
fn the_shipped_arch_is_the_default_one_but_for_its_switching_law() {
    let (model, measured) = (arch_text(), measured_arch_text());
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
            .map(|l| l.replace(' ', ""))
            .collect()
    };
    let (a, b) = (keys(&model), keys(&measured));
    let only_model: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_measured: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
    assert_eq!(
        only_model,
        ["name=\"nandspin\"", "switching=\"precessional\""],
        "{only_measured:?}"
    );
    assert_eq!(
        only_measured,
        [
            "name=\"nandspin-measured\"",
            "switching=\"measured\"",
            "measured_csv=\"devices/precessional.csv\""
        ]
    );
    let r = subcommand("validate", &["arch/nandspin-measured.toml"]);
    ok(&r);
    assert_contains(
        &r.stdout,
        "switching measured in arch/devices/precessional.csv (10 pulse widths x 17 currents)",
    );
}

#[test]
fn device_prints_the_measured_surface_like_the_model() {
    // On the grid (the default widths at 120 µA): P and the mean switching time as the
    // CSV holds them, so as the model prints them; the energy from the 6-decimal mean.
    let model = device(&["--arch", "arch/nandspin.toml"]);
    let measured = device(&["--arch", "arch/nandspin-measured.toml"]);
    assert_eq!(measured.stderr, "");
    let (a, b) = (curve(&model.stdout), curve(&measured.stdout));
    assert_eq!(a.len(), 10);
    for (m, s) in a.iter().zip(&b) {
        for col in ["pulse_ns", "current_uA", "p_switch", "mean_switch_ns"] {
            assert_eq!(m[col], s[col], "{col} at {m:?}");
        }
        let (e0, e1) = (num(m, "energy_pJ"), num(s, "energy_pJ"));
        assert!((e0 - e1).abs() <= 2e-6, "{m:?} vs {s:?}");
    }
    // Between grid points P stays within the CSV's rounding of the model (exact
    // interpolation of an exactly precessional surface); the energy within 3 %, since the
    // mean switching time is bilinear between the 0.5 ns points (0.565 ns against the
    // model's 0.605 ns at 0.75 ns and 135 µA, 1.7 % of the energy).
    let args = ["--pulse-ns", "0.75,1.25,2.2,3.7", "--current-ua", "95,135"];
    let mut with = vec!["--arch", "arch/nandspin.toml"];
    with.extend(args);
    let model = curve(&device(&with).stdout);
    with[1] = "arch/nandspin-measured.toml";
    let measured = curve(&device(&with).stdout);
    for (m, s) in model.iter().zip(&measured) {
        let (p0, p1) = (num(m, "p_switch"), num(s, "p_switch"));
        assert!((p0 - p1).abs() < 1e-7, "{m:?} vs {s:?}");
        let (e0, e1) = (num(m, "energy_pJ"), num(s, "energy_pJ"));
        assert!((e1 / e0 - 1.0).abs() < 0.03, "{m:?} vs {s:?}");
    }
}

#[test]
fn device_warns_once_off_the_grid() {
    let r = device(&[
        "--arch",
        "arch/nandspin-measured.toml",
        "--pulse-ns",
        "0.25,1,8",
        "--current-ua",
        "20,120",
    ]);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "warning: measured switching data arch/devices/precessional.csv: --pulse-ns 0.25 ns is below the shortest pulse width (0.5 ns; P_sw there is taken as at 0.5 ns, which overstates switching); --current-ua 20 µA is outside the currents (40 to 200 µA); the surface is clamped to the grid's edge"
        ]
    );
    let rows = curve(&r.stdout);
    let p = |t: &str, i: &str| {
        rows.iter()
            .find(|r| r["pulse_ns"] == t && r["current_uA"] == i)
            .map(|r| num(r, "p_switch"))
            .unwrap()
    };
    // Clamped: 0.25 ns reads 0.5 ns, 8 ns reads 5 ns, 20 µA reads 40 µA.
    assert_eq!(p("0.25", "120"), 0.015721511);
    assert_eq!(p("8", "120"), 1.0);
    assert_eq!(p("1", "20"), 0.0);
}

// ---------------------------------------------------------------------------------------
// 2. Training
// ---------------------------------------------------------------------------------------

/// A tiny run of `arch` with `extra`; returns its summary.
fn train(tmp: &TempDir, name: &str, arch: &str, extra: &[&str]) -> HashMap<String, String> {
    let out = tmp.path().join(name);
    let mut args = vec!["--arch", arch];
    args.extend(extra);
    let r = tiny_run(&out, &args);
    assert_eq!(r.stderr, "", "{name}: no warning on the grid");
    summary(&out)
}

#[test]
fn training_on_the_measured_model_matches_the_model() {
    // The CSV holds the model's P at both widths to 9 decimals: a pulse's outcome differs
    // only when its uniform draw falls between the two probabilities (< 5e-10 apart), which
    // none of these runs' pulses do, so the bits and the accuracy are the model's. Switched
    // pulses take the measured mean switching time instead of a sampled one, so the program
    // energy matches in expectation: the sampling noise of the model's switching times over
    // thousands of pulses is ~0.1 %, and the bound is 0.5 %.
    let tmp = TempDir::new().unwrap();
    for w in ["1", "3"] {
        let set = format!("update.program_pulse_ns={w}");
        let extra = ["--set", set.as_str()];
        let model = train(&tmp, &format!("model-{w}"), "arch/nandspin.toml", &extra);
        let measured = train(
            &tmp,
            &format!("measured-{w}"),
            "arch/nandspin-measured.toml",
            &extra,
        );
        for col in [
            "program_pulses",
            "switches",
            "bit_errors",
            "final_test_accuracy",
        ] {
            assert_eq!(model[col], measured[col], "{col} at {w} ns");
        }
        let (e0, e1) = (
            num(&model, "program_energy_pJ"),
            num(&measured, "program_energy_pJ"),
        );
        assert!((e1 / e0 - 1.0).abs() < 0.005, "{w} ns: {e0} vs {e1}");
        if w == "1" {
            assert!(int(&model, "bit_errors") > 1000, "1 ns pulses fail");
        }
    }
}

#[test]
fn a_run_record_names_the_csv_absolutely_and_reruns_from_anywhere() {
    let tmp = TempDir::new().unwrap();
    let d = tmp.path();
    fs::create_dir(d.join("dev")).unwrap();
    fs::write(d.join("dev/mine.csv"), shipped_csv()).unwrap();
    let (text, _) = edit(
        &measured_arch_text(),
        "[device]",
        "measured_csv",
        "measured_csv = \"dev/mine.csv\"",
    );
    let arch = write(&tmp, "mine.toml", &text);
    let out = d.join("run");
    tiny_run(&out, &["--arch", arch.to_str().unwrap()]);
    let record = fs::read_to_string(out.join("run.toml")).unwrap();
    let csv = fs::canonicalize(d.join("dev/mine.csv")).unwrap();
    assert_contains(&record, &format!("measured_csv = \"{}\"", csv.display()));
    // From another folder, the record reruns to the same epochs.
    let elsewhere = TempDir::new().unwrap();
    let again = d.join("again");
    let r = nandspin_in(
        elsewhere.path(),
        &[
            "run",
            "--quiet",
            "--from",
            out.join("run.toml").to_str().unwrap(),
            "--out",
            again.to_str().unwrap(),
        ],
    );
    ok(&r);
    assert_eq!(rows_without_wall(&out), rows_without_wall(&again));
}

// ---------------------------------------------------------------------------------------
// 3. Bad data
// ---------------------------------------------------------------------------------------

/// An arch copy in `tmp` reading `csv` (a path relative to it); returns its path and the
/// line of `measured_csv`.
fn arch_reading(tmp: &TempDir, csv: &str) -> (PathBuf, usize) {
    let (text, line) = edit(
        &measured_arch_text(),
        "[device]",
        "measured_csv",
        &format!("measured_csv = \"{csv}\""),
    );
    (write(tmp, "arch.toml", &text), line)
}

/// The shipped CSV with `edit` applied to its lines (0: the header).
fn csv_with(edit: impl FnOnce(&mut Vec<String>)) -> String {
    let mut lines: Vec<String> = shipped_csv().lines().map(String::from).collect();
    edit(&mut lines);
    lines.join("\n") + "\n"
}

/// Runs, validates and characterises an arch reading `bad.csv` = `csv`: each must fail
/// with the same one line, which starts by naming the arch file's line and the key, then
/// `bad.csv` at `csv_line`, and contains `what`. Nothing is written.
fn bad_csv(csv: Option<&str>, csv_line: Option<usize>, what: &str) -> String {
    let tmp = TempDir::new().unwrap();
    if let Some(text) = csv {
        write(&tmp, "bad.csv", text);
    }
    let (arch, line) = arch_reading(&tmp, "bad.csv");
    let arch_s = arch.to_str().unwrap();
    let msg = bad_run(&["--arch", arch_s]);
    let csv_path = tmp.path().join("bad.csv").display().to_string();
    let at = match csv_line {
        Some(l) => format!("error: {arch_s}:{line}: device.measured_csv: {csv_path}:{l}: "),
        None => format!("error: {arch_s}:{line}: device.measured_csv: "),
    };
    assert!(msg.starts_with(&at), "expected {at:?} first in {msg:?}");
    assert_contains(&msg, what);
    assert_contains(&msg, &csv_path);
    let v = assert_input_error(&nandspin(&["validate", arch_s]), None);
    assert_eq!(v, msg, "validate and run disagree");
    let out = tmp.path().join("curve.csv");
    let r = nandspin(&["device", "--arch", arch_s, "--out", out.to_str().unwrap()]);
    assert_eq!(assert_input_error(&r, None), msg, "device and run disagree");
    assert!(!out.exists());
    msg
}

#[test]
fn refuses_a_probability_that_falls_with_the_pulse_width() {
    // Line 9, 4 ns at 40 µA, made to switch less often than 3.5 ns (line 8) does.
    let csv = csv_with(|l| l[8] = "4,40,0.0001,3.790743,0.048397".into());
    let msg = bad_csv(
        Some(&csv),
        Some(9),
        "p_switch must not decrease with the pulse width",
    );
    assert_contains(
        &msg,
        "0.0001 at pulse_ns = 4 after 0.000225633 at 3.5 (current_uA = 40, line 8)",
    );
}

#[test]
fn refuses_an_incomplete_grid() {
    // Drop 2.5 ns at 120 µA (line 85): the first row of 120 µA is named.
    let csv = csv_with(|l| {
        let i = l.iter().position(|r| r.starts_with("2.5,120,")).unwrap();
        assert_eq!(i, 85);
        l.remove(i);
    });
    bad_csv(
        Some(&csv),
        Some(82),
        "incomplete grid: no row for pulse_ns = 2.5 at this row's current_uA = 120",
    );
}

#[test]
fn refuses_a_csv_without_p_switch() {
    let csv = csv_with(|l| l[0] = l[0].replace("p_switch", "probability"));
    let msg = bad_csv(Some(&csv), Some(1), "no `p_switch` column");
    assert_contains(
        &msg,
        "the header has: pulse_ns, current_uA, probability, mean_switch_ns, energy_pJ",
    );
}

#[test]
fn refuses_a_probability_above_one() {
    let csv = csv_with(|l| l[7] = "3.5,40,1.2,3.347381,0.043600".into());
    let msg = bad_csv(
        Some(&csv),
        Some(8),
        "p_switch must be a probability from 0 to 1, got 1.2",
    );
    assert!(msg.ends_with("got 1.2"), "{msg}");
}

#[test]
fn refuses_a_missing_csv_file() {
    bad_csv(None, None, "no such file");
}

#[test]
fn refuses_measured_switching_without_a_csv() {
    let msg = bad_run(&["--set", "device.switching=measured"]);
    assert_eq!(
        msg,
        "error: --set device.switching=measured: device.switching: \"measured\" needs device.measured_csv, the CSV file of measured switching probabilities (columns pulse_ns, current_uA, p_switch; see docs/config.md)"
    );
    // A path set on the command line is relative to the arch file, and blamed on the --set.
    let msg = bad_run(&[
        "--arch",
        "arch/nandspin-measured.toml",
        "--set",
        "device.measured_csv=devices/none.csv",
    ]);
    assert_eq!(
        msg,
        "error: --set device.measured_csv=devices/none.csv: device.measured_csv: no such file arch/devices/none.csv (a relative path is relative to the arch file's folder)"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Off the grid
// ---------------------------------------------------------------------------------------

#[test]
fn a_program_current_off_the_grid_warns_once() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let r = tiny_run(
        &out,
        &[
            "--arch",
            "arch/nandspin-measured.toml",
            "--set",
            "update.program_current_ua=250",
        ],
    );
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "warning: measured switching data arch/devices/precessional.csv: update.program_current_ua 250 µA is outside the currents (40 to 200 µA); the surface is clamped to the grid's edge"
        ]
    );
    assert!(out.join("summary.csv").is_file());
    // On the grid: no warning.
    let on = tiny_run(
        &tmp.path().join("on"),
        &["--arch", "arch/nandspin-measured.toml"],
    );
    assert_eq!(on.stderr, "");
}
