//! CSV files read whole, columns looked up by header name.
//!
//! Every problem with a file is an [`InputError`] naming the file (and the line and column
//! when there is one): the user has to fix the file, not the program.

use std::path::{Path, PathBuf};

use crate::error::InputError;

/// A CSV file held in memory: its header and its records as text.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// Where the file was read from, for messages.
    pub path: PathBuf,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// 1-based line of each record in the file.
    lines: Vec<u64>,
}

impl Table {
    /// Reads a CSV file with a header; a file without records is an error.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let reader = csv::Reader::from_path(path)
            .map_err(|e| InputError::new(format!("{}: {e}", path.display())))?;
        let table = Self::from_reader(path, reader)?;
        if table.rows.is_empty() {
            return Err(InputError::new(format!(
                "{}: no rows below the header",
                path.display()
            )));
        }
        Ok(table)
    }

    /// A table from text, for tests.
    #[cfg(test)]
    pub fn from_text(name: &str, text: &str) -> Result<Self, InputError> {
        Self::from_reader(Path::new(name), csv::Reader::from_reader(text.as_bytes()))
    }

    /// Reads every record of `reader`; errors name `path`.
    fn from_reader<R: std::io::Read>(
        path: &Path,
        mut reader: csv::Reader<R>,
    ) -> Result<Self, InputError> {
        let bad = |e: csv::Error| InputError::new(format!("{}: {e}", path.display()));
        let header = reader
            .headers()
            .map_err(bad)?
            .iter()
            .map(String::from)
            .collect();
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for record in reader.records() {
            let record = record.map_err(bad)?;
            lines.push(record.position().map_or(0, |p| p.line()));
            rows.push(record.iter().map(String::from).collect());
        }
        Ok(Self {
            path: path.to_path_buf(),
            header,
            rows,
            lines,
        })
    }

    /// The column names, in file order.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Number of records (the header excluded).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The index of a column, if the header has it.
    fn index(&self, column: &str) -> Option<usize> {
        self.header.iter().position(|h| h == column)
    }

    /// Fails unless the header has every one of `columns`.
    pub fn require(&self, columns: &[&str]) -> Result<(), InputError> {
        match columns.iter().find(|c| self.index(c).is_none()) {
            Some(c) => Err(self.missing(c)),
            None => Ok(()),
        }
    }

    /// The error for a column the header lacks.
    pub fn missing(&self, column: &str) -> InputError {
        InputError::new(format!("{}: no column {column}", self.path.display()))
    }

    /// A column's fields as text (empty fields as `None`), or `None` without the column.
    pub fn text(&self, column: &str) -> Option<Vec<Option<&str>>> {
        let i = self.index(column)?;
        Some(
            self.rows
                .iter()
                .map(|r| r.get(i).map(|s| s.trim()).filter(|s| !s.is_empty()))
                .collect(),
        )
    }

    /// A column's fields as numbers (empty fields as `None`), or `None` without the column.
    /// A field that is not a finite number is an error naming the line and column.
    pub fn numbers(&self, column: &str) -> Result<Option<Vec<Option<f64>>>, InputError> {
        let Some(fields) = self.text(column) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(fields.len());
        for (field, line) in fields.into_iter().zip(&self.lines) {
            out.push(match field {
                None => None,
                Some(s) => Some(self.parse(s, *line, column)?),
            });
        }
        Ok(Some(out))
    }

    /// As [`Table::numbers`], the column being required.
    pub fn required_numbers(&self, column: &str) -> Result<Vec<Option<f64>>, InputError> {
        self.numbers(column)?.ok_or_else(|| self.missing(column))
    }

    fn parse(&self, s: &str, line: u64, column: &str) -> Result<f64, InputError> {
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(InputError::new(format!(
                "{}:{line}: {column}: `{s}` is not a number",
                self.path.display()
            ))),
        }
    }

    /// The first non-empty field of a text column, if any.
    pub fn first_text(&self, column: &str) -> Option<&str> {
        self.text(column)?.into_iter().flatten().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_skip_empty_fields_and_name_bad_ones() {
        let t = Table::from_text("t.csv", "a,b\n1,\n2.5,x\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.numbers("a").unwrap().unwrap(), vec![Some(1.0), Some(2.5)]);
        assert!(t.numbers("c").unwrap().is_none());
        let e = t.numbers("b").unwrap_err().message;
        assert_eq!(e, "t.csv:3: b: `x` is not a number");
        assert_eq!(
            t.require(&["a", "zz"]).unwrap_err().message,
            "t.csv: no column zz"
        );
    }

    #[test]
    fn infinities_are_not_numbers() {
        let t = Table::from_text("t.csv", "a\ninf\n").unwrap();
        assert!(t.numbers("a").is_err());
    }
}
