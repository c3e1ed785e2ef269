//! Reports on disk: every file is written whole to a temporary name, then renamed, so a
//! reader never sees half a file and a killed run leaves no partial report.
//!
//! Columns are documented in `docs/reports.md`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::run::{Outcome, Prepared};

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("report path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Formats a float for CSV: fixed decimals, no exponent.
fn fx(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// The `epochs.csv` text: one row per epoch.
pub fn epochs_csv(outcome: &Outcome) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "epoch",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "wall_s",
    ])?;
    for e in &outcome.epochs {
        w.write_record([
            e.epoch.to_string(),
            fx(e.train_loss, 6),
            fx(e.train_accuracy, 6),
            fx(e.test_loss, 6),
            fx(e.test_accuracy, 6),
            fx(e.wall_s, 3),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The `summary.csv` text: one row for the run.
pub fn summary_csv(p: &Prepared, outcome: &Outcome) -> Result<Vec<u8>> {
    let last = outcome.epochs.last();
    let t = &p.workload.config.training;
    let train_images = p.data.train.len() as f64 * outcome.epochs.len() as f64;
    let train_s: f64 = outcome.epochs.iter().map(|e| e.train_s).sum();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
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
        "train_images_per_s",
        "wall_s",
    ])?;
    w.write_record([
        p.workload_name.clone(),
        p.arch_name.clone(),
        outcome.store.clone(),
        t.seed.to_string(),
        outcome.epochs.len().to_string(),
        outcome.parameters.to_string(),
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
        fx(train_images / train_s.max(1e-9), 0),
        fx(outcome.wall_s, 3),
    ])?;
    Ok(w.into_inner()?)
}

#[derive(Serialize)]
struct RunRecord<'a> {
    run: RunMeta<'a>,
    arch: &'a crate::config::ArchConfig,
    workload: toml::Value,
}

#[derive(Serialize)]
struct RunMeta<'a> {
    tool: &'static str,
    version: &'static str,
    seed: u64,
    arch_name: &'a str,
    workload_name: &'a str,
    arch_file: String,
    workload_file: String,
    overrides: &'a [String],
    rerun: String,
}

/// The `run.toml` text: tool version, seed and the fully resolved configs (with the data
/// folder made absolute), enough to rerun with `nandspin run --from run.toml`.
pub fn run_toml(p: &Prepared, out_dir: &Path) -> Result<Vec<u8>> {
    let mut workload = toml::Value::try_from(&p.workload.config)?;
    let dir = fs::canonicalize(&p.data_dir).unwrap_or_else(|_| p.data_dir.clone());
    if let Some(d) = workload.get_mut("data").and_then(|d| d.as_table_mut()) {
        d.insert(
            "dir".into(),
            toml::Value::String(dir.to_string_lossy().into_owned()),
        );
    }
    let record = RunRecord {
        run: RunMeta {
            tool: "nandspin",
            version: env!("CARGO_PKG_VERSION"),
            seed: p.seed(),
            arch_name: &p.arch_name,
            workload_name: &p.workload_name,
            arch_file: p.arch.source.path.display().to_string(),
            workload_file: p.workload.source.path.display().to_string(),
            overrides: &p.sets,
            rerun: format!("nandspin run --from {}", out_dir.join("run.toml").display()),
        },
        arch: &p.arch.config,
        workload,
    };
    let mut text = String::from(
        "# nandspin run record: the resolved configs of one run (after --set and --seed).\n",
    );
    text.push_str(&toml::to_string(&record)?);
    Ok(text.into_bytes())
}

/// Writes `epochs.csv`, `summary.csv` and `run.toml` into `out_dir`; returns their paths.
pub fn write_all(out_dir: &Path, p: &Prepared, outcome: &Outcome) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let files = [
        ("run.toml", run_toml(p, out_dir)?),
        ("epochs.csv", epochs_csv(outcome)?),
        ("summary.csv", summary_csv(p, outcome)?),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = out_dir.join(name);
        write_atomic(&path, &bytes)?;
        paths.push(path);
    }
    Ok(paths)
}
