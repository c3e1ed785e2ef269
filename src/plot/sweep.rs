//! Figures of a sweep's output folder (`sweep.csv`): each metric against each axis (the
//! columns of [`METRICS`], then the [`derived`] ones: area, time, energy and their product
//! per image, utilisation of compute units and write drivers), and the three Pareto fronts (chip energy and device write energy against accuracy, time against
//! tiles), with `pareto.csv`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::axis::{Axis, Ticks};
use super::derived;
use super::pareto::{Goal, Objective, front_figure};
use super::table::Table;
use super::xy::{Join, Series, XyFigure, palette, series_style};
use super::{Output, render_xy};
use crate::error::InputError;

/// The metrics drawn against each axis: `sweep.csv` column, axis title, factor from the
/// column's unit to the title's.
const METRICS: [(&str, &str, f64); 8] = [
    ("final_test_accuracy", "final test accuracy (%)", 100.0),
    ("energy_pJ", "energy (µJ)", 1e-6),
    ("total_cycles", "total cycles", 1.0),
    ("WU_cycles", "WU busy cycles", 1.0),
    ("energy_WU_pJ", "WU energy (µJ)", 1e-6),
    ("write_energy_pJ", "device write energy (µJ)", 1e-6),
    ("program_energy_pJ", "program energy (µJ)", 1e-6),
    ("bit_error_rate", "bit error rate", 1.0),
];

/// One objective of a Pareto front: a `sweep.csv` column and how it is drawn.
#[derive(Debug, Clone, Copy)]
struct Side {
    column: &'static str,
    /// Axis title, unit included.
    label: &'static str,
    /// Factor from the column's unit to the title's.
    scale: f64,
    goal: Goal,
    allow_log: bool,
    ticks: Ticks,
}

impl Side {
    const fn new(column: &'static str, label: &'static str, scale: f64, goal: Goal) -> Self {
        Self {
            column,
            label,
            scale,
            goal,
            allow_log: matches!(goal, Goal::Min),
            ticks: Ticks::Auto,
        }
    }

    fn objective(&self) -> Objective {
        Objective {
            label: self.label.to_string(),
            scale: self.scale,
            goal: self.goal,
            allow_log: self.allow_log,
            ticks: self.ticks,
        }
    }
}

/// Energy of the energy/accuracy front: the whole chip's (empty for stores without a chip).
const ENERGY: [Side; 1] = [Side::new("energy_pJ", "chip energy (µJ)", 1e-6, Goal::Min)];

/// Energy of the write-energy/accuracy front: the device's writes alone (erase, program,
/// verify), where the update policy shows; the chip total is mostly MACs.
const WRITE_ENERGY: [Side; 1] = [Side::new(
    "write_energy_pJ",
    "device write energy (µJ)",
    1e-6,
    Goal::Min,
)];

/// Accuracy of the energy/accuracy front.
const ACCURACY: [Side; 1] = [Side::new(
    "final_test_accuracy",
    "final test accuracy (%)",
    100.0,
    Goal::Max,
)];

/// Tiles of the time/tiles front, ticked at the sweep's tile counts.
const TILES: [Side; 1] = [Side {
    ticks: Ticks::AtValues,
    ..Side::new("tiles", "tiles", 1.0, Goal::Min)
}];

/// Time of the time/tiles front: cycles, else ns; never on a log scale.
const TIME: [Side; 2] = [
    Side {
        allow_log: false,
        ..Side::new("total_cycles", "total cycles", 1.0, Goal::Min)
    },
    Side {
        allow_log: false,
        ..Side::new("time_ns", "time (ns)", 1.0, Goal::Min)
    },
];

/// The fronts: name (in `pareto.csv` and the file name), then the columns tried in order
/// for x and for y.
const FRONTS: [(&str, &[Side], &[Side]); 3] = [
    ("energy_accuracy", &ENERGY, &ACCURACY),
    ("write_energy_accuracy", &WRITE_ENERGY, &ACCURACY),
    ("time_tiles", &TILES, &TIME),
];

/// The axis columns of a `sweep.csv` header: those strictly between `id` and `training`.
pub(crate) fn axis_columns(header: &[String]) -> Result<&[String], String> {
    let find = |name: &str| header.iter().position(|h| h == name);
    let id = find("id").ok_or("no column id")?;
    let training = find("training")
        .ok_or("no column training (the axis columns are those between id and training)")?;
    if training < id {
        return Err("column training comes before id".into());
    }
    Ok(&header[id + 1..training])
}

/// An axis name made safe for a file name: characters other than ASCII letters, digits,
/// `_` and `-` become `-` (`chip.tiles` gives `chip-tiles`).
pub(crate) fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "axis".into() } else { s }
}

/// One axis of the sweep: its name, each point's value as text, and as numbers when every
/// value is one.
#[derive(Debug, Clone)]
struct SweepAxis {
    name: String,
    fields: Vec<Option<String>>,
    numbers: Option<Vec<Option<f64>>>,
    /// The distinct values in axis order: ascending when numeric, else first seen.
    order: Vec<String>,
    /// Each distinct value's index in `order` (looked up only, never iterated).
    ranks: HashMap<String, usize>,
}

impl SweepAxis {
    fn new(table: &Table, name: &str) -> Self {
        let fields: Vec<Option<String>> = table
            .text(name)
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.map(String::from))
            .collect();
        let parsed: Vec<Option<Option<f64>>> = fields
            .iter()
            .map(|f| match f {
                None => Some(None),
                Some(s) => s.parse::<f64>().ok().filter(|v| v.is_finite()).map(Some),
            })
            .collect();
        let numbers: Option<Vec<Option<f64>>> = parsed.into_iter().collect();
        // Distinct values: (number, first row, text).
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut order: Vec<(Option<f64>, usize, &str)> = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if let Some(s) = f.as_deref()
                && seen.insert(s, i).is_none()
            {
                order.push((numbers.as_ref().and_then(|n| n[i]), i, s));
            }
        }
        order.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.total_cmp(&y).then(a.1.cmp(&b.1)),
            _ => a.1.cmp(&b.1),
        });
        let order: Vec<String> = order.into_iter().map(|o| o.2.to_string()).collect();
        let ranks = order
            .iter()
            .enumerate()
            .map(|(r, s)| (s.clone(), r))
            .collect();
        Self {
            name: name.to_string(),
            fields,
            numbers,
            order,
            ranks,
        }
    }

    /// The rank of point `row`'s value in the axis order (empty values last).
    fn rank(&self, row: usize) -> usize {
        self.fields[row]
            .as_ref()
            .and_then(|s| self.ranks.get(s).copied())
            .unwrap_or(self.order.len())
    }

    /// `name=value` for point `row`.
    fn label(&self, row: usize) -> String {
        let v = self.fields[row].as_deref().unwrap_or("(empty)");
        format!("{}={v}", self.name)
    }
}

/// The figures of the sweep folder `dir`, rendered; reads and checks everything first.
pub(crate) fn figures(dir: &Path) -> anyhow::Result<Vec<Output>> {
    let table = Table::read(&dir.join("sweep.csv"))?;
    let names = axis_columns(table.header())
        .map_err(|e| InputError::new(format!("{}: {e}", table.path.display())))?;
    let axes: Vec<SweepAxis> = names.iter().map(|n| SweepAxis::new(&table, n)).collect();
    let title = sweep_title(&table);
    let extra = derived::metrics(dir, &table)?;
    let mut out = Vec::new();
    for (a, axis) in axes.iter().enumerate() {
        for (column, label, scale) in METRICS {
            let Some(values) = table.numbers(column)? else {
                continue;
            };
            let Some(fig) = metric_vs_axis(&axes, a, &values, label, scale, false, &title) else {
                continue;
            };
            let file = format!("{column}_vs_{}.svg", sanitize(&axis.name));
            out.push(render_xy(&file, &fig)?);
        }
        for m in &extra {
            let Some(fig) = metric_vs_axis(&axes, a, &m.values, m.label, 1.0, m.allow_log, &title)
            else {
                continue;
            };
            let file = format!("{}_vs_{}.svg", m.name, sanitize(&axis.name));
            out.push(render_xy(&file, &fig)?);
        }
    }
    out.extend(pareto_outputs(&table, &title)?);
    Ok(out)
}

/// `sweep: workload on arch` from the distinct `workload` and `arch` values.
fn sweep_title(table: &Table) -> String {
    let distinct = |column: &str| {
        let mut seen: Vec<&str> = Vec::new();
        for v in table.text(column).unwrap_or_default().into_iter().flatten() {
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
        seen.join("/")
    };
    let (w, a) = (distinct("workload"), distinct("arch"));
    match (w.is_empty(), a.is_empty()) {
        (false, false) => format!("sweep: {w} on {a}, {} points", table.len()),
        _ => format!("sweep: {} points", table.len()),
    }
}

/// One metric (`values`, per point, drawn times `scale`) against axis `a`, one series per
/// combination of the other axes' values; the y axis is logarithmic only with `log_y` and
/// when [`super::axis::log_base`] says so. `None` when no point has both values.
fn metric_vs_axis(
    axes: &[SweepAxis],
    a: usize,
    values: &[Option<f64>],
    label: &str,
    scale: f64,
    log_y: bool,
    title: &str,
) -> Option<XyFigure> {
    let axis = &axes[a];
    let rows: Vec<usize> = (0..values.len())
        .filter(|&r| values[r].is_some() && axis.fields[r].is_some())
        .collect();
    if rows.is_empty() {
        return None;
    }
    let x = match &axis.numbers {
        Some(n) => {
            let xs: Vec<f64> = rows.iter().filter_map(|&r| n[r]).collect();
            Axis::numeric(&axis.name, &xs, true, Ticks::AtValues)
        }
        None => Axis::category(&axis.name, axis.order.clone()),
    };
    let ys: Vec<f64> = rows
        .iter()
        .filter_map(|&r| values[r])
        .map(|v| v * scale)
        .collect();
    let y = Axis::numeric(label, &ys, log_y, Ticks::Auto);
    let others: Vec<&SweepAxis> = axes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != a)
        .map(|p| p.1)
        .collect();
    let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for &r in &rows {
        let key = others.iter().map(|o| o.rank(r)).collect();
        groups.entry(key).or_default().push(r);
    }
    let coord = |r: usize| -> Option<(f64, f64)> {
        let xc = match &axis.numbers {
            Some(n) => x.coord(n[r]?),
            None => x.category_coord(axis.fields[r].as_deref()?)?,
        };
        Some((xc, y.coord(values[r]? * scale)))
    };
    let series = groups
        .values()
        .enumerate()
        .map(|(i, members)| {
            let mut points: Vec<(f64, f64)> = members.iter().filter_map(|&r| coord(r)).collect();
            points.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
            let repeated_x = points.windows(2).any(|w| w[0].0 == w[1].0);
            let label = (!others.is_empty()).then(|| {
                others
                    .iter()
                    .map(|o| o.label(members[0]))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            Series {
                label,
                points,
                join: if repeated_x {
                    Join::None
                } else {
                    Join::Straight
                },
                marker: 4,
                shape: series_style(i).0,
                dash: series_style(i).1,
                rgb: palette(i),
            }
        })
        .collect();
    Some(XyFigure {
        title: title.to_string(),
        x,
        y,
        series,
    })
}

/// A side picked for a front, with its values per point.
type Picked = Option<(Side, Vec<Option<f64>>)>;

/// The first of `sides` whose column has a value at some point, with its values.
fn pick(table: &Table, sides: &[Side]) -> Result<Picked, InputError> {
    for side in sides {
        if let Some(v) = table.numbers(side.column)?
            && v.iter().any(Option::is_some)
        {
            return Ok(Some((*side, v)));
        }
    }
    Ok(None)
}

/// The points with both values: (row, (x, y)).
fn pairs(x: &[Option<f64>], y: &[Option<f64>]) -> Vec<(usize, (f64, f64))> {
    x.iter()
        .zip(y)
        .enumerate()
        .filter_map(|(r, (a, b))| Some((r, ((*a)?, (*b)?))))
        .collect()
}

/// The Pareto figures and `pareto.csv` (when any front exists).
fn pareto_outputs(table: &Table, title: &str) -> anyhow::Result<Vec<Output>> {
    let ids = table.text("id").unwrap_or_default();
    let fig_title = format!("Pareto front, {}", title.trim_start_matches("sweep: "));
    let mut out = Vec::new();
    let mut csv_rows: Vec<[String; 4]> = Vec::new();
    for (name, x_sides, y_sides) in FRONTS {
        let (Some((xs, xv)), Some((ys, yv))) = (pick(table, x_sides)?, pick(table, y_sides)?)
        else {
            continue;
        };
        let points = pairs(&xv, &yv);
        let raw: Vec<(f64, f64)> = points.iter().map(|p| p.1).collect();
        let Some(plot) = front_figure(&fig_title, &raw, &xs.objective(), &ys.objective()) else {
            continue;
        };
        out.push(render_xy(&format!("pareto_{name}.svg"), &plot.figure)?);
        let xt = table.text(xs.column).unwrap_or_default();
        let yt = table.text(ys.column).unwrap_or_default();
        let field =
            |v: &[Option<&str>], r: usize| v.get(r).copied().flatten().unwrap_or("").to_string();
        for i in plot.front {
            let r = points[i].0;
            csv_rows.push([
                name.to_string(),
                field(&ids, r),
                field(&xt, r),
                field(&yt, r),
            ]);
        }
    }
    if !out.is_empty() {
        out.push(pareto_csv(&csv_rows)?);
    }
    Ok(out)
}

/// `pareto.csv`: `front,id,x,y`, one row per front point, each front sorted by x.
fn pareto_csv(rows: &[[String; 4]]) -> anyhow::Result<Output> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["front", "id", "x", "y"])?;
    for r in rows {
        w.write_record(r)?;
    }
    Ok(Output {
        name: "pareto.csv".into(),
        bytes: w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> Vec<String> {
        s.split(',').map(String::from).collect()
    }

    #[test]
    fn axes_are_between_id_and_training() {
        let h = header("point,id,chip.tiles,update.program_pulse_ns,training,replayed,energy_pJ");
        assert_eq!(
            axis_columns(&h).unwrap(),
            ["chip.tiles", "update.program_pulse_ns"]
        );
        let none = header("point,id,training,replayed");
        assert!(axis_columns(&none).unwrap().is_empty());
        assert!(
            axis_columns(&header("point,id,chip.tiles,replayed"))
                .unwrap_err()
                .contains("training")
        );
        assert!(
            axis_columns(&header("point,chip.tiles,training"))
                .unwrap_err()
                .contains("id")
        );
        assert!(axis_columns(&header("training,x,id")).is_err());
    }

    #[test]
    fn file_names_are_sanitized() {
        assert_eq!(sanitize("chip.tiles"), "chip-tiles");
        assert_eq!(
            sanitize("update.program_pulse_ns"),
            "update-program_pulse_ns"
        );
        assert_eq!(sanitize("a/b c"), "a-b-c");
        assert_eq!(sanitize(""), "axis");
    }

    fn table() -> Table {
        Table::from_text(
            "sweep.csv",
            "point,id,chip.tiles,chip.mapping,training,replayed,final_test_accuracy,energy_pJ\n\
             0,a,16,spread,x,false,0.9,2e6\n\
             1,b,1,spread,x,false,0.8,1e6\n\
             2,c,4,pack,x,false,0.85,\n\
             3,d,16,pack,x,false,0.95,4e6\n",
        )
        .unwrap()
    }

    #[test]
    fn axis_values_are_ordered_numerically_or_as_seen() {
        let t = table();
        let tiles = SweepAxis::new(&t, "chip.tiles");
        assert_eq!(tiles.order, ["1", "4", "16"]);
        assert!(tiles.numbers.is_some());
        let mapping = SweepAxis::new(&t, "chip.mapping");
        assert_eq!(mapping.order, ["spread", "pack"]);
        assert!(mapping.numbers.is_none());
        assert_eq!(mapping.rank(2), 1);
    }

    #[test]
    fn one_series_per_value_of_the_other_axes() {
        let t = table();
        let axes = vec![
            SweepAxis::new(&t, "chip.tiles"),
            SweepAxis::new(&t, "chip.mapping"),
        ];
        let acc = t.numbers("final_test_accuracy").unwrap().unwrap();
        let f = metric_vs_axis(&axes, 0, &acc, "acc", 100.0, false, "t").unwrap();
        let labels: Vec<_> = f.series.iter().map(|s| s.label.clone().unwrap()).collect();
        assert_eq!(labels, ["chip.mapping=spread", "chip.mapping=pack"]);
        assert_eq!(f.series[0].points.len(), 2);
        // Energy is empty at point c: the pack series has one point.
        let e = t.numbers("energy_pJ").unwrap().unwrap();
        let f = metric_vs_axis(&axes, 0, &e, "e", 1e-6, false, "t").unwrap();
        assert_eq!(f.series[1].points.len(), 1);
        // Categorical axis.
        let f = metric_vs_axis(&axes, 1, &acc, "acc", 1.0, false, "t").unwrap();
        assert_eq!(
            f.x.scale,
            super::super::axis::Scale::Category(vec!["spread".into(), "pack".into()])
        );
        assert_eq!(f.series.len(), 3);
    }

    #[test]
    fn y_is_logarithmic_only_when_asked_and_wide() {
        let t = table();
        let axes = vec![SweepAxis::new(&t, "chip.tiles")];
        let wide = [Some(1.0), Some(100.0), Some(10.0), Some(5.0)];
        let f = metric_vs_axis(&axes, 0, &wide, "t", 1.0, true, "t").unwrap();
        assert_eq!(f.y.scale, super::super::axis::Scale::Log(10.0));
        let f = metric_vs_axis(&axes, 0, &wide, "t", 1.0, false, "t").unwrap();
        assert_eq!(f.y.scale, super::super::axis::Scale::Linear);
        let narrow = [Some(1.0), Some(1.5), Some(3.0), Some(5.0)];
        let f = metric_vs_axis(&axes, 0, &narrow, "t", 1.0, true, "t").unwrap();
        assert_eq!(f.y.scale, super::super::axis::Scale::Linear);
    }

    #[test]
    fn derived_metrics_follow_the_columns_in_the_file_list() {
        let tmp = tempfile::TempDir::new().unwrap();
        std::fs::write(
            tmp.path().join("sweep.csv"),
            "point,id,chip.tiles,training,replayed,epochs,train_images,time_ns,energy_pJ\n\
             0,a,1,a,false,1,10,1000.000,5.000\n\
             1,b,2,a,true,1,10,600.000,6.000\n",
        )
        .unwrap();
        let names: Vec<String> = figures(tmp.path())
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(
            names,
            [
                "energy_pJ_vs_chip-tiles.svg",
                "time_per_image_vs_chip-tiles.svg",
                "energy_per_image_vs_chip-tiles.svg",
                "edp_per_image_vs_chip-tiles.svg",
            ]
        );
    }

    #[test]
    fn empty_metric_gives_no_figure() {
        let t = table();
        let axes = vec![SweepAxis::new(&t, "chip.tiles")];
        assert!(
            metric_vs_axis(&axes, 0, &[None, None, None, None], "m", 1.0, false, "t").is_none()
        );
    }

    #[test]
    fn pareto_csv_lists_the_fronts() {
        let outs = pareto_outputs(&table(), "sweep: t").unwrap();
        let names: Vec<&str> = outs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["pareto_energy_accuracy.svg", "pareto.csv"]);
        let csv = String::from_utf8(outs[1].bytes.clone()).unwrap();
        assert_eq!(
            csv,
            "front,id,x,y\nenergy_accuracy,b,1e6,0.8\nenergy_accuracy,a,2e6,0.9\nenergy_accuracy,d,4e6,0.95\n"
        );
    }
}
