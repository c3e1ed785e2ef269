//! `scripts/compare_technologies.sh` as a user runs it, on a tiny training (64 images, one
//! epoch): it runs the four memories' sweeps, and every number of `docs/technologies.md`
//! it writes is the one the sweeps' CSV files give.

mod common;

use std::collections::HashMap;
use std::fs;
use std::process::Command;

use common::{close_shown, manifest, num, records, table_rows};
use tempfile::TempDir;

/// The mean of `f` over `rows`.
fn mean(rows: &[&HashMap<String, String>], f: impl Fn(&HashMap<String, String>) -> f64) -> f64 {
    rows.iter().map(|r| f(r)).sum::<f64>() / rows.len() as f64
}

#[test]
fn the_page_holds_the_sweeps_numbers() {
    let tmp = TempDir::new().unwrap();
    let root = manifest();
    let (runs, docs) = (tmp.path().join("runs"), tmp.path().join("docs"));
    let out = Command::new("bash")
        .arg(root.join("scripts/compare_technologies.sh"))
        .args([
            "--jobs",
            "2",
            "--set",
            "training.epochs=1",
            "--set",
            "training.max_train_images=64",
            "--set",
            "training.max_test_images=32",
        ])
        .env("NANDSPIN", env!("CARGO_BIN_EXE_nandspin"))
        .env("TECH_RUNS", &runs)
        .env("TECH_DOCS", &docs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "compare_technologies.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = fs::read_to_string(docs.join("technologies.md")).unwrap();
    for f in ["energy", "wu_energy", "write_energy", "time", "area"] {
        let svg = fs::read_to_string(docs.join(format!("figures/tech_{f}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("NAND-SPIN"), "{f}");
        assert!(page.contains(&format!("(figures/tech_{f}.svg)")), "{f}");
    }
    let sweep = |t: &str| records(&runs.join(format!("tech-{t}/sweep.csv")));
    let (nand, sram) = (sweep("nandspin"), sweep("sram"));
    // The accuracy table: NAND-SPIN at 3 ns, mean over seeds.
    let acc = table_rows(&page, "| memory | 3 ns |");
    let row = acc.iter().find(|r| r[0] == "NAND-SPIN").unwrap();
    let at3: Vec<_> = nand
        .iter()
        .filter(|r| r["update.program_pulse_ns"] == "3.0" && r["tile.mac"] == "fp16")
        .collect();
    assert_eq!(at3.len(), 3, "three seeds");
    let shown = row[1].split(' ').next().unwrap();
    close_shown(
        shown,
        100.0 * mean(&at3, |r| num(r, "final_test_accuracy")),
        "accuracy",
    );
    // The cost tables: NAND-SPIN at 3 ns and SRAM, fp16 and int8.
    for mac in ["fp16", "int8"] {
        let section = page
            .split(&format!("## Cost of the training, {mac} MACs"))
            .nth(1)
            .unwrap();
        let table = table_rows(section, "| memory | pulse |");
        let n3 = table
            .iter()
            .find(|r| r[0] == "NAND-SPIN" && r[1] == "3 ns")
            .unwrap();
        let pts: Vec<_> = nand
            .iter()
            .filter(|r| r["update.program_pulse_ns"] == "3.0" && r["tile.mac"] == mac)
            .collect();
        close_shown(
            &n3[8],
            mean(&pts, |r| num(r, "energy_pJ")) / 1e9,
            "training energy",
        );
        close_shown(
            &n3[7],
            mean(&pts, |r| num(r, "time_ns")) / 1e6,
            "training time",
        );
        close_shown(&n3[9], mean(&pts, |r| num(r, "area_mm2")), "area");
        // Write energy per update: 64 images / batch 32 = 2 updates.
        close_shown(
            &n3[3],
            mean(&pts, |r| num(r, "write_energy_pJ")) / 2.0 / 1e3,
            "write energy",
        );
        let s = table.iter().find(|r| r[0] == "SRAM").unwrap();
        let pts: Vec<_> = sram.iter().filter(|r| r["tile.mac"] == mac).collect();
        close_shown(
            &s[11],
            mean(&pts, |r| num(r, "energy_leakage_pJ")) / 1e9,
            "SRAM leakage",
        );
        close_shown(
            &s[10],
            mean(&pts, |r| num(r, "area_cells_mm2")),
            "SRAM cells",
        );
    }
}
