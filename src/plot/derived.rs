//! Metrics of a sweep's points that `sweep.csv` does not hold as one column: the chip's area,
//! its cost per training image (time, energy and their product), and the utilisation of its
//! compute units and write drivers, read from each point's `points/<id>/components.csv`.
//!
//! Per image means over every training image the chip ran: `train_images` x `epochs`.
//! The utilisation of a kind of component (`compute`, `write_drivers`) is the chip-wide
//! ratio sum of `busy_cycles` / (sum of `servers` x `total_cycles`) over the rows of that
//! kind: for compute units (one server each, idle tiles included) the mean busy share of a
//! tile's MAC lanes; for the driver pools of the subarrays that hold strings, the share of
//! their drivers' time spent writing.

use std::path::Path;

use super::table::Table;
use crate::error::InputError;

/// A metric drawn against each axis: its file stem, axis title, and each point's value in
/// the title's unit (`None` where the point lacks it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metric {
    /// File stem: the figure is `<name>_vs_<axis>.svg`.
    pub name: &'static str,
    /// Axis title, unit included.
    pub label: &'static str,
    /// Whether the y axis may be logarithmic (by [`super::axis::log_base`]'s rule).
    pub allow_log: bool,
    /// Each point's value, in the title's unit.
    pub values: Vec<Option<f64>>,
}

/// The kinds of component whose utilisation is drawn: `components.csv`'s `component`, the
/// metric's name and its axis title.
pub(crate) const UTILISATION: [(&str, &str, &str); 2] = [
    (
        "compute",
        "utilisation_compute",
        "compute unit (MAC lane) utilisation (%)",
    ),
    (
        "write_drivers",
        "utilisation_write_drivers",
        "write driver utilisation (%)",
    ),
];

/// The derived metrics of the sweep folder `dir` whose `sweep.csv` is `table`, in drawing
/// order: `area_mm2`, `time_per_image` (µs), `energy_per_image` (µJ), `edp_per_image`
/// (µJ·µs), then the utilisations of [`UTILISATION`] (%). A metric no point has is left
/// out. A `components.csv` that is there but unreadable, or lacks a column, is an error
/// naming it; a point without one (a sweep still running, a shard's point) has no value.
pub(crate) fn metrics(dir: &Path, table: &Table) -> Result<Vec<Metric>, InputError> {
    let n = table.len();
    let column = |c: &str| -> Result<Vec<Option<f64>>, InputError> {
        Ok(table.numbers(c)?.unwrap_or_else(|| vec![None; n]))
    };
    let area = column("area_mm2")?;
    let (time_ns, energy_pj) = (column("time_ns")?, column("energy_pJ")?);
    let (images, epochs) = (column("train_images")?, column("epochs")?);
    let per_image = |v: &[Option<f64>], unit: f64| -> Vec<Option<f64>> {
        (0..n)
            .map(|r| {
                let count = images[r]? * epochs[r]?;
                (count > 0.0).then(|| v[r].map(|x| x / count / unit))?
            })
            .collect()
    };
    let time_us = per_image(&time_ns, 1e3);
    let energy_uj = per_image(&energy_pj, 1e6);
    let edp = (0..n).map(|r| Some(time_us[r]? * energy_uj[r]?)).collect();
    let mut out = vec![
        Metric {
            name: "area_mm2",
            label: "chip area (mm²)",
            allow_log: true,
            values: area,
        },
        Metric {
            name: "time_per_image",
            label: "simulated training time per image (µs)",
            allow_log: true,
            values: time_us,
        },
        Metric {
            name: "energy_per_image",
            label: "chip energy per training image (µJ)",
            allow_log: true,
            values: energy_uj,
        },
        Metric {
            name: "edp_per_image",
            label: "energy-delay product per image (µJ·µs)",
            allow_log: true,
            values: edp,
        },
    ];
    let utilisation = utilisations(dir, table)?;
    for ((_, name, label), values) in UTILISATION.iter().zip(utilisation) {
        out.push(Metric {
            name,
            label,
            allow_log: false,
            values: values.into_iter().map(|v| v.map(|u| u * 100.0)).collect(),
        });
    }
    out.retain(|m| m.values.iter().any(Option::is_some));
    Ok(out)
}

/// Each point's utilisation of each kind in [`UTILISATION`] (fractions), from
/// `dir/points/<id>/components.csv` and the point's `total_cycles`.
fn utilisations(dir: &Path, table: &Table) -> Result<Vec<Vec<Option<f64>>>, InputError> {
    let n = table.len();
    let mut out = vec![vec![None; n]; UTILISATION.len()];
    let (Some(ids), Some(cycles)) = (table.text("id"), table.numbers("total_cycles")?) else {
        return Ok(out);
    };
    for r in 0..n {
        // Only plain ids name a folder: nothing in sweep.csv may point outside points/.
        let (Some(id), Some(total)) = (ids[r], cycles[r]) else {
            continue;
        };
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) || total <= 0.0 {
            continue;
        }
        let path = dir.join("points").join(id).join("components.csv");
        if !path.is_file() {
            continue;
        }
        let components = Table::read(&path)?;
        for (k, (kind, _, _)) in UTILISATION.iter().enumerate() {
            out[k][r] = utilisation(&components, kind, total)?;
        }
    }
    Ok(out)
}

/// The utilisation of the components of one kind in a `components.csv`: the sum of their
/// `busy_cycles` over the sum of their `servers` x `total_cycles`; `None` when the file
/// has no component of that kind.
pub(crate) fn utilisation(
    components: &Table,
    kind: &str,
    total_cycles: f64,
) -> Result<Option<f64>, InputError> {
    components.require(&["component", "servers", "busy_cycles"])?;
    let names = components.text("component").unwrap_or_default();
    let servers = components.required_numbers("servers")?;
    let busy = components.required_numbers("busy_cycles")?;
    let (mut busy_sum, mut server_sum) = (0.0, 0.0);
    for r in 0..components.len() {
        if names[r] == Some(kind) {
            busy_sum += busy[r].unwrap_or(0.0);
            server_sum += servers[r].unwrap_or(0.0);
        }
    }
    Ok((server_sum > 0.0 && total_cycles > 0.0).then(|| busy_sum / (server_sum * total_cycles)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENTS: &str = "component,tile,subarray,layer,servers,busy_cycles,utilisation,bytes\n\
        compute,0,,,1,600,0.6,\n\
        compute,1,,,1,0,0,\n\
        subarray,0,0,conv1,1,100,0.1,\n\
        write_drivers,0,0,conv1,8,400,0.05,\n\
        write_drivers,0,1,conv1,8,1200,0.15,\n\
        noc,,,,1,50,0.05,\n";

    #[test]
    fn utilisation_is_busy_over_servers_times_time() {
        let t = Table::from_text("components.csv", COMPONENTS).unwrap();
        // Two compute units, 600 busy cycles of 2 x 1000.
        assert_eq!(utilisation(&t, "compute", 1000.0).unwrap(), Some(0.3));
        // Two pools of 8 drivers, 1600 busy cycles of 16 x 1000.
        assert_eq!(utilisation(&t, "write_drivers", 1000.0).unwrap(), Some(0.1));
        assert_eq!(utilisation(&t, "master", 1000.0).unwrap(), None);
        assert_eq!(utilisation(&t, "compute", 0.0).unwrap(), None);
        let bad = Table::from_text("c.csv", "component,servers\ncompute,1\n").unwrap();
        assert_eq!(
            utilisation(&bad, "compute", 1.0).unwrap_err().message,
            "c.csv: no column busy_cycles"
        );
    }

    fn sweep(dir: &Path, rows: &str) -> Table {
        let text = format!(
            "point,id,chip.tiles,training,replayed,epochs,train_images,total_cycles,time_ns,\
             energy_pJ,area_mm2\n{rows}"
        );
        std::fs::write(dir.join("sweep.csv"), &text).unwrap();
        Table::read(&dir.join("sweep.csv")).unwrap()
    }

    #[test]
    fn per_image_metrics_divide_by_every_image_trained() {
        let tmp = tempfile::TempDir::new().unwrap();
        // 2 epochs of 100 images: 200 images; 4e6 ns and 8e8 pJ.
        let t = sweep(
            tmp.path(),
            "0,a,1,a,false,2,100,4000000,4000000.000,800000000.000,0.25\n\
             1,b,2,a,true,2,0,4000000,4000000.000,800000000.000,0.5\n",
        );
        let m = metrics(tmp.path(), &t).unwrap();
        let names: Vec<&str> = m.iter().map(|m| m.name).collect();
        // No points/ folder: no utilisation.
        assert_eq!(
            names,
            [
                "area_mm2",
                "time_per_image",
                "energy_per_image",
                "edp_per_image"
            ]
        );
        assert_eq!(m[0].values, [Some(0.25), Some(0.5)]);
        assert_eq!(m[1].values, [Some(20.0), None]); // 2e4 ns = 20 µs per image
        assert_eq!(m[2].values, [Some(4.0), None]); // 4e6 pJ = 4 µJ per image
        assert_eq!(m[3].values, [Some(80.0), None]);
    }

    #[test]
    fn utilisation_reads_each_points_components() {
        let tmp = tempfile::TempDir::new().unwrap();
        let t = sweep(
            tmp.path(),
            "0,a,1,a,false,1,10,1000,1000.000,1.000,0.25\n\
             1,b,2,a,true,1,10,2000,2000.000,1.000,0.5\n\
             2,../x,4,a,true,1,10,2000,2000.000,1.000,1.0\n",
        );
        let a = tmp.path().join("points/a");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(a.join("components.csv"), COMPONENTS).unwrap();
        let m = metrics(tmp.path(), &t).unwrap();
        let util: Vec<_> = m
            .iter()
            .filter(|m| m.name.starts_with("utilisation"))
            .collect();
        assert_eq!(util.len(), 2);
        // Point b has no folder, point 2's id is no folder name: no values.
        assert_eq!(util[0].values, [Some(30.0), None, None]);
        assert_eq!(util[1].values, [Some(10.0), None, None]);
        assert!(!util[0].allow_log);
        // A broken components.csv is an error naming it.
        std::fs::write(a.join("components.csv"), "component,servers\ncompute,x\n").unwrap();
        let e = metrics(tmp.path(), &t).unwrap_err().message;
        assert!(e.contains("points/a/components.csv"), "{e}");
    }
}
