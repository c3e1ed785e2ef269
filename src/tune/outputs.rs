//! The files a finished tune writes into its output folder, each whole (a temporary file,
//! then a rename): `tune.csv`, `front.csv`, `front.svg` and `best.toml`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::best::{self, BEST};
use super::exec::Finished;
use super::plan::TunePlan;
use super::table;
use crate::plot::tune::{Point, front_svg};
use crate::report;
use crate::run::DataCache;

/// Every candidate (and the reference) with its results.
pub const TABLE: &str = "tune.csv";
/// The candidates on the front at the full budget.
pub const FRONT: &str = "front.csv";
/// The figure of the front.
pub const FIGURE: &str = "front.svg";

/// Whether an entry of a tune's output folder is one a tune writes: its files, the rung
/// folders (`rung-K`) and the Slurm scripts.
pub fn in_tune_folder(name: &str) -> bool {
    [TABLE, FRONT, FIGURE, BEST, "slurm"].contains(&name) || name.starts_with("rung-")
}

/// What [`write`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The files, in the order written.
    pub files: Vec<PathBuf>,
    /// The best candidate, if one keeps the accuracy at the full budget.
    pub best: Option<usize>,
    /// Candidates on the front.
    pub front: usize,
}

/// Writes the outputs of the finished tune `f` into `out`; `command` is the command line
/// that ran it (recorded in `best.toml`). A `best.toml` or `front.svg` of an earlier run
/// that this one does not write is removed.
pub fn write(
    plan: &TunePlan,
    f: &Finished,
    out: &Path,
    command: &str,
    cache: &DataCache,
) -> Result<Written> {
    let t = &plan.tune;
    let rows = table::rows(plan, f);
    let front = table::front_rows(plan, &rows);
    let last = plan.budgets.len() - 1;
    let points: Vec<Point> = rows
        .iter()
        .filter(|r| r.candidate.is_some() && r.rung == last)
        .map(|r| Point {
            objective: r.measured.objectives[0],
            accuracy: r.measured.accuracy(),
            feasible: r.feasible,
            front: front.iter().any(|q| q.candidate == r.candidate),
        })
        .collect();
    let reference = &f.rungs[last].reference;
    let svg = front_svg(
        &format!(
            "tune {}: {} against accuracy at the full training",
            t.sweep.name, t.objectives[0]
        ),
        &t.objectives[0],
        &points,
        Some((reference.objectives[0], reference.accuracy())),
        t.objectives.len() == 1,
    )?;
    let best_path = out.join(BEST);
    let best = best::best_toml(plan, f, command, &best_path, cache)?;
    let mut files: Vec<(PathBuf, Vec<u8>)> =
        vec![(out.join(FRONT), table::csv_text(plan, &front)?)];
    let mut stale = Vec::new();
    for (path, bytes) in [
        (out.join(FIGURE), svg.map(String::into_bytes)),
        (best_path, best),
    ] {
        match bytes {
            Some(b) => files.push((path, b)),
            None => stale.push(path),
        }
    }
    files.push((out.join(TABLE), table::csv_text(plan, &rows)?));
    for p in &stale {
        if p.is_file() {
            std::fs::remove_file(p)?;
        }
    }
    report::write_set(&files)?;
    Ok(Written {
        files: files.into_iter().map(|(p, _)| p).collect(),
        best: f.search.best().map(|e| e.candidate),
        front: front.len(),
    })
}
