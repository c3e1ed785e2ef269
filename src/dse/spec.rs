//! Sweep files (`arch/sweeps/*.toml`): a base arch and workload, overrides shared by every
//! point, and the axes whose cartesian product gives the points.
//!
//! ```toml
//! name = "tiles-pulse"
//! arch = "../nandspin.toml"                 # relative to this file
//! workload = "../../workloads/lenet5-mnist.toml"
//!
//! [set]                                     # every point
//! training.epochs = 1
//!
//! [[axis]]
//! key = "chip.tiles"
//! values = [4, 8, 16]
//!
//! [[axis]]
//! key = "update.program_pulse_ns"
//! range = { start = 1.0, stop = 3.0, step = 1.0 }   # stop included
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::source::{KeyPath, Seg, Source, parse_dotted};
use crate::config::{self, Override};
use crate::error::{InputError, clip, clip_display};

/// The sweep-file format this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// At most this many points in one sweep (a typo such as `step = 0.0001` should fail fast,
/// not plan a million runs; checking a point takes a few ms).
pub const MAX_POINTS: usize = 10_000;

/// A sweep file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Version of the file format; must be [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// A short name for reports and the default output folder (defaults to the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The base arch file, relative to the sweep file.
    pub arch: PathBuf,
    /// The base workload file, relative to the sweep file.
    pub workload: PathBuf,
    /// Overrides applied to every point (dotted keys, as with `--set`).
    #[serde(default)]
    pub set: toml::Table,
    /// The axes, outermost first.
    #[serde(default, rename = "axis")]
    pub axes: Vec<AxisSpec>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// One `[[axis]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// The dotted config key it varies, e.g. `chip.tiles` or `layers.conv1.kernel`.
    pub key: String,
    /// The values, in order.
    #[serde(default)]
    pub values: Option<Vec<toml::Value>>,
    /// Or a range of numbers.
    #[serde(default)]
    pub range: Option<RangeSpec>,
}

/// `range = { start, stop, step }` (arithmetic) or `{ start, stop, factor }` (geometric);
/// `stop` is included when the steps land on it. Integers give integers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    /// The first value.
    pub start: toml::Value,
    /// The last value (included if reached).
    pub stop: toml::Value,
    /// Added at each step.
    #[serde(default)]
    pub step: Option<toml::Value>,
    /// Or multiplied at each step.
    #[serde(default)]
    pub factor: Option<toml::Value>,
}

/// An axis, resolved to its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The dotted config key.
    pub key: String,
    /// Its values, in order.
    pub values: Vec<toml::Value>,
    /// `file:line` of the axis in the sweep file, for messages.
    pub at: String,
}

/// A sweep file, read and checked: its configs resolved to paths, its axes to values.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The sweep file.
    pub file: PathBuf,
    /// Its name.
    pub name: String,
    /// The base arch file (as a path usable from the current folder).
    pub arch: PathBuf,
    /// The base workload file.
    pub workload: PathBuf,
    /// Overrides of every point: the file's `[set]`, then `--set` arguments (which win).
    pub sets: Vec<Override>,
    /// The axes, outermost first.
    pub axes: Vec<Axis>,
    /// The points, when they are given one by one rather than as the axes' cartesian
    /// product (a tune's rungs); `None` for a sweep file.
    pub picked: Option<Vec<Picked>>,
}

/// A point given explicitly: its value on each axis (for tables and the plan) and its
/// overrides (applied after the shared ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    /// One value per axis, in the axes' order.
    pub values: Vec<toml::Value>,
    /// Its overrides, applied after [`Sweep::sets`].
    pub overrides: Vec<Override>,
}

/// The parts of a sweep file that other files written like it (tune files) share: name,
/// base configs, shared overrides and axes.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    /// `name`, if given.
    pub name: Option<&'a String>,
    /// `arch`, relative to the file.
    pub arch: &'a Path,
    /// `workload`, relative to the file.
    pub workload: &'a Path,
    /// `[set]`.
    pub set: &'a toml::Table,
    /// `[[axis]]`.
    pub axes: &'a [AxisSpec],
}

impl Sweep {
    /// Reads a sweep file; `cli_sets` are `--set` arguments applied to every point after
    /// the file's own `[set]` (they may not set an axis key).
    pub fn read(path: &Path, cli_sets: &[String]) -> Result<Self, InputError> {
        let source = Source::read(path)?;
        let loaded = config::load_source::<SweepFile>(source, &[], validate)?;
        let f = &loaded.config;
        let parts = Parts {
            name: f.name.as_ref(),
            arch: &f.arch,
            workload: &f.workload,
            set: &f.set,
            axes: &f.axes,
        };
        Self::from_parts(path, &loaded.source, parts, cli_sets, "sweep")
    }

    /// A sweep from the `parts` of a file read into `src` (already checked with
    /// [`check_name`] and [`check_axes`]); `what` names the kind of file in messages
    /// (`sweep`, `tune`). `cli_sets` as for [`Sweep::read`].
    pub fn from_parts(
        path: &Path,
        src: &Source,
        f: Parts,
        cli_sets: &[String],
        what: &str,
    ) -> Result<Self, InputError> {
        let base = path.parent().unwrap_or(Path::new(""));
        let mut sets = table_overrides(src, "set", f.set);
        if let Some(o) = sets
            .iter()
            .find(|o| f.axes.iter().any(|a| a.key == o.path.join(".")))
        {
            return Err(InputError::new(format!(
                "{}: `{}` is also an axis; drop it from [set]",
                o.origin,
                clip(&o.path.join("."))
            )));
        }
        for arg in cli_sets {
            let o = Override::parse(arg)?;
            if let Some(a) = f.axes.iter().find(|a| a.key == o.path.join(".")) {
                return Err(InputError::new(format!(
                    "{}: `{}` is an axis of {}; edit the axis instead",
                    o.origin,
                    clip(&a.key),
                    path.display()
                )));
            }
            sets.push(o);
        }
        let axes = f
            .axes
            .iter()
            .enumerate()
            .map(|(i, a)| Axis {
                key: a.key.clone(),
                values: axis_values(a).expect("validated"),
                at: src.at_key(&[Seg::Key("axis".into()), Seg::Index(i)]),
            })
            .collect();
        let name = f.name.cloned().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| what.into())
        });
        if f.name.is_none() {
            let ok = crate::config::name::check_path_name(&name).is_ok()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok {
                return Err(InputError::new(format!(
                    "{}: the {what} file's name stands in for `name` but cannot name a folder and a job; set `name` to letters, digits, `.`, `_` and `-` (at most {} characters)",
                    path.display(),
                    crate::config::name::MAX_NAME_CHARS
                )));
            }
        }
        let (arch, workload) = (base.join(f.arch), base.join(f.workload));
        for (key, p) in [("arch", &arch), ("workload", &workload)] {
            if !p.is_file() {
                return Err(InputError::new(format!(
                    "{}: {key}: no such file {} (paths are relative to the {what} file)",
                    src.at_key(&parse_dotted(key)),
                    clip(&p.display().to_string())
                )));
            }
        }
        Ok(Self {
            file: path.to_path_buf(),
            name,
            arch,
            workload,
            sets,
            axes,
            picked: None,
        })
    }

    /// Number of points (the product of the axes' lengths, or the picked points).
    pub fn points(&self) -> usize {
        match &self.picked {
            Some(p) => p.len(),
            None => self.axes.iter().map(|a| a.values.len()).product(),
        }
    }

    /// The axis values of point `index` (row-major: the last axis varies fastest).
    pub fn coords(&self, index: usize) -> Vec<&toml::Value> {
        if let Some(p) = &self.picked {
            return p[index].values.iter().collect();
        }
        let mut rest = index;
        let mut out = vec![&self.axes[0].values[0]; self.axes.len()];
        for (i, a) in self.axes.iter().enumerate().rev() {
            out[i] = &a.values[rest % a.values.len()];
            rest /= a.values.len();
        }
        out
    }

    /// The overrides of point `index`: the shared ones, then one per axis (each naming its
    /// axis and the sweep file's line in messages).
    pub fn overrides(&self, index: usize) -> Vec<Override> {
        let mut o = self.sets.clone();
        match &self.picked {
            Some(p) => o.extend(p[index].overrides.iter().cloned()),
            None => o.extend(self.axis_overrides(&self.coords(index))),
        }
        o
    }

    /// One override per axis setting its key to the value in `values` (each naming its
    /// axis and the file's line in messages).
    pub fn axis_overrides(&self, values: &[&toml::Value]) -> Vec<Override> {
        self.axes
            .iter()
            .zip(values)
            .map(|(a, v)| {
                Override::from_value(
                    format!("{}: axis {} = {}", a.at, clip(&a.key), clip_display(v)),
                    &a.key,
                    (*v).clone(),
                )
            })
            .collect()
    }
}

/// An axis value as a CSV cell: numbers and booleans as TOML writes them, strings bare.
pub fn cell(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The overrides a table of the file (`[set]`, a tune file's `[reference]`) writes, in
/// order: nested tables as dotted keys, each naming its line (`f.toml:5: set
/// training.epochs = 1`).
pub fn table_overrides(src: &Source, table: &str, t: &toml::Table) -> Vec<Override> {
    let mut flat = Vec::new();
    flatten(t, &mut Vec::new(), &mut flat);
    flat.into_iter()
        .map(|(key, value)| {
            let mut p = vec![Seg::Key(table.into())];
            p.extend(parse_dotted(&key));
            let origin = format!(
                "{}: {table} {} = {}",
                src.at_key(&p),
                clip(&key),
                clip_display(&value)
            );
            Override::from_value(origin, &key, value)
        })
        .collect()
}

/// Nested tables as dotted keys: `{training = {epochs = 1}}` gives `training.epochs`.
fn flatten(t: &toml::Table, prefix: &mut Vec<String>, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        prefix.push(k.clone());
        match v {
            toml::Value::Table(inner) => flatten(inner, prefix, out),
            other => out.push((prefix.join("."), other.clone())),
        }
        prefix.pop();
    }
}

fn validate(f: &SweepFile) -> Result<(), (KeyPath, String)> {
    check_schema(f.schema_version)?;
    check_name(f.name.as_ref())?;
    check_axes(&f.axes, "a sweep")
}

/// Checks `schema_version` (sweep and tune files share the format's version).
pub fn check_schema(version: u32) -> Result<(), (KeyPath, String)> {
    if version != SCHEMA_VERSION {
        return Err((
            parse_dotted("schema_version"),
            format!(
                "schema_version {version} is not supported (this build reads {SCHEMA_VERSION})"
            ),
        ));
    }
    Ok(())
}

/// Checks a `name` that names an output folder and Slurm jobs.
pub fn check_name(name: Option<&String>) -> Result<(), (KeyPath, String)> {
    if let Some(name) = name {
        if let Err(msg) = crate::config::name::check_path_name(name) {
            return Err((parse_dotted("name"), msg));
        }
        let ok = !name.is_empty()
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            return Err((
                parse_dotted("name"),
                format!(
                    "`{}` cannot name a folder and a job: use letters, digits, `.`, `_` and `-`",
                    clip(name)
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the `[[axis]]` tables: at least one, keys well formed and distinct, values
/// present, distinct and not tables, at most [`MAX_POINTS`] in the product. `what` names
/// the file's kind in the message about no axis (`a sweep`, `a tune file`).
pub fn check_axes(axes: &[AxisSpec], what: &str) -> Result<(), (KeyPath, String)> {
    if axes.is_empty() {
        return Err((
            vec![Seg::Key("axis".into())],
            format!("{what} needs at least one [[axis]] (key and values, or key and range)"),
        ));
    }
    let mut points: usize = 1;
    for (i, a) in axes.iter().enumerate() {
        let at = |k: &str| vec![Seg::Key("axis".into()), Seg::Index(i), Seg::Key(k.into())];
        if a.key.trim().is_empty() || a.key.split('.').any(|s| s.trim().is_empty()) {
            return Err((
                at("key"),
                format!(
                    "axis key `{}` must be a dotted config key such as chip.tiles",
                    clip(&a.key)
                ),
            ));
        }
        if let Some(j) = axes[..i].iter().position(|b| b.key == a.key) {
            return Err((
                at("key"),
                format!("axis {} is given twice (also axis[{j}])", clip(&a.key)),
            ));
        }
        let values =
            axis_values(a).map_err(|(k, m)| (at(k), format!("axis {}: {m}", clip(&a.key))))?;
        if let Some(v) = values.iter().find(|v| v.is_table()) {
            return Err((
                at("values"),
                format!(
                    "axis {}: value {} is a table; vary one key per axis (e.g. key = \"{}.tiles\")",
                    clip(&a.key),
                    clip_display(v),
                    clip(&a.key)
                ),
            ));
        }
        for (j, v) in values.iter().enumerate() {
            if values[..j].contains(v) {
                return Err((
                    at(if a.values.is_some() {
                        "values"
                    } else {
                        "range"
                    }),
                    format!(
                        "axis {}: value {} is listed twice",
                        clip(&a.key),
                        clip_display(v)
                    ),
                ));
            }
        }
        points = points.saturating_mul(values.len());
        if points > MAX_POINTS {
            return Err((
                at("key"),
                format!(
                    "the axes up to {} give more than {MAX_POINTS} points",
                    clip(&a.key)
                ),
            ));
        }
    }
    Ok(())
}

/// The values of an axis, or the sub-key at fault (`values`, `range`) and what is wrong.
pub fn axis_values(a: &AxisSpec) -> Result<Vec<toml::Value>, (&'static str, String)> {
    match (&a.values, &a.range) {
        (Some(_), Some(_)) => Err((
            "range",
            "give either `values` or `range`, not both".to_string(),
        )),
        (None, None) => Err((
            "key",
            "has no values: give `values = [...]` or `range = { start, stop, step }`".into(),
        )),
        (Some(v), None) if v.is_empty() => Err(("values", "has an empty list of values".into())),
        (Some(v), None) => Ok(v.clone()),
        (None, Some(r)) => range_values(r).map_err(|m| ("range", m)),
    }
}

fn number(v: &toml::Value, what: &str) -> Result<f64, String> {
    match v {
        toml::Value::Integer(i) => Ok(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Ok(*f),
        other => Err(format!(
            "range {what} must be a number, got {}",
            clip_display(other)
        )),
    }
}

/// Rounds away float noise (0.1 + 0.2) to 12 significant digits.
pub fn tidy(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

fn range_values(r: &RangeSpec) -> Result<Vec<toml::Value>, String> {
    let start = number(&r.start, "start")?;
    let stop = number(&r.stop, "stop")?;
    let ints =
        matches!(r.start, toml::Value::Integer(_)) && matches!(r.stop, toml::Value::Integer(_));
    if stop < start {
        return Err(format!("range stop {stop} is below start {start}"));
    }
    let mut out = Vec::new();
    let too_many = || format!("range gives more than {MAX_POINTS} values");
    match (&r.step, &r.factor) {
        (Some(_), Some(_)) => return Err("give either `step` or `factor`, not both".into()),
        (None, None) => return Err("range needs a `step` or a `factor`".into()),
        (Some(s), None) => {
            let step = number(s, "step")?;
            if step <= 0.0 {
                return Err(format!("range step must be positive, got {step}"));
            }
            let ints = ints && matches!(s, toml::Value::Integer(_));
            let span = ((stop - start) / step * (1.0 + 1e-12) + 1e-9).floor();
            if !(span.is_finite() && span < MAX_POINTS as f64) {
                return Err(too_many());
            }
            let n = span as usize + 1;
            for i in 0..n {
                let x = start + i as f64 * step;
                out.push(if ints {
                    toml::Value::Integer(x.round() as i64)
                } else {
                    toml::Value::Float(tidy(x))
                });
            }
        }
        (None, Some(f)) => {
            let factor = number(f, "factor")?;
            if factor <= 1.0 || start <= 0.0 {
                return Err(format!(
                    "a geometric range needs factor > 1 and start > 0, got factor {factor}, start {start}"
                ));
            }
            let ints = ints && matches!(f, toml::Value::Integer(_));
            let mut x = start;
            while x <= stop * (1.0 + 1e-9) {
                if out.len() == MAX_POINTS {
                    return Err(too_many());
                }
                out.push(if ints {
                    toml::Value::Integer(x.round() as i64)
                } else {
                    toml::Value::Float(tidy(x))
                });
                x *= factor;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Sweep, InputError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::write(dir.path().join("a.toml"), "").unwrap();
        std::fs::write(dir.path().join("w.toml"), "").unwrap();
        Sweep::read(&p, &[])
            .map_err(|e| InputError::new(e.message.replace(&*p.to_string_lossy(), "s.toml")))
    }

    const HEAD: &str = "arch = \"a.toml\"\nworkload = \"w.toml\"\n";

    #[test]
    fn product_is_row_major() {
        let s = read(&format!(
            "{HEAD}[set]\ntraining.epochs = 1\n[[axis]]\nkey = \"chip.tiles\"\nvalues = [2, 4]\n[[axis]]\nkey = \"update.program_pulse_ns\"\nrange = {{ start = 1.0, stop = 3.0, step = 1.0 }}\n"
        ))
        .unwrap();
        assert_eq!(s.points(), 6);
        let c: Vec<String> = s.coords(4).iter().map(|v| cell(v)).collect();
        assert_eq!(c, ["4", "2.0"]);
        let o = s.overrides(4);
        assert_eq!(o.len(), 3);
        assert_eq!(o[0].path, ["training", "epochs"]);
        assert!(
            o[0].origin.starts_with("s.toml:4: set training.epochs = 1")
                || o[0].origin.contains(":4: set training.epochs = 1"),
            "{}",
            o[0].origin
        );
        assert!(
            o[2].origin
                .ends_with(": axis update.program_pulse_ns = 2.0"),
            "{}",
            o[2].origin
        );
        assert!(o[2].origin.contains(":8:"), "{}", o[2].origin);
    }

    #[test]
    fn ranges() {
        let r = |t: &str| {
            let spec: RangeSpec = toml::from_str(t).unwrap();
            range_values(&spec).map(|v| v.iter().map(cell).collect::<Vec<_>>())
        };
        assert_eq!(
            r("start = 2\nstop = 64\nfactor = 2").unwrap(),
            ["2", "4", "8", "16", "32", "64"]
        );
        assert_eq!(
            r("start = 0.1\nstop = 0.3\nstep = 0.1").unwrap(),
            ["0.1", "0.2", "0.3"]
        );
        assert_eq!(
            r("start = 1\nstop = 10\nstep = 4").unwrap(),
            ["1", "5", "9"]
        );
        assert!(r("start = 1\nstop = 0\nstep = 1").is_err());
        assert!(r("start = 1\nstop = 2\nstep = 0").is_err());
        assert!(r("start = 1\nstop = 2").is_err());
        assert!(r("start = 0\nstop = 1e9\nstep = 1").is_err());
        assert!(r("start = 0.0\nstop = 1e300\nstep = 1e-300").is_err());
    }

    #[test]
    fn bad_files_name_the_axis_and_line() {
        let e = read(&format!(
            "{HEAD}[[axis]]\nkey = \"chip.tiles\"\nvalues = []\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.message,
            "s.toml:5: axis[0].values: axis chip.tiles: has an empty list of values"
        );
        let e = read(&format!("{HEAD}[[axis]]\nkey = \"chip.tiles\"\n")).unwrap_err();
        assert!(
            e.message.contains("axis chip.tiles: has no values"),
            "{}",
            e.message
        );
        let e = read(HEAD).unwrap_err();
        assert!(e.message.contains("at least one [[axis]]"), "{}", e.message);
        let e = read(&format!(
            "{}[[axis]]\nkey = \"chip.tiles\"\nvalues = [4]\n",
            HEAD.replace("a.toml", "nope.toml")
        ))
        .unwrap_err();
        assert!(
            e.message.starts_with("s.toml:1: arch: no such file"),
            "{}",
            e.message
        );
        let e = read(&format!(
            "{HEAD}[[axis]]\nkey = \"chip.tiles\"\nvalues = [1, 1]\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("listed twice"), "{}", e.message);
        let e = read(&format!(
            "{HEAD}[[axis]]\nkey = \"chip.tiles\"\nvalue = [1]\n"
        ))
        .unwrap_err();
        assert!(e.message.starts_with("s.toml:5: "), "{}", e.message);
        let e = read(&format!(
            "{HEAD}[[axis]]\nkey = \"a\"\nvalues = [1]\n[[axis]]\nkey = \"a\"\nvalues = [2]\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("given twice"), "{}", e.message);
    }
}
