//! Names that become parts of paths: an arch's, a workload's or a sweep's `name` (or the
//! file stem standing in for it) names report folders such as `runs/<workload>-<arch>-s0`
//! and `runs/sweeps/<sweep>`, so it must not be able to lead anywhere else.

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Checks that `name` can be one component of a path: not empty, at most
/// [`MAX_NAME_CHARS`] characters, no `/`, `\`, `..`, NUL or control characters, and not
/// `.`. Returns what is wrong, for a message.
pub fn check_path_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    let problem = if name.is_empty() {
        "is empty".to_string()
    } else if chars > MAX_NAME_CHARS {
        format!("is {chars} characters long (at most {MAX_NAME_CHARS})")
    } else if name.contains('/') || name.contains('\\') {
        "contains a path separator (`/` or `\\`)".to_string()
    } else if name.contains("..") {
        "contains `..`".to_string()
    } else if name == "." {
        "is `.`".to_string()
    } else if name.chars().any(char::is_control) {
        "contains a control character".to_string()
    } else {
        return Ok(());
    };
    Err(format!(
        "the name {problem}; it becomes part of report folder names, so use letters, digits, `.`, `_` and `-`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_leave_their_folder() {
        for bad in [
            "",
            ".",
            "..",
            "../../../tmp/evil",
            "a/b",
            "a\\b",
            "x..y",
            "nul\0",
            "tab\there",
            "line\nbreak",
            &"x".repeat(101),
        ] {
            assert!(check_path_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "lenet5-mnist",
            "nandspin_1ns.v2",
            "ünïcode",
            &"x".repeat(100),
        ] {
            assert!(check_path_name(good).is_ok(), "{good:?} refused");
        }
    }
}
