//! Learning, at small scale: the float store learns, the 8-bit fixed store with stochastic
//! rounding keeps up with it, and round-to-nearest at 8 bits stalls (README, "Accuracy").
//! The full reference setup (10 epochs, all images, seeds 0-2) is `scripts/accuracy.sh`.

use std::path::Path;
use std::process::Command;

fn final_test_accuracy(store_sets: &[&str], out: &Path) -> f64 {
    let mut args: Vec<&str> = vec![
        "run",
        "--quiet",
        "--set",
        "training.epochs=3",
        "--set",
        "training.max_train_images=4000",
        "--set",
        "training.max_test_images=1000",
        "--out",
    ];
    let out_s = out.to_str().unwrap();
    args.push(out_s);
    for s in store_sets {
        args.push("--set");
        args.push(s);
    }
    let st = Command::new(env!("CARGO_BIN_EXE_nandspin"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(st.success());
    let csv = std::fs::read_to_string(out.join("epochs.csv")).unwrap();
    let last = csv.lines().last().unwrap();
    last.split(',').nth(4).unwrap().parse().unwrap()
}

#[test]
fn stochastic_rounding_keeps_up_and_nearest_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let float = final_test_accuracy(&["weights.store=float"], &dir.path().join("float"));
    let stochastic = final_test_accuracy(
        &[
            "weights.store=fixed",
            "weights.bits=8",
            "weights.rounding=stochastic",
        ],
        &dir.path().join("sr"),
    );
    let nearest = final_test_accuracy(
        &[
            "weights.store=fixed",
            "weights.bits=8",
            "weights.rounding=nearest",
        ],
        &dir.path().join("rn"),
    );
    eprintln!(
        "test accuracy: float {float}, 8-bit stochastic {stochastic}, 8-bit nearest {nearest}"
    );
    assert!(float > 0.8, "float store learns: {float}");
    assert!(
        stochastic > float - 0.05,
        "8-bit stochastic {stochastic} vs float {float}"
    );
    assert!(nearest < 0.3, "8-bit round-to-nearest stalls: {nearest}");
}
