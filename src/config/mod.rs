//! Configuration: the arch and workload TOML files, `--set` overrides, and errors that name
//! the file, line and key.
//!
//! Loading is in two steps so that every error can be blamed precisely: the file alone is
//! parsed and deserialised first (errors point at a line of the file); then the `--set`
//! overrides are applied to its table and it is deserialised again (errors point at the
//! `--set` argument, since the file alone was fine).

pub mod arch;
pub mod device;
pub mod hw;
pub mod name;
pub mod source;
pub mod variation;
pub mod workload;

use serde::de::DeserializeOwned;

use crate::error::{InputError, clip};
pub use arch::ArchConfig;
use source::{KeyPath, Seg, Source, path_string};
pub use workload::WorkloadConfig;

/// One `--set KEY=VALUE` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// `KEY=VALUE` as typed on the command line (or rebuilt from a sweep file's key and
    /// value); recorded in `run.toml`.
    pub raw: String,
    /// Where it came from, for messages: `--set KEY=VALUE`, or a sweep file's line and axis.
    pub origin: String,
    /// The dotted key, split.
    pub path: Vec<String>,
    /// The value: parsed as TOML when it is valid TOML, else taken as a string.
    pub value: toml::Value,
}

impl Override {
    /// Parses `KEY=VALUE`.
    pub fn parse(arg: &str) -> Result<Self, InputError> {
        let shown = clip(arg);
        let Some((key, value)) = arg.split_once('=') else {
            return Err(InputError::new(format!(
                "--set {shown}: expected KEY=VALUE, e.g. --set training.epochs=1"
            )));
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(InputError::new(format!(
                "--set {shown}: the key must be a dotted path such as training.epochs"
            )));
        }
        let value = value.trim();
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Self {
            raw: arg.to_string(),
            origin: format!("--set {shown}"),
            path: key.split('.').map(String::from).collect(),
            value: parsed,
        })
    }

    /// An override of the dotted `key` by a TOML value, with `origin` naming where it was
    /// written (for messages, e.g. `sweep.toml:12: axis chip.tiles = 0`).
    pub fn from_value(origin: impl Into<String>, key: &str, value: toml::Value) -> Self {
        Self {
            raw: format!("{key}={value}"),
            origin: origin.into(),
            path: key.split('.').map(String::from).collect(),
            value,
        }
    }
}

/// Routes each override to the file whose top-level keys include its first segment.
pub fn route_overrides(
    overrides: &[Override],
) -> Result<(Vec<Override>, Vec<Override>), InputError> {
    let (mut a, mut w) = (Vec::new(), Vec::new());
    for o in overrides {
        let top = o.path[0].as_str();
        let in_arch = arch::ARCH_KEYS.contains(&top);
        let in_work = workload::WORKLOAD_KEYS.contains(&top);
        match (in_arch, in_work) {
            (true, false) => a.push(o.clone()),
            (false, true) => w.push(o.clone()),
            (true, true) => {
                return Err(InputError::new(format!(
                    "{}: `{}` is a key of both the arch and the workload file; edit the file instead",
                    o.origin,
                    clip(top)
                )));
            }
            (false, false) => {
                return Err(InputError::new(format!(
                    "{}: unknown key `{}` (arch keys: {}; workload keys: {})",
                    o.origin,
                    clip(top),
                    arch::ARCH_KEYS.join(", "),
                    workload::WORKLOAD_KEYS.join(", ")
                )));
            }
        }
    }
    Ok((a, w))
}

/// A config read from a file, with what is needed to blame errors on it.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    /// The typed, validated config.
    pub config: T,
    /// The file it came from.
    pub source: Source,
    /// The overrides applied to it, with their resolved key paths.
    pub overrides: Vec<(KeyPath, Override)>,
    /// The file's table after overrides (for naming layers in messages).
    pub table: toml::Table,
    /// The config as the file alone gives it, before overrides.
    pub file_config: T,
}

impl<T> Loaded<T> {
    /// An input error about `path`: blamed on the last `--set` that set it (or a key inside
    /// it, or the table holding it), else on the file's line.
    pub fn error_at(&self, path: &[Seg], message: &str) -> InputError {
        let o = self
            .overrides
            .iter()
            .rfind(|(p, _)| path.starts_with(p) || p.starts_with(path))
            .map(|(_, o)| o);
        self.blame(path, message, o)
    }

    /// An input error about `path` found by a check that spans keys (the layer graph):
    /// `in_file` says whether the file alone has the same error. If not, an override caused
    /// it: the one touching `path` if any, else the last one.
    pub fn error_across(&self, path: &[Seg], message: &str, in_file: bool) -> InputError {
        if in_file {
            return self.blame(path, message, None);
        }
        let o = self
            .overrides
            .iter()
            .rfind(|(p, _)| path.starts_with(p) || p.starts_with(path))
            .or(self.overrides.last())
            .map(|(_, o)| o);
        self.blame(path, message, o)
    }

    /// For a check that the file alone passes and the file with every override fails: the
    /// first override that, applied after the ones before it, makes `fails` true.
    pub fn first_failing_override(&self, fails: impl Fn(&T) -> bool) -> Option<&Override>
    where
        T: DeserializeOwned,
    {
        first_failing(&self.source, &self.overrides, fails)
    }

    /// An input error about `path` blamed on the override `set`.
    pub fn error_by(&self, path: &[Seg], message: &str, set: &Override) -> InputError {
        self.blame(path, message, Some(set))
    }

    fn blame(&self, path: &[Seg], message: &str, set: Option<&Override>) -> InputError {
        let key = display_key(&self.source, path, &self.table);
        match set {
            Some(o) => InputError::new(format!("{}: {key}: {message}", o.origin)),
            None => InputError::new(format!("{}: {key}: {message}", self.source.at_key(path))),
        }
    }
}

/// Names a key for messages: `training.epochs`, or `layer conv2: kernel` inside a layer
/// (keys of a config that is part of a file, such as a `run.toml`, start with the part's
/// key: `arch.weights.bits`).
fn display_key(source: &Source, path: &[Seg], table: &toml::Table) -> String {
    if let [Seg::Key(l), Seg::Index(i), rest @ ..] = path
        && l == "layers"
        && let Some(name) = table
            .get("layers")
            .and_then(|v| v.as_array())
            .and_then(|a| a.get(*i))
            .and_then(|v| v.get("name"))
            .and_then(|v| v.as_str())
    {
        let name = clip(name);
        return if rest.is_empty() {
            format!("layer {name}")
        } else {
            format!("layer {name}: {}", clip(&path_string(rest)))
        };
    }
    let full = source.full_path(path);
    if full.is_empty() {
        "(top level)".into()
    } else {
        clip(&path_string(&full))
    }
}

fn serde_path(p: &serde_path_to_error::Path) -> KeyPath {
    p.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            _ => None,
        })
        .collect()
}

/// Resolves an override's dotted key against the table: `layers.NAME.key` addresses the
/// layer called NAME. Creates missing tables on the way.
fn apply_override(table: &mut toml::Table, o: &Override) -> Result<KeyPath, InputError> {
    let mut path: KeyPath = Vec::new();
    let mut cur: &mut toml::Table = table;
    let n = o.path.len();
    let mut i = 0;
    while i < n {
        let seg = &o.path[i];
        if i == n - 1 {
            cur.insert(seg.clone(), o.value.clone());
            path.push(Seg::Key(seg.clone()));
            return Ok(path);
        }
        path.push(Seg::Key(seg.clone()));
        let entry = cur
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => cur = t,
            toml::Value::Array(items) => {
                // layers.NAME.key: find the table whose `name` is NAME.
                let name = &o.path[i + 1];
                let Some(idx) = items
                    .iter()
                    .position(|v| v.get("name").and_then(|v| v.as_str()) == Some(name.as_str()))
                else {
                    return Err(InputError::new(format!(
                        "{}: no entry named `{}` in `{}`",
                        o.origin,
                        clip(name),
                        clip(seg)
                    )));
                };
                path.push(Seg::Index(idx));
                if i + 1 == n - 1 {
                    let (seg, name) = (clip(seg), clip(name));
                    return Err(InputError::new(format!(
                        "{}: name a key inside `{seg}.{name}`, e.g. {seg}.{name}.kernel",
                        o.origin
                    )));
                }
                match &mut items[idx] {
                    toml::Value::Table(t) => cur = t,
                    _ => unreachable!("an item with a name is a table"),
                }
                i += 1;
            }
            _ => {
                return Err(InputError::new(format!(
                    "{}: `{}` is a value, not a table",
                    o.origin,
                    clip(&path_string(&path))
                )));
            }
        }
        i += 1;
    }
    Ok(path)
}

/// The first of `overrides` that, applied to `source`'s table after the ones before it,
/// gives a config for which `fails` holds.
fn first_failing<'a, T: DeserializeOwned>(
    source: &Source,
    overrides: &'a [(KeyPath, Override)],
    fails: impl Fn(&T) -> bool,
) -> Option<&'a Override> {
    let mut table = parse_table(source).ok()?;
    for (_, o) in overrides {
        apply_override(&mut table, o).ok()?;
        let config: Option<T> =
            serde_path_to_error::deserialize(toml::Value::Table(table.clone())).ok();
        if config.as_ref().is_some_and(&fails) {
            return Some(o);
        }
    }
    None
}

/// Parses a config file's text into a table (the table below [`Source::prefix`] when it
/// has one); syntax errors and out-of-range numbers name the file, line and key.
pub fn parse_table(source: &Source) -> Result<toml::Table, InputError> {
    toml::Deserializer::parse(&source.text).map_err(|e| {
        let at = e.span().map_or_else(
            || source.path.display().to_string(),
            |s| source.at_offset(s.start),
        );
        let msg = e.message().trim();
        // Name the key a duplicate-key error is about: the text its span covers.
        let key = e
            .span()
            .filter(|_| msg.starts_with("duplicate key"))
            .and_then(|s| source.text.get(s))
            .map(|k| k.trim().trim_matches(['[', ']']).trim())
            .filter(|k| !k.is_empty() && !k.contains('\n'));
        match key {
            Some(k) => InputError::new(format!(
                "{at}: TOML syntax error: duplicate key `{}`: a key or table may be given once",
                crate::error::clip(k)
            )),
            None => InputError::new(format!("{at}: TOML syntax error: {msg}")),
        }
    })?;
    let whole: toml::Table = toml::from_str(&source.text).map_err(|e| {
        let span = e.span();
        let at = span.as_ref().map_or_else(
            || source.path.display().to_string(),
            |s| source.at_offset(s.start),
        );
        let key = span
            .and_then(|s| source.key_at_offset(s.start))
            .map(|p| format!(" {}:", path_string(&p)))
            .unwrap_or_default();
        let msg = e.message().trim();
        let msg = if msg.contains("too large") || msg.contains("integer") && msg.contains("i128") {
            format!(
                "integer out of range (TOML integers are from {} to {})",
                i64::MIN,
                i64::MAX
            )
        } else if msg.contains("overflow") {
            "number out of range (too large for a 64-bit float)".to_string()
        } else {
            msg.to_string()
        };
        InputError::new(format!("{at}:{key} {msg}"))
    })?;
    let mut table = whole;
    for (i, seg) in source.prefix.iter().enumerate() {
        let Seg::Key(k) = seg else {
            unreachable!("a prefix is a table key")
        };
        let inner = match table.remove(k) {
            Some(toml::Value::Table(t)) => t,
            other => {
                let what = if other.is_some() {
                    "is not a table"
                } else {
                    "is missing"
                };
                let at = source.at_key(&[]);
                return Err(InputError::new(format!(
                    "{at}: [{}] {what}",
                    path_string(&source.prefix[..=i])
                )));
            }
        };
        table = inner;
    }
    Ok(table)
}

/// Overrides, deserialises and validates one config file read into `source`.
pub fn load_source<T: DeserializeOwned + Clone>(
    source: Source,
    overrides: &[Override],
    validate: impl Fn(&T) -> Result<(), (KeyPath, String)>,
) -> Result<Loaded<T>, InputError> {
    // 1. The file alone.
    let table = parse_table(&source)?;
    let first: Result<T, _> = if source.prefix.is_empty() {
        let de = toml::Deserializer::parse(&source.text).expect("parsed above");
        serde_path_to_error::deserialize(de)
    } else {
        serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
    };
    let mut config = match first {
        Ok(c) => c,
        Err(e) => {
            let path = serde_path(e.path());
            let inner = e.inner();
            let msg = inner.message().trim().to_string();
            let key = display_key(&source, &path, &table);
            let at = match inner.span() {
                Some(s) => source.at_offset(s.start),
                None => source.at_key(&path),
            };
            return Err(InputError::new(format!("{at}: {key}: {msg}")));
        }
    };
    let file_config = config.clone();
    let mut loaded = Loaded {
        config: (),
        source,
        overrides: Vec::new(),
        table,
        file_config: (),
    };
    // 2. With the overrides.
    if !overrides.is_empty() {
        for o in overrides {
            let p = apply_override(&mut loaded.table, o)?;
            loaded.overrides.push((p, o.clone()));
        }
        let value = toml::Value::Table(loaded.table.clone());
        config = match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(c) => c,
            Err(e) => {
                let path = serde_path(e.path());
                return Err(loaded.error_across(&path, e.inner().message().trim(), false));
            }
        };
    }
    if let Err((path, msg)) = validate(&config) {
        // A check may span keys (bits against string size): blame the file only if the file
        // alone fails it the same way; else the override that set this key, or failing that
        // the first override that, applied after the ones before it, makes the check fail.
        let in_file = overrides.is_empty()
            || validate(&file_config).err() == Some((path.clone(), msg.clone()));
        let touches = |(p, _): &&(KeyPath, Override)| path.starts_with(p) || p.starts_with(&path);
        if in_file || loaded.overrides.iter().any(|o| touches(&o)) {
            return Err(loaded.error_across(&path, &msg, in_file));
        }
        let culprit = first_failing(&loaded.source, &loaded.overrides, |c: &T| {
            validate(c).err().is_some_and(|(p, _)| p == path)
        });
        return Err(match culprit {
            Some(o) => loaded.blame(&path, &msg, Some(o)),
            None => loaded.error_across(&path, &msg, false),
        });
    }
    Ok(Loaded {
        config,
        source: loaded.source,
        overrides: loaded.overrides,
        table: loaded.table,
        file_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WL: &str = r#"
[data]
dir = "data"

[training]
epochs = 3

[[layers]]
name = "fc"
type = "dense"
input = "input"
out_features = 10
"#;

    fn wl(text: &str, sets: &[&str]) -> Result<Loaded<WorkloadConfig>, InputError> {
        let o: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        load_source(
            Source::from_text("w.toml", text),
            &o,
            WorkloadConfig::validate,
        )
    }

    #[test]
    fn loads_and_overrides() {
        let l = wl(WL, &["training.epochs=1", "layers.fc.out_features=12"]).unwrap();
        assert_eq!(l.config.training.epochs, 1);
        assert_eq!(l.config.layers[0].out_features, Some(12));
        assert_eq!(l.config.training.batch_size, 32);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = wl(&WL.replace("epochs = 3", "epochz = 3"), &[]).unwrap_err();
        assert!(e.message.starts_with("w.toml:6: "), "{}", e.message);
        assert!(e.message.contains("epochz"), "{}", e.message);
    }

    #[test]
    fn wrong_type_names_key() {
        let e = wl(&WL.replace("epochs = 3", "epochs = \"three\""), &[]).unwrap_err();
        assert!(e.message.starts_with("w.toml:6: "), "{}", e.message);
        assert!(e.message.contains("training.epochs"), "{}", e.message);
    }

    #[test]
    fn zero_and_negative_sizes() {
        let e = wl(&WL.replace("epochs = 3", "epochs = 0"), &[]).unwrap_err();
        assert_eq!(
            e.message,
            "w.toml:6: training.epochs: must be at least 1, got 0"
        );
        let e = wl(&WL.replace("out_features = 10", "out_features = -4"), &[]).unwrap_err();
        assert!(
            e.message.starts_with("w.toml:12: layer fc"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_overrides_blame_the_set() {
        let e = wl(WL, &["training.epochz=1"]).unwrap_err();
        assert!(
            e.message.starts_with("--set training.epochz=1: "),
            "{}",
            e.message
        );
        assert!(e.message.contains("epochz"), "{}", e.message);
        let e = wl(WL, &["training.epochs=many"]).unwrap_err();
        assert!(
            e.message
                .starts_with("--set training.epochs=many: training.epochs"),
            "{}",
            e.message
        );
        let e = wl(WL, &["training.batch_size=0"]).unwrap_err();
        assert_eq!(
            e.message,
            "--set training.batch_size=0: training.batch_size: must be at least 1, got 0"
        );
        let e = wl(WL, &["layers.nope.kernel=3"]).unwrap_err();
        assert!(e.message.contains("no entry named `nope`"), "{}", e.message);
    }

    #[test]
    fn routing() {
        let o = |s: &str| Override::parse(s).unwrap();
        let (a, w) = route_overrides(&[o("weights.bits=6"), o("training.epochs=2")]).unwrap();
        assert_eq!((a.len(), w.len()), (1, 1));
        assert!(
            route_overrides(&[o("bogus.x=1")])
                .unwrap_err()
                .message
                .contains("unknown key `bogus`")
        );
        assert!(Override::parse("novalue").is_err());
        assert_eq!(
            o("weights.store=fixed").value,
            toml::Value::String("fixed".into())
        );
        assert_eq!(o("training.epochs=2").value, toml::Value::Integer(2));
    }

    #[test]
    fn syntax_error_has_line() {
        let e = wl("[data]\ndir = \n", &[]).unwrap_err();
        assert!(
            e.message.starts_with("w.toml:2: TOML syntax error"),
            "{}",
            e.message
        );
        assert!(!e.message.contains('\n'));
    }

    #[test]
    fn duplicate_keys_are_named() {
        let src = Source::from_text("d.toml", "[weights]\nbits = 8\nbits = 4\n");
        let e = parse_table(&src).unwrap_err().message;
        assert!(
            e.starts_with("d.toml:3: TOML syntax error: duplicate key `bits`"),
            "{e}"
        );
        let src = Source::from_text("d.toml", "[weights]\nbits = 8\n[weights]\n");
        let e = parse_table(&src).unwrap_err().message;
        assert!(e.contains("d.toml:3:") && e.contains("`weights`"), "{e}");
    }

    #[test]
    fn numbers_out_of_range_name_line_and_key() {
        for (value, what) in [
            ("9223372036854775808", "integer out of range"),
            ("18446744073709551616", "integer out of range"),
            ("-9223372036854775809", "integer out of range"),
            ("1e999", "number out of range"),
        ] {
            let e = wl(&WL.replace("epochs = 3", &format!("epochs = {value}")), &[]).unwrap_err();
            assert!(
                e.message.starts_with("w.toml:6: training.epochs: "),
                "{}",
                e.message
            );
            assert!(e.message.contains(what), "{}", e.message);
        }
        let e = wl(&format!("{WL}\n[x]\ny = [1, 99999999999999999999]\n"), &[]).unwrap_err();
        assert!(
            e.message.starts_with("w.toml:15: x.y[1]: "),
            "{}",
            e.message
        );
    }

    #[test]
    fn long_values_are_clipped() {
        let long = "z".repeat(100_000);
        for text in [
            WL.replace("name = \"fc\"", &format!("name = \"{long}\"\n{long} = 1")),
            WL.replace("epochs = 3", &format!("epochs = \"{long}\"")),
            WL.replace("dense", &long),
        ] {
            let e = wl(&text, &[]).unwrap_err();
            assert!(e.message.len() < 300, "{}", e.message);
            assert!(e.message.starts_with("w.toml:"), "{}", e.message);
        }
        let e = wl(WL, &[&format!("training.{long}=1")]).unwrap_err();
        assert!(e.message.len() < 300, "{}", e.message);
        let e = wl(WL, &[&format!("training.epochs={long}")]).unwrap_err();
        assert!(e.message.len() < 300, "{}", e.message);
        assert!(
            e.message.starts_with("--set training.epochs=zzz"),
            "{}",
            e.message
        );
    }

    #[test]
    fn arch_range_accepts_auto_or_number() {
        let src = |t: &str| Source::from_text("a.toml", t);
        let a: Loaded<ArchConfig> =
            load_source(src("[weights]\nrange = 0.5\n"), &[], ArchConfig::validate).unwrap();
        assert_eq!(a.config.weights.range, arch::RangeSpec::Fixed(0.5));
        let e = load_source::<ArchConfig>(
            src("[weights]\nrange = \"big\"\n"),
            &[],
            ArchConfig::validate,
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("a.toml:2: weights.range"),
            "{}",
            e.message
        );
        let e = load_source::<ArchConfig>(src("[weights]\nbits = 1\n"), &[], ArchConfig::validate)
            .unwrap_err();
        assert_eq!(
            e.message,
            "a.toml:2: weights.bits: must be between 2 and 16, got 1"
        );
    }
}
