//! `training.kernels`: `portable` gives the same report bytes whatever CPU features the
//! kernel dispatch sees (forced with `NANDSPIN_FORCE_ISA`); the kernel used is recorded in
//! `run.toml` and `summary.csv`; bad values are one-line input errors.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use tempfile::TempDir;

/// A tiny run: one epoch, 200 training and 100 test images.
const SMALL: [&str; 4] = [
    "--set",
    "training.max_train_images=200",
    "--set",
    "training.max_test_images=100",
];

fn run(out: &Path, kernels: &str, force: &str) {
    let set = format!("training.kernels=\"{kernels}\"");
    let mut extra: Vec<&str> = SMALL.to_vec();
    extra.extend(["--set", set.as_str()]);
    tiny_run_env(out, &extra, &[("NANDSPIN_FORCE_ISA", force)]);
}

/// `run.toml` without the lines that name the report folder or the features seen.
fn record_without_machine(out: &Path) -> String {
    fs::read_to_string(out.join("run.toml"))
        .unwrap()
        .lines()
        .filter(|l| {
            !(l.starts_with("rerun = ")
                || l.starts_with("cpu_features = ")
                || l.starts_with("cpu_features_forced = "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_table(out: &Path) -> toml::Table {
    toml::from_str::<toml::Table>(&fs::read_to_string(out.join("run.toml")).unwrap()).unwrap()["run"]
        .as_table()
        .unwrap()
        .clone()
}

#[test]
fn portable_gives_the_same_bytes_whatever_features_the_dispatch_sees() {
    let tmp = TempDir::new().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    for force in ["scalar", "avx2"] {
        run(&dir(&format!("portable-{force}")), "portable", force);
        run(&dir(&format!("native-{force}")), "native", force);
    }
    let (a, b) = (dir("portable-scalar"), dir("portable-avx2"));
    for f in ["epochs.csv", "layers.csv", "components.csv", "summary.csv"] {
        assert_eq!(
            csv_without_wall(&a.join(f)),
            csv_without_wall(&b.join(f)),
            "{f}"
        );
    }
    assert_eq!(record_without_machine(&a), record_without_machine(&b));
    assert_eq!(summary(&a)["kernel"], "portable");
    let ra = run_table(&a);
    assert_eq!(ra["kernel"].as_str(), Some("portable"));
    assert_eq!(ra["cpu_features_forced"].as_str(), Some("scalar"));
    assert_eq!(ra["cpu_features"].as_array().map(Vec::len), Some(0));
    let rb = run_table(&b);
    assert_eq!(rb["cpu_features_forced"].as_str(), Some("avx2"));
    assert!(
        rb["cpu_features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| ["avx", "avx2"].contains(&f.as_str().unwrap())),
        "{rb:?}"
    );
    // The portable key is part of the resolved config (so of a sweep point's id).
    assert_contains(
        &fs::read_to_string(a.join("run.toml")).unwrap(),
        "kernels = \"portable\"",
    );

    // Native runs name the gemm crate's choice; their numbers may differ from portable's
    // and between CPUs, so they are not compared here.
    for force in ["scalar", "avx2"] {
        let n = dir(&format!("native-{force}"));
        let kernel = summary(&n)["kernel"].clone();
        assert!(
            ["native-avx2", "native-neon", "native-scalar"].contains(&kernel.as_str()),
            "{kernel}"
        );
        assert_eq!(run_table(&n)["kernel"].as_str(), Some(kernel.as_str()));
        // The default is left out of the resolved config, as before the key existed.
        let text = fs::read_to_string(n.join("run.toml")).unwrap();
        assert!(!text.contains("kernels ="), "{text}");
    }
}

#[test]
fn a_portable_record_reruns_to_the_same_bytes() {
    let tmp = TempDir::new().unwrap();
    let first = tmp.path().join("first");
    let mut extra: Vec<&str> = SMALL.to_vec();
    extra.extend(["--set", "training.kernels=\"portable\""]);
    tiny_run(&first, &extra);
    let again = tmp.path().join("again");
    let from = first.join("run.toml");
    let r = nandspin(&[
        "run",
        "--from",
        from.to_str().unwrap(),
        "--quiet",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    for f in ["epochs.csv", "layers.csv", "components.csv", "summary.csv"] {
        assert_eq!(
            csv_without_wall(&first.join(f)),
            csv_without_wall(&again.join(f)),
            "{f}"
        );
    }
}

#[test]
fn bad_kernels_and_bad_overrides_are_one_line_errors() {
    let line = bad_run(&["--set", "training.kernels=\"fast\""]);
    assert_contains(&line, "training.kernels");
    assert_contains(&line, "portable");

    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let r = nandspin_env(&run_args(&out, &SMALL), &[("NANDSPIN_FORCE_ISA", "sse9")]);
    let line = assert_input_error(&r, Some(&out));
    assert_contains(&line, "NANDSPIN_FORCE_ISA");
    assert_contains(&line, "sse9");
}

/// The direct 3x3 convolutions (native kernels on a CPU with AVX2 and FMA) and the im2col +
/// GEMM path (the same kernels with FMA hidden from our dispatch) train the VGG workload to
/// the same losses and accuracies, up to rounding: each sums the same products in its own
/// order. On a CPU without AVX2 and FMA both runs take the GEMM path and agree exactly.
#[test]
fn direct_convolutions_train_like_the_im2col_path() {
    let tmp = TempDir::new().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "run",
            "--quiet",
            "--workload",
            "workloads/vgg-fashion.toml",
            "--set",
            "weights.store=\"float\"",
            "--set",
            "training.epochs=2",
            "--set",
            "training.max_train_images=96",
            "--set",
            "training.max_test_images=64",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
    };
    let (direct, gemm) = (tmp.path().join("direct"), tmp.path().join("gemm"));
    ok(&nandspin(&args(&direct)));
    ok(&nandspin_env(
        &args(&gemm),
        &[("NANDSPIN_FORCE_ISA", "avx2")],
    ));
    let (a, b) = (epochs(&direct), epochs(&gemm));
    assert_eq!(a.len(), 2);
    for (ra, rb) in a.iter().zip(&b) {
        for col in ["train_loss", "test_loss"] {
            let (x, y) = (num(ra, col), num(rb, col));
            assert!(
                (x - y).abs() <= 1e-3 * y.abs(),
                "{col}: direct {x} against im2col {y}"
            );
        }
        for col in ["train_accuracy", "test_accuracy"] {
            // One image in 64 may flip on a near tie.
            let (x, y) = (num(ra, col), num(rb, col));
            assert!((x - y).abs() <= 1.0 / 64.0 + 1e-9, "{col}: {x} against {y}");
        }
    }
}
