//! The commands of the `nandspin` binary, one module each; `main.rs` parses the command
//! line and dispatches here. Everything printed to standard output goes through
//! [`console`].

pub mod console;
pub mod device;
pub mod draws;
pub mod map;
pub mod plot;
pub mod run;
pub mod sweep;
pub mod tune;
pub mod validate;

/// A failure whose messages the command has already printed: the binary prints nothing
/// more and exits with this code.
#[derive(Debug)]
pub struct Reported(pub u8);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed (reported above)")
    }
}

impl std::error::Error for Reported {}

/// Refuses a config path that is not there with a hint: relative paths (the defaults
/// `arch/nandspin.toml` and `workloads/lenet5-mnist.toml` among them) are read from the
/// current folder, which is not always the project's.
pub fn check_input(path: &std::path::Path, flag: &str) -> Result<(), nandspin::error::InputError> {
    if path.exists() {
        return Ok(());
    }
    let here = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "?".into());
    let hint = if path.is_relative() {
        format!(
            "; relative paths are read from the current folder ({}): run nandspin in the project's folder, or pass {flag} FILE",
            nandspin::error::clip(&here)
        )
    } else {
        String::new()
    };
    Err(nandspin::error::InputError::new(format!(
        "{}: no such file ({flag}){hint}",
        path.display()
    )))
}

/// Refuses an `--out` file path that cannot take a file: a folder, or a path whose folder
/// does not exist.
pub fn check_out_file(path: &std::path::Path) -> Result<(), nandspin::error::InputError> {
    let err = |what: &str| {
        Err(nandspin::error::InputError::new(format!(
            "--out {}: {what}",
            path.display()
        )))
    };
    if path.is_dir() {
        return err("is a folder; give the path of a file to write");
    }
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => err("its folder does not exist; create it first"),
        _ => Ok(()),
    }
}

/// Refuses an `--out` folder path that is a file.
pub fn check_out_dir(path: &std::path::Path) -> Result<(), nandspin::error::InputError> {
    if path.exists() && !path.is_dir() {
        return Err(nandspin::error::InputError::new(format!(
            "--out {}: exists and is not a folder; give --out a folder",
            path.display()
        )));
    }
    Ok(())
}

/// Refuses an output folder of a `kind` of command (`sweep`, `tune`) that is a file, that
/// holds entries it does not write (`allowed` says which it does; hidden temporaries are
/// allowed), or, unless `force`, that holds the output of another one than `name`
/// (`owner` reads the name of the one whose output it holds, if any).
pub fn check_out_folder(
    out: &std::path::Path,
    kind: &str,
    allowed: fn(&str) -> bool,
    owner: impl Fn(&std::path::Path) -> Result<Option<String>, nandspin::error::InputError>,
    name: &str,
    force: bool,
) -> Result<(), nandspin::error::InputError> {
    check_out_dir(out)?;
    let mut foreign: Vec<String> = std::fs::read_dir(out)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !nandspin::folder::is_temporary_file(n) && !allowed(n))
                .collect()
        })
        .unwrap_or_default();
    foreign.sort();
    if let Some(f) = foreign.first() {
        return Err(nandspin::error::InputError::new(format!(
            "--out {}: holds `{}`{}, which no {kind} writes; give --out a new or empty folder, or a {kind}'s output folder",
            out.display(),
            nandspin::error::clip(f),
            if foreign.len() > 1 { " and more" } else { "" }
        )));
    }
    if force {
        return Ok(());
    }
    match owner(out)? {
        Some(old) if old != name => Err(nandspin::error::InputError::new(format!(
            "{}: holds the output of {kind} `{}`, not `{}`; pass --force to write into it anyway, or --out to choose another folder",
            out.display(),
            nandspin::error::clip(&old),
            name
        ))),
        _ => Ok(()),
    }
}
