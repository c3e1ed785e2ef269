//! `nandspin draws` as a user meets it: the file holds a run's initial parameters and its
//! per-epoch image orders, the same for the same workload and seed; bad input is one line,
//! exit 2, nothing written.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use tempfile::TempDir;

fn draws(out: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec![
        "draws",
        "--workload",
        "workloads/lenet5-mnist.toml",
        "--set",
        "training.epochs=2",
        "--set",
        "training.max_train_images=300",
    ];
    args.extend_from_slice(extra);
    let out = out.display().to_string();
    args.extend(["--out", out.as_str()]);
    nandspin(&args)
}

fn values(t: &toml::Value) -> Vec<f64> {
    t.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_float().unwrap())
        .collect()
}

#[test]
fn the_draws_file_holds_the_initial_parameters_and_the_epoch_orders() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("d.toml");
    let r = draws(&path, &["--seed", "3"]);
    ok(&r);
    assert_contains(&r.stdout, "61706 parameters");
    let text = fs::read_to_string(&path).unwrap();
    let t: toml::Table = text.parse().unwrap();
    assert_eq!(t["format_version"].as_integer(), Some(1));
    assert_eq!(t["workload"].as_str(), Some("lenet5-mnist"));
    assert_eq!(t["seed"].as_integer(), Some(3));
    assert_eq!(t["train_images"].as_integer(), Some(300));
    let params = t["params"].as_array().unwrap();
    let total: usize = params.iter().map(|p| values(&p["values"]).len()).sum();
    assert_eq!(total, 61706, "every parameter of LeNet-5");
    // conv1: 6 x 1 x 5 x 5 weights, uniform in +-1/sqrt(25), not all alike.
    let conv1 = &params[0];
    assert_eq!(conv1["name"].as_str(), Some("conv1.weight"));
    let w = values(&conv1["values"]);
    assert_eq!(w.len(), 150);
    assert!(w.iter().all(|v| v.abs() <= 0.2), "{w:?}");
    assert!(w.iter().any(|&v| v > 0.1) && w.iter().any(|&v| v < -0.1));
    let orders = t["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    let order = |e: usize| -> Vec<i64> {
        orders[e]["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_integer().unwrap())
            .collect()
    };
    for e in 0..2 {
        let mut o = order(e);
        assert_ne!(o, (0..300).collect::<Vec<_>>(), "shuffled");
        o.sort_unstable();
        assert_eq!(o, (0..300).collect::<Vec<_>>(), "a permutation");
    }
    assert_ne!(order(0), order(1));

    // The same workload and seed give the same bytes; --seed is training.seed; another
    // seed gives other draws.
    let again = tmp.path().join("again.toml");
    ok(&draws(&again, &["--set", "training.seed=3"]));
    assert_eq!(fs::read(&again).unwrap(), text.as_bytes());
    let other = tmp.path().join("other.toml");
    ok(&draws(&other, &["--seed", "4"]));
    let o: toml::Table = fs::read_to_string(&other).unwrap().parse().unwrap();
    assert_ne!(values(&o["params"][0]["values"]), w);
}

#[test]
fn bad_draws_input_is_one_line_and_writes_nothing() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("d.toml");
    let line = assert_input_error(
        &draws(&path, &["--set", "weights.bits=4"]),
        Some(tmp.path()),
    );
    assert_contains(&line, "`weights` is an arch key");
    let line = assert_input_error(
        &draws(&path, &["--set", "training.epoch=3"]),
        Some(tmp.path()),
    );
    assert_contains(&line, "epoch");
    let r = nandspin(&[
        "draws",
        "--workload",
        "workloads/none.toml",
        "--out",
        &path.display().to_string(),
    ]);
    assert_contains(&assert_input_error(&r, Some(tmp.path())), "no such file");
    let r = draws(&tmp.path().join("missing/d.toml"), &[]);
    assert_contains(
        &assert_input_error(&r, Some(tmp.path())),
        "its folder does not exist",
    );
}
