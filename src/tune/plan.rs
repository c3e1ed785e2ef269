//! A tune's plan: the budget of each rung as workload keys, the reference policy (and
//! whether it is one of the candidates), and each rung's trainings as a sweep plan whose
//! points are the (policy, seed) pairs of that rung.

use crate::config::{Override, arch};
use crate::dse::spec::{Axis, Picked};
use crate::dse::{Plan, Sweep, plan::point_id};
use crate::error::InputError;
use crate::run::{self, DataCache, Prepared, RunRequest};

use super::spec::{SEED_KEY, Tune};

/// A rung's budget, as the workload keys that realise it.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The fraction of the base training, as written in `rungs`.
    pub fraction: f64,
    /// `training.epochs` at this budget.
    pub epochs: u32,
    /// Training images per epoch at this budget.
    pub train_images: usize,
    /// The overrides that make it (none at the full budget).
    pub overrides: Vec<Override>,
}

impl Budget {
    /// Images trained by one training at this budget (epochs times images per epoch).
    pub fn images(&self) -> u64 {
        u64::from(self.epochs) * self.train_images as u64
    }

    /// `1 epoch of 400 images`.
    pub fn describe(&self) -> String {
        format!(
            "{} epoch{} of {} images",
            self.epochs,
            if self.epochs == 1 { "" } else { "s" },
            self.train_images
        )
    }
}

/// The training budget for fraction `f` of `epochs` epochs of `images` images: the full
/// training at 1; else `ceil(f * epochs)` epochs of all images when `f * epochs >= 1`;
/// else 1 epoch of `round(f * epochs * images)` images (at least 1). Returns (epochs,
/// images per epoch, whether `training.max_train_images` changes).
pub fn budget(f: f64, epochs: u32, images: usize) -> (u32, usize, bool) {
    let work = f * f64::from(epochs);
    if f >= 1.0 {
        (epochs, images, false)
    } else if work >= 1.0 - 1e-9 {
        (
            ((work - 1e-9).ceil() as u32).clamp(1, epochs),
            images,
            false,
        )
    } else {
        let n = ((work * images as f64).round() as usize).clamp(1, images.max(1));
        (1, n, n != images)
    }
}

/// Who a rung's trainings are for: a candidate (its index) or the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    /// Candidate `i` (0-based, row-major over the axes).
    Candidate(usize),
    /// The reference policy.
    Reference,
}

/// The trainings of one rung as a sweep plan.
#[derive(Debug, Clone)]
pub struct RungPlan {
    /// The rung (0-based).
    pub rung: usize,
    /// The plan: one point per (policy, seed).
    pub plan: Plan,
    /// Each policy of the rung with its points (indices into `plan.points`), one per
    /// seed in the seeds' order. When the reference is a candidate, both slots name the
    /// same points.
    pub slots: Vec<(Slot, Vec<usize>)>,
}

impl RungPlan {
    /// The points of `slot` (one per seed).
    pub fn points_of(&self, slot: Slot) -> &[usize] {
        self.slots
            .iter()
            .find(|(s, _)| *s == slot)
            .map_or(&[], |(_, p)| p.as_slice())
    }
}

/// A tune file, planned: budgets, the reference, and the means to plan every rung.
#[derive(Debug, Clone)]
pub struct TunePlan {
    /// The tune file, read.
    pub tune: Tune,
    /// Epochs of the base training (after `[set]` and `--set`).
    pub base_epochs: u32,
    /// Training images per epoch of the base training.
    pub base_images: usize,
    /// The budget of each rung.
    pub budgets: Vec<Budget>,
    /// The candidate the reference policy resolves to, if it is one of them.
    pub reference_is: Option<usize>,
    /// The reference's value of each axis key (its own, or the base's; empty when the
    /// base leaves the key unset).
    pub reference_values: Vec<toml::Value>,
}

impl TunePlan {
    /// Plans a tune: resolves the base training and the budgets, and checks the reference
    /// and every candidate (as `sweep plan` checks points).
    pub fn new(tune: Tune, cache: &DataCache) -> Result<Self, InputError> {
        let base = prepare(&tune.sweep, &tune.sweep.sets, cache)?;
        let base_epochs = base.workload.config.training.epochs;
        let base_images = base.data.train.len();
        let mut budgets: Vec<Budget> = Vec::new();
        for (k, &f) in tune.rungs.iter().enumerate() {
            let (epochs, images, limit) = budget(f, base_epochs, base_images);
            let origin = format!("{}: rungs[{k}] = {f}", tune.rungs_at);
            let mut overrides = Vec::new();
            if f < 1.0 {
                overrides.push(Override::from_value(
                    origin.clone(),
                    "training.epochs",
                    toml::Value::Integer(i64::from(epochs)),
                ));
            }
            if limit {
                overrides.push(Override::from_value(
                    origin.clone(),
                    "training.max_train_images",
                    toml::Value::Integer(images as i64),
                ));
            }
            let b = Budget {
                fraction: f,
                epochs,
                train_images: images,
                overrides,
            };
            if let Some((j, prev)) = budgets.iter().enumerate().next_back()
                && prev.images() >= b.images()
            {
                return Err(InputError::new(format!(
                    "{origin}: trains no more than rungs[{j}] = {} ({} against {}; the base training is {base_epochs} epochs of {base_images} images): budgets must give longer and longer trainings, drop one or space them out",
                    prev.fraction,
                    prev.describe(),
                    b.describe(),
                )));
            }
            budgets.push(b);
        }
        let seed = seed_override(&tune, 0);
        let mut ref_sets = tune.sweep.sets.clone();
        ref_sets.extend(tune.reference.iter().cloned());
        ref_sets.push(seed.clone());
        let reference = prepare(&tune.sweep, &ref_sets, cache)?;
        let ref_id = point_id(&reference);
        let mut reference_is = None;
        for c in 0..tune.candidates() {
            let mut o = tune.sweep.overrides(c);
            o.push(seed.clone());
            let p = prepare(&tune.sweep, &o, cache)?;
            if point_id(&p) == ref_id {
                reference_is = Some(c);
                break;
            }
        }
        let reference_values = tune
            .sweep
            .axes
            .iter()
            .map(|a| {
                lookup(&reference, &a.key).unwrap_or_else(|| toml::Value::String(String::new()))
            })
            .collect();
        Ok(Self {
            tune,
            base_epochs,
            base_images,
            budgets,
            reference_is,
            reference_values,
        })
    }

    /// Candidate `c` at the full budget with the first seed, checked and ready to run.
    pub fn prepare_candidate(&self, c: usize, cache: &DataCache) -> Result<Prepared, InputError> {
        let mut o = self.tune.sweep.overrides(c);
        o.push(seed_override(&self.tune, 0));
        prepare(&self.tune.sweep, &o, cache)
    }

    /// The plan of rung `rung` for `candidates` (indices, ascending) and the reference.
    /// Every point is checked as `sweep plan` checks it.
    pub fn rung_plan(
        &self,
        rung: usize,
        candidates: &[usize],
        cache: &DataCache,
    ) -> Result<RungPlan, InputError> {
        let t = &self.tune;
        let mut sweep: Sweep = t.sweep.clone();
        sweep
            .sets
            .extend(self.budgets[rung].overrides.iter().cloned());
        sweep.axes.push(Axis {
            key: SEED_KEY.into(),
            values: t.seeds.iter().map(|&s| seed_value(s)).collect(),
            at: t.seeds_at.clone(),
        });
        let mut picked: Vec<Picked> = Vec::new();
        let mut slots: Vec<(Slot, Vec<usize>)> = Vec::new();
        let candidate_points = |c: usize, picked: &mut Vec<Picked>| -> Vec<usize> {
            t.seeds
                .iter()
                .map(|&s| {
                    let mut values: Vec<toml::Value> =
                        t.sweep.coords(c).into_iter().cloned().collect();
                    values.push(seed_value(s));
                    let refs: Vec<&toml::Value> = values.iter().collect();
                    let overrides = sweep.axis_overrides(&refs);
                    picked.push(Picked { values, overrides });
                    picked.len() - 1
                })
                .collect()
        };
        for &c in candidates {
            let p = candidate_points(c, &mut picked);
            slots.push((Slot::Candidate(c), p));
        }
        let reference_points = match self.reference_is {
            Some(c) => match slots.iter().find(|(s, _)| *s == Slot::Candidate(c)) {
                Some((_, p)) => p.clone(),
                None => candidate_points(c, &mut picked),
            },
            None => (0..t.seeds.len())
                .map(|i| {
                    let mut values = self.reference_values.clone();
                    values.push(seed_value(t.seeds[i]));
                    let mut overrides = t.reference.clone();
                    overrides.push(seed_override(t, i));
                    picked.push(Picked { values, overrides });
                    picked.len() - 1
                })
                .collect(),
        };
        slots.push((Slot::Reference, reference_points));
        sweep.picked = Some(picked);
        let plan = Plan::new(sweep, cache)?;
        Ok(RungPlan { rung, plan, slots })
    }
}

fn seed_value(s: u64) -> toml::Value {
    toml::Value::Integer(s as i64)
}

/// The override of `training.seed` by the `i`-th seed, naming the `seeds` line.
fn seed_override(t: &Tune, i: usize) -> Override {
    let s = t.seeds[i];
    Override::from_value(
        format!("{}: seeds[{i}] = {s}", t.seeds_at),
        SEED_KEY,
        seed_value(s),
    )
}

fn prepare(
    sweep: &Sweep,
    overrides: &[Override],
    cache: &DataCache,
) -> Result<Prepared, InputError> {
    let req = RunRequest {
        arch: sweep.arch.clone(),
        workload: sweep.workload.clone(),
        ..RunRequest::default()
    };
    run::prepare_with(&req, overrides, cache)
}

/// The resolved value of the dotted `key` in a prepared run's configs (`layers.NAME.key`
/// finds the layer by name); `None` when the configs leave it unset.
pub fn lookup(p: &Prepared, key: &str) -> Option<toml::Value> {
    let (a, w) = p.named_configs();
    let top = key.split('.').next()?;
    let root = if arch::ARCH_KEYS.contains(&top) {
        toml::Value::try_from(&a).ok()?
    } else {
        toml::Value::try_from(&w).ok()?
    };
    let mut cur = &root;
    for seg in key.split('.') {
        cur = match cur {
            toml::Value::Table(t) => t.get(seg)?,
            toml::Value::Array(items) => items
                .iter()
                .find(|v| v.get("name").and_then(toml::Value::as_str) == Some(seg))?,
            _ => return None,
        };
    }
    Some(cur.clone())
}

/// `candidate 3 (update.program_pulse_ns=1.0, weights.encoding=sign_magnitude)`.
pub fn describe(t: &Tune, c: usize) -> String {
    let values: Vec<String> = t
        .sweep
        .axes
        .iter()
        .zip(t.sweep.coords(c))
        .map(|(a, v)| format!("{}={}", a.key, crate::dse::spec::cell(v)))
        .collect();
    format!("candidate {c} ({})", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::budget;

    #[test]
    fn budgets_map_to_epochs_or_images() {
        assert_eq!(budget(1.0, 10, 8000), (10, 8000, false));
        assert_eq!(budget(0.3, 10, 8000), (3, 8000, false));
        assert_eq!(budget(0.25, 10, 8000), (3, 8000, false));
        assert_eq!(budget(0.1, 10, 8000), (1, 8000, false));
        assert_eq!(budget(0.1, 2, 2000), (1, 400, true));
        assert_eq!(budget(0.3, 2, 2000), (1, 1200, true));
        assert_eq!(budget(0.5, 2, 2000), (1, 2000, false));
        assert_eq!(budget(1e-9, 1, 100), (1, 1, true));
    }
}
