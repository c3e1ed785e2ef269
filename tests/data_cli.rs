//! The data checks through the binary, as a user meets them: a damaged copy of a bundled
//! data folder (its `SHA256SUMS` no longer matches), a `data.image_size` the files do not
//! have, and a short training of `workloads/lenet5-fashion.toml` on the bundled
//! Fashion-MNIST subset.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::*;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

fn bundled(folder: &str) -> PathBuf {
    manifest().join("workloads/data").join(folder)
}

/// Copies a bundled data folder (data files, `SHA256SUMS`, README) into `tmp`.
fn copy_folder(tmp: &TempDir, folder: &str) -> PathBuf {
    let dst = tmp.path().join(folder);
    fs::create_dir(&dst).unwrap();
    for e in fs::read_dir(bundled(folder)).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
    assert!(dst.join("SHA256SUMS").is_file());
    dst
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut raw = Vec::new();
    MultiGzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    raw
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decompresses `file`, changes the byte at `offset` with `change`, and writes it back
/// gzipped: still a valid IDX file, but not the one `SHA256SUMS` lists. Returns the digest
/// of the old and the new content.
fn damage(file: &Path, offset: usize, change: impl Fn(u8) -> u8) -> (String, String) {
    let mut raw = gunzip(file);
    let old = hex(&Sha256::digest(&raw));
    raw[offset] = change(raw[offset]);
    let new = hex(&Sha256::digest(&raw));
    assert_ne!(old, new);
    fs::write(file, gzip(&raw)).unwrap();
    (old, new)
}

/// `run` of `workload` (relative to the crate root) on the data folder `dir`, cut short,
/// into `out`.
fn run_on(workload: &str, dir: &Path, out: &Path) -> Outcome {
    let mut args: Vec<String> = ["run", "--workload", workload, "--set"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(format!("data.dir={:?}", dir.display().to_string()));
    args.extend(TINY_SETS.iter().map(|s| s.to_string()));
    args.extend(["--quiet".into(), "--out".into(), out.display().to_string()]);
    nandspin(&args)
}

/// Asserts the contract for a damaged file: exit 2, one line naming the file, its digest
/// and the listed one, and no report folder at all.
fn assert_checksum_error(r: &Outcome, out: &Path, file: &Path, listed: &str, actual: &str) {
    let line = assert_input_error(r, Some(out));
    assert!(!out.exists(), "{} was created", out.display());
    assert_eq!(
        line,
        format!(
            "error: {}: decompressed SHA-256 is {actual}, SHA256SUMS line {} expects {listed}",
            file.display(),
            sums_line(file, listed)
        )
    );
}

/// The line of `SHA256SUMS` (beside `file`) that lists `digest`.
fn sums_line(file: &Path, digest: &str) -> usize {
    let sums = fs::read_to_string(file.with_file_name("SHA256SUMS")).unwrap();
    1 + sums
        .lines()
        .position(|l| l.starts_with(digest))
        .unwrap_or_else(|| panic!("{digest} not in SHA256SUMS"))
}

#[test]
fn damaged_fashion_images_stop_the_run_before_any_report() {
    let tmp = TempDir::new().unwrap();
    let dir = copy_folder(&tmp, "fashion-mnist");
    let file = dir.join("t10k-images-idx3-ubyte.gz");
    // A pixel of the first test image: the header and the length stay valid.
    let (listed, actual) = damage(&file, 16 + 14 * 28 + 14, |p| p ^ 0x01);
    let out = tmp.path().join("out");
    let r = run_on("workloads/lenet5-fashion.toml", &dir, &out);
    assert_checksum_error(&r, &out, &file, &listed, &actual);

    // Without the list, the same folder is read unchecked (as the full data set is).
    fs::remove_file(dir.join("SHA256SUMS")).unwrap();
    let r = run_on("workloads/lenet5-fashion.toml", &dir, &out);
    ok(&r);
    assert!(out.join("epochs.csv").is_file());
}

#[test]
fn damaged_mnist_label_stops_the_run_before_any_report() {
    let tmp = TempDir::new().unwrap();
    let dir = copy_folder(&tmp, "mnist");
    let file = dir.join("train-labels-idx1-ubyte.gz");
    // The 101st label, moved to the next class: still a label from 0 to 9.
    let (listed, actual) = damage(&file, 8 + 100, |l| (l + 1) % 10);
    let out = tmp.path().join("runs/x");
    let r = run_on("workloads/lenet5-mnist.toml", &dir, &out);
    assert_checksum_error(&r, &out, &file, &listed, &actual);
    assert!(!tmp.path().join("runs").exists(), "runs/ was created");
}

#[test]
fn sha256sums_checks_raw_copies_too() {
    // The list names the decompressed files, so it holds for a raw copy of the folder.
    let tmp = TempDir::new().unwrap();
    let dir = copy_folder(&tmp, "mnist");
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let gz = dir.join(format!("{name}.gz"));
        fs::write(dir.join(name), gunzip(&gz)).unwrap();
        fs::remove_file(gz).unwrap();
    }
    let out = tmp.path().join("out");
    ok(&run_on("workloads/lenet5-mnist.toml", &dir, &out));
    // A changed raw file is caught.
    let file = dir.join("t10k-labels-idx1-ubyte");
    let mut raw = fs::read(&file).unwrap();
    let listed = hex(&Sha256::digest(&raw));
    raw[8] = (raw[8] + 1) % 10;
    let actual = hex(&Sha256::digest(&raw));
    fs::write(&file, &raw).unwrap();
    let out = tmp.path().join("out2");
    let r = run_on("workloads/lenet5-mnist.toml", &dir, &out);
    assert_checksum_error(&r, &out, &file, &listed, &actual);
}

#[test]
fn malformed_sha256sums_names_its_line() {
    let tmp = TempDir::new().unwrap();
    let dir = copy_folder(&tmp, "mnist");
    let sums = dir.join("SHA256SUMS");
    let text = fs::read_to_string(&sums).unwrap();
    // The gzipped name on line 3: the list must name decompressed files.
    let bad = text.replacen(
        "  t10k-images-idx3-ubyte\n",
        "  t10k-images-idx3-ubyte.gz\n",
        1,
    );
    assert_ne!(bad, text);
    fs::write(&sums, bad).unwrap();
    let out = tmp.path().join("out");
    let line = assert_input_error(
        &run_on("workloads/lenet5-mnist.toml", &dir, &out),
        Some(&out),
    );
    assert_contains(&line, &format!("{}:3: ", sums.display()));
    assert_contains(
        &line,
        "name the decompressed file (`t10k-images-idx3-ubyte`)",
    );
}

/// `workloads/lenet5-fashion.toml` with `data.dir` made absolute, so a copy works anywhere.
fn fashion_workload_text() -> String {
    let text = fs::read_to_string(manifest().join("workloads/lenet5-fashion.toml")).unwrap();
    let rel = "dir = \"data/fashion-mnist\"";
    assert!(text.contains(rel), "the workload's data.dir line changed");
    text.replacen(
        rel,
        &format!("dir = {:?}", bundled("fashion-mnist").display().to_string()),
        1,
    )
}

#[test]
fn image_size_mismatch_names_file_line_and_key() {
    let tmp = TempDir::new().unwrap();
    let (text, line) = edit(
        &fashion_workload_text(),
        "[data]",
        "image_size",
        "image_size = [32, 32]",
    );
    let w = write(&tmp, "w.toml", &text);
    let out = tmp.path().join("out");
    let mut args = run_args(&out, &[]);
    args.extend(["--workload".into(), w.display().to_string()]);
    let msg = assert_input_error(&nandspin(&args), Some(&out));
    assert!(!out.exists());
    assert_eq!(
        msg,
        format!(
            "error: {}:{line}: data.image_size: is [32, 32] (rows, columns), but the images in \
             train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz are 28x28",
            w.display()
        )
    );

    // Through --set, the --set is blamed.
    let msg = bad_run(&[
        "--workload",
        "workloads/lenet5-fashion.toml",
        "--set",
        "data.image_size=[28, 27]",
    ]);
    assert_contains(
        &msg,
        "error: --set data.image_size=[28, 27]: data.image_size: is [28, 27] (rows, columns)",
    );

    // Not two positive numbers.
    for (value, needle) in [
        ("[28, 28, 1]", "expected [rows, columns], got 3 numbers"),
        (
            "[0, 28]",
            "rows and columns must be at least 1, got [0, 28]",
        ),
    ] {
        let (text, line) = edit(
            &fashion_workload_text(),
            "[data]",
            "image_size",
            &format!("image_size = {value}"),
        );
        let w = write(&tmp, "v.toml", &text);
        let msg = bad_run(&["--workload", w.to_str().unwrap()]);
        assert_contains(&msg, &format!("{}:{line}: data.image_size", w.display()));
        assert_contains(&msg, needle);
    }
}

#[test]
fn lenet5_fashion_trains_on_the_bundled_subset() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let r = nandspin(&[
        "run",
        "--workload",
        "workloads/lenet5-fashion.toml",
        "--set",
        "training.max_train_images=256",
        "--set",
        "training.max_test_images=256",
        "--set",
        "training.epochs=1",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&r);
    assert_contains(
        &r.stdout,
        "lenet5-fashion on nandspin, seed 0\n  12 layers, 61706 parameters; 256 train / 256 test images of 1x28x28; 1 epochs",
    );
    let rows = epochs(&out);
    assert_eq!(rows.len(), 1, "one epoch");
    let acc = num(&rows[0], "test_accuracy");
    assert!((0.0..=1.0).contains(&acc), "test accuracy {acc}");
    // The record keeps the size check and the bundled folder.
    let record = fs::read_to_string(out.join("run.toml")).unwrap();
    assert_contains(&record, "image_size = [28, 28]");
    let dir = fs::canonicalize(bundled("fashion-mnist")).unwrap();
    assert_contains(&record, &format!("dir = {:?}", dir.display().to_string()));
    // And it reruns from the record.
    let again = tmp.path().join("again");
    ok(&nandspin(&[
        "run",
        "--quiet",
        "--from",
        out.join("run.toml").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]));
    assert_eq!(
        csv_without_wall(&out.join("epochs.csv")),
        csv_without_wall(&again.join("epochs.csv"))
    );
}
