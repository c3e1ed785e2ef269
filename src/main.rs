//! The `nandspin` command line: parses the arguments and dispatches to the command's module
//! under `cli/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use nandspin::error::exit_code;

mod cli;

/// nandspin: on-chip CNN training on NAND-SPIN MRAM, simulated.
#[derive(Parser)]
#[command(name = "nandspin", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a workload on an architecture and write reports.
    Run(cli::run::RunArgs),
    /// Switching probability, mean switching time and energy of one program pulse of the
    /// arch's MTJ over pulse widths and currents, as CSV.
    Device(cli::device::DeviceArgs),
    /// Write a training run's random draws (initial parameters, per-epoch image orders) as
    /// TOML, to replay the same run in another framework (scripts/torch_reference.py --draws).
    Draws(cli::draws::DrawsArgs),
    /// Show where the scheduler places every layer's weights on the chip: tiles,
    /// subarrays, strings used and utilisation.
    Map(cli::map::MapArgs),
    /// Explore a design space: plan, run (in parallel, resumably, one shard of it),
    /// merge shards, or write Slurm job scripts for a sweep file (arch/sweeps/*.toml).
    Sweep {
        #[command(subcommand)]
        action: cli::sweep::SweepCommand,
    },
    /// Find the cheapest update policy that keeps the accuracy: successive halving over
    /// the candidates of a tune file (arch/tune/*.toml), each rung a resumable sweep.
    Tune(cli::tune::TuneArgs),
    /// Draw SVG figures of a run folder (accuracy and loss per epoch, energy breakdown) or
    /// of a sweep folder (each metric against each axis, Pareto fronts) into DIR/plots/.
    Plot(cli::plot::PlotArgs),
    /// Check config files without running them: arch, workload, sweep files and run.toml
    /// records, each told apart by its structure and checked as the command reading it would.
    Validate(cli::validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run::command(args),
        Command::Device(args) => cli::device::command(args),
        Command::Draws(args) => cli::draws::command(args),
        Command::Map(args) => cli::map::command(args),
        Command::Sweep { action } => cli::sweep::command(action),
        Command::Tune(args) => cli::tune::command(args),
        Command::Plot(args) => cli::plot::command(args),
        Command::Validate(args) => cli::validate::command(args),
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<cli::Reported>() {
            Some(r) => r.0,
            None => {
                cli::console::error_line(&format!("error: {e:#}"));
                exit_code(&e) as u8
            }
        },
    };
    // The work is saved; a console that could not be written to is reported last.
    if let Some(e) = cli::console::failure() {
        cli::console::error_line(&format!("error: cannot write to standard output: {e}"));
        return ExitCode::from(code.max(1));
    }
    ExitCode::from(code)
}
