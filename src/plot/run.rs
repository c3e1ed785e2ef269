//! Figures of a run's report folder: accuracy and loss per epoch (`epochs.csv`) and the
//! energy breakdown by phase and by component (`summary.csv`).

use std::path::Path;

use super::axis::{Axis, Ticks};
use super::bars::{Bar, BarFigure, BarPanel};
use super::table::Table;
use super::xy::{Join, Series, XyFigure, palette, series_style};
use super::{Output, render_bars, render_xy};
use crate::error::InputError;

/// Columns `epochs.csv` must have.
const EPOCH_COLUMNS: [&str; 5] = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
];

/// Energy by training phase: bar name and `summary.csv` column (pJ).
const PHASES: [(&str, &str); 5] = [
    ("FW", "energy_FW_pJ"),
    ("AG", "energy_AG_pJ"),
    ("WG", "energy_WG_pJ"),
    ("WU", "energy_WU_pJ"),
    ("SWAP", "energy_SWAP_pJ"),
];

/// Energy by component: bar name and `summary.csv` column (pJ).
const COMPONENTS: [(&str, &str); 10] = [
    ("erase", "energy_erase_pJ"),
    ("program", "energy_program_pJ"),
    ("read", "energy_read_pJ"),
    ("MAC", "energy_mac_pJ"),
    ("buffer", "energy_buffer_pJ"),
    ("NoC", "energy_noc_pJ"),
    ("DRAM", "energy_dram_pJ"),
    ("leakage", "energy_leakage_pJ"),
    ("master", "energy_master_pJ"),
    ("RNG", "energy_rng_pJ"),
];

/// From pJ to µJ.
const UJ_PER_PJ: f64 = 1e-6;

/// The figures of the run folder `dir`, rendered; reads and checks everything first.
pub(crate) fn figures(dir: &Path) -> anyhow::Result<Vec<Output>> {
    let epochs = Table::read(&dir.join("epochs.csv"))?;
    epochs.require(&EPOCH_COLUMNS)?;
    let summary_path = dir.join("summary.csv");
    if !summary_path.is_file() {
        return Err(InputError::new(format!(
            "{}: not there (the run's report is incomplete)",
            summary_path.display()
        ))
        .into());
    }
    let summary = Table::read(&summary_path)?;
    let name = run_name(dir, &summary);
    let mut out = Vec::new();
    let curves = [
        (
            "accuracy.svg",
            "accuracy",
            "accuracy (%)",
            "_accuracy",
            100.0,
        ),
        (
            "loss.svg",
            "loss",
            "cross-entropy loss (nats)",
            "_loss",
            1.0,
        ),
    ];
    for (file, what, label, suffix, scale) in curves {
        if let Some(fig) = per_epoch(&epochs, &format!("{what}: {name}"), label, suffix, scale)? {
            out.push(render_xy(file, &fig)?);
        }
    }
    if let Some(fig) = energy(&summary, &name)? {
        out.push(render_bars("energy.svg", &fig)?);
    }
    Ok(out)
}

/// `workload on arch, seed N` from `summary.csv`, or the folder's name.
fn run_name(dir: &Path, summary: &Table) -> String {
    match (summary.first_text("workload"), summary.first_text("arch")) {
        (Some(w), Some(a)) => match summary.first_text("seed") {
            Some(s) => format!("{w} on {a}, seed {s}"),
            None => format!("{w} on {a}"),
        },
        _ => dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
    }
}

/// Train and test `<suffix>` columns against `epoch` (values times `scale`); `None` when
/// no epoch has either.
fn per_epoch(
    epochs: &Table,
    title: &str,
    label: &str,
    suffix: &str,
    scale: f64,
) -> Result<Option<XyFigure>, InputError> {
    let epoch = epochs.required_numbers("epoch")?;
    let mut raw = Vec::new();
    for (i, set) in ["train", "test"].into_iter().enumerate() {
        let values = epochs.required_numbers(&format!("{set}{suffix}"))?;
        let points: Vec<(f64, f64)> = epoch
            .iter()
            .zip(&values)
            .filter_map(|(e, v)| Some(((*e)?, (*v)? * scale)))
            .collect();
        if !points.is_empty() {
            raw.push((set, i, points));
        }
    }
    if raw.is_empty() {
        return Ok(None);
    }
    let xs: Vec<f64> = raw.iter().flat_map(|s| s.2.iter().map(|p| p.0)).collect();
    let ys: Vec<f64> = raw.iter().flat_map(|s| s.2.iter().map(|p| p.1)).collect();
    let x = Axis::numeric("epoch", &xs, false, Ticks::AtValues);
    let y = Axis::numeric(label, &ys, false, Ticks::Auto);
    let series = raw
        .into_iter()
        .map(|(set, i, points)| Series {
            label: Some(set.to_string()),
            points,
            join: Join::Straight,
            marker: 4,
            shape: series_style(i).0,
            dash: series_style(i).1,
            rgb: palette(i),
        })
        .collect();
    Ok(Some(XyFigure {
        title: title.to_string(),
        x,
        y,
        series,
    }))
}

/// The energy breakdown of `summary.csv` (first row), in µJ; `None` when the chip columns
/// are absent or empty (no chip simulated).
fn energy(summary: &Table, name: &str) -> Result<Option<BarFigure>, InputError> {
    let total = first_number(summary, "energy_pJ")?.map(|v| v * UJ_PER_PJ);
    let mut panels = Vec::new();
    for (title, columns) in [
        ("by training phase (leakage is in no phase)", &PHASES[..]),
        ("by component", &COMPONENTS[..]),
    ] {
        let mut bars = Vec::new();
        for (bar, column) in columns {
            if let Some(v) = first_number(summary, column)? {
                bars.push(Bar {
                    name: bar.to_string(),
                    value: v * UJ_PER_PJ,
                });
            }
        }
        if !bars.is_empty() {
            let sum = bars.iter().map(|b| b.value).sum::<f64>();
            panels.push(BarPanel {
                title: title.to_string(),
                total: total.filter(|t| *t > 0.0).unwrap_or(sum),
                bars,
            });
        }
    }
    if panels.is_empty() {
        return Ok(None);
    }
    let title = match total {
        Some(t) => format!("energy: {name}, total {} µJ", super::axis::fmt_number(t)),
        None => format!("energy: {name}"),
    };
    Ok(Some(BarFigure {
        title,
        value_label: "energy (µJ)".into(),
        unit: "µJ".into(),
        panels,
    }))
}

/// The first row's value of a numeric column; `None` when absent or empty.
fn first_number(table: &Table, column: &str) -> Result<Option<f64>, InputError> {
    Ok(table
        .numbers(column)?
        .and_then(|v| v.into_iter().next().flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_is_skipped_without_a_chip() {
        let t = Table::from_text(
            "s.csv",
            "workload,arch,energy_pJ,energy_FW_pJ,energy_erase_pJ\nw,a,,,\n",
        )
        .unwrap();
        assert!(energy(&t, "x").unwrap().is_none());
    }

    #[test]
    fn energy_in_microjoules() {
        let t = Table::from_text(
            "s.csv",
            "energy_pJ,energy_FW_pJ,energy_WU_pJ,energy_erase_pJ\n3000000,1000000,2000000,500000\n",
        )
        .unwrap();
        let f = energy(&t, "x").unwrap().unwrap();
        assert_eq!(f.panels.len(), 2);
        assert_eq!(f.panels[0].bars.len(), 2);
        assert_eq!(f.panels[0].bars[1].name, "WU");
        assert_eq!(f.panels[0].bars[1].value, 2.0);
        assert_eq!(f.panels[0].total, 3.0);
        assert_eq!(f.title, "energy: x, total 3 µJ");
    }

    #[test]
    fn one_epoch_gives_single_points() {
        let t = Table::from_text(
            "e.csv",
            "epoch,train_loss,train_accuracy,test_loss,test_accuracy\n1,0.5,0.8,0.4,0.85\n",
        )
        .unwrap();
        let f = per_epoch(&t, "t", "accuracy (%)", "_accuracy", 100.0)
            .unwrap()
            .unwrap();
        assert_eq!(f.series.len(), 2);
        assert_eq!(f.series[1].points, [(1.0, 85.0)]);
        assert!(f.x.range.0 < 1.0 && f.x.range.1 > 1.0);
        assert!(f.render().unwrap().contains("accuracy (%)"));
    }
}
