//! Running a sweep: the points without complete reports, grouped by the training they
//! share, on `jobs` workers; `sweep.csv` rewritten (atomically) each time a training's
//! points are written.

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

/// How to run a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// The output folder.
    pub out: PathBuf,
    /// Trainings run at once (each also uses the shared thread pool inside).
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

/// A progress sink that shows nothing.
pub struct Silent;
impl Progress for Silent {}

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
    let manifest = manifest(plan, opts);
    report::write_atomic(&out.join(table::MANIFEST), &manifest.to_toml()?)?;
    let mine: Vec<&PointPlan> = manifest.own_points();
    let todo: Vec<&PointPlan> = mine
        .iter()
        .copied()
        .filter(|p| !table::is_complete(&table::point_dir(out, &p.id)))
        .collect();
    // One task per training: the points still to run that share it.
    let mut tasks: Vec<Vec<usize>> = Vec::new();
    for g in &plan.groups {
        let t: Vec<usize> = g
            .iter()
            .copied()
            .filter(|&i| todo.iter().any(|p| p.index == i))
            .collect();
        if !t.is_empty() {
            tasks.push(t);
        }
    }
    progress.start(todo.len(), mine.len() - todo.len());
    let axes = plan.axes();
    let table_path = out.join(table::TABLE);
    let write_table = || -> Result<()> {
        let done: Vec<&PointPlan> = mine
            .iter()
            .copied()
            .filter(|p| table::is_complete(&table::point_dir(out, &p.id)))
            .collect();
        report::write_atomic(&table_path, &table::sweep_csv(out, &axes, &done)?)
    };
    let table_lock = Mutex::new(());
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
            let (tasks, next, failure, table_lock) = (&tasks, &next, &failure, &table_lock);
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
                        let _guard = table_lock.lock().expect("table lock");
                        write_table()?;
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
    if let Some(e) = failure.into_inner().expect("failure lock") {
        return Err(e);
    }
    write_table()?;
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
    let axes = plan.axes();
    let lead_plan = &plan.points[task[0]];
    progress.training(worker, &lead_plan.label(&axes), task.len());
    let (lead, others) = prepared.split_first_mut().expect("a task has points");
    let others: Vec<&Prepared> = others.iter().collect();
    let mut observer = WorkerObserver { worker, progress };
    let outcomes = run::execute_shared(lead, &others, &mut observer);
    for ((&i, p), outcome) in task.iter().zip(&prepared).zip(&outcomes) {
        let dir = table::point_dir(out, &plan.points[i].id);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        remove_stale_temporaries(&dir);
        report::write_all(&dir, p, outcome)?;
    }
    Ok(task.len())
}

/// Removes temporary files a killed run may have left in a report folder.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp-") {
            let _ = fs::remove_file(e.path());
        }
    }
}
