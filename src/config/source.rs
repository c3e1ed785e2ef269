//! A config file as text, with the means to turn key paths and byte offsets into line numbers
//! for error messages.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::error::{InputError, clip};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A key of a table.
    Key(String),
    /// An index into an array (for example the third `[[layers]]` table).
    Index(usize),
}

/// A key path such as `training.epochs` or `layers[2].kernel`.
pub type KeyPath = Vec<Seg>;

/// Formats a key path the way users write it: `training.epochs`, `layers[2].kernel`.
pub fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Parses a dotted key such as `training.epochs` into a key path.
pub fn parse_dotted(key: &str) -> KeyPath {
    key.split('.').map(|k| Seg::Key(k.to_string())).collect()
}

/// The text of one config file and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as the user gave it (used in messages).
    pub path: PathBuf,
    /// The whole file.
    pub text: String,
    /// Whether line numbers of `text` mean anything to the user (false for text rebuilt
    /// from part of another file).
    pub located: bool,
    /// The key of the table of `text` that holds the config (`arch` or `workload` in a
    /// `run.toml`); empty when the whole file is the config.
    pub prefix: KeyPath,
}

impl Source {
    /// Reads a config file; a missing or unreadable file is an input error.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let bytes = std::fs::read(path)
            .map_err(|e| InputError::new(format!("{}: cannot read: {e}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes()))?;
        Ok(Self::from_text(path, text))
    }

    /// A source from text already in memory (tests, embedded defaults).
    pub fn from_text(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            located: true,
            prefix: Vec::new(),
        }
    }

    /// The table `key` of `whole` as a config of its own (the `[arch]` of a `run.toml`):
    /// messages name `whole`'s file and lines, and keys below `key`.
    pub fn part(whole: &Source, key: &str) -> Self {
        Self {
            prefix: vec![Seg::Key(key.to_string())],
            ..whole.clone()
        }
    }

    /// `path` below [`Self::prefix`]: the key path as written in the file.
    pub fn full_path(&self, path: &[Seg]) -> KeyPath {
        let mut p = self.prefix.clone();
        p.extend_from_slice(path);
        p
    }

    /// The key path of the value that holds byte `offset` (the deepest one), if any.
    pub fn key_at_offset(&self, offset: usize) -> Option<KeyPath> {
        let doc = DeTable::parse(&self.text).ok()?;
        let mut path = Vec::new();
        find_offset(doc.get_ref(), offset, &mut path).then_some(path)
    }

    /// Text rebuilt from part of another file: messages name `label` without line numbers.
    pub fn detached(label: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            located: false,
            ..Self::from_text(label, text)
        }
    }

    /// `file:line` for byte `offset` (just `file` for detached text).
    pub fn at_offset(&self, offset: usize) -> String {
        if self.located {
            format!("{}:{}", self.path.display(), self.line_of_offset(offset))
        } else {
            self.path.display().to_string()
        }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of_offset(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The 1-based line where `path` is set, or where its deepest existing parent is.
    pub fn line_of_key(&self, path: &[Seg]) -> Option<usize> {
        let path = &self.full_path(path)[..];
        let doc = DeTable::parse(&self.text).ok()?;
        let mut span: Option<std::ops::Range<usize>> = None;
        let mut table: Option<&DeTable> = Some(doc.get_ref());
        let mut value: Option<&DeValue> = None;
        for seg in path {
            match seg {
                Seg::Key(k) => {
                    let t = match (table, value) {
                        (Some(t), None) => t,
                        (_, Some(DeValue::Table(t))) => t,
                        _ => break,
                    };
                    let Some((key, v)) = t.get_key_value(k.as_str()) else {
                        break;
                    };
                    span = Some(key.span());
                    value = Some(v.get_ref());
                    table = None;
                }
                Seg::Index(i) => {
                    let Some(DeValue::Array(a)) = value else {
                        break;
                    };
                    let Some(item) = a.get(*i) else { break };
                    span = Some(item.span());
                    value = Some(item.get_ref());
                }
            }
        }
        span.map(|s| self.line_of_offset(s.start))
    }

    /// `file:line` for `path`: the line of the key, else of its deepest parent in the
    /// file, else line 1 (just `file` for detached text).
    pub fn at_key(&self, path: &[Seg]) -> String {
        if !self.located {
            return self.path.display().to_string();
        }
        let line = self.line_of_key(path).unwrap_or(1);
        format!("{}:{line}", self.path.display())
    }
}

/// The error for a file that is not UTF-8: the line, column and byte of the first bad byte.
fn not_utf8(path: &Path, bytes: &[u8]) -> InputError {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    let before = &bytes[..valid];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = std::str::from_utf8(&before[line_start..]).map_or(1, |s| s.chars().count() + 1);
    let byte = bytes.get(valid).copied().unwrap_or(0);
    InputError::new(format!(
        "{}:{line}: not UTF-8 text: byte 0x{byte:02x} at column {column} (byte {valid} of the file); save the file as UTF-8",
        clip(&path.display().to_string())
    ))
}

/// Walks `table` for a value whose span holds `offset`; leaves its key path in `path`.
fn find_offset(table: &DeTable, offset: usize, path: &mut KeyPath) -> bool {
    for (key, value) in table {
        path.push(Seg::Key(key.get_ref().to_string()));
        if find_in_value(value, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_value(value: &toml::Spanned<DeValue>, offset: usize, path: &mut KeyPath) -> bool {
    match value.get_ref() {
        DeValue::Table(t) => find_offset(t, offset, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                if find_in_value(item, offset, path) {
                    return true;
                }
                path.pop();
            }
            value.span().contains(&offset)
        }
        _ => value.span().contains(&offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_and_array_items() {
        let src = Source::from_text(
            "w.toml",
            "a = 1\n\n[training]\nepochs = 3\n\n[[layers]]\nname = \"x\"\n\n[[layers]]\nname = \"y\"\nkernel = 5\n",
        );
        assert_eq!(src.line_of_key(&parse_dotted("a")), Some(1));
        assert_eq!(src.line_of_key(&parse_dotted("training.epochs")), Some(4));
        let p = vec![
            Seg::Key("layers".into()),
            Seg::Index(1),
            Seg::Key("kernel".into()),
        ];
        assert_eq!(src.line_of_key(&p), Some(11));
        // A missing key falls back to its parent.
        assert_eq!(
            src.line_of_key(&parse_dotted("training.batch_size")),
            Some(3)
        );
        assert_eq!(path_string(&p), "layers[1].kernel");
        assert_eq!(
            src.key_at_offset(src.text.find("5\n").unwrap()),
            Some(p.clone())
        );
        // The part of a file below a key: lines of the whole file.
        let part = Source::part(&src, "layers");
        assert_eq!(part.line_of_key(&[Seg::Index(1)]), Some(9));
    }

    #[test]
    fn non_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, b"a = 1\nb\xc3\xa9 = \xff\n").unwrap();
        let e = Source::read(&p).unwrap_err();
        assert!(
            e.message.ends_with(
                "bad.toml:2: not UTF-8 text: byte 0xff at column 6 (byte 12 of the file); save the file as UTF-8"
            ),
            "{}",
            e.message
        );
    }
}
