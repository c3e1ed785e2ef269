//! `nandspin run`: train a workload on an architecture, write the reports, print a summary.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use nandspin::device::WriteCounts;
use nandspin::report;
use nandspin::run::{self, RunRequest};
use nandspin::train::{EpochStats, Observer};

use super::console::{self, say};

/// Arguments of `nandspin run`.
#[derive(Args)]
pub struct RunArgs {
    /// Architecture file.
    #[arg(long, default_value = "arch/nandspin.toml")]
    arch: PathBuf,
    /// Workload file (network, data, training).
    #[arg(long, default_value = "workloads/lenet5-mnist.toml")]
    workload: PathBuf,
    /// Rerun a previous run from its run.toml (instead of --arch and --workload).
    #[arg(long, conflicts_with_all = ["arch", "workload"])]
    from: Option<PathBuf>,
    /// Report folder [default: runs/<workload>-<arch>-s<seed>, plus -<id> of the
    /// configuration when --set changed it]. Its content is replaced whole.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the reports of a different configuration in the report folder.
    #[arg(long)]
    force: bool,
    /// Seed of every random stream (overrides training.seed); 0 to 2^63-1.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    seed: Option<u64>,
    /// Override a config key by its dotted path, e.g. --set training.epochs=1 (repeatable;
    /// the value is TOML: numbers as they are, strings in quotes or bare).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// No progress bar and no per-epoch table; only the final summary.
    #[arg(long, short)]
    quiet: bool,
    /// Threads the training runs on (its matrix products, layers and weight writes; the chip
    /// model has threads of its own) [default: RAYON_NUM_THREADS if set, else one per CPU].
    /// Results are the same bits for any number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

struct Console {
    bar: ProgressBar,
    quiet: bool,
    epochs: u64,
}

impl Observer for Console {
    fn batch(&mut self, done: u64, total: u64, loss: f64) {
        if self.bar.length() != Some(total) {
            self.bar.set_length(total);
        }
        self.bar.set_position(done);
        if done.is_multiple_of(25) {
            let per_epoch = (total / self.epochs.max(1)).max(1);
            let epoch = (done - 1) / per_epoch + 1;
            self.bar
                .set_message(format!("epoch {epoch}/{}  loss {loss:.4}", self.epochs));
        }
    }
    fn epoch(&mut self, e: &EpochStats) {
        if !self.quiet {
            let device = match e.device_total() {
                Some(c) => format!(
                    "  {:>9.2e}  {:>10.1}",
                    c.bit_error_rate(),
                    c.write_energy_pj() / 1000.0
                ),
                None => String::new(),
            };
            let device = match &e.chip {
                Some(c) => {
                    let write = e.device_total().map_or(0.0, |d| d.write_energy_pj());
                    format!(
                        "{device}  {:>9.3}  {:>10.1}",
                        c.cycles as f64 / 1e6,
                        (c.energy_pj + write) / 1e6
                    )
                }
                None => device,
            };
            let line = format!(
                "{:>5}  {:>10.4}  {:>9.4}  {:>9.4}  {:>8.4}{device}  {:>6.2}",
                e.epoch, e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy, e.wall_s
            );
            if self.bar.is_hidden() {
                say!("{line}");
            } else {
                self.bar.println(line);
            }
        }
    }
}

/// The default report folder: `runs/<workload>-<arch>-s<seed>`, plus `-` and the first 8
/// hex digits of the configuration's id when any `--set` is given (for
/// `run --from`, the `--set`s recorded in its `run.toml` count too), so that runs of
/// different configurations get different folders and a rerun of a record gets the
/// record's folder.
fn default_out(p: &run::Prepared, id: &str) -> PathBuf {
    let mut name = format!("{}-{}-s{}", p.workload_name, p.arch_name, p.seed());
    if !p.sets.is_empty() {
        name.push('-');
        name.push_str(&id[..8.min(id.len())]);
    }
    PathBuf::from("runs").join(name)
}

/// Trains, writes the reports and prints the summary.
pub fn command(args: RunArgs) -> anyhow::Result<()> {
    let RunArgs {
        arch,
        workload,
        from,
        out,
        seed,
        sets,
        quiet,
        force,
        threads,
    } = args;
    let req = RunRequest {
        arch,
        workload,
        from,
        sets,
        seed,
    };
    if req.from.is_none() {
        super::check_input(&req.arch, "--arch")?;
        super::check_input(&req.workload, "--workload")?;
    }
    let mut prepared = run::prepare(&req)?;
    for w in &prepared.warnings {
        super::console::error_line(w);
    }
    let id = nandspin::dse::plan::run_id(&prepared);
    let out = out.unwrap_or_else(|| default_out(&prepared, &id));
    nandspin::folder::check_replace(&out, &id, force)?;
    nandspin::folder::check_writable(&out).map_err(|e| {
        nandspin::error::InputError::new(format!(
            "--out {}: cannot create the report folder: {e}",
            out.display()
        ))
    })?;
    let t = &prepared.workload.config.training;
    let params: usize = prepared.net.parameter_count();
    if !quiet {
        say!(
            "nandspin {}: {} on {}, seed {}",
            env!("CARGO_PKG_VERSION"),
            prepared.workload_name,
            prepared.arch_name,
            t.seed
        );
        say!(
            "  {} layers, {params} parameters; {} train / {} test images of {}; {} epochs, batch {}, lr {}, momentum {}",
            prepared.net.layers().len(),
            prepared.data.train.len(),
            prepared.data.test.len(),
            prepared.data.train.shape,
            t.epochs,
            t.batch_size,
            match t.learning_rate_batch {
                Some(b) => format!(
                    "{} ({} x {}/{b})",
                    t.effective_learning_rate(),
                    t.learning_rate,
                    t.batch_size
                ),
                None => t.learning_rate.to_string(),
            },
            t.momentum
        );
        let device = if prepared.arch.config.weights.store.has_cells() {
            "        BER    write_nJ    Mcycles   energy_uJ"
        } else {
            ""
        };
        say!("epoch  train_loss  train_acc  test_loss  test_acc{device}  wall_s");
    }
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} batches  {msg}  eta {eta}",
            )
            .expect("valid template"),
        );
        b
    };
    let mut console = Console {
        bar,
        quiet,
        epochs: u64::from(t.epochs),
    };
    let pool = nandspin::nn::kernels::thread_pool(threads.map(|n| n as usize))
        .map_err(|e| anyhow::anyhow!("cannot start the training's threads: {e}"))?;
    let outcome = pool.install(|| run::execute(&mut prepared, &mut console));
    console.bar.finish_and_clear();
    let paths = report::write_all(
        &out,
        &prepared,
        &outcome,
        Some(nandspin::folder::Guard { id: &id, force }),
    )?;
    let last = outcome.epochs.last().expect("at least one epoch");
    say!(
        "store: {}; final test accuracy {:.4} after {} epoch{}; {:.1} s wall, {:.0} training images/s",
        outcome.store,
        last.test_accuracy,
        last.epoch,
        if last.epoch == 1 { "" } else { "s" },
        outcome.wall_s,
        outcome.train_images_per_s()
    );
    let device: Option<Vec<_>> = outcome.epochs.iter().map(|e| e.device_total()).collect();
    if let Some(d) = device {
        let c = WriteCounts::sum(&d);
        say!(
            "device: {} strings written, {} program pulses, {} failed; bit error rate {:.2e}; write energy {:.1} nJ (erase {:.1}, program {:.1}, verify {:.1})",
            c.strings_written,
            c.program_pulses,
            c.program_failures,
            c.bit_error_rate(),
            c.write_energy_pj() / 1000.0,
            c.erase_energy_pj / 1000.0,
            c.program_energy_pj / 1000.0,
            c.read_energy_pj / 1000.0
        );
    }
    if let Some(chip) = &outcome.chip {
        print_chip(&prepared, &outcome, chip);
    }
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    say!("reports: {}/ ({})", out.display(), names.join(", "));
    Ok(())
}

/// The console's time and energy breakdown of the simulated chip.
fn print_chip(p: &run::Prepared, outcome: &run::Outcome, chip: &nandspin::sched::Scheduler) {
    let rows = report::cost_rows(p.net.params(), outcome);
    let t = report::chip_totals(&rows);
    let time_ps = chip.time_ps();
    let ghz = p.arch.config.chip.clock_ghz;
    let pct = |parts: &[(&str, f64)]| {
        parts
            .iter()
            .filter(|(_, e)| *e > 0.0)
            .map(|(n, e)| {
                format!(
                    "{n} {} µJ ({:.1}%)",
                    console::sig(e / 1e6),
                    100.0 * e / t.energy_pj.max(1e-300)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let m = &chip.map;
    say!(
        "chip: {} tile{} ({} used, {}{}); {} cycles = {:.3} ms at {ghz} GHz; energy {:.1} µJ",
        m.tiles,
        if m.tiles == 1 { "" } else { "s" },
        m.tiles_used,
        m.mapping.name(),
        if m.folds > 1 {
            format!(", {} folds swapped through DRAM", m.folds)
        } else {
            String::new()
        },
        chip.cycles(time_ps),
        time_ps as f64 / 1e9,
        t.energy_pj / 1e6
    );
    let phases: Vec<String> = nandspin::sched::Phase::TRAINING
        .iter()
        .chain(if m.folds > 1 {
            &[nandspin::sched::Phase::Swap][..]
        } else {
            &[]
        })
        .map(|&ph| {
            format!(
                "{ph} {:.1}%",
                100.0 * chip.phase_ps(ph) as f64 / time_ps.max(1) as f64
            )
        })
        .collect();
    say!("  time busy by phase: {}", phases.join(", "));
    say!("  energy by phase: {}", pct(&t.by_phase));
    say!("  energy by component: {}", pct(&t.by_part));
    if chip.saturated() {
        say!(
            "  warning: simulated time reached 2^64 ps (213 days) and stopped there; times and cycles are lower bounds"
        );
    }
    let train_s: f64 = outcome.epochs.iter().map(|e| e.train_s).sum();
    say!(
        "  engine: {} events in {:.3} s ({:.2e} events/s, {:.1}% of the training time)",
        chip.events(),
        chip.wall_s(),
        chip.events() as f64 / chip.wall_s().max(1e-9),
        100.0 * chip.wall_s() / train_s.max(1e-9)
    );
}
