//! A config file as text, with the means to turn key paths and byte offsets into line numbers
//! for error messages.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::error::InputError;

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
    /// from part of another file, such as the tables of a `run.toml`).
    pub located: bool,
}

impl Source {
    /// Reads a config file; a missing or unreadable file is an input error.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(format!("{}: cannot read: {e}", path.display())))?;
        Ok(Self {
            path: path.to_path_buf(),
            text,
            located: true,
        })
    }

    /// A source from text already in memory (tests, embedded defaults).
    pub fn from_text(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            located: true,
        }
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

    /// `file:line: ` for `path` (or `file: ` when the key cannot be located).
    pub fn at_key(&self, path: &[Seg]) -> String {
        if !self.located {
            return self.path.display().to_string();
        }
        match self.line_of_key(path) {
            Some(line) => format!("{}:{line}", self.path.display()),
            None => self.path.display().to_string(),
        }
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
    }
}
