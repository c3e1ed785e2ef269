//! Memory technologies that hold the weight codes: one seam, one module per technology.
//!
//! A technology describes its cell: how the B-bit codes of a tensor pack into write units
//! (a NAND-SPIN string, or a word of one-bit cells), how a unit is written, read and fails
//! ([`CellWriter`]), and what each action costs in energy and time. The weight store, the
//! chip model, the reports, sweeps and tune read a technology only through [`Technology`],
//! so they work unchanged on every one.
//!
//! Each technology lives in its own file and registers itself in [`REGISTRY`] under the
//! name `weights.store` gives it. Adding one: a file with its `[section]` config, its
//! [`Technology`] and [`CellWriter`], and a [`Registration`]; then its line in
//! [`REGISTRY`], its `StoreKind` variant and its section's field in the arch config.

pub mod nandspin;
pub mod sot;
pub mod sram;
pub mod stt;
pub mod word;

use std::fmt::Debug;
use std::sync::Arc;

use crate::config::arch::{ArchConfig, StoreKind};
use crate::config::source::KeyPath;
use crate::device::{Layout, StringWrite, WriteCounts};

/// What writing one write unit from unknown content costs (swapping a fold of weights in
/// from DRAM): the chip model books it as erase, program pulses and reads.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UnitFill {
    /// Energy of the unit's erase, in pJ (`None`: the technology has no erase).
    pub erase_pj: Option<f64>,
    /// Write pulses (or, for SRAM, bit writes).
    pub pulses: u64,
    /// Energy of one of them, in pJ (the same for every unit: the chip model multiplies
    /// the total).
    pub pulse_pj: f64,
    /// Cells sensed before writing (read-before-write).
    pub bits_read: u64,
    /// How long the unit's write takes, end to end, in ps.
    pub duration_ps: u64,
}

/// A memory technology, as the arch describes it.
pub trait Technology: Send + Sync + Debug {
    /// Its `weights.store` name.
    fn name(&self) -> &'static str;
    /// How codes pack into write units.
    fn layout(&self) -> Layout;
    /// Energy of sensing one cell (a weight read in FW or AG, a verify or
    /// read-before-write), in pJ.
    fn read_bit_pj(&self) -> f64;
    /// Duration of one read (the sense amplifiers sense their cells in parallel), in ns.
    fn read_ns(&self) -> f64;
    /// Area of one cell (one bit), in F².
    fn cell_area_f2(&self) -> f64;
    /// Leakage of one cell, in nW (0 for non-volatile cells).
    fn leakage_nw_per_cell(&self) -> f64 {
        0.0
    }
    /// The cost of writing a unit whose new content has `ones` 1-bits of `bits` cells over
    /// content the chip does not know (swapping).
    fn fill_unit(&self, ones: u64, bits: u64) -> UnitFill;
    /// The writer of a run's weight updates; `seed` keys every random outcome, and `lens`
    /// gives each parameter tensor's codes (`None`: held digitally).
    fn writer(&self, seed: u64, lens: &[Option<usize>]) -> Arc<dyn CellWriter>;
}

/// Writes the codes of weight updates into cells, through the technology's device model.
pub trait CellWriter: Send + Sync + Debug {
    /// How codes pack into write units.
    fn layout(&self) -> Layout;
    /// Writes the codes `new` of tensor `param` at update `step` into the units that hold
    /// `stored`, which afterwards holds what the cells hold. Adds the activity to `counts`
    /// and one [`StringWrite`] per unit written to `log`.
    ///
    /// `stored` and `new` may be a slice of the tensor starting at code `base`, a multiple
    /// of [`Layout::weights_per_string`]: random draws and unit numbers are those of the
    /// whole tensor, so writing a tensor in slices gives the same bits as writing it whole.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        param: usize,
        step: u64,
        base: usize,
        stored: &mut [u32],
        new: &[u32],
        counts: &mut WriteCounts,
        log: &mut Vec<StringWrite>,
    );
    /// The failure probability of one write pulse that the worst 1 % of the cells reach
    /// (0 for exact cells).
    fn worst_fail_p(&self) -> f64;
}

/// A technology's entry in [`REGISTRY`].
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    /// The store it provides.
    pub store: StoreKind,
    /// Its arch section (`None`: it has none of its own).
    pub section: Option<&'static str>,
    /// Builds it from an arch whose `weights.store` names it.
    pub build: fn(&ArchConfig) -> Box<dyn Technology>,
    /// How it packs the arch's codes into write units (cheaper than building it).
    pub layout: fn(&ArchConfig) -> Layout,
    /// Checks the keys that only it reads, with the arch around them.
    pub validate: fn(&ArchConfig) -> Result<(), (KeyPath, String)>,
    /// Whether the arch sets any of its section's keys away from their defaults.
    pub section_set: fn(&ArchConfig) -> bool,
}

/// Every technology, by name.
pub const REGISTRY: [Registration; 4] = [
    nandspin::REGISTRATION,
    stt::REGISTRATION,
    sot::REGISTRATION,
    sram::REGISTRATION,
];

/// The registration of `store` (`None` for the stores without cells: `float`, `fixed`).
pub fn registration(store: StoreKind) -> Option<&'static Registration> {
    REGISTRY.iter().find(|r| r.store == store)
}

/// The technology that holds the arch's weights (`None` for `float` and `fixed`).
pub fn of(arch: &ArchConfig) -> Option<Box<dyn Technology>> {
    registration(arch.weights.store).map(|r| (r.build)(arch))
}

/// The arch sections that belong to technologies other than the store's and that the arch
/// sets anyway (they have no effect): one warning each.
pub fn foreign_section_warnings(arch: &ArchConfig) -> Vec<String> {
    REGISTRY
        .iter()
        .filter(|r| r.store != arch.weights.store && (r.section_set)(arch))
        .filter_map(|r| {
            r.section.map(|s| {
                format!(
                    "warning: [{s}] is set but weights.store = \"{}\": its keys have no effect (they apply to weights.store = \"{}\")",
                    arch.weights.store.name(),
                    r.store.name()
                )
            })
        })
        .collect()
}

use crate::device::string::ns_to_ps;

/// What the arch's write units are called, and their cells: ("strings", "MTJs") for
/// NAND-SPIN (and the stores without cells), ("words", "cells") for the others.
pub fn unit_names(arch: &ArchConfig) -> (&'static str, &'static str) {
    match arch.weights.store {
        StoreKind::Stt | StoreKind::Sot | StoreKind::Sram => ("words", "cells"),
        _ => ("strings", "MTJs"),
    }
}

/// The word layout of the technologies with one-bit cells: each code is a word of its own
/// cells (the inversion flag included), one word per subarray column.
pub fn word_layout(arch: &ArchConfig) -> Layout {
    let bits = arch.weights.cell_bits();
    Layout { bits, mtjs: bits }
}

/// Which cells of a changed word get a write pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WritePolicy {
    /// Read the word first (costed), then pulse only the cells that differ.
    Differing,
    /// Pulse every cell of the word, without a read.
    All,
}

/// Energy and switching of one bit position's write pulse in one direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BitWrite {
    /// Pulse width on the ps grid.
    pub pulse_ps: u64,
    /// `threshold_u53` of the switching probability.
    pub threshold: u64,
    /// 1 / threshold, to turn a successful draw into a uniform number.
    pub inv_threshold: f64,
    /// Energy of a pulse that fails to switch, in pJ.
    pub fail_pj: f64,
    /// Energy of a pulse on a cell already in the target state, in pJ; a switched pulse
    /// costs `base_pj + slope_pj_per_ns * t_switch`.
    pub base_pj: f64,
    /// See `base_pj`.
    pub slope_pj_per_ns: f64,
}

impl BitWrite {
    /// A pulse of `pulse_ps` that switches with probability `p`, with the energies
    /// `(fail, base, slope)` of [`crate::device::circuit::ProgramPulse::linear_pj`].
    pub fn new(
        pulse_ps: u64,
        p: f64,
        (fail_pj, base_pj, slope_pj_per_ns): (f64, f64, f64),
    ) -> Self {
        let threshold = crate::rng::threshold_u53(p);
        Self {
            pulse_ps,
            threshold,
            inv_threshold: 1.0 / (threshold.max(1) as f64),
            fail_pj,
            base_pj,
            slope_pj_per_ns,
        }
    }
}

/// How the arch's codes are laid out in bits (the inversion flag included).
pub fn format_of(arch: &ArchConfig) -> crate::store::format::Format {
    crate::store::format::Format {
        bits: arch.weights.bits,
        encoding: arch.weights.encoding,
        invert: arch.weights.invert == crate::config::arch::Inversion::FewerOnes,
    }
}

/// The pulse width of bit position `b` (0 = LSB; the inversion flag as the MSB), in ns on
/// the ps grid.
pub fn bit_pulse_ps(arch: &ArchConfig, b: u32) -> u64 {
    let bits = arch.weights.bits;
    ns_to_ps(arch.update.program_pulse_ns.for_bit(b.min(bits - 1), bits))
}

/// Device variation is modelled for NAND-SPIN strings only: an error naming `[variation]`
/// when the arch turns a spread on for another store.
pub fn no_variation(arch: &ArchConfig) -> Result<(), (KeyPath, String)> {
    if arch.variation.any() {
        return Err((
            crate::config::source::parse_dotted("variation"),
            format!(
                "device variation is modelled for weights.store = \"nandspin\" only, not \"{}\": set every spread to 0",
                arch.weights.store.name()
            ),
        ));
    }
    if arch.update.verify_bits > 0 {
        return Err((
            crate::config::source::parse_dotted("update.verify_bits"),
            format!(
                "write verify is modelled for weights.store = \"nandspin\" only, not \"{}\": set it to 0",
                arch.weights.store.name()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_store_is_registered_once_and_float_and_fixed_are_not() {
        for s in [
            StoreKind::Nandspin,
            StoreKind::Stt,
            StoreKind::Sot,
            StoreKind::Sram,
        ] {
            assert_eq!(REGISTRY.iter().filter(|r| r.store == s).count(), 1);
            let mut a = ArchConfig::default();
            a.weights.store = s;
            assert_eq!(of(&a).unwrap().name(), s.name());
        }
        for s in [StoreKind::Float, StoreKind::Fixed] {
            assert!(registration(s).is_none());
        }
    }

    #[test]
    fn a_foreign_section_warns_and_the_own_one_does_not() {
        let mut a = ArchConfig::default();
        assert!(foreign_section_warnings(&a).is_empty());
        a.stt.write = WritePolicy::All;
        let w = foreign_section_warnings(&a);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("warning: [stt] is set but weights.store = \"nandspin\""));
        a.weights.store = StoreKind::Stt;
        assert!(foreign_section_warnings(&a).is_empty());
    }
}
