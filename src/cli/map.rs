//! `nandspin map`: where the scheduler places every layer's weights on the chip.

use nandspin::config::device::Master;
use std::path::PathBuf;

use clap::Args;

use nandspin::run::{self, RunRequest};

use super::console;

/// Arguments of `nandspin map`.
#[derive(Args)]
pub struct MapArgs {
    /// Architecture file.
    #[arg(long, default_value = "arch/nandspin.toml")]
    arch: PathBuf,
    /// Workload file (network, data, training).
    #[arg(long, default_value = "workloads/lenet5-mnist.toml")]
    workload: PathBuf,
    /// Override a config key by its dotted path, e.g. --set chip.tiles=8 (repeatable; the
    /// value is TOML: numbers as they are, strings in quotes or bare).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print the per-layer table as CSV.
    #[arg(long, conflicts_with = "strings")]
    csv: bool,
    /// Print every string's place as CSV: layer, tensor, string, tile, subarray, row,
    /// column.
    #[arg(long)]
    strings: bool,
}

/// Tiles as compact ranges: `0-3,6`.
fn ranges(tiles: &[u32]) -> String {
    let mut t = tiles.to_vec();
    t.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let mut j = i;
        while j + 1 < t.len() && t[j + 1] == t[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            t[i].to_string()
        } else {
            format!("{}-{}", t[i], t[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// Prints the placement table (or CSV, or every string's place).
pub fn command(args: MapArgs) -> anyhow::Result<()> {
    let MapArgs {
        arch,
        workload,
        sets,
        csv,
        strings,
    } = args;
    let req = RunRequest {
        arch,
        workload,
        sets,
        ..RunRequest::default()
    };
    super::check_input(&req.arch, "--arch")?;
    super::check_input(&req.workload, "--workload")?;
    let p = run::prepare(&req)?;
    for w in &p.warnings {
        super::console::error_line(w);
    }
    let batch = u64::from(p.workload.config.training.batch_size);
    let m = match p.map.clone() {
        Some(m) => m,
        None => run::check_chip(&p.arch, &p.net, batch)?,
    };
    let a = &p.arch.config;
    let mut out = csv::Writer::from_writer(Vec::new());
    if strings {
        out.write_record([
            "layer", "tensor", "string", "tile", "subarray", "row", "column",
        ])?;
        let cols = u64::from(a.subarray.columns);
        for (info, place) in m.layers.iter().zip(&m.places) {
            for ps in &info.params {
                let tensor = &p.net.params()[ps.id].name;
                for s in 0..ps.strings {
                    let (j, row, col) = place.locate(ps.offset + s, cols as u32);
                    let sa = place.subarrays[j];
                    out.write_record([
                        info.name.clone(),
                        tensor.clone(),
                        s.to_string(),
                        sa.tile.to_string(),
                        sa.index.to_string(),
                        row.to_string(),
                        col.to_string(),
                    ])?;
                }
            }
        }
        console::write(&out.into_inner()?);
        return Ok(());
    }
    let mut rows: Vec<Vec<String>> = vec![
        [
            "layer",
            "fold",
            "strings",
            "tiles",
            "tile_list",
            "subarrays",
            "strings_per_subarray",
            "utilisation",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (info, place) in m.layers.iter().zip(&m.places) {
        let tiles: Vec<u32> = place.tiles.iter().map(|&(t, _)| t).collect();
        let util = info.strings as f64 / (place.subarrays.len() as f64 * m.subarray_strings as f64);
        rows.push(vec![
            info.name.clone(),
            place.fold_label(),
            info.strings.to_string(),
            tiles.len().to_string(),
            ranges(&tiles),
            place.subarrays.len().to_string(),
            place.per_subarray.to_string(),
            format!("{util:.4}"),
        ]);
    }
    if csv {
        for r in &rows {
            out.write_record(r)?;
        }
        console::write(&out.into_inner()?);
        return Ok(());
    }
    let (units, cells) = nandspin::tech::unit_names(a);
    let mut text = format!(
        "{} on {}: {} tile{} x {} subarrays x {}x{} {units} of {} {cells}; mapping {}{}\n",
        p.workload_name,
        p.arch_name,
        a.chip.tiles,
        if a.chip.tiles == 1 { "" } else { "s" },
        a.tile.subarrays,
        a.subarray.rows,
        a.subarray.columns,
        nandspin::device::Layout::of(a).mtjs,
        m.mapping.name(),
        if m.folds > 1 {
            format!(", {} folds swapped through DRAM", m.folds)
        } else {
            String::new()
        }
    );
    text.push_str(&console::aligned(&rows, |c| c == 0 || c == 4));
    let strings: u64 = m.layers.iter().map(|l| l.strings).sum();
    let subarrays: usize = m.places.iter().map(|p| p.subarrays.len()).sum();
    let cap = f64::from(a.chip.tiles) * f64::from(a.tile.subarrays) * m.subarray_strings as f64;
    text.push_str(&format!(
        "total: {strings} strings in {subarrays} subarrays on {} of {} tiles; {:.2}% of the chip's {cap} strings\n",
        m.tiles_used,
        m.tiles,
        100.0 * strings as f64 / cap
    ));
    if a.update.master == Master::Digital {
        let bytes = m.master_bytes();
        let (t, most) = bytes
            .iter()
            .enumerate()
            .max_by_key(|&(_, b)| *b)
            .map_or((0, 0), |(t, &b)| (t, b));
        text.push_str(&format!(
            "master weights: {:.1} KiB of f32 in all; the fullest tile ({t}) holds {:.1} of its {} KiB (tile.master_kib)\n",
            bytes.iter().sum::<u64>() as f64 / 1024.0,
            most as f64 / 1024.0,
            a.tile.master_kib
        ));
    }
    console::write(text.as_bytes());
    Ok(())
}
