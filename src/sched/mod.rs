//! The scheduler: maps the network's weight layers onto tiles ([`map`]) and, for every
//! training batch, emits the operations of the four training phases with their
//! dependencies, which the event engine executes ([`plan`]).

pub mod map;
pub mod plan;

use std::fmt;

pub use map::{Map, Placement, map};
pub use plan::{ChipEpoch, Row, Scheduler};

/// A training phase, as NeuroSim names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Forward pass.
    Fw,
    /// Activation gradient (backward pass through the layer).
    Ag,
    /// Weight gradient.
    Wg,
    /// Weight update: the optimiser step and the string writes.
    Wu,
    /// Moving folds of weights between DRAM and the chip (`chip.on_overflow = "swap"`).
    Swap,
    /// Not tied to a phase (leakage).
    All,
}

impl Phase {
    /// The four training phases.
    pub const TRAINING: [Phase; 4] = [Phase::Fw, Phase::Ag, Phase::Wg, Phase::Wu];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Fw => "FW",
            Phase::Ag => "AG",
            Phase::Wg => "WG",
            Phase::Wu => "WU",
            Phase::Swap => "SWAP",
            Phase::All => "all",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
