//! End-to-end tests of the `nandspin` binary, run the way a user runs it: real config files,
//! the bundled MNIST subset, reports on disk. Every training run is tiny (a few hundred
//! images, one or two epochs) so the whole file takes seconds in release mode.
//!
//! Bad input must give exit code 2, exactly one `error: ` line on stderr naming the file,
//! line and key at fault, and no report files.

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use tempfile::TempDir;

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The bundled MNIST folder, absolute.
fn mnist_dir() -> PathBuf {
    manifest().join("workloads/data/mnist")
}

/// The bundled workload's text, with `data.dir` made absolute so a copy works anywhere.
fn workload_text() -> String {
    let text = fs::read_to_string(manifest().join("workloads/lenet5-mnist.toml")).unwrap();
    let rel = "dir = \"data/mnist\"";
    assert!(text.contains(rel), "the workload's data.dir line changed");
    text.replacen(
        rel,
        &format!("dir = {:?}", mnist_dir().display().to_string()),
        1,
    )
}

/// Runs a tiny training of a workload edited by `edit(after, key, new_line)`, expecting an
/// input error; checks it names the file and edited line, and returns the message.
fn bad_workload(after: &str, key: &str, new_line: &str) -> String {
    let tmp = TempDir::new().unwrap();
    let (text, line) = edit(&workload_text(), after, key, new_line);
    let w = write(&tmp, "bad.toml", &text);
    let msg = bad_run(&["--workload", w.to_str().unwrap()]);
    let at = format!("{}:{line}:", w.display());
    assert!(msg.contains(&at), "expected {at:?} in {msg:?}");
    msg
}

/// As [`bad_workload`], for the arch file.
fn bad_arch(after: &str, key: &str, new_line: &str) -> String {
    let tmp = TempDir::new().unwrap();
    let (text, line) = edit(&arch_text(), after, key, new_line);
    let a = write(&tmp, "bad-arch.toml", &text);
    let msg = bad_run(&["--arch", a.to_str().unwrap()]);
    let at = format!("{}:{line}:", a.display());
    assert!(msg.contains(&at), "expected {at:?} in {msg:?}");
    msg
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A temp folder holding copies of the four bundled data files, and a workload using it.
fn data_copy() -> (TempDir, PathBuf, PathBuf) {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("mnist");
    fs::create_dir(&data).unwrap();
    for e in fs::read_dir(mnist_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "gz") {
            fs::copy(&p, data.join(p.file_name().unwrap())).unwrap();
        }
    }
    let text = workload_text().replacen(
        &format!("{:?}", mnist_dir().display().to_string()),
        &format!("{:?}", data.display().to_string()),
        1,
    );
    let w = write(&tmp, "w.toml", &text);
    (tmp, data, w)
}

/// Replaces the training images of a data copy with `bytes`, runs, and checks the error
/// names that file; returns the message.
fn bad_train_images(bytes: &[u8]) -> String {
    let (_tmp, data, w) = data_copy();
    let images = data.join("train-images-idx3-ubyte.gz");
    fs::write(&images, bytes).unwrap();
    let msg = bad_run(&["--workload", w.to_str().unwrap()]);
    assert_contains(&msg, &images.display().to_string());
    msg
}

// ---------------------------------------------------------------------------------------
// Happy paths
// ---------------------------------------------------------------------------------------

#[test]
fn run_writes_reports() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let r = tiny_run(&out, &["--set", "training.epochs=2"]);
    assert_contains(&r.stdout, "final test accuracy");

    for f in [
        "epochs.csv",
        "layers.csv",
        "components.csv",
        "summary.csv",
        "run.toml",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    let csv = fs::read_to_string(out.join("epochs.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,train_loss,train_accuracy,test_loss,test_accuracy,\
         strings_written,strings_skipped,program_pulses,switches,program_failures,\
         verify_reads,bits_written,bit_errors,bit_error_rate,erase_energy_pJ,\
         program_energy_pJ,read_energy_pJ,write_energy_pJ,string_write_ns,program_ns,\
         erases_skipped,random_bits,p_fail_worst1pct,cycles,energy_pJ,wall_s"
    );
    let width = lines[0].split(',').count();
    assert_eq!(lines.len(), 3, "header + one row per epoch:\n{csv}");
    for l in &lines {
        assert!(!l.ends_with(','), "trailing comma: {l:?}");
    }
    for (i, row) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), width, "{row:?}");
        assert_eq!(f[0].parse::<usize>().unwrap(), i + 1);
        for col in [2, 4] {
            let acc: f64 = f[col].parse().unwrap();
            assert!((0.0..=1.0).contains(&acc), "accuracy {acc} in {row:?}");
        }
        // Every other column is a non-negative number: the default store is the device.
        for (col, v) in f.iter().enumerate().skip(1) {
            let v: f64 = v
                .parse()
                .unwrap_or_else(|_| panic!("column {col} of {row:?}"));
            assert!(v.is_finite() && v >= 0.0, "{v} in {row:?}");
        }
    }

    let summary = fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 2, "{summary}");
    for l in summary.lines() {
        assert!(!l.ends_with(','), "trailing comma: {l:?}");
    }

    let run: toml::Table = fs::read_to_string(out.join("run.toml"))
        .unwrap()
        .parse()
        .expect("run.toml is TOML");
    let meta = run["run"].as_table().expect("[run]");
    assert!(meta["seed"].as_integer().is_some(), "run.seed");
    assert_eq!(meta["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    assert!(run["arch"].is_table(), "[arch]");
    let work = run["workload"].as_table().expect("[workload]");
    assert_eq!(work["training"]["epochs"].as_integer(), Some(2));
    assert_eq!(work["training"]["max_train_images"].as_integer(), Some(256));
}

/// Two runs with the same seed agree (but for wall time); other seeds differ.
fn check_determinism(store: &str) {
    let tmp = TempDir::new().unwrap();
    let set = format!("weights.store={store}");
    let run = |name: &str, seed: &str| {
        let out = tmp.path().join(name);
        tiny_run(&out, &["--set", &set, "--seed", seed]);
        rows_without_wall(&out)
    };
    let a = run("a", "1");
    let b = run("b", "1");
    let c = run("c", "2");
    assert_eq!(a.len(), 2);
    assert_eq!(a, b, "same seed, different results ({store} store)");
    assert_ne!(a[1..], c[1..], "seeds 1 and 2 agree ({store} store)");
}

#[test]
fn deterministic_float_store() {
    check_determinism("float");
}

#[test]
fn deterministic_fixed_store() {
    check_determinism("fixed");
}

#[test]
fn rerun_from_run_toml() {
    let tmp = TempDir::new().unwrap();
    let first = tmp.path().join("first");
    tiny_run(&first, &["--seed", "7"]);
    let second = tmp.path().join("second");
    let r = nandspin(&[
        "run",
        "--quiet",
        "--from",
        first.join("run.toml").to_str().unwrap(),
        "--out",
        second.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "stderr:\n{}", r.stderr);
    assert_eq!(rows_without_wall(&first), rows_without_wall(&second));
}

#[test]
fn validate_bundled_configs() {
    let r = nandspin(&[
        "validate",
        "arch/nandspin.toml",
        "workloads/lenet5-mnist.toml",
    ]);
    assert_eq!(r.code, Some(0), "stderr:\n{}", r.stderr);
    assert_eq!(r.stdout.matches("ok:").count(), 2, "{}", r.stdout);
}

#[test]
fn residual_network_trains() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    tiny_run(&out, &["--workload", "tests/fixtures/residual.toml"]);
    let rows = rows_without_wall(&out);
    assert_eq!(rows.len(), 2, "{rows:?}");
}

// ---------------------------------------------------------------------------------------
// Bad workload files
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_training_key() {
    let msg = bad_workload("[training]", "epochs", "epochz = 3");
    assert_contains(&msg, "epochz");
}

#[test]
fn wrong_type() {
    let msg = bad_workload("[training]", "epochs", "epochs = \"ten\"");
    assert_contains(&msg, "training.epochs");
}

#[test]
fn zero_batch_size() {
    let msg = bad_workload("[training]", "batch_size", "batch_size = 0");
    assert_contains(&msg, "training.batch_size");
}

#[test]
fn negative_out_channels() {
    let msg = bad_workload("name = \"conv1\"", "out_channels", "out_channels = -6");
    assert_contains(&msg, "layer conv1");
}

#[test]
fn kernel_larger_than_input() {
    let msg = bad_workload("name = \"conv2\"", "kernel", "kernel = 15");
    assert_contains(&msg, "layer conv2");
    assert_contains(&msg, "larger than its input");
}

#[test]
fn missing_input_layer() {
    let msg = bad_workload("name = \"conv2\"", "input", "input = \"pool9\"");
    assert_contains(&msg, "layer conv2");
    assert_contains(&msg, "pool9");
}

#[test]
fn cycle() {
    let tmp = TempDir::new().unwrap();
    let (text, _) = edit(
        &workload_text(),
        "name = \"conv1\"",
        "input",
        "input = \"fc3\"",
    );
    let w = write(&tmp, "cycle.toml", &text);
    let msg = bad_run(&["--workload", w.to_str().unwrap()]);
    assert_contains(&msg, &w.display().to_string());
    assert_contains(&msg, "cycle");
    // The message blames one layer of the cycle, at its `[[layers]]` line.
    let name = msg
        .split("layer ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap_or_else(|| panic!("no layer named in {msg:?}"));
    let header = text
        .lines()
        .position(|l| l.trim() == format!("name = \"{name}\""))
        .unwrap_or_else(|| panic!("no layer {name:?} in the file"));
    assert_contains(&msg, &format!("{}:{header}:", w.display()));
}

#[test]
fn in_channels_mismatch() {
    let msg = bad_workload("name = \"conv2\"", "in_channels", "in_channels = 4");
    assert_contains(&msg, "layer conv2");
    assert_contains(&msg, "expects 4 input channels, gets 6");
}

// ---------------------------------------------------------------------------------------
// Bad arch files
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_arch_key() {
    let msg = bad_arch("[weights]", "bits", "bitz = 8");
    assert_contains(&msg, "bitz");
}

#[test]
fn bad_store_value() {
    let msg = bad_arch("[weights]", "store", "store = \"flash\"");
    assert_contains(&msg, "weights.store");
    assert_contains(&msg, "flash");
}

// ---------------------------------------------------------------------------------------
// Bad data
// ---------------------------------------------------------------------------------------

#[test]
fn missing_data_file() {
    let tmp = TempDir::new().unwrap();
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let text = workload_text().replacen(
        &format!("{:?}", mnist_dir().display().to_string()),
        &format!("{:?}", empty.display().to_string()),
        1,
    );
    let w = write(&tmp, "w.toml", &text);
    let msg = bad_run(&["--workload", w.to_str().unwrap()]);
    assert_contains(
        &msg,
        &empty
            .join("train-images-idx3-ubyte.gz")
            .display()
            .to_string(),
    );
}

#[test]
fn truncated_idx() {
    let mut raw = Vec::new();
    MultiGzDecoder::new(fs::File::open(mnist_dir().join("train-images-idx3-ubyte.gz")).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let msg = bad_train_images(&gzip(&raw[..1000]));
    assert_contains(&msg, "truncated");
}

#[test]
fn idx_bad_magic() {
    let bytes: Vec<u8> = (1..=64).collect();
    let msg = bad_train_images(&gzip(&bytes));
    assert_contains(&msg, "not an IDX file");
}

#[test]
fn corrupt_gzip() {
    // A valid 10-byte gzip header (deflate, no flags), then a deflate stream of noise.
    let mut bytes = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    let mut x: u32 = 0x9e37_79b9;
    bytes.extend((0..4096).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x >> 24) as u8
    }));
    let msg = bad_train_images(&bytes);
    assert_contains(&msg, "gzip");
}

// ---------------------------------------------------------------------------------------
// Bad command lines
// ---------------------------------------------------------------------------------------

#[test]
fn set_unknown_training_key() {
    let msg = bad_run(&["--set", "training.epochz=1"]);
    assert!(msg.starts_with("error: --set training.epochz=1"), "{msg}");
    assert_contains(&msg, "epochz");
}

#[test]
fn set_unknown_top_key() {
    let msg = bad_run(&["--set", "bogus.x=1"]);
    assert!(msg.starts_with("error: --set bogus.x=1"), "{msg}");
    assert_contains(&msg, "bogus");
}

#[test]
fn set_wrong_type() {
    let msg = bad_run(&["--set", "training.epochs=many"]);
    assert!(
        msg.starts_with("error: --set training.epochs=many"),
        "{msg}"
    );
    assert_contains(&msg, "training.epochs");
}

#[test]
fn set_without_equals() {
    let msg = bad_run(&["--set", "training.epochs"]);
    assert!(msg.starts_with("error: --set training.epochs"), "{msg}");
}

#[test]
fn validate_bad_file() {
    let tmp = TempDir::new().unwrap();
    let (text, line) = edit(&workload_text(), "[training]", "epochs", "epochz = 3");
    let w = write(&tmp, "bad.toml", &text);
    let r = nandspin(&["validate", w.to_str().unwrap()]);
    let msg = assert_input_error(&r, None);
    assert_contains(&msg, &format!("{}:{line}:", w.display()));
    assert_contains(&msg, "epochz");
}

// ---------------------------------------------------------------------------------------
// Blame and limits (found in review)
// ---------------------------------------------------------------------------------------

#[test]
fn huge_sizes_are_errors_not_aborts() {
    let msg = bad_run(&["--set", "layers.fc3.out_features=4000000000"]);
    assert_contains(
        &msg,
        "error: --set layers.fc3.out_features=4000000000: layer fc3",
    );
    assert_contains(&msg, "must be at most");
    // Within the per-key cap, but too many values per image: blamed on the --set that did it.
    let msg = bad_run(&["--set", "layers.conv1.out_channels=1000000"]);
    assert_contains(
        &msg,
        "error: --set layers.conv1.out_channels=1000000: layer conv1",
    );
    assert_contains(&msg, "values per sample");
    let msg = bad_run(&["--set", "layers.conv1.padding=100000"]);
    assert_contains(&msg, "error: --set layers.conv1.padding=100000");
}

#[test]
fn graph_errors_caused_by_set_blame_the_set() {
    let msg = bad_run(&["--set", "layers.conv2.input=conv2"]);
    assert_contains(&msg, "error: --set layers.conv2.input=conv2: ");
    assert_contains(&msg, "cycle");
    let msg = bad_run(&["--set", "layers.fc3.out_features=5"]);
    assert_contains(
        &msg,
        "error: --set layers.fc3.out_features=5: layer fc3: out_features: gives 5 class scores",
    );
    // The last of two --set of one key wins, and is the one blamed.
    let msg = bad_run(&[
        "--set",
        "training.batch_size=4",
        "--set",
        "training.batch_size=0",
    ]);
    assert_contains(&msg, "error: --set training.batch_size=0: ");
}

#[test]
fn out_of_range_values() {
    assert_contains(&bad_run(&["--set", "weights.range=1e300"]), "weights.range");
    assert_contains(
        &bad_run(&["--set", "weights.auto_range_headroom=1e-300"]),
        "weights.auto_range_headroom",
    );
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let r = nandspin(&[
        "run",
        "--seed",
        "9223372036854775808",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(!out.exists());
}

#[test]
fn unwritable_out_fails_before_training() {
    let tmp = TempDir::new().unwrap();
    let file = write(&tmp, "not-a-folder", "x");
    let out = file.join("out");
    let r = nandspin(&["run", "--out", out.to_str().unwrap()]);
    let msg = assert_input_error(&r, None);
    assert_contains(&msg, "cannot create the report folder");
    assert!(!r.stdout.contains("final test accuracy"));
}

#[test]
fn layer_names_with_dots_are_rejected() {
    let msg = bad_workload("name = \"conv1\"", "name", "name = \"conv.1\"");
    assert_contains(&msg, "may not contain `.`");
}

#[test]
fn validate_checks_the_class_count() {
    let tmp = TempDir::new().unwrap();
    let (text, _) = edit(
        &workload_text(),
        "name = \"fc3\"",
        "out_features",
        "out_features = 5",
    );
    let w = write(&tmp, "w.toml", &text);
    let r = nandspin(&["validate", w.to_str().unwrap()]);
    let msg = assert_input_error(&r, None);
    assert_contains(&msg, "gives 5 class scores");
}

#[test]
fn rerun_keeps_names_and_leaves_no_temporaries() {
    let tmp = TempDir::new().unwrap();
    let arch = write(
        &tmp,
        "mram2.toml",
        &arch_text().replace("name = \"nandspin\"\n", ""),
    );
    let first = tmp.path().join("first");
    tiny_run(&first, &["--arch", arch.to_str().unwrap()]);
    let second = tmp.path().join("second");
    let r = nandspin(&[
        "run",
        "--quiet",
        "--from",
        first.join("run.toml").to_str().unwrap(),
        "--out",
        second.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    for dir in [&first, &second] {
        let summary = fs::read_to_string(dir.join("summary.csv")).unwrap();
        let row = summary.lines().nth(1).unwrap();
        assert!(row.contains(",mram2,"), "arch name kept: {row}");
        let names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.contains(".tmp-")),
            "temporary files left: {names:?}"
        );
        assert_eq!(names.len(), 5, "{names:?}");
    }
}
