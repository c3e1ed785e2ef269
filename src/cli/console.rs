//! Console output of the commands: everything they print to standard output goes through
//! [`write`] (or the [`say!`] macro), so that a full disk or a closed pipe on standard output
//! never aborts the work, whose results are on disk.
//!
//! A reader that stops early (`| head`) closes the pipe: later output is dropped quietly.
//! Any other write error (`> /dev/full`) is remembered and reported once the command is done
//! ([`failure`]); the binary then exits with code 1.

use std::io::Write;
use std::sync::Mutex;

/// What became of standard output.
enum State {
    /// Every write so far went through.
    Open,
    /// The reader went away; output is dropped quietly.
    Closed,
    /// A write failed for another reason (the message); output is dropped.
    Failed(String),
}

static STATE: Mutex<State> = Mutex::new(State::Open);

/// Writes `bytes` to standard output and flushes; never fails (see the module docs).
pub fn write(bytes: &[u8]) {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if !matches!(*state, State::Open) {
        return;
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => *state = State::Closed,
        Err(e) => *state = State::Failed(e.to_string()),
    }
}

/// The write error that standard output met, if any (a closed pipe is not one).
pub fn failure() -> Option<String> {
    match &*STATE.lock().unwrap_or_else(|e| e.into_inner()) {
        State::Failed(e) => Some(e.clone()),
        _ => None,
    }
}

/// Writes one line to standard error; a standard error that cannot be written to is
/// ignored (there is nowhere left to report it).
pub fn error_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `println!` through [`write`]: never panics, never aborts the command.
macro_rules! say {
    () => {
        $crate::cli::console::write(b"\n")
    };
    ($($arg:tt)*) => {
        $crate::cli::console::write(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}
pub(crate) use say;

/// Rows as a text table: columns padded to their widest cell, two spaces apart; column `c`
/// is left-aligned when `left(c)`, else right-aligned.
pub fn aligned(rows: &[Vec<String>], left: impl Fn(usize) -> bool) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (v, &w))| {
                if left(c) {
                    format!("{v:<w$}")
                } else {
                    format!("{v:>w$}")
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// Four significant digits, without an exponent for everyday magnitudes.
pub fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    format!("{v:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let rows = vec![
            vec!["a".to_string(), "1".to_string()],
            vec!["long".to_string(), "22".to_string()],
        ];
        assert_eq!(aligned(&rows, |c| c == 0), "a      1\nlong  22\n");
    }

    #[test]
    fn four_significant_digits() {
        assert_eq!(sig(1234.5678), "1235");
        assert_eq!(sig(0.012345), "0.01235");
        assert_eq!(sig(0.0), "0");
    }
}
