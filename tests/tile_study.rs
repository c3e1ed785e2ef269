//! The tile-count study's pipeline (`scripts/tile_study.sh`) on a tiny sweep: LeNet-5 on 1,
//! 2 and 4 tiles (1 tile swaps), 64 training images. The page's table and knees must be the
//! numbers of the sweep's own CSV files, recomputed here, and the figures must be there.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{close_shown, manifest, num, records, table_rows};
use tempfile::TempDir;

/// Chip-wide utilisation of one kind of component of a `components.csv`.
fn utilisation(components: &Path, kind: &str, total_cycles: f64) -> f64 {
    let (mut busy, mut servers) = (0.0, 0.0);
    for r in records(components) {
        if r["component"] == kind {
            busy += num(&r, "busy_cycles");
            servers += num(&r, "servers");
        }
    }
    busy / (servers * total_cycles)
}

#[test]
fn tile_study_page_holds_the_sweeps_numbers() {
    let tmp = TempDir::new().unwrap();
    let root = manifest();
    let sweep = tmp.path().join("tiles-lenet.toml");
    fs::write(
        &sweep,
        format!(
            "name = \"tiles-lenet\"\narch = \"{}\"\nworkload = \"{}\"\n\
             [set]\ntraining.epochs = 1\nchip.on_overflow = \"swap\"\n\
             [[axis]]\nkey = \"chip.tiles\"\nvalues = [1, 2, 4]\n\
             [[axis]]\nkey = \"update.program_pulse_ns\"\nvalues = [3.0]\n",
            root.join("arch/nandspin.toml").display(),
            root.join("workloads/lenet5-mnist.toml").display()
        ),
    )
    .unwrap();
    let (runs, docs) = (tmp.path().join("runs"), tmp.path().join("docs"));
    let out = Command::new("bash")
        .arg(root.join("scripts/tile_study.sh"))
        .args([
            "--set",
            "training.max_train_images=64",
            "--set",
            "training.max_test_images=32",
        ])
        .env("NANDSPIN", env!("CARGO_BIN_EXE_nandspin"))
        .env("TILE_STUDY_SWEEPS", format!("lenet={}", sweep.display()))
        .env("TILE_STUDY_RUNS", &runs)
        .env("TILE_STUDY_DOCS", &docs)
        .env("TILE_STUDY_JOBS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tile_study.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    for m in ["time", "energy", "edp", "area", "compute", "drivers"] {
        let svg = fs::read_to_string(docs.join(format!("figures/tiles_lenet_{m}.svg"))).unwrap();
        assert!(
            svg.contains("chip.tiles (log2 scale)"),
            "{m}: no log tile axis"
        );
    }
    let page = fs::read_to_string(docs.join("tiles.md")).unwrap();
    assert!(page.contains("![lenet5-mnist: chip area](figures/tiles_lenet_area.svg)"));

    let dir = runs.join("tiles-lenet");
    let points: HashMap<String, HashMap<String, String>> = records(&dir.join("sweep.csv"))
        .into_iter()
        .map(|r| (r["chip.tiles"].clone(), r))
        .collect();
    let rows = table_rows(&page, "| tiles |");
    assert_eq!(rows.len(), 3, "one row per point");
    let (mut edp, mut time) = (Vec::new(), Vec::new());
    for row in &rows {
        let p = &points[&row[0]];
        let images = num(p, "train_images") * num(p, "epochs");
        assert_eq!(images, 64.0);
        let time_us = num(p, "time_ns") / images / 1e3;
        let energy_uj = num(p, "energy_pJ") / images / 1e6;
        let total = num(p, "total_cycles");
        let components = dir.join("points").join(&p["id"]).join("components.csv");
        let what = |c: &str| format!("{c} at {} tiles", row[0]);
        assert_eq!(row[2], p["folds"], "{}", what("folds"));
        assert_eq!(row[3], p["tiles_used"], "{}", what("tiles used"));
        close_shown(&row[4], time_us, &what("time"));
        close_shown(&row[5], energy_uj, &what("energy"));
        close_shown(&row[6], time_us * energy_uj, &what("EDP"));
        close_shown(&row[7], num(p, "area_mm2"), &what("area"));
        let compute = 100.0 * utilisation(&components, "compute", total);
        let drivers = 100.0 * utilisation(&components, "write_drivers", total);
        close_shown(&row[8], compute, &what("compute utilisation"));
        close_shown(&row[9], drivers, &what("write-driver utilisation"));
        edp.push((row[0].parse::<u32>().unwrap(), time_us * energy_uj));
        time.push(time_us);
    }
    // 1 tile swaps LeNet-5's weights through DRAM; 2 tiles hold them.
    assert_eq!(rows[0][..3], ["1", "3", "2"]);
    assert_eq!(rows[1][..3], ["2", "3", "1"]);
    assert_eq!(rows[2][..3], ["4", "3", "1"]);
    assert!(page.contains("The weights fit from 2 tiles on; with 1 tile the chip swaps"));
    // The time knee: the smallest tile count from which every doubling speeds up < 4/3.
    let fast = |i: usize| time[i] / time[i + 1] >= 4.0 / 3.0;
    let knee = match (fast(0), fast(1)) {
        (_, true) => None,
        (true, false) => Some("2 tiles"),
        (false, false) => Some("1 tile"),
    };
    match knee {
        Some(k) => assert!(
            page.contains(&format!("so time's knee is at **{k}**")),
            "time knee {k} not on the page:\n{page}"
        ),
        None => assert!(page.contains("time's knee lies beyond 4 tiles")),
    }
    // The EDP knee: the smallest tile count within 10 % of the lowest EDP.
    let best = edp.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
    let knee = edp.iter().find(|e| e.1 <= best * 1.1).unwrap().0;
    let tiles = if knee == 1 { "tile" } else { "tiles" };
    assert!(
        page.contains(&format!("within 10 % of it is **{knee} {tiles}**")),
        "EDP knee {knee} not on the page:\n{page}"
    );
}
