//! Running a tune: rung by rung, each rung's trainings run as a sweep ([`crate::dse::exec`])
//! in `OUT/rung-K/`, their results read back from the points' `summary.csv`, the search
//! advanced. Finished points are kept, so a tune resumes where it stopped; a shard of one
//! rung can run on its own once the rungs before it are complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::halving::{Score, Search, Settings};
use super::plan::{RungPlan, Slot, TunePlan};
use crate::dse::{self, Progress, RunOptions, table};
use crate::error::InputError;
use crate::run::DataCache;

/// The folder of rung `k` in a tune's output folder.
pub fn rung_dir(out: &Path, k: usize) -> PathBuf {
    out.join(format!("rung-{k}"))
}

/// How to run a tune.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneOptions {
    /// The output folder.
    pub out: PathBuf,
    /// Trainings run at once.
    pub jobs: usize,
    /// `--set` arguments (recorded in each rung's manifest).
    pub sets: Vec<String>,
    /// Run only this rung (the ones before must be complete), not the whole tune.
    pub rung: Option<usize>,
    /// With `rung`: run only shard `(index, count)` of it, into `OUT/rung-K/shard-I`.
    pub shard: Option<(usize, usize)>,
}

/// What one policy measured at one rung.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Test accuracy of each seed (fraction), in the seeds' order.
    pub accuracies: Vec<f64>,
    /// Mean objective values (NaN where a run reports none).
    pub objectives: Vec<f64>,
}

impl Measured {
    /// Mean test accuracy over the seeds.
    pub fn accuracy(&self) -> f64 {
        self.accuracies.iter().sum::<f64>() / self.accuracies.len().max(1) as f64
    }

    fn score(&self) -> Score {
        Score {
            accuracy: self.accuracy(),
            objectives: self.objectives.clone(),
        }
    }
}

/// One rung, run and read.
#[derive(Debug, Clone, PartialEq)]
pub struct RungRecord {
    /// The reference at this rung.
    pub reference: Measured,
    /// Each candidate evaluated at this rung.
    pub candidates: BTreeMap<usize, Measured>,
    /// Trainings of the rung (points that replay another's training not counted).
    pub trainings: usize,
}

/// A whole tune, finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The search, every rung recorded.
    pub search: Search,
    /// What each rung measured.
    pub rungs: Vec<RungRecord>,
}

impl Finished {
    /// Images trained by the whole tune, every rung (each training counted once).
    pub fn trained_images(&self, plan: &TunePlan) -> u64 {
        self.rungs
            .iter()
            .zip(&plan.budgets)
            .map(|(r, b)| r.trainings as u64 * b.images())
            .sum()
    }
}

/// Images trained by the reference alone over the seeds at the full budget: what the tune
/// is compared against.
pub fn reference_images(plan: &TunePlan) -> u64 {
    plan.tune.seeds.len() as u64 * u64::from(plan.base_epochs) * plan.base_images as u64
}

/// What a run of the tune did.
#[derive(Debug, Clone, PartialEq)]
pub enum Ran {
    /// Every rung is complete.
    Finished(Finished),
    /// One rung (or a shard of it) ran, as asked with [`TuneOptions::rung`].
    Rung(dse::Summary),
}

/// Runs the tune `plan` as `opts` says. `log` receives one line per rung.
pub fn run(
    plan: &TunePlan,
    opts: &TuneOptions,
    cache: &DataCache,
    progress: &dyn Progress,
    log: &dyn Fn(String),
) -> Result<Ran> {
    let t = &plan.tune;
    let settings = Settings {
        rungs: t.rungs.clone(),
        keep: t.keep,
        max_loss: t.max_loss,
    };
    let mut search = Search::new(t.candidates(), settings);
    let mut records = Vec::new();
    let last = t.rungs.len() - 1;
    if let Some(k) = opts.rung
        && k > last
    {
        return Err(InputError::new(format!(
            "--rung {k}: {} has rungs 0 to {last}",
            t.sweep.file.display()
        ))
        .into());
    }
    for k in 0..=opts.rung.unwrap_or(last) {
        let rp = plan.rung_plan(k, search.candidates(), cache)?;
        let dir = rung_dir(&opts.out, k);
        let budget = &plan.budgets[k];
        let target = opts.rung == Some(k);
        if opts.rung.is_none() || target {
            let out = match (target, opts.shard) {
                (true, Some((i, _))) => dir.join(format!("shard-{i}")),
                _ => dir.clone(),
            };
            let shard = if target { opts.shard } else { None };
            log(format!(
                "rung {k} (budget {}: {}): {} candidates and the reference, {} seeds: {} points, {} trainings{}",
                budget.fraction,
                budget.describe(),
                search.candidates().len(),
                t.seeds.len(),
                rp.plan.points.len(),
                rp.plan.groups.len(),
                shard.map_or(String::new(), |(i, n)| format!("; shard {i} of {n}"))
            ));
            let ropts = RunOptions {
                out,
                jobs: opts.jobs,
                shard,
                sets: opts.sets.clone(),
            };
            let summary = dse::exec::run(&rp.plan, &ropts, cache, progress)?;
            if target {
                return Ok(Ran::Rung(summary));
            }
        }
        let record = read_rung(plan, &rp, &dir)?;
        let scores = search
            .candidates()
            .iter()
            .map(|c| record.candidates[c].score())
            .collect();
        search.record(record.reference.score(), scores);
        let kept = search.candidates().len();
        if k < last {
            log(format!(
                "rung {k}: kept {kept} of {} candidates for rung {}",
                record.candidates.len(),
                k + 1
            ));
        }
        records.push(record);
    }
    Ok(Ran::Finished(Finished {
        search,
        rungs: records,
    }))
}

/// Reads what every policy of a rung measured from the points' reports in `dir`; a point
/// without a complete report is an input error naming the rung to run.
fn read_rung(plan: &TunePlan, rp: &RungPlan, dir: &Path) -> Result<RungRecord> {
    let t = &plan.tune;
    let read = |points: &[usize]| -> Result<Measured> {
        let mut accuracies = Vec::new();
        let mut sums = vec![0.0; t.objectives.len()];
        for &i in points {
            let p = &rp.plan.points[i];
            let pdir = table::point_dir(dir, &p.id);
            if !table::is_complete(&pdir) {
                return Err(InputError::new(format!(
                    "{}: rung {} is not complete: point {} ({}) has no complete report; run the rung first (nandspin tune {} --rung {}, or its shards and nandspin sweep merge)",
                    dir.display(),
                    rp.rung,
                    p.index,
                    p.label(&rp.plan.axes()),
                    t.sweep.file.display(),
                    rp.rung
                ))
                .into());
            }
            let row = summary_row(&pdir.join("summary.csv"))?;
            let get = |col: &str| -> f64 {
                row.get(col)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(f64::NAN)
            };
            accuracies.push(get("final_test_accuracy"));
            for (s, o) in sums.iter_mut().zip(&t.objectives) {
                *s += get(o);
            }
        }
        let n = points.len().max(1) as f64;
        Ok(Measured {
            accuracies,
            objectives: sums.into_iter().map(|s| s / n).collect(),
        })
    };
    let mut candidates = BTreeMap::new();
    let mut reference = None;
    for (slot, points) in &rp.slots {
        let m = read(points)?;
        match slot {
            Slot::Candidate(c) => {
                candidates.insert(*c, m);
            }
            Slot::Reference => reference = Some(m),
        }
    }
    Ok(RungRecord {
        reference: reference.expect("a rung has the reference"),
        candidates,
        trainings: rp.plan.groups.len(),
    })
}

/// The one row of a `summary.csv`, by column.
fn summary_row(path: &Path) -> Result<BTreeMap<String, String>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = r.headers()?.iter().map(String::from).collect();
    let row = r
        .records()
        .next()
        .with_context(|| format!("{}: no row", path.display()))??;
    Ok(header
        .into_iter()
        .zip(row.iter().map(String::from))
        .collect())
}
