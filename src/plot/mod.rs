//! Figures (SVG) of a run's or a sweep's reports: `nandspin plot DIR`.
//!
//! A run folder (with `epochs.csv`) gives `accuracy.svg`, `loss.svg` and `energy.svg`; a sweep
//! folder (with `sweep.csv`) gives `<metric>_vs_<axis>.svg` for each metric and axis (some
//! derived from several columns and each point's `components.csv`), the
//! Pareto figures (chip energy and write energy against accuracy, time against tiles) and
//! `pareto.csv`. Everything is read and checked before `DIR/plots/` is
//! created, each file is written atomically, and the same inputs give byte-identical files.
//! `docs/plots.md` describes every figure.

mod axis;
mod bars;
mod derived;
pub mod pareto;
mod run;
mod sweep;
mod table;
pub mod tune;
mod xy;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::InputError;
use crate::report::write_atomic;

/// One file to write into `DIR/plots/`: its name and contents.
#[derive(Debug, Clone)]
struct Output {
    name: String,
    bytes: Vec<u8>,
}

/// Draws the figures of a run folder (with `epochs.csv`) or a sweep folder (with
/// `sweep.csv`; it wins when both are there) into `DIR/plots/`, and returns the files
/// written, in a fixed order. A figure without data is not drawn; when no figure has data,
/// nothing is written and `plots/` is not created.
///
/// Errors in the inputs (no such folder, neither CSV there, a missing column, a CSV without
/// rows, a field that is not a number) are [`InputError`]s naming the file and column; they
/// are found before anything is written.
pub fn plot_dir(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let outputs = outputs(dir)?;
    if outputs.is_empty() {
        return Ok(Vec::new());
    }
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).with_context(|| format!("creating {}", plots.display()))?;
    let mut written = Vec::with_capacity(outputs.len());
    for o in outputs {
        let path = plots.join(&o.name);
        write_atomic(&path, &o.bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// Reads the folder and renders every figure, writing nothing.
fn outputs(dir: &Path) -> anyhow::Result<Vec<Output>> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "not a folder"
        } else {
            "no such folder"
        };
        return Err(InputError::new(format!("{}: {what}", dir.display())).into());
    }
    if dir.join("sweep.csv").is_file() {
        sweep::figures(dir)
    } else if crate::folder::missing(dir).len() < crate::folder::REPORT_FILES.len() {
        crate::folder::check_complete(dir)?;
        run::figures(dir)
    } else {
        Err(InputError::new(format!(
            "{}: neither epochs.csv (a run's report) nor sweep.csv (a sweep's output) is there",
            dir.display()
        ))
        .into())
    }
}

/// Renders a line or scatter figure as file `name`.
fn render_xy(name: &str, fig: &xy::XyFigure) -> anyhow::Result<Output> {
    Ok(Output {
        name: name.to_string(),
        bytes: fig.render()?.into_bytes(),
    })
}

/// Renders a bar figure as file `name`.
fn render_bars(name: &str, fig: &bars::BarFigure) -> anyhow::Result<Output> {
    Ok(Output {
        name: name.to_string(),
        bytes: fig.render()?.into_bytes(),
    })
}
