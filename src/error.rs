//! Errors that are the user's to fix: bad configs, bad data, bad command lines.
//!
//! Every such error is one line that names the file and line (or the `--set` argument) and
//! the key or layer at fault. The binary prints it and exits with code 2; any other failure
//! (a disk that fills up while writing reports, say) exits with code 1.

use std::fmt;

/// A problem with the user's input, printed as one line; the CLI exits with code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The whole message, one line, without a trailing newline.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

impl InputError {
    /// An input error with the given message; newlines are folded so it stays one line.
    pub fn new(message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = if message.contains('\n') {
            message.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            message
        };
        Self { message }
    }
}

/// The exit code for an error: 2 when it is the user's input, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|e| e.downcast_ref::<InputError>().is_some())
    {
        2
    } else {
        1
    }
}

/// At most 80 characters of a value quoted in a message, with `...` when cut.
pub fn clip(value: &str) -> String {
    const MAX: usize = 80;
    match value.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &value[..i]),
        None => value.to_string(),
    }
}
