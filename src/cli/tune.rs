//! `nandspin tune`: the cheapest update policy that keeps the accuracy, by successive
//! halving; also one rung (or a shard of it) on its own, the plan, and Slurm scripts.

use std::path::{Path, PathBuf};

use clap::Args;

use nandspin::dse::table::{MANIFEST, Manifest};
use nandspin::error::InputError;
use nandspin::run::DataCache;
use nandspin::tune::exec::{self, Ran, TuneOptions, reference_images, rung_dir};
use nandspin::tune::plan::describe;
use nandspin::tune::slurm::{self, SlurmOptions};
use nandspin::tune::{Tune, TunePlan, outputs};

use super::console::{self, say};
use super::sweep::Bars;

/// Arguments of `nandspin tune`.
#[derive(Args)]
pub struct TuneArgs {
    /// The tune file (arch/tune/*.toml).
    tune: PathBuf,
    /// Output folder [default: runs/tune/<name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Trainings run at once [default: the number of CPUs].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Override a config key of every training, e.g. --set training.epochs=2 (repeatable;
    /// the value is TOML; not an axis key nor training.seed).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// No progress bars or rung lines; only the final lines.
    #[arg(long, short)]
    quiet: bool,
    /// Write into an output folder that holds another tune's output.
    #[arg(long)]
    force: bool,
    /// List the rung budgets and the candidates without running anything.
    #[arg(long, conflicts_with_all = ["rung", "emit_slurm"])]
    plan: bool,
    /// Run only rung K (0-based; the rungs before it must be complete in the output
    /// folder), into OUT/rung-K, or OUT/rung-K/shard-I with --shard-count.
    #[arg(long, value_name = "K")]
    rung: Option<u32>,
    /// With --rung: run only shard I of --shard-count (0-based).
    #[arg(long, value_name = "I", env = "SLURM_ARRAY_TASK_ID")]
    shard_index: Option<u32>,
    /// With --rung: split the rung into this many shards.
    #[arg(long, value_name = "N", env = "SLURM_ARRAY_TASK_COUNT", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    shard_count: Option<u32>,
    /// Write Slurm job scripts into OUT/slurm/ (a job array and a merge per rung, then a
    /// final job; OUT/slurm/submit.sh submits them) instead of running.
    #[arg(long, conflicts_with = "rung")]
    emit_slurm: bool,
    /// With --emit-slurm: array tasks per rung, at most.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    shards: Option<u32>,
    /// With --emit-slurm: at most this many tasks of an array at once.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    max_running: Option<u32>,
    /// With --emit-slurm: CPUs per task (each runs this many trainings at once).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    cpus_per_task: u32,
    /// With --emit-slurm: extra #SBATCH option for every job, e.g. --sbatch=--partition=batch.
    #[arg(long, value_name = "OPTION", allow_hyphen_values = true)]
    sbatch: Vec<String>,
}

/// Runs `nandspin tune`.
/// `nandspin sweep emit-slurm` given a tune file: the tune's job scripts, as
/// `nandspin tune TUNE --emit-slurm` writes them.
pub fn emit_slurm_for(
    tune: PathBuf,
    shards: u32,
    (max_running, cpus_per_task): (Option<u32>, u32),
    out: Option<PathBuf>,
    sets: Vec<String>,
    sbatch: Vec<String>,
) -> anyhow::Result<()> {
    command(TuneArgs {
        tune,
        out,
        jobs: None,
        sets,
        quiet: false,
        force: false,
        plan: false,
        rung: None,
        shard_index: None,
        shard_count: None,
        emit_slurm: true,
        shards: Some(shards),
        max_running,
        cpus_per_task,
        sbatch,
    })
}

pub fn command(args: TuneArgs) -> anyhow::Result<()> {
    let shard = match (args.rung, args.shard_index, args.shard_count) {
        (None, None, None) => None,
        (None, _, _) => {
            return Err(InputError::new(
                "--shard-index and --shard-count run a shard of one rung: give --rung too",
            )
            .into());
        }
        (Some(_), Some(i), Some(n)) if i >= n => {
            return Err(InputError::new(format!(
                "--shard-index {i} is out of range for --shard-count {n} (0 to {})",
                n - 1
            ))
            .into());
        }
        (Some(_), Some(i), Some(n)) => Some((i as usize, n as usize)),
        (Some(_), None, Some(_)) => {
            return Err(InputError::new(
                "--shard-count needs --shard-index (or SLURM_ARRAY_TASK_ID)",
            )
            .into());
        }
        (Some(_), Some(_), None) => {
            return Err(InputError::new("--shard-index needs --shard-count").into());
        }
        (Some(_), None, None) => None,
    };
    if !args.emit_slurm
        && (args.shards.is_some() || args.max_running.is_some() || !args.sbatch.is_empty())
    {
        return Err(
            InputError::new("--shards, --max-running and --sbatch go with --emit-slurm").into(),
        );
    }
    super::check_input(&args.tune, "TUNE")?;
    let cache = DataCache::default();
    let tune = Tune::read(&args.tune, &args.sets)?;
    let plan = TunePlan::new(tune, &cache)?;
    // Every candidate checked, as `sweep plan` checks points, before anything runs.
    let all: Vec<usize> = (0..plan.tune.candidates()).collect();
    for w in &plan.rung_plan(0, &all, &cache)?.plan.warnings {
        super::console::error_line(w);
    }
    if args.plan {
        print_plan(&plan);
        return Ok(());
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs")
            .join("tune")
            .join(&plan.tune.sweep.name)
    });
    check_out(&out, &plan.tune.sweep.name, args.force)?;
    if args.emit_slurm {
        let Some(shards) = args.shards else {
            return Err(
                InputError::new("--emit-slurm needs --shards N (array tasks per rung)").into(),
            );
        };
        let opts = SlurmOptions {
            shards: shards as usize,
            max_running: args.max_running.map(|k| k as usize),
            cpus_per_task: args.cpus_per_task as usize,
            out,
            sets: args.sets.clone(),
            sbatch: args.sbatch.clone(),
        };
        let files = slurm::emit(&plan, &opts, &std::env::current_exe()?)?;
        let per_rung: Vec<String> = slurm::rung_shards(&plan, opts.shards)
            .iter()
            .map(ToString::to_string)
            .collect();
        say!(
            "tune {}: {} candidates, {} rungs; array tasks per rung: {}",
            plan.tune.sweep.name,
            plan.tune.candidates(),
            plan.budgets.len(),
            per_rung.join(", ")
        );
        for f in &files {
            say!("wrote {}", f.display());
        }
        say!(
            "submit with: bash {}   (add --wait to block until the outputs are written)",
            files.last().expect("submit.sh").display()
        );
        return Ok(());
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let opts = TuneOptions {
        out: out.clone(),
        jobs,
        sets: args.sets.clone(),
        rung: args.rung.map(|k| k as usize),
        shard,
    };
    let t = &plan.tune;
    if !args.quiet {
        say!(
            "tune {}: {} candidates, seeds {}, {} rungs (budgets {}), keep {}; output {}",
            t.sweep.name,
            t.candidates(),
            seed_list(&t.seeds),
            t.rungs.len(),
            t.rungs
                .iter()
                .map(|r| format!("{r}"))
                .collect::<Vec<_>>()
                .join(", "),
            t.keep,
            out.display()
        );
    }
    let bars = Bars::new(jobs, args.quiet);
    let quiet = args.quiet;
    let log = |line: String| {
        if !quiet {
            bars.multi.suspend(|| say!("{line}"));
        }
    };
    let ran = exec::run(&plan, &opts, &cache, &bars, &log);
    bars.multi.clear().ok();
    match ran? {
        Ran::Rung(s) => {
            let k = opts.rung.expect("a rung");
            say!(
                "tune {} rung {k}{}: {} points ({} run now in {} trainings, {} already complete) in {:.1} s; table: {}",
                t.sweep.name,
                shard.map_or(String::new(), |(i, n)| format!(" shard {i} of {n}")),
                s.points,
                s.ran,
                s.trainings,
                s.skipped,
                s.wall_s,
                s.table.display()
            );
        }
        Ran::Finished(f) => {
            let written = outputs::write(&plan, &f, &out, &command_line(), &cache)?;
            let last = f.rungs.len() - 1;
            let reference = &f.rungs[last].reference;
            match f.search.best() {
                Some(b) => {
                    let m = &f.rungs[last].candidates[&b.candidate];
                    let objs: Vec<String> = t
                        .objectives
                        .iter()
                        .zip(m.objectives.iter().zip(&reference.objectives))
                        .map(|(o, (v, r))| {
                            format!(
                                "{o} {} ({:.1}% of the reference's {})",
                                nandspin::tune::table::number(*v),
                                100.0 * v / r,
                                nandspin::tune::table::number(*r)
                            )
                        })
                        .collect();
                    say!(
                        "best: {}: mean accuracy {:.4} (reference {:.4}, loss {:.4} <= {}); {}",
                        describe(t, b.candidate),
                        m.accuracy(),
                        reference.accuracy(),
                        b.loss + 0.0,
                        t.max_loss,
                        objs.join("; ")
                    );
                }
                None => say!(
                    "best: none: no candidate keeps the mean accuracy within {} of the reference's ({:.4}) at the full training; no best.toml written",
                    t.max_loss,
                    reference.accuracy()
                ),
            }
            let images = f.trained_images(&plan);
            let reference_images = reference_images(&plan);
            say!(
                "training work: {images} images in {} trainings, {:.2}x the reference's {} alone ({reference_images} images); front: {} candidate{}",
                f.rungs.iter().map(|r| r.trainings).sum::<usize>(),
                images as f64 / reference_images.max(1) as f64,
                plural(t.seeds.len(), "seed"),
                written.front,
                if written.front == 1 { "" } else { "s" }
            );
            say!(
                "outputs: {} ({})",
                out.display(),
                written
                    .files
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// The command line as typed, for `best.toml`.
fn command_line() -> String {
    let words: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                "nandspin".into()
            } else {
                nandspin::dse::slurm::quote(&a)
            }
        })
        .collect();
    words.join(" ")
}

/// Refuses an output folder that is a file, that holds files no tune writes, or (unless
/// `force`) that holds another tune's output (named in its `rung-0/sweep.toml`).
fn check_out(out: &Path, name: &str, force: bool) -> Result<(), InputError> {
    let owner = |out: &Path| -> Result<Option<String>, InputError> {
        let dir = rung_dir(out, 0);
        if !dir.join(MANIFEST).is_file() {
            return Ok(None);
        }
        Ok(Some(Manifest::read(&dir)?.name))
    };
    super::check_out_folder(out, "tune", outputs::in_tune_folder, owner, name, force)
}

/// `--plan`: the budgets of the rungs, then every candidate.
fn print_plan(plan: &TunePlan) {
    let t = &plan.tune;
    let sizes = slurm::rung_sizes(plan);
    let seeds = t.seeds.len();
    let mut text = format!(
        "tune {} ({}): {} candidates, seeds {}, objective{} {}, max_accuracy_loss {}, keep {}\n",
        t.sweep.name,
        t.sweep.file.display(),
        t.candidates(),
        seed_list(&t.seeds),
        if t.objectives.len() == 1 { "" } else { "s" },
        t.objectives.join(", "),
        t.max_loss,
        t.keep
    );
    text.push_str(&match plan.reference_is {
        Some(c) => format!("reference: {} (trains with it)\n", describe(t, c)),
        None => format!(
            "reference: its own policy ({})\n",
            if t.reference.is_empty() {
                "the base".to_string()
            } else {
                t.reference
                    .iter()
                    .map(|o| o.raw.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    });
    let mut rows = vec![
        [
            "rung",
            "budget",
            "epochs",
            "train_images",
            "candidates",
            "trainings_at_most",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let mut work = 0u64;
    for (k, (b, &n)) in plan.budgets.iter().zip(&sizes).enumerate() {
        let trainings = (n + 1) * seeds;
        work += trainings as u64 * b.images();
        rows.push(vec![
            k.to_string(),
            format!("{}", b.fraction),
            b.epochs.to_string(),
            b.train_images.to_string(),
            n.to_string(),
            trainings.to_string(),
        ]);
    }
    text.push_str(&console::aligned(&rows, |_| true));
    let reference = reference_images(plan);
    text.push_str(&format!(
        "training work at most {work} images: {:.2}x the reference's {} alone ({reference} images)\n",
        work as f64 / reference.max(1) as f64,
        plural(seeds, "seed")
    ));
    let mut rows = vec![
        std::iter::once("candidate".to_string())
            .chain(t.axis_keys())
            .collect::<Vec<_>>(),
    ];
    for c in 0..t.candidates() {
        rows.push(
            std::iter::once(c.to_string())
                .chain(t.sweep.coords(c).into_iter().map(nandspin::dse::spec::cell))
                .collect(),
        );
    }
    text.push_str(&console::aligned(&rows, |_| true));
    console::write(text.as_bytes());
}

/// `1 seed`, `3 seeds`.
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `0, 1, 2`.
fn seed_list(seeds: &[u64]) -> String {
    seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
