//! Processing in NAND-SPIN (`tile.compute = "pim"`) through the binary, as a user meets it:
//! digital compute changes nothing; with certain switching the in-memory training is the
//! ideal store's with the same operand quantisation; failed operand bits change it; results
//! do not depend on threads; bad keys are one line, exit 2.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use tempfile::TempDir;

const PIM: [&str; 2] = ["--set", "tile.compute=\"pim\""];

fn run(tmp: &TempDir, name: &str, extra: &[&[&str]]) -> PathBuf {
    let out = tmp.path().join(name);
    let args: Vec<&str> = extra.iter().flat_map(|a| a.iter().copied()).collect();
    tiny_run(&out, &args);
    out
}

/// Losses and accuracies of epochs.csv.
fn accuracy_columns(out: &Path) -> Vec<Vec<String>> {
    let (header, rows) = read_csv(&out.join("epochs.csv"));
    assert_eq!(header[4], "test_accuracy");
    rows.into_iter().map(|r| r[..5].to_vec()).collect()
}

#[test]
fn digital_compute_leaves_every_report_unchanged() {
    let tmp = TempDir::new().unwrap();
    let plain = run(&tmp, "plain", &[]);
    let digital = tmp.path().join("digital");
    let r = tiny_run(
        &digital,
        &[
            "--set",
            "tile.compute=\"digital\"",
            "--set",
            "pim.activation_bits=4",
        ],
    );
    assert_contains(
        &r.stderr,
        "warning: [pim] is set but tile.compute = \"digital\"",
    );
    assert_eq!(rows_without_wall(&digital), rows_without_wall(&plain));
    for f in ["layers.csv", "components.csv"] {
        assert_eq!(
            std::fs::read_to_string(digital.join(f)).unwrap(),
            std::fs::read_to_string(plain.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn certain_switching_gives_the_ideal_store_s_training_with_the_same_operand_quantisation() {
    let tmp = TempDir::new().unwrap();
    let bits: [&str; 4] = [
        "--set",
        "pim.activation_bits=4",
        "--set",
        "pim.gradient_bits=4",
    ];
    let fixed = accuracy_columns(&run(
        &tmp,
        "fixed",
        &[&["--set", "weights.store=fixed"], &PIM, &bits],
    ));
    for (name, extra) in [
        ("exact", &["--set", "pim.exact_operands=true"][..]),
        ("device", &[][..]),
    ] {
        let out = run(&tmp, name, &[&PIM, &CERTAIN, &bits, extra]);
        assert_eq!(accuracy_columns(&out), fixed, "{name}");
    }
    // The quantisation itself changes the training.
    let digital = accuracy_columns(&run(&tmp, "digital", &[&["--set", "weights.store=fixed"]]));
    assert_ne!(digital, fixed);
}

#[test]
fn failed_operand_bits_change_the_training_and_threads_do_not() {
    let tmp = TempDir::new().unwrap();
    // Half the operand pulses fail; the weights' pulses stay certain (3 ns).
    let lossy: [&str; 8] = [
        "--set",
        "device.switching=\"fixed\"",
        "--set",
        "device.fixed_pulse_ns=[1.0, 3.0]",
        "--set",
        "device.fixed_p_switch=[0.5, 1.0]",
        "--set",
        "pim.write_pulse_ns=1",
    ];
    let exact = run(
        &tmp,
        "exact",
        &[&PIM, &lossy, &["--set", "pim.exact_operands=true"]],
    );
    let one = run(&tmp, "one", &[&PIM, &lossy, &["--threads", "1"]]);
    let two = run(&tmp, "two", &[&PIM, &lossy, &["--threads", "2"]]);
    assert_eq!(rows_without_wall(&one), rows_without_wall(&two));
    // Numerics never depend on the placement: 4 tiles train the same.
    let tiles = run(&tmp, "tiles", &[&PIM, &lossy, &["--set", "chip.tiles=4"]]);
    assert_eq!(accuracy_columns(&tiles), accuracy_columns(&one));
    assert_ne!(accuracy_columns(&one), accuracy_columns(&exact));
    // The weights' writes saw no failure: the difference is the operands'.
    let s = summary(&one);
    assert_eq!(int(&s, "program_failures"), 0, "{s:?}");
}

#[test]
fn bad_pim_input_is_one_line_and_writes_nothing() {
    for (sets, needle) in [
        (vec!["tile.compute=\"analog\""], "tile.compute"),
        (
            vec!["tile.compute=\"pim\"", "pim.activation_bits=0"],
            "pim.activation_bits",
        ),
        (
            vec!["tile.compute=\"pim\"", "pim.activation_bits=17"],
            "pim.activation_bits",
        ),
        (
            vec!["tile.compute=\"pim\"", "pim.gradient_bits=0"],
            "pim.gradient_bits",
        ),
        (
            vec!["tile.compute=\"pim\"", "pim.gradient_bits=17"],
            "pim.gradient_bits",
        ),
        (
            vec!["tile.compute=\"pim\"", "pim.phases=[\"FW\", \"BW\"]"],
            "pim.phases",
        ),
        (
            vec!["tile.compute=\"pim\"", "weights.store=\"stt\""],
            "tile.compute",
        ),
        (
            vec!["tile.compute=\"pim\"", "pim.write_pulse_ns=0"],
            "pim.write_pulse_ns",
        ),
        (vec!["pim.bogus=1"], "bogus"),
    ] {
        let mut args = Vec::new();
        for s in &sets {
            args.extend(["--set", s]);
        }
        let line = bad_run(&args);
        assert_contains(&line, needle);
    }
}

#[test]
fn a_one_bit_activation_needs_a_layer_input_that_cannot_be_negative() {
    let tmp = TempDir::new().unwrap();
    let data = manifest().join("workloads/data/mnist");
    // A dense layer right after a batch norm: its input can be negative.
    let text = format!(
        r#"schema_version = 1
[data]
dir = "{}"
[[layers]]
name = "conv"
type = "conv2d"
input = "input"
out_channels = 2
kernel = 5
[[layers]]
name = "norm"
type = "batch_norm"
input = "conv"
[[layers]]
name = "flat"
type = "flatten"
input = "norm"
[[layers]]
name = "fc"
type = "dense"
input = "flat"
out_features = 10
"#,
        data.display()
    );
    let workload = write(&tmp, "signed.toml", &text);
    let w = workload.display().to_string();
    let line = bad_run(&[
        "--workload",
        &w,
        "--set",
        "tile.compute=\"pim\"",
        "--set",
        "pim.activation_bits=1",
    ]);
    assert_contains(&line, "layer `fc`: its input can be negative");
    // The data itself is never negative: a 1-bit activation of the first layer is fine.
    ok(&nandspin(&run_args(
        &tmp.path().join("lenet"),
        &[
            "--set",
            "tile.compute=\"pim\"",
            "--set",
            "pim.activation_bits=1",
        ],
    )));
}

/// A one-layer network: the image flattened into one dense layer of 10 outputs.
fn one_layer(tmp: &TempDir) -> String {
    let data = manifest().join("workloads/data/mnist");
    let text = format!(
        r#"schema_version = 1
[data]
dir = "{}"
[training]
epochs = 1
batch_size = 32
max_train_images = 64
max_test_images = 50
[[layers]]
name = "flat"
type = "flatten"
input = "input"
[[layers]]
name = "fc"
type = "dense"
input = "flat"
out_features = 10
"#,
        data.display()
    );
    write(tmp, "one.toml", &text).display().to_string()
}

fn row(rows: &[std::collections::HashMap<String, String>], phase: &str, action: &str) -> u64 {
    rows.iter()
        .filter(|r| r["phase"] == phase && r["action"] == action)
        .map(|r| int(r, "count"))
        .sum()
}

/// The rows of `layers.csv` of workload `w` trained on `arch/nandspin-pim.toml` with 4-bit
/// activations and 2-bit gradients, written into `tmp`/out.
fn layers_with_narrow_operands(
    tmp: &TempDir,
    w: &str,
    set: &[&str],
) -> Vec<std::collections::HashMap<String, String>> {
    let out = tmp.path().join("out");
    let out_arg = out.display().to_string();
    let mut args = vec![
        "run",
        "--quiet",
        "--arch",
        "arch/nandspin-pim.toml",
        "--workload",
        w,
        "--set",
        "pim.activation_bits=4",
        "--set",
        "pim.gradient_bits=2",
        "--out",
        &out_arg,
    ];
    args.extend_from_slice(set);
    ok(&nandspin(&args));
    records(&out.join("layers.csv"))
}

#[test]
fn every_subarray_holding_a_kernel_position_gets_the_whole_input_plane() {
    // A 5x5 convolution of the image into 2 channels (50 weights), then a dense layer.
    let tmp = TempDir::new().unwrap();
    let one = std::fs::read_to_string(one_layer(&tmp)).unwrap();
    let text = one.replace(
        "[[layers]]\nname = \"flat\"\ntype = \"flatten\"\ninput = \"input\"",
        "[[layers]]\nname = \"c\"\ntype = \"conv2d\"\ninput = \"input\"\nout_channels = 2\nkernel = 5\n\
         [[layers]]\nname = \"flat\"\ntype = \"flatten\"\ninput = \"c\"",
    );
    assert_ne!(text, one);
    let w = write(&tmp, "conv.toml", &text).display().to_string();
    // The default chip spreads the 50 weights over 50 subarrays, one each.
    let map = nandspin(&["map", "--arch", "arch/nandspin-pim.toml", "--workload", &w]);
    ok(&map);
    assert_contains(
        &map.stdout,
        "c         0       50     11  0-10              50                     1",
    );
    let rows: Vec<_> = layers_with_narrow_operands(&tmp, &w, &[])
        .into_iter()
        .filter(|r| r["layer"] == "c")
        .collect();
    // Each subarray holds one kernel position of one output channel and needs the whole
    // 28 x 28 image of each of the 64 images in FW and WG, and in WG (the first layer has no
    // AG) the 24 x 24 gradient plane of its output channel.
    assert_eq!(row(&rows, "FW", "operand_write"), 64 * 784 * 50 * 4);
    assert_eq!(
        row(&rows, "WG", "operand_write"),
        64 * 784 * 50 * 4 + 64 * 576 * 50 * 2
    );
}

#[test]
fn and_counts_and_operand_bits_match_a_hand_count_on_one_layer() {
    let tmp = TempDir::new().unwrap();
    let w = one_layer(&tmp);
    // One tile: its 8 subarrays hold 980 of fc's 7,840 weights (10 rows of 784) each.
    let tiles = ["--set", "chip.tiles=1"];
    let map = nandspin(&[
        "map",
        "--arch",
        "arch/nandspin-pim.toml",
        "--workload",
        &w,
        tiles[0],
        tiles[1],
    ]);
    ok(&map);
    assert_contains(
        &map.stdout,
        "fc        0     7840      1  0                  8                   980",
    );
    let rows = layers_with_narrow_operands(&tmp, &w, &tiles);
    let out = tmp.path().join("out");
    // 64 images x 784 x 10 MACs per phase; 8-bit weights; 64 bit products per AND.
    let macs: u64 = 64 * 784 * 10;
    assert_eq!(row(&rows, "FW", "and_row"), 4 * 8 * macs / 64);
    // Fed by the data: no AG; WG pairs 4-bit activations with 2-bit gradients.
    assert_eq!(row(&rows, "AG", "and_row"), 0);
    assert_eq!(row(&rows, "WG", "and_row"), (4 * 2 * macs).div_ceil(64));
    for a in ["popcount", "shift_add"] {
        assert_eq!(row(&rows, "FW", a), row(&rows, "FW", "and_row"), "{a}");
    }
    // Operand bits: the input in FW; the input and (no AG left it) the gradient in WG.
    // Each subarray gets a copy of the strings holding the values its weights meet. Its
    // 980 weights span more than a row, so it needs every input: 784 values, 8 copies.
    // Subarray j holds rows 980j / 784 to (980j + 979) / 784: rows 0-1, 1-2, 2-3, 3-4,
    // 5-6, 6-7, 7-8, 8-9. The 10 gradient values sit four to a string (2-bit codes,
    // 8-MTJ strings): outputs 0-3, 4-7, 8-9. So the subarrays copy 4, 4, 4, 4 + 4, 4, 4,
    // 4 + 2 and 2 values: 36 per image.
    assert_eq!(row(&rows, "FW", "operand_write"), 64 * 784 * 8 * 4);
    assert_eq!(
        row(&rows, "WG", "operand_write"),
        64 * 784 * 8 * 4 + 64 * 36 * 2
    );
    // No digital MACs outside the optimiser step, no separate weight reads.
    assert_eq!(row(&rows, "FW", "mac") + row(&rows, "WG", "mac"), 0);
    assert_eq!(row(&rows, "FW", "read"), 0);
    let s = summary(&out);
    assert_eq!(
        int(&s, "and_rows"),
        row(&rows, "FW", "and_row") + row(&rows, "WG", "and_row")
    );
    assert_eq!(
        int(&s, "operand_write_bits"),
        row(&rows, "FW", "operand_write") + row(&rows, "WG", "operand_write")
    );
    let parts: f64 = PART_ENERGY.iter().map(|c| num(&s, c)).sum();
    assert!((parts - num(&s, "energy_pJ")).abs() <= 1e-6 * num(&s, "energy_pJ") + 0.01);
    assert!(num(&s, "energy_and_row_pJ") > 0.0 && num(&s, "energy_operand_write_pJ") > 0.0);
}

#[test]
fn shorter_operand_pulses_shorten_the_pim_chip_s_time() {
    let tmp = TempDir::new().unwrap();
    let cycles = |pulse: &str| {
        let out = tmp.path().join(pulse);
        let set = format!("pim.write_pulse_ns={pulse}");
        ok(&nandspin(&run_args(
            &out,
            &["--arch", "arch/nandspin-pim.toml", "--set", &set],
        )));
        int(&summary(&out), "total_cycles")
    };
    assert!(cycles("1") < cycles("3"));
}
