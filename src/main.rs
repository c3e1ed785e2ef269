//! The `nandspin` command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use nandspin::config::arch::StoreKind;
use nandspin::device::WriteCounts;
use nandspin::device::curve;
use nandspin::error::exit_code;
use nandspin::report;
use nandspin::run::{self, RunRequest};
use nandspin::train::{EpochStats, Observer};

mod sweep_cli;

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
    Run {
        /// Architecture file.
        #[arg(long, default_value = "arch/nandspin.toml")]
        arch: PathBuf,
        /// Workload file (network, data, training).
        #[arg(long, default_value = "workloads/lenet5-mnist.toml")]
        workload: PathBuf,
        /// Rerun a previous run from its run.toml (instead of --arch and --workload).
        #[arg(long, conflicts_with_all = ["arch", "workload"])]
        from: Option<PathBuf>,
        /// Report folder [default: runs/<workload>-<arch>-s<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed of every random stream (overrides training.seed); 0 to 2^63-1.
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
        seed: Option<u64>,
        /// Override a config key by its dotted path, e.g. --set training.epochs=1.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// No progress bar and no per-epoch table; only the final summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Switching probability, mean switching time and energy of one program pulse of the
    /// arch's MTJ over pulse widths and currents, as CSV.
    Device {
        /// Architecture file.
        #[arg(long, default_value = "arch/nandspin.toml")]
        arch: PathBuf,
        /// Override an arch key by its dotted path, e.g. --set device.delta=60.
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
    },
    /// Show where the scheduler places every layer's weights on the chip: tiles,
    /// subarrays, strings used and utilisation.
    Map {
        /// Architecture file.
        #[arg(long, default_value = "arch/nandspin.toml")]
        arch: PathBuf,
        /// Workload file (network, data, training).
        #[arg(long, default_value = "workloads/lenet5-mnist.toml")]
        workload: PathBuf,
        /// Override a config key by its dotted path, e.g. --set chip.tiles=8.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Print the per-layer table as CSV.
        #[arg(long, conflicts_with = "strings")]
        csv: bool,
        /// Print every string's place as CSV: layer, tensor, string, tile, subarray, row,
        /// column.
        #[arg(long)]
        strings: bool,
    },
    /// Explore a design space: plan, run (in parallel, resumably, one shard of it),
    /// merge shards, or write Slurm job scripts for a sweep file (arch/sweeps/*.toml).
    Sweep {
        #[command(subcommand)]
        action: SweepCommand,
    },
    /// Draw SVG figures of a run folder (accuracy and loss per epoch, energy breakdown) or
    /// of a sweep folder (each metric against each axis, Pareto fronts) into DIR/plots/.
    Plot {
        /// A run's report folder (with epochs.csv) or a sweep's output folder (with
        /// sweep.csv).
        dir: PathBuf,
    },
    /// Check config files (arch or workload, told apart by their keys) without running.
    Validate {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SweepCommand {
    /// List the points of a sweep: axis values, id, the training each shares, its shard.
    Plan {
        /// The sweep file.
        sweep: PathBuf,
        /// Override a config key of every point, e.g. --set training.epochs=1.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Show which of this many shards each point goes to.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        shard_count: Option<u32>,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Run the points of a sweep that have no complete report yet, and write sweep.csv.
    Run {
        /// The sweep file.
        sweep: PathBuf,
        /// Output folder [default: runs/sweeps/<name>, or runs/sweeps/<name>/shard-<i>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Trainings run at once [default: the number of CPUs].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        jobs: Option<u32>,
        /// Run only shard I of --shard-count (0-based).
        #[arg(
            long,
            value_name = "I",
            env = "SLURM_ARRAY_TASK_ID",
            requires = "shard_count"
        )]
        shard_index: Option<u32>,
        /// Split the sweep into this many shards.
        #[arg(long, value_name = "N", env = "SLURM_ARRAY_TASK_COUNT", value_parser = clap::value_parser!(u32).range(1..))]
        shard_count: Option<u32>,
        /// Override a config key of every point, e.g. --set training.epochs=1.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// No progress bars; only the final line.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Join the output folders of a sweep's shards; fails on missing or duplicated points.
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder [default: the shard folders' common parent].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write Slurm job scripts: a job array with one shard per task, and a merge job that
    /// runs after all tasks succeeded (OUT/slurm/submit.sh submits both).
    EmitSlurm {
        /// The sweep file.
        sweep: PathBuf,
        /// Number of shards (array tasks).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        shards: u32,
        /// At most this many tasks at once.
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
        max_running: Option<u32>,
        /// CPUs per task (each shard runs this many trainings at once).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        cpus_per_task: u32,
        /// Output folder of the sweep [default: runs/sweeps/<name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a config key of every point, e.g. --set training.epochs=1.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Extra #SBATCH option for both jobs, e.g. --sbatch=--partition=batch.
        #[arg(long, value_name = "OPTION", allow_hyphen_values = true)]
        sbatch: Vec<String>,
    },
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
                println!("{line}");
            } else {
                self.bar.println(line);
            }
        }
    }
}

/// `runs/<workload>-<arch>-s<seed>`, plus a short hash of the `--set` arguments when there
/// are any, so that runs with different overrides do not overwrite each other.
fn default_out(p: &run::Prepared) -> PathBuf {
    let mut name = format!("{}-{}-s{}", p.workload_name, p.arch_name, p.seed());
    if !p.sets.is_empty() {
        let words: Vec<u64> = p.sets.join("\n").bytes().map(u64::from).collect();
        name.push_str(&format!("-{:08x}", nandspin::rng::key(&words) >> 32));
    }
    PathBuf::from("runs").join(name)
}

fn run(req: RunRequest, out: Option<PathBuf>, quiet: bool) -> anyhow::Result<()> {
    let mut prepared = run::prepare(&req)?;
    let out = out.unwrap_or_else(|| default_out(&prepared));
    std::fs::create_dir_all(&out).map_err(|e| {
        nandspin::error::InputError::new(format!(
            "--out {}: cannot create the report folder: {e}",
            out.display()
        ))
    })?;
    let t = &prepared.workload.config.training;
    let params: usize = prepared.net.parameter_count();
    if !quiet {
        println!(
            "nandspin {}: {} on {}, seed {}",
            env!("CARGO_PKG_VERSION"),
            prepared.workload_name,
            prepared.arch_name,
            t.seed
        );
        println!(
            "  {} layers, {params} parameters; {} train / {} test images of {}; {} epochs, batch {}, lr {}, momentum {}",
            prepared.net.layers().len(),
            prepared.data.train.len(),
            prepared.data.test.len(),
            prepared.data.train.shape,
            t.epochs,
            t.batch_size,
            t.learning_rate,
            t.momentum
        );
        let device = if prepared.arch.config.weights.store == StoreKind::Nandspin {
            "        BER    write_nJ    Mcycles   energy_uJ"
        } else {
            ""
        };
        println!("epoch  train_loss  train_acc  test_loss  test_acc{device}  wall_s");
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
    let outcome = run::execute(&mut prepared, &mut console);
    console.bar.finish_and_clear();
    let paths = report::write_all(&out, &prepared, &outcome)?;
    let last = outcome.epochs.last().expect("at least one epoch");
    println!(
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
        println!(
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
    println!("reports: {}/ ({})", out.display(), names.join(", "));
    Ok(())
}

/// Four significant digits, without an exponent for everyday magnitudes.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    format!("{v:.digits$}")
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
                    sig(e / 1e6),
                    100.0 * e / t.energy_pj.max(1e-300)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let m = &chip.map;
    println!(
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
    println!("  time busy by phase: {}", phases.join(", "));
    println!("  energy by phase: {}", pct(&t.by_phase));
    println!("  energy by component: {}", pct(&t.by_part));
    if chip.saturated() {
        println!(
            "  warning: simulated time reached 2^64 ps (213 days) and stopped there; times and cycles are lower bounds"
        );
    }
    let train_s: f64 = outcome.epochs.iter().map(|e| e.train_s).sum();
    println!(
        "  engine: {} events in {:.3} s ({:.2e} events/s, {:.1}% of the training time)",
        chip.events(),
        chip.wall_s(),
        chip.events() as f64 / chip.wall_s().max(1e-9),
        100.0 * chip.wall_s() / train_s.max(1e-9)
    );
}

fn device(
    arch: PathBuf,
    sets: Vec<String>,
    pulse_ns: String,
    current_ua: Option<String>,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let pulses = curve::parse_pulses(&pulse_ns)?;
    let a = run::load_arch(&arch, &sets)?;
    let currents = match current_ua {
        Some(spec) => curve::parse_currents(&spec)?,
        None => vec![a.config.update.program_current_ua],
    };
    let csv = report::device_csv(&curve::characterise(&a.config, &pulses, &currents))?;
    match out {
        Some(path) => report::write_atomic(&path, &csv)?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&csv)?;
        }
    }
    Ok(())
}

/// Writes to standard output; a reader that stops early (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Rows as a text table: columns padded to their widest cell, two spaces apart; column `c`
/// is left-aligned when `left(c)`, else right-aligned.
fn aligned(rows: &[Vec<String>], left: impl Fn(usize) -> bool) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (v, &w))| {
                if left(c) {
                    format!("{v:<w$}")
                } else {
                    format!("{v:>w$}")
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
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

fn map(req: RunRequest, csv: bool, strings: bool) -> anyhow::Result<()> {
    let p = run::prepare(&req)?;
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
        return print_bytes(&out.into_inner()?);
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
            place.fold.to_string(),
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
        return print_bytes(&out.into_inner()?);
    }
    let mut text = format!(
        "{} on {}: {} tile{} x {} subarrays x {}x{} strings of {} MTJs; mapping {}{}\n",
        p.workload_name,
        p.arch_name,
        a.chip.tiles,
        if a.chip.tiles == 1 { "" } else { "s" },
        a.tile.subarrays,
        a.subarray.rows,
        a.subarray.columns,
        a.string.mtjs,
        m.mapping.name(),
        if m.folds > 1 {
            format!(", {} folds swapped through DRAM", m.folds)
        } else {
            String::new()
        }
    );
    text.push_str(&aligned(&rows, |c| c == 0 || c == 4));
    let strings: u64 = m.layers.iter().map(|l| l.strings).sum();
    let subarrays: usize = m.places.iter().map(|p| p.subarrays.len()).sum();
    let cap = f64::from(a.chip.tiles) * f64::from(a.tile.subarrays) * m.subarray_strings as f64;
    text.push_str(&format!(
        "total: {strings} strings in {subarrays} subarrays on {} of {} tiles; {:.2}% of the chip's {cap} strings\n",
        m.tiles_used,
        m.tiles,
        100.0 * strings as f64 / cap
    ));
    print_bytes(text.as_bytes())
}

fn plot(dir: &std::path::Path) -> anyhow::Result<()> {
    let files = nandspin::plot::plot_dir(dir)?;
    for f in &files {
        println!("{}", f.display());
    }
    Ok(())
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        match run::validate_file(f) {
            Ok(what) => println!("ok: {} ({what})", f.display()),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            arch,
            workload,
            from,
            out,
            seed,
            sets,
            quiet,
        } => run(
            RunRequest {
                arch,
                workload,
                from,
                sets,
                seed,
            },
            out,
            quiet,
        ),
        Command::Device {
            arch,
            sets,
            pulse_ns,
            current_ua,
            out,
        } => device(arch, sets, pulse_ns, current_ua, out),
        Command::Map {
            arch,
            workload,
            sets,
            csv,
            strings,
        } => map(
            RunRequest {
                arch,
                workload,
                from: None,
                sets,
                seed: None,
            },
            csv,
            strings,
        ),
        Command::Sweep { action } => sweep_cli::command(action),
        Command::Plot { dir } => plot(&dir),
        Command::Validate { files } => return validate(&files),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e) as u8)
        }
    }
}
