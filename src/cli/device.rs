//! `nandspin device`: the switching curve of one program pulse as CSV.

use std::path::PathBuf;

use clap::Args;

use nandspin::device::{curve, measured, variation};
use nandspin::report;
use nandspin::run;

/// Arguments of `nandspin device`.
#[derive(Args)]
pub struct DeviceArgs {
    /// Architecture file.
    #[arg(long, default_value = "arch/nandspin.toml")]
    arch: PathBuf,
    /// Override an arch key by its dotted path, e.g. --set device.delta=60 (repeatable;
    /// the value is TOML: numbers as they are, strings in quotes or bare).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Pulse widths in ns: a list (1,2,3) or start:stop:step.
    #[arg(long, default_value = "0.5:5:0.5", value_name = "LIST|RANGE")]
    pulse_ns: String,
    /// Currents in µA: a list or start:stop:step, each above 0 and at most 1e5
    /// [default: the arch's update.program_current_ua].
    #[arg(long, value_name = "LIST|RANGE", allow_negative_numbers = true)]
    current_ua: Option<String>,
    /// Write the CSV to this file (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the distribution of P_sw over devices drawn from the arch's [variation]
    /// (quantiles 1, 10, 50, 90 and 99 %) instead of the nominal device's curve.
    #[arg(long)]
    variation: bool,
    /// With --variation: how many devices to draw.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000), requires = "variation")]
    devices: u32,
    /// With --variation: the seed devices are drawn from when the arch gives no
    /// variation.seed (a run uses its training.seed).
    #[arg(long, default_value_t = 0, requires = "variation")]
    seed: u64,
}

/// Prints (or writes) the characterisation CSV.
pub fn command(args: DeviceArgs) -> anyhow::Result<()> {
    let pulses = curve::parse_pulses(&args.pulse_ns)?;
    super::check_input(&args.arch, "--arch")?;
    if let Some(out) = &args.out {
        super::check_out_file(out)?;
    }
    let a = run::load_arch(&args.arch, &args.sets)?;
    let (currents, current_what) = match args.current_ua {
        Some(spec) => (curve::parse_currents(&spec)?, "--current-ua"),
        None => (
            vec![a.config.update.program_current_ua],
            "update.program_current_ua",
        ),
    };
    if let Some(s) = &a.config.device.measured {
        let warn = measured::grid_warning(s, "--pulse-ns", &pulses, current_what, &currents);
        for w in s.warnings.iter().chain(&warn) {
            super::console::error_line(w);
        }
    }
    let points = curve::characterise(&a.config, &pulses, &currents);
    let csv = if args.variation {
        let q = variation::p_switch_quantiles(
            &a.config,
            args.seed,
            args.devices as usize,
            &pulses,
            &currents,
            &report::VARIATION_QUANTILES,
        );
        report::device_variation_csv(&points, &q)?
    } else {
        report::device_csv(&points)?
    };
    match args.out {
        Some(path) => report::write_atomic(&path, &csv)?,
        None => super::console::write(&csv),
    }
    Ok(())
}
