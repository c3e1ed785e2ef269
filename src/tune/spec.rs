//! Tune files (`arch/tune/*.toml`): a base arch and workload, candidate axes written as a
//! sweep's, a reference policy, training seeds, an accuracy budget, the objectives and the
//! rungs of successive halving.
//!
//! ```toml
//! name = "example"
//! arch = "../nandspin.toml"
//! workload = "../../workloads/lenet5-mnist.toml"
//! seeds = [0, 1, 2]
//! max_accuracy_loss = 0.01
//! minimize = "program_energy_pJ"
//! rungs = [0.1, 0.3, 1.0]
//! keep = 0.34
//!
//! [set]
//! training.epochs = 2
//!
//! [reference]
//! update.program_pulse_ns = 3.0
//!
//! [[axis]]
//! key = "update.program_pulse_ns"
//! values = [3.0, 2.0, 1.0]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::source::{KeyPath, Seg, Source, parse_dotted};
use crate::config::{self, Override, arch, workload};
use crate::dse::spec::{self as sweep_spec, AxisSpec, Parts, Sweep};
use crate::error::{InputError, clip};
use crate::report;

/// The objective when `minimize` is not given.
pub const DEFAULT_OBJECTIVE: &str = "program_energy_pJ";
/// The rungs when `rungs` is not given.
pub const DEFAULT_RUNGS: [f64; 3] = [0.1, 0.3, 1.0];
/// The fraction kept per rung when `keep` is not given (successive halving with eta = 3).
pub const DEFAULT_KEEP: f64 = 1.0 / 3.0;
/// The key every training's seed is set by.
pub const SEED_KEY: &str = "training.seed";

/// Columns of `summary.csv` that cannot be objectives: text, and wall-clock measurements
/// (which differ from run to run, so a search on them would not be repeatable).
pub fn refused_objective(column: &str) -> bool {
    [
        "workload",
        "arch",
        "store",
        "mapping",
        report::KERNEL_COLUMN,
    ]
    .contains(&column)
        || report::WALL_COLUMNS.contains(&column)
}

/// A tune file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneFile {
    /// Version of the file format; must be [`sweep_spec::SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// A short name for the default output folder and Slurm jobs (default: the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The base arch file, relative to the tune file.
    pub arch: PathBuf,
    /// The base workload file, relative to the tune file.
    pub workload: PathBuf,
    /// Overrides of every training, reference included (dotted keys, as with `--set`).
    #[serde(default)]
    pub set: toml::Table,
    /// Overrides that make the reference policy (arch keys; default: none, the base).
    #[serde(default)]
    pub reference: toml::Table,
    /// The candidate axes; the candidates are their cartesian product.
    #[serde(default, rename = "axis")]
    pub axes: Vec<AxisSpec>,
    /// Training seeds: every policy trains once per seed, at every rung it reaches.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// The accuracy budget: the largest drop of mean test accuracy below the reference's
    /// that is accepted (absolute fraction: 0.01 is one point).
    pub max_accuracy_loss: f64,
    /// The objective (a numeric column of `summary.csv`), or a list of them (a Pareto
    /// front). Default [`DEFAULT_OBJECTIVE`].
    #[serde(default)]
    pub minimize: Option<toml::Value>,
    /// Budgets of the rungs, fractions of the base training (default [`DEFAULT_RUNGS`]).
    #[serde(default = "default_rungs")]
    pub rungs: Vec<f64>,
    /// Fraction of a rung's candidates that go on to the next (default [`DEFAULT_KEEP`]).
    #[serde(default = "default_keep")]
    pub keep: f64,
}

fn schema_version() -> u32 {
    sweep_spec::SCHEMA_VERSION
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_rungs() -> Vec<f64> {
    DEFAULT_RUNGS.to_vec()
}
fn default_keep() -> f64 {
    DEFAULT_KEEP
}

/// A tune file, read and checked.
#[derive(Debug, Clone)]
pub struct Tune {
    /// The candidates as a sweep: base configs, shared overrides (`[set]`, then `--set`)
    /// and the axes, whose product the candidates are.
    pub sweep: Sweep,
    /// The reference's overrides (`[reference]`), applied after the shared ones.
    pub reference: Vec<Override>,
    /// The training seeds.
    pub seeds: Vec<u64>,
    /// `file:line` of `seeds`, for messages.
    pub seeds_at: String,
    /// The accuracy budget (absolute fraction).
    pub max_loss: f64,
    /// The objective columns, in order.
    pub objectives: Vec<String>,
    /// The rung budgets (fractions of the base training).
    pub rungs: Vec<f64>,
    /// `file:line` of `rungs`, for messages.
    pub rungs_at: String,
    /// The fraction kept per rung.
    pub keep: f64,
}

impl Tune {
    /// Reads a tune file; `cli_sets` are `--set` arguments applied to every training after
    /// the file's `[set]` (not an axis key, nor `training.seed`).
    pub fn read(path: &Path, cli_sets: &[String]) -> Result<Self, InputError> {
        let source = Source::read(path)?;
        let loaded = config::load_source::<TuneFile>(source, &[], validate)?;
        let f = &loaded.config;
        let src = &loaded.source;
        let parts = Parts {
            name: f.name.as_ref(),
            arch: &f.arch,
            workload: &f.workload,
            set: &f.set,
            axes: &f.axes,
        };
        let sweep = Sweep::from_parts(path, src, parts, cli_sets, "tune")?;
        for o in &sweep.sets {
            if o.path.join(".") == SEED_KEY {
                return Err(InputError::new(format!(
                    "{}: `{SEED_KEY}` is set by `seeds`; list the seeds there",
                    o.origin
                )));
            }
        }
        let reference = sweep_spec::table_overrides(src, "reference", &f.reference);
        Ok(Self {
            sweep,
            reference,
            seeds: f.seeds.clone(),
            seeds_at: src.at_key(&parse_dotted("seeds")),
            max_loss: f.max_accuracy_loss,
            objectives: objectives(f.minimize.as_ref()).expect("validated"),
            rungs: f.rungs.clone(),
            rungs_at: src.at_key(&parse_dotted("rungs")),
            keep: f.keep,
        })
    }

    /// The axis keys, in order.
    pub fn axis_keys(&self) -> Vec<String> {
        self.sweep.axes.iter().map(|a| a.key.clone()).collect()
    }

    /// Number of candidates.
    pub fn candidates(&self) -> usize {
        self.sweep.points()
    }
}

/// The objective columns `minimize` names, or what is wrong with it.
fn objectives(v: Option<&toml::Value>) -> Result<Vec<String>, String> {
    let Some(v) = v else {
        return Ok(vec![DEFAULT_OBJECTIVE.into()]);
    };
    let names: Vec<String> = match v {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(a) if a.is_empty() => {
            return Err("the list of objectives is empty; name at least one column".into());
        }
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str().map(String::from).ok_or_else(|| {
                    format!(
                        "objectives are column names (strings), got {}",
                        clip(&x.to_string())
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected a column name or a list of them, got {}",
                clip(&other.to_string())
            ));
        }
    };
    let header = report::summary_header();
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(format!("objective `{}` is listed twice", clip(n)));
        }
        if !header.contains(&n.as_str()) {
            return Err(format!(
                "`{}` is not a column of summary.csv (e.g. program_energy_pJ, write_energy_pJ, energy_pJ, total_cycles; every column: docs/reports.md)",
                clip(n)
            ));
        }
        if refused_objective(n) {
            return Err(format!(
                "`{}` cannot be an objective: {}",
                clip(n),
                if report::WALL_COLUMNS.contains(&n.as_str()) {
                    "it is measured on the wall clock, so the search would not be repeatable"
                } else {
                    "it is not a number"
                }
            ));
        }
    }
    Ok(names)
}

/// Where a dotted key goes: an error for a workload key (a tune searches arch keys only).
fn arch_key_only(key: &str) -> Result<(), String> {
    let top = key.split('.').next().unwrap_or("");
    if workload::WORKLOAD_KEYS.contains(&top) && !arch::ARCH_KEYS.contains(&top) {
        return Err(format!(
            "`{}` is a workload key; a tune compares arch policies on one workload (set workload keys in [set])",
            clip(key)
        ));
    }
    Ok(())
}

fn validate(f: &TuneFile) -> Result<(), (KeyPath, String)> {
    sweep_spec::check_schema(f.schema_version)?;
    sweep_spec::check_name(f.name.as_ref())?;
    sweep_spec::check_axes(&f.axes, "a tune file")?;
    for (i, a) in f.axes.iter().enumerate() {
        arch_key_only(&a.key).map_err(|m| {
            (
                vec![
                    Seg::Key("axis".into()),
                    Seg::Index(i),
                    Seg::Key("key".into()),
                ],
                format!("axis {}: {m}", clip(&a.key)),
            )
        })?;
    }
    let src = Source::from_text("", "");
    for o in sweep_spec::table_overrides(&src, "reference", &f.reference) {
        let key = o.path.join(".");
        let mut at = vec![Seg::Key("reference".into())];
        at.extend(parse_dotted(&key));
        arch_key_only(&key).map_err(|m| (at, m))?;
    }
    let mut set_keys = Vec::new();
    for o in sweep_spec::table_overrides(&src, "set", &f.set) {
        set_keys.push(o.path.join("."));
    }
    if set_keys.iter().any(|k| k == SEED_KEY) {
        let mut at = vec![Seg::Key("set".into())];
        at.extend(parse_dotted(SEED_KEY));
        return Err((
            at,
            format!("`{SEED_KEY}` is set by `seeds`; list the seeds there"),
        ));
    }
    let key = |k: &str| parse_dotted(k);
    if f.seeds.is_empty() {
        return Err((
            key("seeds"),
            "give at least one training seed, e.g. seeds = [0, 1, 2]".into(),
        ));
    }
    for (i, s) in f.seeds.iter().enumerate() {
        if f.seeds[..i].contains(s) {
            return Err((key("seeds"), format!("seed {s} is listed twice")));
        }
    }
    let m = f.max_accuracy_loss;
    if !(m.is_finite() && (0.0..=1.0).contains(&m)) {
        return Err((
            key("max_accuracy_loss"),
            format!(
                "must be an absolute fraction from 0 to 1 (0.01 is one accuracy point), got {m}"
            ),
        ));
    }
    objectives(f.minimize.as_ref()).map_err(|m| (key("minimize"), m))?;
    if f.rungs.is_empty() {
        return Err((
            key("rungs"),
            "give at least one rung budget, ending with 1.0".into(),
        ));
    }
    for (i, &r) in f.rungs.iter().enumerate() {
        if !(r.is_finite() && r > 0.0 && r <= 1.0) {
            return Err((
                key("rungs"),
                format!("rungs[{i}] = {r}: a budget is a fraction of the training in (0, 1]"),
            ));
        }
        if i > 0 && r <= f.rungs[i - 1] {
            return Err((
                key("rungs"),
                format!(
                    "rungs[{i}] = {r}: budgets must increase (after {})",
                    f.rungs[i - 1]
                ),
            ));
        }
    }
    let last = f.rungs[f.rungs.len() - 1];
    if last != 1.0 {
        return Err((
            key("rungs"),
            format!("the last rung must be the full training, 1.0, got {last}"),
        ));
    }
    if !(f.keep.is_finite() && f.keep > 0.0 && f.keep <= 1.0) {
        return Err((
            key("keep"),
            format!(
                "the fraction of candidates kept per rung must be in (0, 1], got {}",
                f.keep
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<Tune, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(
            &p,
            format!("arch = \"a.toml\"\nworkload = \"w.toml\"\nmax_accuracy_loss = 0.01\n{body}"),
        )
        .unwrap();
        std::fs::write(dir.path().join("a.toml"), "").unwrap();
        std::fs::write(dir.path().join("w.toml"), "").unwrap();
        Tune::read(&p, &[]).map_err(|e| e.message.replace(&*p.to_string_lossy(), "t.toml"))
    }

    const AXIS: &str = "[[axis]]\nkey = \"update.program_pulse_ns\"\nvalues = [3.0, 1.0]\n";

    #[test]
    fn defaults() {
        let t = read(AXIS).unwrap();
        assert_eq!(t.seeds, [0]);
        assert_eq!(t.objectives, [DEFAULT_OBJECTIVE]);
        assert_eq!(t.rungs, DEFAULT_RUNGS);
        assert_eq!(t.keep, DEFAULT_KEEP);
        assert_eq!(t.candidates(), 2);
        assert_eq!(t.sweep.name, "t");
        assert!(t.reference.is_empty());
    }

    #[test]
    fn bad_files_name_line_and_key() {
        let cases = [
            (
                "",
                "t.toml:1: axis: a tune file needs at least one [[axis]]",
            ),
            (
                &format!("seeds = []\n{AXIS}"),
                "t.toml:4: seeds: give at least one",
            ),
            (
                &format!("rungs = [0.5, 0.2, 1.0]\n{AXIS}"),
                "t.toml:4: rungs: rungs[1] = 0.2: budgets must increase",
            ),
            (
                &format!("rungs = [0.5]\n{AXIS}"),
                "t.toml:4: rungs: the last rung must be the full training",
            ),
            (
                &format!("rungs = [0.0, 1.0]\n{AXIS}"),
                "t.toml:4: rungs: rungs[0] = 0",
            ),
            (&format!("keep = 0\n{AXIS}"), "t.toml:4: keep: "),
            (&format!("keep = 1.5\n{AXIS}"), "t.toml:4: keep: "),
            (
                &format!("minimize = \"wall_s\"\n{AXIS}"),
                "t.toml:4: minimize: `wall_s` cannot be an objective: it is measured on the wall clock",
            ),
            (
                &format!("minimize = [\"energy_pJ\", \"store\"]\n{AXIS}"),
                "t.toml:4: minimize: `store` cannot be an objective: it is not a number",
            ),
            (
                &format!("minimize = \"energy\"\n{AXIS}"),
                "t.toml:4: minimize: `energy` is not a column of summary.csv",
            ),
            (&format!("budget = 1\n{AXIS}"), "t.toml:4: "),
            (
                "[[axis]]\nkey = \"training.epochs\"\nvalues = [1, 2]\n",
                "t.toml:5: axis[0].key: axis training.epochs: `training.epochs` is a workload key",
            ),
            (
                &format!("[reference]\ntraining.learning_rate = 0.1\n{AXIS}"),
                "t.toml:5: reference.training.learning_rate: ",
            ),
            (
                &format!("[set]\ntraining.seed = 3\n{AXIS}"),
                "t.toml:5: set.training.seed: `training.seed` is set by `seeds`",
            ),
        ];
        for (body, want) in cases {
            let e = read(body).unwrap_err();
            assert!(e.starts_with(want), "{body:?}:\n got {e}\nwant {want}");
            assert!(!e.contains('\n'));
        }
        for (k, v) in [("max_accuracy_loss", "-0.1"), ("max_accuracy_loss", "1.5")] {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("t.toml");
            std::fs::write(
                &p,
                format!("arch = \"a.toml\"\nworkload = \"w.toml\"\n{k} = {v}\n{AXIS}"),
            )
            .unwrap();
            std::fs::write(dir.path().join("a.toml"), "").unwrap();
            std::fs::write(dir.path().join("w.toml"), "").unwrap();
            let e = Tune::read(&p, &[]).unwrap_err().message;
            assert!(
                e.contains("t.toml:3: max_accuracy_loss: must be an absolute fraction"),
                "{e}"
            );
        }
    }
}
