//! Reports on disk: every file is written whole to a temporary name, then renamed, so a
//! reader never sees half a file and a killed run leaves no partial report.
//!
//! Columns are documented in `docs/reports.md`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::device::WriteCounts;
use crate::device::curve::CurvePoint;
use crate::nn::kernels;
use crate::run::{Outcome, Prepared};
use crate::sched::Phase;
use crate::sched::plan::CHIP;
use crate::store::ParamSpec;

/// Writes `bytes` to a temporary file beside `path` (synced to disk); returns its path.
fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("report path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", crate::folder::tag()));
    let written = fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", tmp.display()));
    }
    Ok(tmp)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_set(&[(path.to_path_buf(), bytes.to_vec())])
}

/// Writes several files as one report: all are staged to temporary files first (nothing is
/// renamed if any fails, and the temporaries are removed), then renamed in order. The last
/// file is the completion marker: when it is there, the others are too.
pub fn write_set(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
    for (path, bytes) in files {
        match stage(path, bytes) {
            Ok(tmp) => staged.push((tmp, path)),
            Err(e) => {
                for (tmp, _) in &staged {
                    let _ = fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
    }
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, path) {
            for (t, _) in &staged[i..] {
                let _ = fs::remove_file(t);
            }
            return Err(e).with_context(|| format!("renaming to {}", path.display()));
        }
    }
    if let Some((_, p)) = staged.first() {
        crate::folder::sync_dir(p.parent().unwrap_or(Path::new(".")));
    }
    Ok(())
}

/// Formats a float for CSV: fixed decimals, no exponent.
fn fx(v: f64, decimals: usize) -> String {
    // Adding 0.0 turns -0.0 into 0.0.
    format!("{:.decimals$}", v + 0.0)
}

/// Device columns of `epochs.csv` and `summary.csv`, after the accuracy columns.
const DEVICE_COLUMNS: [&str; 18] = [
    "strings_written",
    "strings_skipped",
    "program_pulses",
    "switches",
    "program_failures",
    "verify_reads",
    "bits_written",
    "bit_errors",
    "bit_error_rate",
    "erase_energy_pJ",
    "program_energy_pJ",
    "read_energy_pJ",
    "write_energy_pJ",
    "string_write_ns",
    "program_ns",
    "erases_skipped",
    "random_bits",
    "p_fail_worst1pct",
];

/// The device columns' values; empty fields for stores without a device model.
fn device_fields(c: Option<&WriteCounts>, worst: Option<f64>) -> Vec<String> {
    let (Some(c), Some(worst)) = (c, worst) else {
        return vec![String::new(); DEVICE_COLUMNS.len()];
    };
    vec![
        c.strings_written.to_string(),
        c.strings_skipped.to_string(),
        c.program_pulses.to_string(),
        c.switches.to_string(),
        c.program_failures.to_string(),
        c.verify_reads.to_string(),
        c.bits_written.to_string(),
        c.bit_errors.to_string(),
        format!("{:.6e}", c.bit_error_rate()),
        fx(c.erase_energy_pj, 3),
        fx(c.program_energy_pj, 3),
        fx(c.read_energy_pj, 3),
        fx(c.write_energy_pj(), 3),
        fx(c.write_time_ps as f64 / 1000.0, 3),
        fx(c.program_time_ps as f64 / 1000.0, 3),
        c.erases_skipped.to_string(),
        c.random_bits.to_string(),
        format!("{worst:.6e}"),
    ]
}

/// Columns of the chip simulation in `epochs.csv`.
const EPOCH_CHIP_COLUMNS: [&str; 2] = ["cycles", "energy_pJ"];

/// The `epochs.csv` text: one row per epoch.
pub fn epochs_csv(outcome: &Outcome) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "epoch",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
    ];
    header.extend(DEVICE_COLUMNS);
    header.extend(EPOCH_CHIP_COLUMNS);
    header.push("wall_s");
    w.write_record(&header)?;
    for e in &outcome.epochs {
        let mut row = vec![
            e.epoch.to_string(),
            fx(e.train_loss, 6),
            fx(e.train_accuracy, 6),
            fx(e.test_loss, 6),
            fx(e.test_accuracy, 6),
        ];
        let device = e.device_total();
        row.extend(device_fields(device.as_ref(), e.p_fail_worst1pct));
        match &e.chip {
            Some(c) => {
                let write = device.as_ref().map_or(0.0, WriteCounts::write_energy_pj);
                row.extend([c.cycles.to_string(), fx(c.energy_pj + write, 3)]);
            }
            None => row.extend([String::new(), String::new()]),
        }
        row.push(fx(e.wall_s, 3));
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}

/// `v` as given (`120`, `0.5`), or in scientific notation when it is below 10^-3 or 10^15
/// and up (`1e-300`, where plain notation would print 300 digits).
fn short_number(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// The `nandspin device` CSV: one row per (current, pulse width).
pub fn device_csv(points: &[CurvePoint]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "pulse_ns",
        "current_uA",
        "p_switch",
        "mean_switch_ns",
        "energy_pJ",
    ])?;
    for p in points {
        w.write_record([
            format!("{}", p.pulse_ns),
            short_number(p.current_ua),
            format!("{:.9}", p.p_switch),
            p.mean_switch_ns.map_or(String::new(), |t| fx(t, 6)),
            fx(p.energy_pj, 6),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The quantiles of `nandspin device --variation`, and their columns.
pub const VARIATION_QUANTILES: [f64; 5] = [0.01, 0.10, 0.50, 0.90, 0.99];
const VARIATION_COLUMNS: [&str; 5] = ["p_q01", "p_q10", "p_q50", "p_q90", "p_q99"];

/// The `nandspin device --variation` CSV: per grid point, the nominal device's P_sw and
/// the [`VARIATION_QUANTILES`] of P_sw over the drawn devices (`quantiles`, in the order
/// of `points`).
pub fn device_variation_csv(points: &[CurvePoint], quantiles: &[Vec<f64>]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["pulse_ns", "current_uA", "p_switch"];
    header.extend(VARIATION_COLUMNS);
    w.write_record(&header)?;
    for (p, q) in points.iter().zip(quantiles) {
        let mut row = vec![
            format!("{}", p.pulse_ns),
            short_number(p.current_ua),
            format!("{:.9}", p.p_switch),
        ];
        row.extend(q.iter().map(|v| format!("{v:.9}")));
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}

/// One row of `layers.csv`: (layer, phase, component, action), count, busy time in ps
/// (`None` for counts without a time), energy in pJ.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    /// Layer name, or `chip` for chip-wide rows.
    pub layer: String,
    /// `FW`, `AG`, `WG`, `WU`, `SWAP` or `all`.
    pub phase: &'static str,
    /// The component that acted.
    pub component: &'static str,
    /// What it did.
    pub action: &'static str,
    /// How many times.
    pub count: u64,
    /// Time the components of that kind spent on it, in ps.
    pub busy_ps: Option<u64>,
    /// Energy, in pJ.
    pub energy_pj: f64,
}

/// The device's write activity of the whole run, per layer (in parameter order).
fn device_by_layer<'a>(params: &'a [ParamSpec], outcome: &Outcome) -> Vec<(&'a str, WriteCounts)> {
    let mut layers: Vec<(&str, WriteCounts)> = Vec::new();
    for e in &outcome.epochs {
        let Some(per_param) = &e.device else { continue };
        for (spec, c) in params.iter().zip(per_param) {
            match layers.iter_mut().find(|(l, _)| *l == spec.layer) {
                Some((_, acc)) => acc.add(c),
                None => layers.push((&spec.layer, c.clone())),
            }
        }
    }
    layers
}

/// Device rows of the weight update of one layer.
fn device_rows(layer: &str, c: &WriteCounts) -> Vec<CostRow> {
    let rows: [(&str, &str, u64, f64); 10] = [
        ("string", "skip", c.strings_skipped, 0.0),
        ("hm_strip", "erase_pulse", c.erase_pulses, c.erase_energy_pj),
        ("hm_strip", "erase_skipped", c.erases_skipped, 0.0),
        ("mtj", "erase_failure", c.erase_failures, 0.0),
        (
            "mtj",
            "program_pulse",
            c.program_pulses,
            c.program_energy_pj,
        ),
        ("mtj", "switch", c.switches, 0.0),
        ("mtj", "program_failure", c.program_failures, 0.0),
        ("string", "verify_read", c.verify_reads, 0.0),
        ("mtj", "read", c.bits_read, c.read_energy_pj),
        ("mtj", "bit_error", c.bit_errors, 0.0),
    ];
    rows.into_iter()
        .map(|(component, action, count, energy_pj)| CostRow {
            layer: layer.to_string(),
            phase: "WU",
            component,
            action,
            count,
            busy_ps: None,
            energy_pj,
        })
        .collect()
}

/// Every cost row of the run: per weight layer its chip rows phase by phase (the device's
/// write activity inside WU), then the chip-wide rows. Without a chip model, only the
/// device rows (none for stores without a device).
pub fn cost_rows(params: &[ParamSpec], outcome: &Outcome) -> Vec<CostRow> {
    let device = device_by_layer(params, outcome);
    let Some(chip) = &outcome.chip else {
        return device
            .iter()
            .flat_map(|(l, c)| {
                let mut rows = vec![CostRow {
                    layer: l.to_string(),
                    phase: "WU",
                    component: "string",
                    action: "write",
                    count: c.strings_written,
                    busy_ps: None,
                    energy_pj: 0.0,
                }];
                rows.extend(device_rows(l, c));
                rows
            })
            .collect();
    };
    let rows = chip.rows();
    let mut out = Vec::new();
    let names: Vec<&str> = chip.map.layers.iter().map(|l| l.name.as_str()).collect();
    for (li, name) in names.iter().enumerate() {
        for phase in [Phase::Fw, Phase::Ag, Phase::Wg, Phase::Wu, Phase::Swap] {
            for (&(l, ph, component, action), r) in rows.range((li, phase, "", "")..) {
                if l != li || ph != phase {
                    break;
                }
                out.push(CostRow {
                    layer: name.to_string(),
                    phase: phase.name(),
                    component,
                    action,
                    count: r.count,
                    busy_ps: Some(r.busy_ps),
                    energy_pj: r.energy_pj,
                });
            }
            if phase == Phase::Wu
                && let Some((_, c)) = device.iter().find(|(l, _)| l == name)
            {
                out.extend(device_rows(name, c));
            }
        }
    }
    for (&(l, phase, component, action), r) in &rows {
        if l == CHIP {
            out.push(CostRow {
                layer: "chip".into(),
                phase: phase.name(),
                component,
                action,
                count: r.count,
                busy_ps: Some(r.busy_ps),
                energy_pj: r.energy_pj,
            });
        }
    }
    out
}

/// The `layers.csv` text: one row per layer x phase x component x action over the whole
/// run (tidy): count, busy cycles and energy.
pub fn layers_csv(params: &[ParamSpec], outcome: &Outcome) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(LAYER_COLUMNS)?;
    let cycles = |ps: u64| outcome.chip.as_ref().map_or(0, |c| c.cycles(ps));
    for r in cost_rows(params, outcome) {
        w.write_record([
            r.layer,
            r.phase.to_string(),
            r.component.to_string(),
            r.action.to_string(),
            r.count.to_string(),
            r.busy_ps.map_or(String::new(), |ps| cycles(ps).to_string()),
            fx(r.energy_pj, 3),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// Columns of `layers.csv`.
pub const LAYER_COLUMNS: [&str; 7] = [
    "layer",
    "phase",
    "component",
    "action",
    "count",
    "busy_cycles",
    "energy_pJ",
];

/// The energy categories of `summary.csv`, and which (component, action) each gathers.
pub const ENERGY_PARTS: [&str; 14] = [
    "erase",
    "program",
    "read",
    "mac",
    "buffer",
    "noc",
    "dram",
    "leakage",
    "master",
    "rng",
    "operand_write",
    "and_row",
    "popcount",
    "shift_add",
];

/// The energy category of a (component, action), if it costs energy.
pub fn energy_part(component: &str, action: &str) -> Option<&'static str> {
    Some(match (component, action) {
        ("hm_strip", "erase_pulse") => "erase",
        ("mtj", "program_pulse") => "program",
        ("mtj", "read") => "read",
        ("compute", "mac") => "mac",
        ("buffer", _) => "buffer",
        ("noc", _) => "noc",
        ("dram", _) => "dram",
        (_, "leakage") => "leakage",
        ("master", _) => "master",
        ("rng", _) => "rng",
        ("subarray", "operand_write") => "operand_write",
        ("subarray", "and_row") => "and_row",
        ("periphery", "popcount") => "popcount",
        ("periphery", "shift_add") => "shift_add",
        _ => return None,
    })
}

/// Chip columns of `summary.csv`, after the device columns.
const CHIP_COLUMNS: [&str; 43] = [
    "tiles",
    "tiles_used",
    "folds",
    "mapping",
    "total_cycles",
    "time_ns",
    "energy_pJ",
    "energy_FW_pJ",
    "energy_AG_pJ",
    "energy_WG_pJ",
    "energy_WU_pJ",
    "energy_SWAP_pJ",
    "energy_erase_pJ",
    "energy_program_pJ",
    "energy_read_pJ",
    "energy_mac_pJ",
    "energy_buffer_pJ",
    "energy_noc_pJ",
    "energy_dram_pJ",
    "energy_leakage_pJ",
    "energy_master_pJ",
    "energy_rng_pJ",
    "energy_operand_write_pJ",
    "energy_and_row_pJ",
    "energy_popcount_pJ",
    "energy_shift_add_pJ",
    "FW_cycles",
    "AG_cycles",
    "WG_cycles",
    "WU_cycles",
    "SWAP_cycles",
    "operand_write_bits",
    "and_rows",
    "popcounts",
    "shift_adds",
    "area_mm2",
    "area_cells_mm2",
    "area_periphery_mm2",
    "area_buffer_mm2",
    "area_compute_mm2",
    "area_master_mm2",
    "area_extra_mm2",
    "engine_events",
];

/// Totals of the chip simulation for `summary.csv` and the console.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChipTotals {
    /// Energy by phase name (`FW` .. `SWAP`), in pJ.
    pub by_phase: Vec<(&'static str, f64)>,
    /// Energy by category ([`ENERGY_PARTS`]), in pJ.
    pub by_part: Vec<(&'static str, f64)>,
    /// All energy, in pJ.
    pub energy_pj: f64,
}

/// Sums the cost rows by phase and by category.
pub fn chip_totals(rows: &[CostRow]) -> ChipTotals {
    let phases = ["FW", "AG", "WG", "WU", "SWAP"];
    let by_phase = phases
        .iter()
        .map(|&p| {
            let e = rows
                .iter()
                .filter(|r| r.phase == p)
                .map(|r| r.energy_pj)
                .sum();
            (p, e)
        })
        .collect();
    let by_part = ENERGY_PARTS
        .iter()
        .map(|&part| {
            let e = rows
                .iter()
                .filter(|r| energy_part(r.component, r.action) == Some(part))
                .map(|r| r.energy_pj)
                .sum();
            (part, e)
        })
        .collect();
    ChipTotals {
        by_phase,
        by_part,
        energy_pj: rows.iter().map(|r| r.energy_pj).sum(),
    }
}

/// The chip columns' values; empty when no chip was simulated.
fn chip_fields(p: &Prepared, outcome: &Outcome) -> Vec<String> {
    let Some(chip) = &outcome.chip else {
        return vec![String::new(); CHIP_COLUMNS.len()];
    };
    let rows = cost_rows(p.net.params(), outcome);
    let t = chip_totals(&rows);
    let time_ps = chip.time_ps();
    let mut v = vec![
        chip.map.tiles.to_string(),
        chip.map.tiles_used.to_string(),
        chip.map.folds.to_string(),
        chip.map.mapping.name().to_string(),
        chip.cycles(time_ps).to_string(),
        fx(time_ps as f64 / 1000.0, 3),
        fx(t.energy_pj, 3),
    ];
    v.extend(t.by_phase.iter().map(|&(_, e)| fx(e, 3)));
    v.extend(t.by_part.iter().map(|&(_, e)| fx(e, 3)));
    for phase in [Phase::Fw, Phase::Ag, Phase::Wg, Phase::Wu, Phase::Swap] {
        v.push(chip.cycles(chip.phase_ps(phase)).to_string());
    }
    for (component, action) in [
        ("subarray", "operand_write"),
        ("subarray", "and_row"),
        ("periphery", "popcount"),
        ("periphery", "shift_add"),
    ] {
        let n: u64 = rows
            .iter()
            .filter(|r| r.component == component && r.action == action)
            .map(|r| r.count)
            .sum();
        v.push(n.to_string());
    }
    let tile = crate::hw::area::TileArea::of(&p.arch.config);
    let tiles = f64::from(chip.map.tiles);
    v.push(fx(tile.total_mm2() * tiles, 4));
    v.extend(tile.parts().iter().map(|a| fx(a * tiles, 4)));
    v.push(chip.events().to_string());
    v
}

/// The `components.csv` text: busy cycles and utilisation of every compute unit, placed
/// subarray and driver pool, the network and DRAM. Only a header without a chip model.
pub fn components_csv(outcome: &Outcome) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "component",
        "tile",
        "subarray",
        "layer",
        "servers",
        "busy_cycles",
        "utilisation",
        "bytes",
    ])?;
    let Some(chip) = &outcome.chip else {
        return Ok(w.into_inner()?);
    };
    let total = chip.time_ps().max(1) as f64;
    let opt = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
    for c in chip.components() {
        w.write_record([
            c.kind.to_string(),
            opt(c.tile),
            opt(c.subarray),
            c.layer.clone().unwrap_or_default(),
            c.servers.to_string(),
            chip.cycles(c.busy_ps).to_string(),
            fx(c.busy_ps as f64 / (c.servers.max(1) as f64 * total), 6),
            c.bytes.map_or(String::new(), |b| b.to_string()),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The columns of `summary.csv`: the machine-dependent ones come last, `kernel` (the
/// arithmetic kernels the run used, see [`kernels::kernel_name`]) and then the wall-clock
/// ones ([`WALL_COLUMNS`]).
pub fn summary_header() -> Vec<&'static str> {
    let mut header = vec![
        "workload",
        "arch",
        "store",
        "seed",
        "epochs",
        "parameters",
        "train_images",
        "test_images",
        "final_train_loss",
        "final_test_accuracy",
        "best_test_accuracy",
    ];
    header.extend(DEVICE_COLUMNS);
    header.extend(CHIP_COLUMNS);
    header.push(KERNEL_COLUMN);
    header.extend(WALL_COLUMNS);
    header
}

/// The column of `summary.csv` (and `sweep.csv`) naming the kernels a run used.
pub const KERNEL_COLUMN: &str = "kernel";

/// Columns of `summary.csv` measured on the wall clock: the only ones that differ between
/// two runs of the same configs on one machine (under `training.kernels = "native"`,
/// `kernel` and the numbers may also differ between machines).
pub const WALL_COLUMNS: [&str; 2] = ["train_images_per_s", "wall_s"];

/// The `summary.csv` text: one row for the run.
pub fn summary_csv(p: &Prepared, outcome: &Outcome) -> Result<Vec<u8>> {
    let last = outcome.epochs.last();
    let t = &p.workload.config.training;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(summary_header())?;
    let device = outcome
        .epochs
        .iter()
        .map(|e| e.device_total())
        .collect::<Option<Vec<_>>>()
        .map(|v| WriteCounts::sum(&v));
    let mut row = vec![
        p.workload_name.clone(),
        p.arch_name.clone(),
        outcome.store.clone(),
        t.seed.to_string(),
        outcome.epochs.len().to_string(),
        p.net.parameter_count().to_string(),
        p.data.train.len().to_string(),
        p.data.test.len().to_string(),
        fx(last.map_or(f64::NAN, |e| e.train_loss), 6),
        fx(last.map_or(f64::NAN, |e| e.test_accuracy), 6),
        fx(
            outcome
                .epochs
                .iter()
                .map(|e| e.test_accuracy)
                .fold(f64::NAN, f64::max),
            6,
        ),
    ];
    row.extend(device_fields(
        device.as_ref(),
        last.and_then(|e| e.p_fail_worst1pct),
    ));
    row.extend(chip_fields(p, outcome));
    row.push(kernels::kernel_name(t.kernels));
    row.extend([fx(outcome.train_images_per_s(), 0), fx(outcome.wall_s, 3)]);
    w.write_record(&row)?;
    Ok(w.into_inner()?)
}

#[derive(Serialize)]
struct RunRecord<'a> {
    run: RunMeta<'a>,
    arch: &'a crate::config::ArchConfig,
    workload: &'a crate::config::WorkloadConfig,
    /// The digital energies at the chip's node and supply (read-only: `run --from` takes
    /// the configs above and scales again).
    energy_scaling: std::collections::BTreeMap<String, crate::hw::scaling::Scaled>,
}

#[derive(Serialize)]
struct RunMeta<'a> {
    tool: &'static str,
    version: &'static str,
    results_version: u32,
    id: String,
    seed: u64,
    arch_name: &'a str,
    workload_name: &'a str,
    arch_file: String,
    workload_file: String,
    overrides: &'a [String],
    rerun: String,
    kernel: String,
    cpu_features: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_features_forced: Option<&'static str>,
}

/// Version of what a run reports for given configs: raised by every change that alters any
/// report of the same configs and seed (numerics, cost model, columns). A sweep reuses a
/// finished point only when its `run.toml` has this `results_version`.
pub const RESULTS_VERSION: u32 = 6;

/// The `run.toml` text: tool version, results version, seed and the fully resolved configs (with the data
/// folder made absolute), enough to rerun with `nandspin run --from run.toml`.
pub fn run_toml(p: &Prepared, out_dir: &Path) -> Result<Vec<u8>> {
    let (arch, workload) = p.recorded_configs();
    let record = RunRecord {
        run: RunMeta {
            tool: "nandspin",
            version: env!("CARGO_PKG_VERSION"),
            results_version: RESULTS_VERSION,
            id: crate::dse::plan::run_id(p),
            seed: p.seed(),
            arch_name: &p.arch_name,
            workload_name: &p.workload_name,
            arch_file: p.arch.source.path.display().to_string(),
            workload_file: p.workload.source.path.display().to_string(),
            overrides: &p.sets,
            rerun: format!("nandspin run --from {}", out_dir.join("run.toml").display()),
            kernel: kernels::kernel_name(p.workload.config.training.kernels),
            cpu_features: kernels::seen_features().to_vec(),
            cpu_features_forced: kernels::forced().ok().flatten(),
        },
        arch: &arch,
        workload: &workload,
        energy_scaling: crate::hw::scaling::scaled_entries(&p.arch.config),
    };
    let mut text = String::from(
        "# nandspin run record: the resolved configs of one run (after --set and --seed).\n",
    );
    text.push_str(&toml::to_string(&record)?);
    Ok(text.into_bytes())
}

/// Writes `run.toml`, `epochs.csv`, `layers.csv`, `components.csv` and `summary.csv` as the
/// whole content of `out_dir`, replacing what it held in one step
/// ([`crate::folder::write_folder`], checked again by `guard` right before); returns their
/// paths.
pub fn write_all(
    out_dir: &Path,
    p: &Prepared,
    outcome: &Outcome,
    guard: Option<crate::folder::Guard>,
) -> Result<Vec<PathBuf>> {
    let files = vec![
        ("run.toml", run_toml(p, out_dir)?),
        ("epochs.csv", epochs_csv(outcome)?),
        ("layers.csv", layers_csv(p.net.params(), outcome)?),
        ("components.csv", components_csv(outcome)?),
        ("summary.csv", summary_csv(p, outcome)?),
    ];
    crate::folder::write_folder(out_dir, &files, guard)?;
    Ok(files.into_iter().map(|(f, _)| out_dir.join(f)).collect())
}
