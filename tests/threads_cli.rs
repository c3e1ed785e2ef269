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

/// Every Fashion-MNIST workload (batch norm, residual adds, global average pooling) gives the
/// same epochs, layers and summary on 1 and 2 threads; the default chip with a tile buffer
/// large enough for VGG, 128 training images, batch 16.
#[test]
fn thread_count_does_not_change_any_workload() {
    for w in ["lenet5-fashion", "vgg-fashion", "resnet-fashion"] {
        let tmp = TempDir::new().unwrap();
        let path = format!("workloads/{w}.toml");
        let go = |threads: &str| -> PathBuf {
            let out = tmp.path().join(format!("t{threads}"));
            ok(&nandspin(&[
                "run",
                "--quiet",
                "--workload",
                &path,
                "--set",
                "training.max_train_images=128",
                "--set",
                "training.max_test_images=64",
                "--set",
                "training.epochs=1",
                "--set",
                "training.batch_size=16",
                "--set",
                "tile.buffer_kib=256",
                "--threads",
                threads,
                "--out",
                out.to_str().unwrap(),
            ]));
            out
        };
        let (one, two) = (go("1"), go("2"));
        for f in ["epochs.csv", "summary.csv"] {
            assert_eq!(
                csv_without_wall(&one.join(f)),
                csv_without_wall(&two.join(f)),
                "{w}: {f} differs between 1 and 2 threads"
            );
        }
        assert_eq!(
            fs::read(one.join("layers.csv")).unwrap(),
            fs::read(two.join("layers.csv")).unwrap(),
            "{w}: layers.csv differs between 1 and 2 threads"
        );
    }
}
