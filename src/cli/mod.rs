//! The commands of the `nandspin` binary, one module each; `main.rs` parses the command
//! line and dispatches here. Everything printed to standard output goes through
//! [`console`].

pub mod console;
pub mod device;
pub mod map;
pub mod plot;
pub mod run;
pub mod sweep;
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
