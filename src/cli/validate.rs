//! `nandspin validate`: check config files without running them.

use std::path::PathBuf;

use clap::Args;

use super::console::say;

/// Arguments of `nandspin validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// Files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Checks every file, printing `ok: FILE (what)` or an `error:` line for each; fails (with
/// an input error, exit code 2) when any file is bad.
pub fn command(args: ValidateArgs) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in &args.files {
        match nandspin::validate::validate_file(f) {
            Ok(what) => say!("ok: {} ({what})", f.display()),
            Err(e) => {
                super::console::error_line(&format!("error: {e}"));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(super::Reported(2).into());
    }
    Ok(())
}
