//! Errors that are the user's to fix: bad configs, bad data, bad command lines.
//!
//! Every such error is one line that names the file and line (or the `--set` argument) and
//! the key or layer at fault. The binary prints it and exits with code 2; any other failure
//! (a disk that fills up while writing reports, say) exits with code 1.
//!
//! Values echoed in messages are cut to [`MAX_VALUE_CHARS`] characters ([`clip`]), and a
//! whole message to [`MAX_MESSAGE_CHARS`], so that a 20 MB line in a config file gives a
//! readable error.

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
    /// An input error with the given message; newlines are folded so it stays one line,
    /// quoted values longer than [`MAX_VALUE_CHARS`] are cut (messages of serde and toml
    /// quote the bad value), and the whole is cut to [`MAX_MESSAGE_CHARS`].
    pub fn new(message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = if message.contains(['\n', '\r']) {
            message.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            message
        };
        let message = clip_quoted(&message);
        let message = short_numbers(&message);
        let message = clip_to(&message, MAX_MESSAGE_CHARS);
        Self { message }
    }
}

/// Most characters of a value (a string, a key, a `--set` argument) quoted in a message.
pub const MAX_VALUE_CHARS: usize = 80;

/// Most characters of a whole message (the binary adds `error: `, so a line stays under
/// 300).
pub const MAX_MESSAGE_CHARS: usize = 290;

/// `text` cut to [`MAX_VALUE_CHARS`] characters, ending with `…` when cut; control
/// characters (a newline inside a string value) are shown escaped.
pub fn clip(text: &str) -> String {
    let escaped: String = if text.chars().any(char::is_control) {
        text.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    } else {
        text.to_string()
    };
    clip_to(&escaped, MAX_VALUE_CHARS)
}

/// A value's text for a message: `value` displayed, then [`clip`]ped.
pub fn clip_display(value: &impl fmt::Display) -> String {
    clip(&value.to_string())
}

/// `text` cut to `max` characters (the last being `…` when cut).
pub fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some(_) => {
            let end = text
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

/// Cuts the text between each pair of quotes (`` ` `` or `"`) to [`MAX_VALUE_CHARS`]
/// characters.
fn clip_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_MESSAGE_CHARS));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let q = rest[open..].chars().next().expect("a quote");
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        match rest.find(q) {
            Some(close) => {
                out.push_str(&clip_to(&rest[..close], MAX_VALUE_CHARS));
                out.push(q);
                rest = &rest[close + 1..];
            }
            None => {
                out.push_str(&clip_to(rest, MAX_VALUE_CHARS));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Numbers written out with more than 20 digits (`f64`'s `Display` of 1e300 has 301) are
/// shown in scientific notation instead (`1e300`).
fn short_numbers(message: &str) -> String {
    const MAX_DIGITS: usize = 20;
    let is_num = |c: char| c.is_ascii_digit() || c == '.';
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let len = rest[start..]
            .find(|c: char| !is_num(c))
            .unwrap_or(rest.len() - start);
        let token = &rest[start..start + len];
        let digits = token.chars().filter(char::is_ascii_digit).count();
        match token.parse::<f64>() {
            Ok(v) if digits > MAX_DIGITS => out.push_str(&format!("{v:e}")),
            _ => out.push_str(token),
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_numbers_are_written_short() {
        let e = InputError::new(format!("x: must be at most 200, got {}", 1e300));
        assert_eq!(e.message, "x: must be at most 200, got 1e300");
        let e = InputError::new(format!("got {} and {}", 1e-300, 0.125));
        assert_eq!(e.message, "got 1e-300 and 0.125");
        let e = InputError::new("f.toml:12: 3.5 and 12345678901234567890");
        assert_eq!(e.message, "f.toml:12: 3.5 and 12345678901234567890");
    }

    #[test]
    fn clips_values_and_messages() {
        assert_eq!(clip("short"), "short");
        let long = "x".repeat(1000);
        let c = clip(&long);
        assert_eq!(c.chars().count(), MAX_VALUE_CHARS);
        assert!(c.ends_with('…'));
        assert_eq!(clip("a\nb"), "a\\nb");
        // Multi-byte characters are cut on a character boundary.
        assert_eq!(clip(&"é".repeat(200)).chars().count(), MAX_VALUE_CHARS);
        let e = InputError::new(format!("f.toml:3: unknown field `{long}`, expected `a`"));
        assert!(e.message.len() < 200, "{}", e.message);
        assert!(e.message.ends_with("…`, expected `a`"), "{}", e.message);
        let e = InputError::new(format!("f.toml:3: bad value {long}"));
        assert_eq!(e.message.chars().count(), MAX_MESSAGE_CHARS);
        let e = InputError::new(format!("f.toml:3: unclosed \"{long}"));
        assert!(e.message.len() < 200, "{}", e.message);
    }
}
