//! `nandspin validate`: tells what kind of config file a file is, then checks it exactly as
//! the command that reads it would (`run` for an arch or workload file, `sweep plan` for a
//! sweep file, `tune --plan` for a tune file, `run --from` for a run record).
//!
//! The kind is decided by the file's structure, first match wins:
//!
//! 1. a **tune** file has one of the keys only tune files have (`max_accuracy_loss`,
//!    `seeds`, `minimize`, `rungs`, `keep`, `[reference]`);
//! 2. a **sweep** has `[[axis]]` tables, or `arch` / `workload` keys that are file names;
//! 3. a **run record** (`run.toml`) has a `[run]` table, or `[arch]` and `[workload]` tables;
//! 4. a **workload** has `[data]`, `[training]` or `[[layers]]`;
//! 5. an **arch** file has one of the arch tables (`[weights]`, `[device]`, ...).
//!
//! A file that matches none (an empty file, say) is an error that lists the kinds. To add a
//! kind, add a [`Kind`] variant, its test in [`Kind::matches`] (in the order above), its
//! description in [`Kind::marks`] and its check in [`check`].

use std::fmt;
use std::path::Path;

use crate::config::source::{Seg, Source};
use crate::config::{self, WorkloadConfig, arch, workload};
use crate::dse::{Plan, Sweep};
use crate::error::{InputError, clip};
use crate::run::{self, DataCache, RunRequest};
use crate::tune::{Tune, TunePlan};

/// The kinds of file `nandspin validate` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A tune file (`arch/tune/*.toml`).
    Tune,
    /// A sweep file (`arch/sweeps/*.toml`).
    Sweep,
    /// A `run.toml` written by `nandspin run`.
    RunRecord,
    /// A workload file (`workloads/*.toml`).
    Workload,
    /// An architecture file (`arch/*.toml`).
    Arch,
}

impl Kind {
    /// Every kind, in the order they are tried.
    pub const ALL: [Kind; 5] = [
        Kind::Tune,
        Kind::Sweep,
        Kind::RunRecord,
        Kind::Workload,
        Kind::Arch,
    ];

    /// The kind's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tune => "tune",
            Kind::Sweep => "sweep",
            Kind::RunRecord => "run record",
            Kind::Workload => "workload",
            Kind::Arch => "arch",
        }
    }

    /// What marks a file of this kind, for the message about a file of no kind.
    fn marks(self) -> &'static str {
        match self {
            Kind::Tune => "a tune file arch, workload, [[axis]] and max_accuracy_loss",
            Kind::Sweep => "a sweep arch, workload and [[axis]]",
            Kind::RunRecord => "a run record [run], [arch] and [workload]",
            Kind::Workload => "a workload [data] and [[layers]]",
            Kind::Arch => "an arch file [weights], [device] or another arch table",
        }
    }

    /// Whether a file's top-level table has this kind's structure.
    pub fn matches(self, t: &toml::Table) -> bool {
        let is_str = |k: &str| t.get(k).is_some_and(toml::Value::is_str);
        let is_table = |k: &str| t.get(k).is_some_and(toml::Value::is_table);
        match self {
            Kind::Tune => TUNE_KEYS.iter().any(|k| t.contains_key(*k)),
            Kind::Sweep => t.contains_key("axis") || is_str("arch") || is_str("workload"),
            Kind::RunRecord => {
                is_table("run") || (t.contains_key("arch") && t.contains_key("workload"))
            }
            Kind::Workload => ["data", "training", "layers"]
                .iter()
                .any(|k| t.contains_key(*k)),
            Kind::Arch => arch::ARCH_KEYS
                .iter()
                .filter(|k| !["schema_version", "name"].contains(k))
                .any(|k| t.contains_key(*k)),
        }
    }
}

/// Keys only tune files have.
const TUNE_KEYS: [&str; 6] = [
    "max_accuracy_loss",
    "seeds",
    "minimize",
    "rungs",
    "keep",
    "reference",
];

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A file that passed: its kind and a one-line description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// What the file was taken for.
    pub kind: Kind,
    /// What it holds, e.g. `12 points, 4 trainings`.
    pub summary: String,
}

impl fmt::Display for Validated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.summary)
    }
}

/// The kind of the file read into `source`: see the module documentation.
pub fn detect(source: &Source) -> Result<Kind, InputError> {
    let table = config::parse_table(source)?;
    if let Some(kind) = Kind::ALL.into_iter().find(|k| k.matches(&table)) {
        return Ok(kind);
    }
    let marks: Vec<&str> = Kind::ALL.iter().map(|k| k.marks()).collect();
    let known = |k: &str| arch::ARCH_KEYS.contains(&k) || workload::WORKLOAD_KEYS.contains(&k);
    let (at, found) = if source.text.is_empty() {
        (
            source.path.display().to_string(),
            "the file is empty".into(),
        )
    } else if source.text.trim().is_empty() {
        (source.at_key(&[]), "the file is blank".into())
    } else {
        let keys: Vec<&String> = table.keys().collect();
        let odd = keys.iter().find(|k| !known(k.as_str()));
        let at = source.at_key(&odd.map_or_else(Vec::new, |k| vec![Seg::Key(k.to_string())]));
        let found = if keys.is_empty() {
            "it sets no keys".to_string()
        } else {
            let shown: Vec<String> = keys.iter().take(4).map(|k| clip(k)).collect();
            format!("its keys: {}", shown.join(", "))
        };
        (at, found)
    };
    Err(InputError::new(format!(
        "{at}: cannot tell the kind of config ({found}): {}",
        marks.join("; ")
    )))
}

/// Checks one file as the command that reads it would; see [`validate_file_with`].
pub fn validate_file(path: &Path) -> Result<Validated, InputError> {
    validate_file_with(path, &DataCache::default())
}

/// Tells the kind of the file at `path` and checks it with exactly the checks of the
/// command that reads it, taking data sets from `cache`.
pub fn validate_file_with(path: &Path, cache: &DataCache) -> Result<Validated, InputError> {
    let source = Source::read(path)?;
    let kind = detect(&source)?;
    let summary = check(kind, path, source, cache)?;
    Ok(Validated { kind, summary })
}

/// Checks a file of a known kind; returns what it holds.
pub fn check(
    kind: Kind,
    path: &Path,
    source: Source,
    cache: &DataCache,
) -> Result<String, InputError> {
    match kind {
        Kind::Arch => {
            let mut a = config::load_source(source, &[], arch::ArchConfig::validate)?;
            arch::load_files(&mut a)?;
            run::checked_name(&a, a.config.name.as_ref(), &run::stem(path), "arch", path)?;
            let (w, c) = (&a.config.weights, &a.config);
            let measured = c.device.measured.as_ref().map_or(String::new(), |s| {
                format!(
                    "; switching measured in {} ({} pulse widths x {} currents)",
                    clip(&s.path.display().to_string()),
                    s.pulse_ns.len(),
                    s.current_ua.len()
                )
            });
            let (units, _) = crate::tech::unit_names(c);
            Ok(format!(
                "weights.store = {}, {} bits; {} tiles x {} subarrays of {}x{} {units}, {} write drivers each{measured}",
                w.store.name(),
                w.bits,
                c.chip.tiles,
                c.tile.subarrays,
                c.subarray.rows,
                c.subarray.columns,
                c.subarray.write_drivers
            ))
        }
        Kind::Workload => {
            // As `run` reads a workload: the file, its data and the network built on it.
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let w = config::load_source(source, &[], WorkloadConfig::validate)?;
            run::checked_name(
                &w,
                w.config.name.as_ref(),
                &run::stem(path),
                "workload",
                path,
            )?;
            let c = run::check_workload_with(&w, &base, cache)?;
            Ok(format!(
                "{} layers, {} parameters, {} train / {} test images of {}",
                c.net.layers().len(),
                c.net.parameter_count(),
                c.data.train.len(),
                c.data.test.len(),
                c.data.train.shape
            ))
        }
        Kind::Tune => {
            // As `tune --plan` reads it: the budgets, the reference and every candidate.
            let plan = TunePlan::new(Tune::read(path, &[])?, cache)?;
            let all: Vec<usize> = (0..plan.tune.candidates()).collect();
            plan.rung_plan(0, &all, cache)?;
            let budgets: Vec<String> = plan
                .budgets
                .iter()
                .map(|b| format!("{}", b.fraction))
                .collect();
            Ok(format!(
                "{} candidates, {} seeds, rungs {}",
                plan.tune.candidates(),
                plan.tune.seeds.len(),
                budgets.join(", ")
            ))
        }
        Kind::Sweep => {
            // As `sweep plan` reads it: every point resolved and checked.
            let plan = Plan::new(Sweep::read(path, &[])?, cache)?;
            let plural =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            Ok(format!(
                "{}, {}",
                plural(plan.points.len(), "point"),
                plural(plan.groups.len(), "training")
            ))
        }
        Kind::RunRecord => {
            // As `run --from` reads it.
            let req = RunRequest {
                from: Some(path.to_path_buf()),
                ..RunRequest::default()
            };
            let p = run::prepare_with(&req, &[], cache)?;
            Ok(format!(
                "arch {}, workload {} ({} layers, {} train / {} test images), seed {}",
                clip(&p.arch_name),
                clip(&p.workload_name),
                p.net.layers().len(),
                p.data.train.len(),
                p.data.test.len(),
                p.seed()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Result<Kind, String> {
        detect(&Source::from_text("f.toml", text)).map_err(|e| e.message)
    }

    #[test]
    fn kinds_by_structure() {
        assert_eq!(kind("[[axis]]\nkey = \"a\""), Ok(Kind::Sweep));
        assert_eq!(kind("arch = \"a.toml\"\nseeds = [0]\n"), Ok(Kind::Tune));
        assert_eq!(kind("max_accuracy_loss = 0.01\n[[axis]]\n"), Ok(Kind::Tune));
        assert_eq!(kind("arch = \"a.toml\"\n"), Ok(Kind::Sweep));
        assert_eq!(kind("[run]\n"), Ok(Kind::RunRecord));
        assert_eq!(kind("[arch]\n[workload]\n"), Ok(Kind::RunRecord));
        assert_eq!(kind("[data]\n"), Ok(Kind::Workload));
        assert_eq!(kind("name = \"x\"\n[[layers]]\n"), Ok(Kind::Workload));
        assert_eq!(kind("[weights]\nbits = 4\n"), Ok(Kind::Arch));
        // Structure decides, not the mistakes inside.
        assert_eq!(kind("[data]\n[weights]\n"), Ok(Kind::Workload));
    }

    #[test]
    fn no_kind_is_an_error_naming_the_kinds() {
        let e = kind("").unwrap_err();
        assert!(e.starts_with("f.toml: cannot tell"), "{e}");
        assert!(e.contains("the file is empty"), "{e}");
        for k in Kind::ALL {
            assert!(e.contains(k.marks()), "{e}");
        }
        let e = kind("# nothing\n\nschema_version = 1\nbogus = 2\n").unwrap_err();
        assert!(e.starts_with("f.toml:4: cannot tell"), "{e}");
        assert!(e.contains("its keys: bogus, schema_version"), "{e}");
        let e = kind(" \n\n").unwrap_err();
        assert!(e.starts_with("f.toml:1: cannot tell"), "{e}");
        assert!(e.contains("the file is blank"), "{e}");
        let e = kind("# only a comment\n").unwrap_err();
        assert!(e.starts_with("f.toml:1: "), "{e}");
        assert!(e.len() < 300, "{e}");
    }
}
