//! End-to-end tests of `nandspin plot DIR`, run the way a user runs it: on a real (tiny) run's
//! report folder, on a synthetic sweep folder whose Pareto fronts are known, and on bad
//! input (exit code 2, one `error:` line, no `plots/` folder).

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

mod common;
use common::*;

/// Runs `nandspin plot DIR`, asserts it succeeded, and returns the files it listed.
fn plot(dir: &Path) -> Vec<PathBuf> {
    let r = nandspin(&["plot", dir.to_str().unwrap()]);
    assert_eq!(
        r.code,
        Some(0),
        "nandspin plot failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
    r.stdout.lines().map(PathBuf::from).collect()
}

/// Adds the report files a plot does not read (`run.toml`, `layers.csv`, `components.csv`),
/// so that a synthetic run folder holds a complete set.
fn complete_set(dir: &Path) {
    for f in ["run.toml", "layers.csv", "components.csv"] {
        fs::write(dir.join(f), "").unwrap();
    }
}

/// The names of the files in `dir/plots/`, sorted.
fn plot_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Reads an SVG file and checks it looks like one and holds every one of `texts`.
fn assert_svg(path: &Path, texts: &[&str]) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.starts_with("<svg") || text.starts_with("<?xml"),
        "{} does not start like an SVG: {:?}",
        path.display(),
        &text[..text.len().min(80)]
    );
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{}: not closed",
        path.display()
    );
    for t in texts {
        assert!(text.contains(t), "{}: no text {t:?}", path.display());
    }
}

/// Every file in `dir/plots/`, by name, with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    plot_names(dir)
        .into_iter()
        .map(|n| {
            let bytes = fs::read(dir.join("plots").join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// Runs `nandspin plot DIR` expecting an input error: exit code 2, one `error:` line, no
/// `plots/` folder. Returns the line.
fn bad_plot(dir: &Path) -> String {
    let r = nandspin(&["plot", dir.to_str().unwrap()]);
    let plots = dir.join("plots");
    let line = assert_input_error(&r, Some(&plots));
    assert!(!plots.exists(), "{} was created", plots.display());
    line
}

// ---------------------------------------------------------------------------------------
// A run folder
// ---------------------------------------------------------------------------------------

#[test]
fn run_folder_gives_accuracy_loss_and_energy_the_same_twice() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("run");
    tiny_run(
        &out,
        &[
            "--set",
            "training.epochs=2",
            "--set",
            "training.max_test_images=128",
        ],
    );
    let listed = plot(&out);
    let expected = ["accuracy.svg", "loss.svg", "energy.svg"];
    let want: Vec<PathBuf> = expected.iter().map(|n| out.join("plots").join(n)).collect();
    assert_eq!(listed, want, "files listed on stdout, in order");
    assert_eq!(plot_names(&out), ["accuracy.svg", "energy.svg", "loss.svg"]);

    let s = summary(&out);
    let title = format!("{} on {}", s["workload"], s["arch"]);
    assert_svg(
        &want[0],
        &["epoch", "accuracy (%)", "train", "test", &title],
    );
    assert_svg(&want[1], &["epoch", "cross-entropy loss (nats)", &title]);
    assert_svg(
        &want[2],
        &[
            "energy (µJ)",
            "by training phase",
            "by component",
            "FW",
            "WU",
            "leakage",
            "MAC",
        ],
    );

    let first = snapshot(&out);
    assert_eq!(plot(&out), want);
    assert!(
        first == snapshot(&out),
        "a second plot gave different bytes"
    );
}

#[test]
fn run_without_a_chip_has_no_energy_figure() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    fs::write(
        dir.join("epochs.csv"),
        "epoch,train_loss,train_accuracy,test_loss,test_accuracy,cycles,energy_pJ,wall_s\n\
         1,1.5,0.47,0.47,0.86,,,0.7\n",
    )
    .unwrap();
    fs::write(
        dir.join("summary.csv"),
        "workload,arch,store,seed,energy_pJ,energy_FW_pJ,energy_AG_pJ,energy_WG_pJ,energy_WU_pJ,\
         energy_SWAP_pJ,energy_erase_pJ,energy_program_pJ,energy_read_pJ,energy_mac_pJ,\
         energy_buffer_pJ,energy_noc_pJ,energy_dram_pJ,energy_leakage_pJ\n\
         w,a,\"float, 32-bit\",0,,,,,,,,,,,,,,\n",
    )
    .unwrap();
    complete_set(dir);
    let listed = plot(dir);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(plot_names(dir), ["accuracy.svg", "loss.svg"]);
    assert_svg(
        &dir.join("plots/accuracy.svg"),
        &["w on a, seed 0", "epoch"],
    );
}

// ---------------------------------------------------------------------------------------
// A sweep folder
// ---------------------------------------------------------------------------------------

const SWEEP_HEADER: &str = "point,id,chip.tiles,update.program_pulse_ns,training,replayed,\
workload,arch,store,seed,epochs,final_train_loss,final_test_accuracy,best_test_accuracy,\
write_energy_pJ,program_energy_pJ,string_write_ns,bit_error_rate,tiles,mapping,total_cycles,\
time_ns,energy_pJ,energy_WU_pJ,WU_cycles,train_images_per_s,wall_s";

/// A 3 x 3 sweep over `chip.tiles` (1, 8, 64) and `update.program_pulse_ns` (1, 2, 4):
/// accuracy grows with the pulse only, energy with both, time falls with tiles and grows a
/// little with the pulse. So the energy/accuracy front is the 1-tile points, and the
/// tiles/time front the 1-ns points.
fn sweep_csv() -> String {
    let mut text = format!("{SWEEP_HEADER}\n");
    let mut point = 0;
    for (ti, tiles) in [1u64, 8, 64].into_iter().enumerate() {
        for (pi, pulse) in [1u64, 2, 4].into_iter().enumerate() {
            let acc = 0.90 + 0.02 * pi as f64;
            let energy = 100_000_000_000 + tiles * 1_000_000_000 + pulse * 20_000_000_000;
            let cycles = [100_000_000u64, 35_000_000, 12_500_000][ti] + pulse * 1_000_000;
            text += &format!(
                "{point},p{point},{tiles},{pulse},tr{point},false,lenet5-mnist,nandspin,\
                 \"nandspin 8-bit, x\",0,1,0.1,{acc:.6},{acc:.6},{w:.3},{p:.3},{s:.3},{ber:.6e},\
                 {tiles},spread,{cycles},{cycles}.000,{energy}.000,{wu:.3},{wuc},12000,7.0\n",
                w = pulse as f64 * 3e6,
                p = pulse as f64 * 2.5e6,
                s = pulse as f64 * 1e6,
                ber = 1e-6 / pulse as f64,
                wu = pulse as f64 * 3e8,
                wuc = 2_000_000 / tiles,
            );
            point += 1;
        }
    }
    text
}

const METRICS: [&str; 8] = [
    "final_test_accuracy",
    "energy_pJ",
    "total_cycles",
    "WU_cycles",
    "energy_WU_pJ",
    "write_energy_pJ",
    "program_energy_pJ",
    "bit_error_rate",
];

#[test]
fn sweep_folder_gives_metrics_against_axes_and_known_fronts() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("sweep.csv"), sweep_csv()).unwrap();
    let listed = plot(dir);

    let mut expected: Vec<String> = Vec::new();
    for axis in ["chip-tiles", "update-program_pulse_ns"] {
        for m in METRICS {
            expected.push(format!("{m}_vs_{axis}.svg"));
        }
    }
    expected.extend(
        [
            "pareto_energy_accuracy.svg",
            "pareto_write_energy_accuracy.svg",
            "pareto_time_tiles.svg",
            "pareto.csv",
        ]
        .map(String::from),
    );
    let want: Vec<PathBuf> = expected.iter().map(|n| dir.join("plots").join(n)).collect();
    assert_eq!(listed, want);

    let plots = dir.join("plots");
    assert_svg(
        &plots.join("final_test_accuracy_vs_chip-tiles.svg"),
        &[
            "chip.tiles (log2 scale)",
            "final test accuracy (%)",
            "update.program_pulse_ns=1",
            "update.program_pulse_ns=4",
            "lenet5-mnist on nandspin",
        ],
    );
    assert_svg(
        &plots.join("energy_pJ_vs_update-program_pulse_ns.svg"),
        &["update.program_pulse_ns", "energy (µJ)", "chip.tiles=64"],
    );
    assert_svg(
        &plots.join("pareto_energy_accuracy.svg"),
        &[
            "energy (µJ)",
            "final test accuracy (%)",
            "Pareto front (3)",
            "points (9)",
        ],
    );
    assert_svg(
        &plots.join("pareto_time_tiles.svg"),
        &["tiles (log2 scale)", "total cycles", "Pareto front (3)"],
    );
    let fronts = fs::read_to_string(plots.join("pareto.csv")).unwrap();
    assert_eq!(
        fronts,
        "front,id,x,y\n\
         energy_accuracy,p0,121000000000.000,0.900000\n\
         energy_accuracy,p1,141000000000.000,0.920000\n\
         energy_accuracy,p2,181000000000.000,0.940000\n\
         write_energy_accuracy,p0,3000000.000,0.900000\n\
         write_energy_accuracy,p3,3000000.000,0.900000\n\
         write_energy_accuracy,p6,3000000.000,0.900000\n\
         write_energy_accuracy,p1,6000000.000,0.920000\n\
         write_energy_accuracy,p4,6000000.000,0.920000\n\
         write_energy_accuracy,p7,6000000.000,0.920000\n\
         write_energy_accuracy,p2,12000000.000,0.940000\n\
         write_energy_accuracy,p5,12000000.000,0.940000\n\
         write_energy_accuracy,p8,12000000.000,0.940000\n\
         time_tiles,p0,1,101000000\n\
         time_tiles,p3,8,36000000\n\
         time_tiles,p6,64,13500000\n"
    );

    let first = snapshot(dir);
    plot(dir);
    assert!(first == snapshot(dir), "a second plot gave different bytes");
}

#[test]
fn sweep_without_chip_uses_write_energy_and_skips_empty_metrics() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    // A categorical axis, and no chip: the chip columns are empty.
    let text = "point,id,update.rounding,training,replayed,workload,arch,final_test_accuracy,\
                write_energy_pJ,bit_error_rate,tiles,total_cycles,time_ns,energy_pJ,WU_cycles\n\
                0,a,stochastic,t,false,w,a,0.95,2000000,,,,,,\n\
                1,b,nearest,t,true,w,a,0.90,1000000,,,,,,\n\
                2,c,truncate,t,false,w,a,0.85,1500000,,,,,,\n";
    fs::write(dir.join("sweep.csv"), text).unwrap();
    plot(dir);
    assert_eq!(
        plot_names(dir),
        [
            "final_test_accuracy_vs_update-rounding.svg",
            "pareto.csv",
            "pareto_write_energy_accuracy.svg",
            "write_energy_pJ_vs_update-rounding.svg",
        ]
    );
    assert_svg(
        &dir.join("plots/final_test_accuracy_vs_update-rounding.svg"),
        &["stochastic", "nearest", "truncate"],
    );
    assert_svg(
        &dir.join("plots/pareto_write_energy_accuracy.svg"),
        &["device write energy (µJ)"],
    );
    let fronts = fs::read_to_string(dir.join("plots/pareto.csv")).unwrap();
    assert_eq!(
        fronts,
        "front,id,x,y\nwrite_energy_accuracy,b,1000000,0.90\nwrite_energy_accuracy,a,2000000,0.95\n"
    );
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

#[test]
fn missing_folder_is_an_input_error() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("nope");
    let line = bad_plot(&dir);
    assert_contains(&line, &dir.display().to_string());
    assert_contains(&line, "no such folder");
}

#[test]
fn folder_without_either_csv_is_an_input_error() {
    let tmp = TempDir::new().unwrap();
    fs::write(tmp.path().join("notes.txt"), "hello\n").unwrap();
    let line = bad_plot(tmp.path());
    assert_contains(&line, "epochs.csv");
    assert_contains(&line, "sweep.csv");
}

#[test]
fn sweep_without_training_column_is_an_input_error() {
    let tmp = TempDir::new().unwrap();
    let text = sweep_csv().replacen(",training,", ",trained,", 1);
    fs::write(tmp.path().join("sweep.csv"), text).unwrap();
    let line = bad_plot(tmp.path());
    assert_contains(&line, "sweep.csv");
    assert_contains(&line, "no column training");
}

#[test]
fn bad_numbers_missing_columns_and_empty_files_are_input_errors() {
    let tmp = TempDir::new().unwrap();
    // A field that is not a number: named by file, line and column.
    let text = sweep_csv().replacen("0.900000,0.900000", "0.9O,0.900000", 1);
    fs::write(tmp.path().join("sweep.csv"), text).unwrap();
    let line = bad_plot(tmp.path());
    assert_contains(
        &line,
        "sweep.csv:2: final_test_accuracy: `0.9O` is not a number",
    );

    // A sweep.csv with a header only.
    fs::write(tmp.path().join("sweep.csv"), format!("{SWEEP_HEADER}\n")).unwrap();
    assert_contains(&bad_plot(tmp.path()), "no rows");

    // A run whose epochs.csv lacks a column.
    let run = TempDir::new().unwrap();
    fs::write(
        run.path().join("epochs.csv"),
        "epoch,train_loss,train_accuracy,test_loss\n1,0.5,0.8,0.4\n",
    )
    .unwrap();
    fs::write(run.path().join("summary.csv"), "workload,arch\nw,a\n").unwrap();
    complete_set(run.path());
    let line = bad_plot(run.path());
    assert_contains(&line, "epochs.csv: no column test_accuracy");

    // A run without summary.csv (an incomplete report).
    let run = TempDir::new().unwrap();
    fs::write(
        run.path().join("epochs.csv"),
        "epoch,train_loss,train_accuracy,test_loss,test_accuracy\n1,0.5,0.8,0.4,0.85\n",
    )
    .unwrap();
    assert_contains(&bad_plot(run.path()), "summary.csv");
}
