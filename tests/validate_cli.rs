//! `nandspin validate`: it tells arch, workload, sweep and run-record files apart by their
//! structure and checks each as the command that reads it would, so it accepts what `run`
//! (or `sweep plan`, or `run --from`) accepts and refuses what they refuse.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use tempfile::TempDir;

fn workload_text() -> String {
    fs::read_to_string(manifest().join("workloads/lenet5-mnist.toml")).unwrap()
}

/// A workload copy in `tmp` whose data folder still resolves (absolute).
fn workload_copy(text: &str) -> String {
    let data = manifest().join("workloads/data/mnist");
    text.replace(
        "dir = \"data/mnist\"",
        &format!("dir = {:?}", data.display().to_string()),
    )
}

fn validate(files: &[&Path]) -> Outcome {
    let mut args = vec!["validate".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    nandspin(&args)
}

/// `run` on a workload file, tiny.
fn run_workload(tmp: &TempDir, w: &Path) -> Outcome {
    let out = tmp.path().join("out");
    nandspin(&run_args(&out, &["--workload", w.to_str().unwrap()]))
}

#[test]
fn empty_workload_fails_naming_the_file() {
    let tmp = TempDir::new().unwrap();
    let w = write(&tmp, "w.toml", "");
    let msg = assert_input_error(&validate(&[&w]), None);
    assert!(
        msg.starts_with(&format!("error: {}: ", w.display())),
        "{msg}"
    );
    assert_contains(&msg, "the file is empty");
    assert_contains(&msg, "a workload [data] and [[layers]]");
    // Only comments: no kind either, blamed on line 1.
    let w = write(&tmp, "c.toml", "# a workload\n\n");
    let msg = assert_input_error(&validate(&[&w]), None);
    assert_contains(&msg, &format!("{}:1: cannot tell", w.display()));
}

#[test]
fn truncated_workload_fails_validate_and_run_alike() {
    let tmp = TempDir::new().unwrap();
    let text = workload_copy(&workload_text());
    // Cut after [data]: no layers.
    let cut = &text[..text.find("[training]").unwrap()];
    let w = write(&tmp, "w.toml", cut);
    let v = assert_input_error(&validate(&[&w]), None);
    assert_contains(&v, &format!("{}:", w.display()));
    assert_contains(&v, "layers");
    let r = assert_input_error(&run_workload(&tmp, &w), None);
    assert_eq!(v, r, "validate and run disagree");
    // Cut inside a layer table: the network is wrong.
    let cut = &text[..text.find("name = \"fc3\"").unwrap()];
    let w = write(&tmp, "w2.toml", cut);
    let v = assert_input_error(&validate(&[&w]), None);
    let r = assert_input_error(&run_workload(&tmp, &w), None);
    assert_eq!(v, r, "validate and run disagree");
    // Cut in the middle of a line: a syntax error at its line.
    let at = text.find("out_channels = 6").unwrap() + 5;
    let line = text[..at].lines().count();
    let w = write(&tmp, "w3.toml", &text[..at]);
    let v = assert_input_error(&validate(&[&w]), None);
    assert_contains(&v, &format!("{}:{line}: ", w.display()));
}

#[test]
fn every_kind_validates_and_says_which() {
    let tmp = TempDir::new().unwrap();
    let run_dir = tmp.path().join("run");
    let mut args = vec!["run", "--quiet", "--out", run_dir.to_str().unwrap()];
    args.extend(TINY_SETS);
    let r = nandspin(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let record = run_dir.join("run.toml");
    let r = validate(&[
        Path::new("arch/nandspin.toml"),
        Path::new("workloads/lenet5-mnist.toml"),
        Path::new("arch/sweeps/tiles-pulse.toml"),
        &record,
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    assert!(
        lines[0].starts_with("ok: arch/nandspin.toml (arch: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("ok: workloads/lenet5-mnist.toml (workload: 12 layers"),
        "{}",
        lines[1]
    );
    // The same counts as `sweep plan`.
    let plan = nandspin(&["sweep", "plan", "arch/sweeps/tiles-pulse.toml"]);
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    assert_contains(&plan.stdout, "10 points, 2 trainings");
    assert_eq!(
        lines[2],
        "ok: arch/sweeps/tiles-pulse.toml (sweep: 10 points, 2 trainings)"
    );
    assert!(
        lines[3].starts_with(&format!(
            "ok: {} (run record: arch nandspin, workload lenet5-mnist (12 layers, 200 train / 100 test images), seed 0",
            record.display()
        )),
        "{}",
        lines[3]
    );
}

#[test]
fn broken_run_record_fails_as_run_from_does() {
    let tmp = TempDir::new().unwrap();
    let run_dir = tmp.path().join("run");
    tiny_run(&run_dir, &[]);
    let text = fs::read_to_string(run_dir.join("run.toml")).unwrap();
    let (bad, line) = edit(&text, "[arch.weights]", "bits", "bits = 40");
    let rec = write(&tmp, "run.toml", &bad);
    let v = assert_input_error(&validate(&[&rec]), None);
    assert!(
        v.starts_with(&format!(
            "error: {}:{line}: arch.weights.bits: ",
            rec.display()
        )),
        "{v}"
    );
    let out = tmp.path().join("out");
    let r = assert_input_error(
        &nandspin(&[
            "run",
            "--quiet",
            "--from",
            rec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]),
        Some(&out),
    );
    assert_eq!(v, r, "validate and run --from disagree");
    // A record without its [workload] table.
    let cut = &text[..text.find("[workload]").unwrap()];
    let rec = write(&tmp, "cut.toml", cut);
    let v = assert_input_error(&validate(&[&rec]), None);
    assert_contains(&v, "no [workload] table");
}

#[test]
fn broken_sweep_fails_as_sweep_plan_does() {
    let tmp = TempDir::new().unwrap();
    let arch = manifest().join("arch/nandspin.toml");
    let work = manifest().join("workloads/lenet5-mnist.toml");
    let head = format!(
        "arch = {:?}\nworkload = {:?}\n",
        arch.display().to_string(),
        work.display().to_string()
    );
    let s = write(
        &tmp,
        "s.toml",
        &format!("{head}[[axis]]\nkey = \"chip.tiles\"\nvalues = [4, 0]\n"),
    );
    let v = assert_input_error(&validate(&[&s]), None);
    assert!(
        v.starts_with(&format!("error: {}:3: axis chip.tiles = 0: ", s.display())),
        "{v}"
    );
    let p = assert_input_error(&nandspin(&["sweep", "plan", s.to_str().unwrap()]), None);
    assert_eq!(v, p, "validate and sweep plan disagree");
    // No axis at all: still a sweep (it names its configs), and refused as one.
    let s = write(&tmp, "s2.toml", &head);
    let v = assert_input_error(&validate(&[&s]), None);
    assert_contains(&v, "at least one [[axis]]");
    // A good one.
    let s = write(
        &tmp,
        "s3.toml",
        &format!("{head}[[axis]]\nkey = \"chip.tiles\"\nvalues = [4, 8]\n"),
    );
    let r = validate(&[&s]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_contains(&r.stdout, "(sweep: 2 points, 1 training)");
}

#[test]
fn validate_and_run_agree_on_edited_workloads() {
    let tmp = TempDir::new().unwrap();
    let text = workload_copy(&workload_text());
    let cases: Vec<(&str, String)> = vec![
        ("good", text.clone()),
        (
            "class count",
            text.replace("out_features = 10", "out_features = 5"),
        ),
        (
            "missing data",
            text.replace("t10k-labels-idx1-ubyte.gz", "nope.gz"),
        ),
        (
            "huge",
            text.replace("epochs = 10", "epochs = 18446744073709551616"),
        ),
        (
            "bad input",
            text.replace("input = \"relu4\"", "input = \"relu9\""),
        ),
    ];
    for (what, t) in cases {
        let w = write(&tmp, "w.toml", &t);
        let v = validate(&[&w]);
        let r = run_workload(&tmp, &w);
        let _ = fs::remove_dir_all(tmp.path().join("out"));
        assert_eq!(
            v.code, r.code,
            "{what}: validate {} / run {}",
            v.stderr, r.stderr
        );
        if v.code == Some(2) {
            let (v, r) = (assert_input_error(&v, None), assert_input_error(&r, None));
            assert_eq!(v, r, "{what}");
            assert_contains(&v, &format!("{}:", w.display()));
        }
    }
}

#[test]
fn long_values_give_short_errors() {
    let tmp = TempDir::new().unwrap();
    let long = "x".repeat(2_000_000);
    let text = workload_copy(&workload_text())
        .replace("name = \"fc3\"", &format!("name = \"{long}\"\n{long} = 1"));
    let w = write(&tmp, "w.toml", &text);
    let v = assert_input_error(&validate(&[&w]), None);
    assert!(v.chars().count() <= 300, "{} chars: {v}", v.chars().count());
    assert_contains(&v, &format!("{}:", w.display()));
    let r = nandspin(&[
        "run",
        "--quiet",
        "--set",
        &format!("training.{}=1", &long[..100_000]),
    ]);
    let r = assert_input_error(&r, None);
    assert!(r.chars().count() <= 300, "{} chars: {r}", r.chars().count());
}

#[test]
fn out_of_range_numbers_and_bad_bytes_name_their_line() {
    let tmp = TempDir::new().unwrap();
    for value in ["9223372036854775808", "18446744073709551616", "1e999"] {
        let (text, line) = edit(
            &arch_text(),
            "[dram]",
            "latency_ns",
            &format!("latency_ns = {value}"),
        );
        let a = write(&tmp, "a.toml", &text);
        let v = assert_input_error(&validate(&[&a]), None);
        let at = format!("error: {}:{line}: dram.latency_ns: ", a.display());
        assert!(v.starts_with(&at), "expected {at:?} in {v:?}");
        let out = tmp.path().join("out");
        let r = assert_input_error(
            &nandspin(&run_args(&out, &["--arch", a.to_str().unwrap()])),
            Some(&out),
        );
        assert_eq!(v, r, "validate and run disagree");
    }
    let mut bytes = workload_text().into_bytes();
    let at = bytes.windows(6).position(|w| w == b"epochs").unwrap();
    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    bytes.insert(at + 2, 0xff);
    let w = tmp.path().join("w.toml");
    fs::write(&w, &bytes).unwrap();
    let v = assert_input_error(&validate(&[&w]), None);
    assert!(
        v.starts_with(&format!(
            "error: {}:{line}: not UTF-8 text: byte 0xff at column 3",
            w.display()
        )),
        "{v}"
    );
}
