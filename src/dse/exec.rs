//! Running a sweep: the points without complete reports, grouped by the training they
//! share, on `jobs` workers; `sweep.csv` rewritten (atomically) at the start, as trainings
//! finish (at most every [`TABLE_EVERY`]) and at the end.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};

use super::plan::{Plan, PointPlan};
use super::table::{self, Manifest, ManifestPoint};
use crate::report;
use crate::run::{self, DataCache, Prepared};
use crate::train::Observer;

/// The longest `sweep.csv` may lag behind the finished points while a sweep runs.
const TABLE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// How to run a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// The output folder.
    pub out: PathBuf,
    /// Trainings run at once (with more than one, each on a thread pool of its own with its
    /// share of the CPUs).
    pub jobs: usize,
    /// `(index, count)`: run only the points of shard `index` of `count`.
    pub shard: Option<(usize, usize)>,
    /// `--set` arguments given on the command line (recorded in the manifest).
    pub sets: Vec<String>,
}

/// Progress of a sweep, for a front end. Workers call it from their threads.
pub trait Progress: Sync {
    /// The run starts: `todo` points to run, `done` already complete.
    fn start(&self, _todo: usize, _done: usize) {}
    /// Worker `worker` starts a training shared by `points` points; `label` describes it.
    fn training(&self, _worker: usize, _label: &str, _points: usize) {}
    /// Worker `worker` finished batch `done` of `total`.
    fn batch(&self, _worker: usize, _done: u64, _total: u64) {}
    /// Worker `worker` wrote the reports of `points` points.
    fn finished(&self, _worker: usize, _points: usize) {}
}

/// What a sweep run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Points this run is responsible for (the shard's, or all).
    pub points: usize,
    /// Of those, points already complete and skipped.
    pub skipped: usize,
    /// Points run now.
    pub ran: usize,
    /// Trainings run now (the other points run replayed them).
    pub trainings: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// The `sweep.csv` written.
    pub table: PathBuf,
}

/// The manifest of `plan` as run with `opts`.
pub fn manifest(plan: &Plan, opts: &RunOptions) -> Manifest {
    let shards = opts.shard.map(|(_, n)| plan.shards(n));
    Manifest {
        tool: "nandspin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        name: plan.sweep.name.clone(),
        file: plan.sweep.file.display().to_string(),
        plan: plan.fingerprint(),
        axes: plan.axes(),
        sets: opts.sets.clone(),
        shard_index: opts.shard.map(|(i, _)| i),
        shard_count: opts.shard.map(|(_, n)| n),
        points: plan
            .points
            .iter()
            .map(|p| ManifestPoint {
                plan: p.clone(),
                shard: shards.as_ref().map(|s| s[p.index]),
            })
            .collect(),
    }
}

struct WorkerObserver<'a> {
    worker: usize,
    progress: &'a dyn Progress,
}

impl Observer for WorkerObserver<'_> {
    fn batch(&mut self, done: u64, total: u64, _loss: f64) {
        self.progress.batch(self.worker, done, total);
    }
}

/// Runs the points of `plan` (of one shard, with `opts.shard`) that have no complete
/// report in `opts.out`; the results do not depend on `opts.jobs` or on what was complete
/// before.
pub fn run(
    plan: &Plan,
    opts: &RunOptions,
    cache: &DataCache,
    progress: &dyn Progress,
) -> Result<Summary> {
    let t0 = Instant::now();
    let out = &opts.out;
    fs::create_dir_all(out.join(table::POINTS))
        .with_context(|| format!("creating the sweep folder {}", out.display()))?;
    // What a killed run left: temporaries of `sweep.toml` and `sweep.csv`.
    crate::folder::remove_stale(out);
    let manifest = manifest(plan, opts);
    report::write_atomic(&out.join(table::MANIFEST), &manifest.to_toml()?)?;
    let mine: Vec<&PointPlan> = manifest.own_points();
    let todo: HashSet<usize> = mine
        .iter()
        .filter(|p| !table::is_complete(&table::point_dir(out, &p.id)))
        .map(|p| p.index)
        .collect();
    // One task per training: the points still to run that share it.
    let tasks: Vec<Vec<usize>> = plan
        .groups
        .iter()
        .map(|g| g.iter().copied().filter(|i| todo.contains(i)).collect())
        .filter(|t: &Vec<usize>| !t.is_empty())
        .collect();
    progress.start(todo.len(), mine.len() - todo.len());
    let axes = plan.axes();
    let table_path = out.join(table::TABLE);
    // Indices of this folder's finished points, and when the table was last written.
    let done: Mutex<(HashSet<usize>, Option<Instant>)> = Mutex::new((
        mine.iter()
            .map(|p| p.index)
            .filter(|i| !todo.contains(i))
            .collect(),
        None,
    ));
    // Rewrites the table (at most every TABLE_EVERY unless `now`) with the finished points.
    let write_table = |finished: &[usize], now: bool| -> Result<()> {
        let mut d = done.lock().expect("table lock");
        d.0.extend(finished);
        if !now && d.1.is_some_and(|t| t.elapsed() < TABLE_EVERY) {
            return Ok(());
        }
        let rows: Vec<&PointPlan> = mine
            .iter()
            .copied()
            .filter(|p| d.0.contains(&p.index))
            .collect();
        report::write_atomic(&table_path, &table::sweep_csv(out, &axes, &rows)?)?;
        d.1 = Some(Instant::now());
        Ok(())
    };
    // The table lists the points already finished from the start, so that it is there
    // (and right) even if the run is killed before its first training ends.
    write_table(&[], true)?;
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let jobs = opts.jobs.clamp(1, tasks.len().max(1));
    // With several trainings at once, each worker trains on a thread pool of its own with
    // its share of the CPUs: the trainings then neither queue behind each other's parallel
    // weight writes in one shared pool nor spin up threads the other training needs.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_worker = (cpus / jobs).max(1);
    std::thread::scope(|s| {
        for worker in 0..jobs {
            let (tasks, next, failure) = (&tasks, &next, &failure);
            let write_table = &write_table;
            s.spawn(move || {
                let pool = (jobs > 1)
                    .then(|| {
                        rayon::ThreadPoolBuilder::new()
                            .num_threads(per_worker)
                            .thread_name(move |i| format!("sweep-{worker}-{i}"))
                            .build()
                            .ok()
                    })
                    .flatten();
                let run_task = |task: &[usize]| match &pool {
                    Some(p) => p.install(|| run_task(plan, task, out, cache, worker, progress)),
                    None => run_task(plan, task, out, cache, worker, progress),
                };
                loop {
                    if failure.lock().expect("failure lock").is_some() {
                        return;
                    }
                    let t = next.fetch_add(1, Ordering::SeqCst);
                    let Some(task) = tasks.get(t) else { return };
                    let result = run_task(task).and_then(|n| {
                        write_table(task, false)?;
                        progress.finished(worker, n);
                        Ok(())
                    });
                    if let Err(e) = result {
                        failure.lock().expect("failure lock").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    let table_written = write_table(&[], true);
    if let Some(e) = failure.into_inner().expect("failure lock") {
        return Err(e);
    }
    table_written?;
    Ok(Summary {
        points: mine.len(),
        skipped: mine.len() - todo.len(),
        ran: todo.len(),
        trainings: tasks.len(),
        wall_s: t0.elapsed().as_secs_f64(),
        table: table_path,
    })
}

/// Trains once for the points `task` (indices into the plan) and writes their reports;
/// returns how many were written.
fn run_task(
    plan: &Plan,
    task: &[usize],
    out: &Path,
    cache: &DataCache,
    worker: usize,
    progress: &dyn Progress,
) -> Result<usize> {
    let mut prepared: Vec<Prepared> = task
        .iter()
        .map(|&i| plan.prepare(i, cache))
        .collect::<Result<_, _>>()?;
    // The folders first, so that a folder that cannot be made fails before the training.
    // An old report in one stays whole until the new one replaces it in one step.
    let dirs: Vec<PathBuf> = task
        .iter()
        .map(|&i| table::point_dir(out, &plan.points[i].id))
        .collect();
    for dir in &dirs {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        crate::folder::remove_stale(dir);
    }
    let axes = plan.axes();
    let lead_plan = &plan.points[task[0]];
    progress.training(worker, &lead_plan.label(&axes), task.len());
    let (lead, others) = prepared.split_first_mut().expect("a task has points");
    let others: Vec<&Prepared> = others.iter().collect();
    let mut observer = WorkerObserver { worker, progress };
    let outcomes = run::execute_shared(lead, &others, &mut observer);
    for ((dir, p), outcome) in dirs.iter().zip(&prepared).zip(&outcomes) {
        report::write_all(dir, p, outcome, None)?;
    }
    Ok(task.len())
}
