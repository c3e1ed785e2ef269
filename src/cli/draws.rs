//! `nandspin draws`: write the random draws of a training run (initial parameters, epoch
//! orders) for replaying it in another framework.

use std::path::PathBuf;

use clap::Args;

use super::console::say;

/// Arguments of `nandspin draws`.
#[derive(Args)]
pub struct DrawsArgs {
    /// Workload file (network, data, training).
    #[arg(long, default_value = "workloads/lenet5-mnist.toml")]
    workload: PathBuf,
    /// Seed of the run (overrides training.seed); 0 to 2^63-1.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    seed: Option<u64>,
    /// Override a workload key by its dotted path, e.g. --set training.epochs=1 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// The file to write (TOML).
    #[arg(long)]
    out: PathBuf,
}

/// Writes the draws file and says what it holds.
pub fn command(args: DrawsArgs) -> anyhow::Result<()> {
    super::check_input(&args.workload, "--workload")?;
    super::check_out_file(&args.out)?;
    let (w, checked, name) = nandspin::run::load_workload(&args.workload, &args.sets, args.seed)?;
    let t = &w.config.training;
    let n = checked.data.train.len();
    let text = nandspin::draws::render(&name, &checked.net, t, n);
    nandspin::report::write_atomic(&args.out, text.as_bytes())?;
    say!(
        "{}: {} parameters of {name} (seed {}) and the orders of {n} training images in {} epoch{}",
        args.out.display(),
        checked.net.parameter_count(),
        t.seed,
        t.epochs,
        if t.epochs == 1 { "" } else { "s" }
    );
    Ok(())
}
