//! The `nandspin sweep` commands: plan, run, merge, emit-slurm.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Subcommand;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use nandspin::dse::slurm::{self, SlurmOptions};
use nandspin::dse::{self, Plan, Progress, RunOptions, Sweep, merge, table};
use nandspin::error::InputError;
use nandspin::run::DataCache;

use super::console::{self, say};

#[derive(Subcommand)]
pub enum SweepCommand {
    /// List the points of a sweep: axis values, id, the training each shares, its shard.
    Plan {
        /// The sweep file.
        sweep: PathBuf,
        /// Override a config key of every point, e.g. --set training.epochs=1 (repeatable;
        /// the value is TOML).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Show which of this many shards each point goes to.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_SHARDS))]
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
        #[arg(long, value_name = "N", env = "SLURM_ARRAY_TASK_COUNT", value_parser = clap::value_parser!(u32).range(1..=MAX_SHARDS))]
        shard_count: Option<u32>,
        /// Override a config key of every point, e.g. --set training.epochs=1 (repeatable;
        /// the value is TOML).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// No progress bars; only the final line.
        #[arg(long, short)]
        quiet: bool,
        /// Write into an output folder that holds another sweep's output.
        #[arg(long)]
        force: bool,
    },
    /// Join the output folders of a sweep's shards; fails on missing or duplicated points.
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder [default: the shard folders' common parent].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write into an output folder that holds another sweep's output.
        #[arg(long)]
        force: bool,
    },
    /// Write Slurm job scripts: a job array with one shard per task, and a merge job that
    /// runs after all tasks succeeded (OUT/slurm/submit.sh submits both).
    EmitSlurm {
        /// The sweep file.
        sweep: PathBuf,
        /// Number of shards (array tasks).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_SHARDS))]
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
        /// Override a config key of every point, e.g. --set training.epochs=1 (repeatable;
        /// the value is TOML).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Extra #SBATCH option for both jobs, e.g. --sbatch=--partition=batch.
        #[arg(long, value_name = "OPTION", allow_hyphen_values = true)]
        sbatch: Vec<String>,
    },
}

/// The most shards a sweep can be split into: a sweep has at most 10,000 points.
const MAX_SHARDS: i64 = 10_000;

/// Runs one `nandspin sweep` command.
pub fn command(action: SweepCommand) -> anyhow::Result<()> {
    match action {
        SweepCommand::Plan {
            sweep,
            sets,
            shard_count,
            csv,
        } => plan(&sweep, &sets, shard_count.map(|n| n as usize), csv),
        SweepCommand::Run {
            sweep,
            out,
            jobs,
            shard_index,
            shard_count,
            sets,
            quiet,
            force,
        } => run(
            &sweep,
            out,
            jobs,
            (shard_index, shard_count),
            sets,
            quiet,
            force,
        ),
        SweepCommand::Merge { dirs, out, force } => merge(&dirs, out, force),
        SweepCommand::EmitSlurm {
            sweep,
            shards,
            max_running,
            cpus_per_task,
            out,
            sets,
            sbatch,
        } => emit_slurm(
            &sweep,
            shards as usize,
            max_running.map(|k| k as usize),
            cpus_per_task as usize,
            out,
            sets,
            sbatch,
        ),
    }
}

/// Reads and plans a sweep: every point checked before anything runs.
/// Whether `path` reads as a tune file (not a sweep file).
fn is_tune_file(path: &Path) -> bool {
    nandspin::config::source::Source::read(path)
        .ok()
        .and_then(|s| nandspin::validate::detect(&s).ok())
        == Some(nandspin::validate::Kind::Tune)
}

fn load(sweep: &Path, sets: &[String], cache: &DataCache) -> anyhow::Result<Plan> {
    if is_tune_file(sweep) {
        let p = sweep.display();
        return Err(InputError::new(format!(
            "{p}: a tune file, not a sweep file: run it with `nandspin tune {p}` (`--plan` lists its rungs)"
        ))
        .into());
    }
    let s = Sweep::read(sweep, sets)?;
    let plan = Plan::new(s, cache)?;
    for w in &plan.warnings {
        console::error_line(w);
    }
    Ok(plan)
}

fn default_out(plan: &Plan) -> PathBuf {
    PathBuf::from("runs").join("sweeps").join(&plan.sweep.name)
}

fn plan(sweep: &Path, sets: &[String], shards: Option<usize>, csv: bool) -> anyhow::Result<()> {
    let plan = load(sweep, sets, &DataCache::default())?;
    let axes = plan.axes();
    let shard_of = shards.map(|n| plan.shards(n));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut head = table::point_header(&axes);
    if shards.is_some() {
        head.push("shard".into());
    }
    rows.push(head);
    for p in &plan.points {
        let mut r = table::point_cells(p);
        if let Some(s) = &shard_of {
            r.push(s[p.index].to_string());
        }
        rows.push(r);
    }
    let mut text = String::new();
    if csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &rows {
            w.write_record(r)?;
        }
        text = String::from_utf8(w.into_inner()?)?;
    } else {
        text.push_str(&format!(
            "sweep {} ({}): {} points, {} trainings; axes {}\n",
            plan.sweep.name,
            plan.sweep.file.display(),
            plan.points.len(),
            plan.groups.len(),
            plan.sweep
                .axes
                .iter()
                .map(|a| format!("{} ({} values)", a.key, a.values.len()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        text.push_str(&console::aligned(&rows, |_| true));
    }
    console::write(text.as_bytes());
    Ok(())
}

/// Progress bars: points done, and one bar per worker for the batches of its training.
pub(super) struct Bars {
    pub(super) multi: MultiProgress,
    points: ProgressBar,
    workers: Vec<ProgressBar>,
    log: bool,
    started: Instant,
}

impl Bars {
    pub(super) fn new(jobs: usize, quiet: bool) -> Self {
        let shown = !quiet && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let points = multi.add(ProgressBar::new(0));
        points.set_style(
            ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:30} {pos}/{len} points  eta {eta}  {msg}",
            )
            .expect("valid template"),
        );
        let workers = (0..jobs)
            .map(|_| {
                let b = multi.add(ProgressBar::new(0));
                b.set_style(
                    ProgressStyle::with_template("  {spinner} {bar:20} {pos}/{len} batches  {msg}")
                        .expect("valid template"),
                );
                b
            })
            .collect();
        Self {
            multi,
            points,
            workers,
            log: !quiet && !shown,
            started: Instant::now(),
        }
    }
}

impl Progress for Bars {
    fn start(&self, todo: usize, _done: usize) {
        self.points.set_position(0);
        self.points.set_length(todo as u64);
        self.points.reset_eta();
    }
    fn training(&self, worker: usize, label: &str, points: usize) {
        if let Some(b) = self.workers.get(worker) {
            b.set_position(0);
            b.set_message(if points > 1 {
                format!("{label} (+{} replayed)", points - 1)
            } else {
                label.to_string()
            });
        }
    }
    fn batch(&self, worker: usize, done: u64, total: u64) {
        if let Some(b) = self.workers.get(worker) {
            if b.length() != Some(total) {
                b.set_length(total);
            }
            b.set_position(done);
        }
    }
    fn finished(&self, worker: usize, points: usize) {
        self.points.inc(points as u64);
        if self.log {
            let label = self
                .workers
                .get(worker)
                .map(|b| b.message())
                .unwrap_or_default();
            say!(
                "[{}/{}] {label}: done at {:.1} s",
                self.points.position(),
                self.points.length().unwrap_or(0),
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

fn run(
    sweep: &Path,
    out: Option<PathBuf>,
    jobs: Option<u32>,
    (shard_index, shard_count): (Option<u32>, Option<u32>),
    sets: Vec<String>,
    quiet: bool,
    force: bool,
) -> anyhow::Result<()> {
    let shard = match (shard_index, shard_count) {
        (Some(i), Some(n)) if i >= n => {
            return Err(InputError::new(format!(
                "--shard-index {i} is out of range for --shard-count {n} (0 to {})",
                n - 1
            ))
            .into());
        }
        (Some(i), Some(n)) => Some((i as usize, n as usize)),
        (None, Some(_)) => {
            return Err(InputError::new(
                "--shard-count needs --shard-index (or SLURM_ARRAY_TASK_ID)",
            )
            .into());
        }
        _ => None,
    };
    let cache = DataCache::default();
    let plan = load(sweep, &sets, &cache)?;
    let out = out.unwrap_or_else(|| match shard {
        Some((i, _)) => default_out(&plan).join(format!("shard-{i}")),
        None => default_out(&plan),
    });
    check_out(&out, &plan.sweep.name, force)?;
    let jobs = jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let opts = RunOptions {
        out: out.clone(),
        jobs,
        shard,
        sets,
    };
    if !quiet {
        say!(
            "sweep {}: {} points, {} trainings{}; output {}",
            plan.sweep.name,
            plan.points.len(),
            plan.groups.len(),
            shard.map_or(String::new(), |(i, n)| format!("; shard {i} of {n}")),
            out.display()
        );
    }
    let bars = Bars::new(jobs, quiet);
    let summary = dse::exec::run(&plan, &opts, &cache, &bars);
    bars.multi.clear().ok();
    let s = summary?;
    say!(
        "sweep {}: {} points ({} run now in {} trainings, {} already complete) in {:.1} s; table: {}",
        plan.sweep.name,
        s.points,
        s.ran,
        s.trainings,
        s.skipped,
        s.wall_s,
        s.table.display()
    );
    Ok(())
}

/// What a sweep's output folder may hold besides hidden temporaries: its files, its points,
/// figures, Slurm scripts and the shards' folders.
fn in_sweep_folder(name: &str) -> bool {
    matches!(
        name,
        "sweep.toml" | "sweep.csv" | "points" | "plots" | "slurm" | "pareto.csv"
    ) || name.starts_with("shard-")
}

/// Refuses an output folder that is a file, that holds files no sweep writes, or (unless
/// `force`) that holds the output of another sweep than `name`. The same sweep with other
/// axis values may reuse its folder: points are kept by their configuration's id.
fn check_out(out: &Path, name: &str, force: bool) -> Result<(), InputError> {
    let owner = |out: &Path| -> Result<Option<String>, InputError> {
        if !out.join(dse::table::MANIFEST).is_file() {
            return Ok(None);
        }
        Ok(Some(dse::table::Manifest::read(out)?.name))
    };
    super::check_out_folder(out, "sweep", in_sweep_folder, owner, name, force)
}

fn merge(dirs: &[PathBuf], out: Option<PathBuf>, force: bool) -> anyhow::Result<()> {
    if let Some(d) = dirs.iter().find(|d| !d.is_dir()) {
        let what = if d.exists() {
            "not a folder; give the output folders of the sweep's shards"
        } else {
            "no such folder"
        };
        return Err(InputError::new(format!("sweep merge: {}: {what}", d.display())).into());
    }
    if let Some(o) = &out {
        let name = dse::table::Manifest::read(&dirs[0])?.name;
        check_out(o, &name, force)?;
    }
    let m = merge::merge(dirs, out.as_deref())?;
    if let Some(w) = &m.warning {
        console::error_line(w);
    }
    say!(
        "merged {} shard folders: {} points; table: {}",
        dirs.len(),
        m.points,
        m.table.display()
    );
    Ok(())
}

fn emit_slurm(
    sweep: &Path,
    shards: usize,
    max_running: Option<usize>,
    cpus_per_task: usize,
    out: Option<PathBuf>,
    sets: Vec<String>,
    sbatch: Vec<String>,
) -> anyhow::Result<()> {
    if is_tune_file(sweep) {
        return super::tune::emit_slurm_for(
            sweep.to_path_buf(),
            shards as u32,
            (max_running.map(|k| k as u32), cpus_per_task as u32),
            out,
            sets,
            sbatch,
        );
    }
    let plan = load(sweep, &sets, &DataCache::default())?;
    let out = out.unwrap_or_else(|| default_out(&plan));
    super::check_out_dir(&out)?;
    let opts = SlurmOptions {
        shards,
        max_running,
        cpus_per_task,
        out,
        sets,
        sbatch,
    };
    let exe = std::env::current_exe()?;
    let files = slurm::emit(&plan, &opts, &exe)?;
    let per_shard = plan.shards(shards);
    let counts: Vec<String> = (0..shards)
        .map(|s| per_shard.iter().filter(|&&x| x == s).count().to_string())
        .collect();
    say!(
        "sweep {}: {} points, {} trainings in {shards} shards (points per shard: {})",
        plan.sweep.name,
        plan.points.len(),
        plan.groups.len(),
        counts.join(", ")
    );
    for f in &files {
        say!("wrote {}", f.display());
    }
    let submit = files.last().expect("submit.sh");
    say!(
        "submit with: bash {}   (add --wait to block until the merge has run)",
        submit.display()
    );
    Ok(())
}
