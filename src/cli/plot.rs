//! `nandspin plot`: SVG figures of a run or sweep folder.

use std::path::PathBuf;

use clap::Args;

use super::console::say;

/// Arguments of `nandspin plot`.
#[derive(Args)]
pub struct PlotArgs {
    /// A run's report folder (with epochs.csv) or a sweep's output folder (with
    /// sweep.csv).
    dir: PathBuf,
}

/// Draws the figures into DIR/plots/ and lists them.
pub fn command(args: PlotArgs) -> anyhow::Result<()> {
    let files = nandspin::plot::plot_dir(&args.dir)?;
    for f in &files {
        say!("{}", f.display());
    }
    Ok(())
}
