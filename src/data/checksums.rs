//! `SHA256SUMS`: a data folder's list of the SHA-256 digests its files must have.
//!
//! The file is in the format `sha256sum` writes and `sha256sum -c` reads, one file a line:
//!
//! ```text
//! 4558e82823066c7358f6b60c982bae521bd7e8b867e38d01eb2032b4c63fd1d9  train-images-idx3-ubyte
//! ```
//!
//! 64 hex digits, two spaces (or a space and `*`), the file name. Each entry names a file
//! as decompressed (no `.gz`) and gives the SHA-256 of that decompressed content, so the
//! list holds for the raw and the gzipped copy alike, and `gunzip -k *.gz && sha256sum -c
//! SHA256SUMS` checks a folder by hand. Blank lines and lines starting with `#` are skipped.
//!
//! When a data folder has this file, the loader checks every data file it reads that the
//! list names (`train-images-idx3-ubyte.gz` is checked against the entry
//! `train-images-idx3-ubyte`); files the list does not name are read unchecked, and a
//! folder without the file is not checked at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::idx::{self, IdxArray, IdxError};
use crate::error::{InputError, clip};

/// The name of the checksum list in a data folder.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// Largest checksum list read, in bytes (a list of the four standard files is 360 bytes).
pub const MAX_SUMS_BYTES: u64 = 1 << 20;

/// A parsed `SHA256SUMS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksums {
    /// The list's path (for messages).
    pub path: PathBuf,
    /// Decompressed file name -> (SHA-256 as 64 lower-case hex digits, 1-based line).
    entries: HashMap<String, (String, usize)>,
}

impl Checksums {
    /// Reads `dir/SHA256SUMS`; `Ok(None)` when there is no such file.
    ///
    /// # Errors
    ///
    /// An input error naming the list (and the line) if it cannot be read, is larger than
    /// [`MAX_SUMS_BYTES`], is not UTF-8, or has a malformed or duplicated entry.
    pub fn read(dir: &Path) -> Result<Option<Self>, InputError> {
        let path = dir.join(SUMS_FILE);
        let shown = || clip(&path.display().to_string());
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(InputError::new(format!("{}: cannot read: {e}", shown()))),
        };
        if meta.len() > MAX_SUMS_BYTES {
            return Err(InputError::new(format!(
                "{}: {} bytes; a checksum list may hold at most {MAX_SUMS_BYTES}",
                shown(),
                meta.len()
            )));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| InputError::new(format!("{}: cannot read: {e}", shown())))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            InputError::new(format!(
                "{}: not UTF-8 text (bad byte at offset {})",
                shown(),
                e.utf8_error().valid_up_to()
            ))
        })?;
        Self::parse(&path, &text).map(Some)
    }

    /// Parses the text of a list; `path` is only used in messages.
    ///
    /// # Errors
    ///
    /// An input error naming `path` and the line of a malformed or duplicated entry, or of
    /// an entry that names a `.gz` file.
    pub fn parse(path: &Path, text: &str) -> Result<Self, InputError> {
        let mut entries: HashMap<String, (String, usize)> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let at = || format!("{}:{}", clip(&path.display().to_string()), i + 1);
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = || {
                InputError::new(format!(
                    "{}: expected `<64 hex digits>  <file name>` (as sha256sum writes), got `{}`",
                    at(),
                    clip(line)
                ))
            };
            let (hex, rest) = line.split_at_checked(64).ok_or_else(malformed)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(malformed());
            }
            let name = rest
                .strip_prefix("  ")
                .or_else(|| rest.strip_prefix(" *"))
                .filter(|n| !n.is_empty())
                .ok_or_else(malformed)?;
            if let Some(raw) = name.strip_suffix(".gz") {
                return Err(InputError::new(format!(
                    "{}: `{}`: name the decompressed file (`{}`) and give the SHA-256 of its decompressed content",
                    at(),
                    clip(name),
                    clip(raw)
                )));
            }
            if let Some((_, first)) = entries.get(name) {
                return Err(InputError::new(format!(
                    "{}: `{}` is listed twice (first on line {first})",
                    at(),
                    clip(name)
                )));
            }
            entries.insert(name.to_string(), (hex.to_ascii_lowercase(), i + 1));
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// The entry for a data file, as (digest, line): the list names it by its file name
    /// with any `.gz` removed.
    pub fn expected(&self, file: &Path) -> Option<(&str, usize)> {
        let name = file.file_name()?.to_str()?;
        let name = name.strip_suffix(".gz").unwrap_or(name);
        self.entries.get(name).map(|(h, l)| (h.as_str(), *l))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks the content of `file`, read as `arr`, against its entry (if it has one).
    ///
    /// # Errors
    ///
    /// [`IdxError::ChecksumMismatch`] naming the file and both digests.
    pub fn verify(&self, file: &Path, arr: &IdxArray) -> Result<(), IdxError> {
        let Some((expected, line)) = self.expected(file) else {
            return Ok(());
        };
        let actual = hex(&idx::content_sha256(arr));
        if actual == expected {
            Ok(())
        } else {
            Err(IdxError::ChecksumMismatch {
                file: file.to_owned(),
                actual,
                expected: expected.to_string(),
                list: SUMS_FILE.to_string(),
                line,
            })
        }
    }
}

/// Bytes as lower-case hex digits.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "4558e82823066c7358f6b60c982bae521bd7e8b867e38d01eb2032b4c63fd1d9";
    const B: &str = "a46f3f17f33941b53ad3f7ed39340ebc46d5cb736eef26bbfdeafb0d3f54458d";

    fn parse(text: &str) -> Result<Checksums, InputError> {
        Checksums::parse(Path::new("d/SHA256SUMS"), text)
    }

    #[test]
    fn parses_sha256sum_output() {
        let upper = B.to_ascii_uppercase();
        let text = format!("# comment\n\n{A}  train-images-idx3-ubyte\r\n{upper} *labels\n");
        let c = parse(&text).unwrap();
        assert_eq!(c.len(), 2);
        for f in [
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "/x/y/train-images-idx3-ubyte.gz",
        ] {
            assert_eq!(c.expected(Path::new(f)), Some((A, 3)), "{f}");
        }
        assert_eq!(c.expected(Path::new("labels.gz")), Some((B, 4)));
        assert_eq!(c.expected(Path::new("t10k-images-idx3-ubyte.gz")), None);
        // Only the last `.gz` is removed.
        assert_eq!(c.expected(Path::new("labels.gz.gz")), None);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        for (text, line, needle) in [
            (format!("{A} train-images"), 2, "expected `<64 hex digits>"),
            (format!("{A}  "), 2, "expected `<64 hex digits>"),
            (format!("{}  f", &A[..63]), 2, "expected `<64 hex digits>"),
            (format!("{}g  f", &A[..63]), 2, "expected `<64 hex digits>"),
            ("é".repeat(40), 2, "expected `<64 hex digits>"),
            (
                format!("{A}  f.gz"),
                2,
                "`f.gz`: name the decompressed file (`f`)",
            ),
            (
                format!("{A}  f\n{B}  f"),
                3,
                "`f` is listed twice (first on line 2)",
            ),
        ] {
            let e = parse(&format!("\n{text}")).unwrap_err().message;
            assert!(e.starts_with(&format!("d/SHA256SUMS:{line}: ")), "{e}");
            assert!(e.contains(needle), "{needle:?} in {e}");
        }
    }

    #[test]
    fn verify_compares_the_decompressed_digest() {
        let arr = IdxArray {
            dims: vec![2],
            data: vec![1, 2],
        };
        let digest = hex(&idx::content_sha256(&arr));
        let good = parse(&format!("{digest}  l\n")).unwrap();
        good.verify(Path::new("dir/l.gz"), &arr).unwrap();
        // A file the list does not name is not checked.
        good.verify(Path::new("dir/other.gz"), &arr).unwrap();
        let bad = parse(&format!("# x\n{A}  l\n")).unwrap();
        let e = bad.verify(Path::new("dir/l.gz"), &arr).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("dir/l.gz: decompressed SHA-256 is {digest}, SHA256SUMS line 2 expects {A}")
        );
    }

    #[test]
    fn missing_list_is_none_and_big_list_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Checksums::read(dir.path()).unwrap(), None);
        let p = dir.path().join(SUMS_FILE);
        std::fs::write(&p, format!("{A}  f\n")).unwrap();
        assert_eq!(Checksums::read(dir.path()).unwrap().unwrap().len(), 1);
        std::fs::write(&p, vec![b'#'; MAX_SUMS_BYTES as usize + 1]).unwrap();
        let e = Checksums::read(dir.path()).unwrap_err().message;
        assert!(e.contains("at most 1048576"), "{e}");
        std::fs::write(&p, b"\xff\n").unwrap();
        let e = Checksums::read(dir.path()).unwrap_err().message;
        assert!(e.contains("not UTF-8"), "{e}");
    }
}
