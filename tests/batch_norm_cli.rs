//! The `batch_norm` layer as a user meets it: a network with batch norm after convolutions
//! and after a dense layer trains with every store, its gamma and beta go to the store with
//! `weights.biases = "store"`, and a batch of one image is refused where a batch norm would
//! see a single value per channel.

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;
use tempfile::TempDir;

/// LeNet-5 (the bundled workload) with a batch norm after conv1 and one after fc2, in a
/// temporary folder (the data folder is given absolute).
fn bn_workload(tmp: &TempDir) -> PathBuf {
    let text = fs::read_to_string(manifest().join("workloads/lenet5-mnist.toml")).unwrap();
    let data = manifest().join("workloads/data/mnist");
    let text = text
        .replace(
            "dir = \"data/mnist\"",
            &format!("dir = \"{}\"", data.display()),
        )
        .replace(
            "name = \"relu1\"\ntype = \"relu\"\ninput = \"conv1\"",
            "name = \"relu1\"\ntype = \"relu\"\ninput = \"bn1\"",
        )
        .replace(
            "name = \"relu4\"\ntype = \"relu\"\ninput = \"fc2\"",
            "name = \"relu4\"\ntype = \"relu\"\ninput = \"bnf\"",
        );
    let text = format!(
        "{text}\n[[layers]]\nname = \"bn1\"\ntype = \"batch_norm\"\ninput = \"conv1\"\n\n[[layers]]\nname = \"bnf\"\ntype = \"batch_norm\"\ninput = \"fc2\"\nmomentum = 0.2\n"
    );
    write(tmp, "lenet5-bn.toml", &text)
}

#[test]
fn trains_with_every_store_and_stores_gamma_and_beta() {
    let tmp = TempDir::new().unwrap();
    let wl = bn_workload(&tmp);
    let wl = wl.to_str().unwrap();
    let float = tmp.path().join("float");
    tiny_run(&float, &["--workload", wl, "--set", "weights.store=float"]);
    let s = summary(&float);
    // 61,706 LeNet-5 parameters plus gamma and beta of 6 channels and 84 features.
    assert_eq!(int(&s, "parameters"), 61_706 + 2 * 6 + 2 * 84);
    // Learning (ln 10 = 2.303 at chance); the test accuracy after 8 batches still depends
    // on running statistics that have barely moved, so it is not asserted.
    assert!(num(&s, "final_train_loss") < 2.25, "{s:?}");

    // Gamma and beta are held with the biases, on the tiles of the layer they normalise:
    // one 8-bit value per string, so conv1 holds 150 + 6 strings plus 2 x 6 and fc2
    // 10,080 + 84 plus 2 x 84 with `weights.biases = "store"`.
    let strings = |extra: &[&str]| -> Vec<(String, u64)> {
        let mut args = vec!["--workload", wl, "--csv"];
        args.extend_from_slice(extra);
        let r = subcommand("map", &args);
        ok(&r);
        parse_csv_text(
            &r.stdout,
            "layer,fold,strings,tiles,tile_list,subarrays,strings_per_subarray,utilisation",
        )
        .iter()
        .map(|row| (row["layer"].clone(), int(row, "strings")))
        .collect()
    };
    let want = |c1: u64, f2: u64| -> Vec<(String, u64)> {
        [
            ("conv1", c1),
            ("conv2", 2416),
            ("fc1", 48120),
            ("fc2", f2),
            ("fc3", 850),
        ]
        .iter()
        .map(|&(l, n)| (l.to_string(), n))
        .collect()
    };
    assert_eq!(
        strings(&["--set", "weights.biases=store"]),
        want(168, 10332)
    );
    let digital = strings(&[]);
    assert_eq!(digital[0], ("conv1".to_string(), 150));
    assert_eq!(digital[3], ("fc2".to_string(), 10080));

    // And the device store trains them.
    let stored = tmp.path().join("stored");
    tiny_run(
        &stored,
        &["--workload", wl, "--set", "weights.biases=store"],
    );
    let rows = records(&stored.join("layers.csv"));
    assert!(rows.iter().all(|r| !r["layer"].starts_with("bn")));
    assert!(num(&summary(&stored), "final_train_loss") < 2.25);
}

#[test]
fn batch_of_one_with_a_dense_batch_norm_is_refused() {
    let tmp = TempDir::new().unwrap();
    let wl = bn_workload(&tmp);
    let line = bad_run(&[
        "--workload",
        wl.to_str().unwrap(),
        "--set",
        "training.batch_size=1",
    ]);
    assert_contains(&line, "training.batch_size");
    assert_contains(&line, "batch_norm layer `bnf`");
    assert_contains(&line, "one value per channel");
}

#[test]
fn bad_keys_name_the_layer_and_line() {
    let tmp = TempDir::new().unwrap();
    let wl = bn_workload(&tmp);
    let text = fs::read_to_string(&wl)
        .unwrap()
        .replace("momentum = 0.2", "momentum = 2.0");
    let line_no = text.lines().position(|l| l == "momentum = 2.0").unwrap() + 1;
    let bad = write(&tmp, "bad.toml", &text);
    let line = bad_run(&["--workload", bad.to_str().unwrap()]);
    assert_contains(&line, &format!("bad.toml:{line_no}"));
    assert_contains(&line, "momentum");
    assert_contains(&line, "must be in [0, 1], got 2");
}
