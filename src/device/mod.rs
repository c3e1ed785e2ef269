//! The NAND-SPIN device: MTJ switching under STT program pulses, the SOT erase of a string's
//! heavy-metal strip, the energy of each action, and how codes are written into strings.

pub mod circuit;
pub mod counts;
pub mod curve;
pub mod measured;
pub mod normal;
pub mod string;
pub mod switching;
pub mod variation;

pub use counts::WriteCounts;
pub use string::{Layout, StringWrite, StringWriter};
pub use switching::Switching;
