//! `nandspin run --threads N`: the number of threads the training runs on changes no
//! result (reports compared byte for byte apart from wall-clock columns); bad values are
//! refused.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use tempfile::TempDir;

/// Trains the default workload (LeNet-5, batch 32) on 512 images for one epoch with
/// `--threads threads` and `extra`; returns the report folder.
fn run(tmp: &TempDir, threads: &str, extra: &[&str]) -> PathBuf {
    let out = tmp.path().join(format!("t{threads}"));
    let mut args = vec![
        "run",
        "--quiet",
        "--set",
        "training.max_train_images=512",
        "--set",
        "training.max_test_images=256",
        "--set",
        "training.epochs=1",
        "--threads",
        threads,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    ok(&nandspin(&args));
    out
}

fn check(extra: &[&str]) {
    let tmp = TempDir::new().unwrap();
    let one = run(&tmp, "1", extra);
    let reference = (
        csv_without_wall(&one.join("epochs.csv")),
        fs::read(one.join("layers.csv")).unwrap(),
        csv_without_wall(&one.join("summary.csv")),
    );
    for threads in ["2", "3"] {
        let other = run(&tmp, threads, extra);
        assert_eq!(
            csv_without_wall(&other.join("epochs.csv")),
            reference.0,
            "epochs.csv differs between 1 and {threads} threads ({extra:?})"
        );
        assert_eq!(
            fs::read(other.join("layers.csv")).unwrap(),
            reference.1,
            "layers.csv differs between 1 and {threads} threads ({extra:?})"
        );
        assert_eq!(
            csv_without_wall(&other.join("summary.csv")),
            reference.2,
            "summary.csv differs between 1 and {threads} threads ({extra:?})"
        );
    }
}

#[test]
fn thread_count_does_not_change_the_default_run() {
    check(&[]);
}

#[test]
fn thread_count_does_not_change_a_float_run() {
    check(&["--set", "weights.store=float"]);
}

#[test]
fn thread_count_does_not_change_a_portable_run() {
    check(&[
        "--set",
        "weights.store=float",
        "--set",
        "training.kernels=\"portable\"",
        "--set",
        "training.batch_size=50",
    ]);
}

#[test]
fn zero_threads_is_refused() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    for bad in ["0", "many"] {
        let r = nandspin(&["run", "--threads", bad, "--out", out.to_str().unwrap()]);
        assert_eq!(r.code, Some(2), "--threads {bad}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_contains(r.stderr.lines().next().unwrap_or(""), "--threads");
        assert!(!Path::new(&out).exists());
    }
}

#[test]
fn help_documents_threads() {
    let r = nandspin(&["run", "--help"]);
    ok(&r);
    assert_contains(&r.stdout, "--threads <N>");
    assert_contains(&r.stdout, "RAYON_NUM_THREADS");
}
