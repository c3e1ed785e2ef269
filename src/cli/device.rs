//! `nandspin device`: the switching curve of one program pulse as CSV.

use std::path::PathBuf;

use clap::Args;

use nandspin::device::{curve, measured};
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
    let csv = report::device_csv(&curve::characterise(&a.config, &pulses, &currents))?;
    match args.out {
        Some(path) => report::write_atomic(&path, &csv)?,
        None => super::console::write(&csv),
    }
    Ok(())
}
