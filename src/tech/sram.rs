//! SRAM (6T): exact cells. A changed word is written whole in one access; reads and writes
//! cost an energy per bit, and every cell leaks whether it holds a weight or not (MRAM
//! cells do not). Keys: `[sram]`.

use serde::{Deserialize, Serialize};

use super::word::{Direction, WordTech, WordWriter};
use super::{BitWrite, Registration, format_of, word_layout};
use crate::config::arch::{ArchConfig, StoreKind};
use crate::config::device::{Check, at_least, energy, pulse};
use crate::device::string::ns_to_ps;

/// The registry's entry.
pub const REGISTRATION: Registration = Registration {
    store: StoreKind::Sram,
    section: Some("sram"),
    build: |arch| Box::new(new(arch)),
    layout: super::word_layout,
    validate,
    section_set: |arch| arch.sram != SramConfig::default(),
};

/// The `[sram]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SramConfig {
    /// Energy of reading one bit, in pJ.
    pub read_bit_pj: f64,
    /// Energy of writing one bit, in pJ.
    pub write_bit_pj: f64,
    /// Duration of one read or write access of a word, in ns.
    pub access_ns: f64,
    /// Leakage of one cell, in nW.
    pub leakage_nw_per_bit: f64,
    /// The node (nm) and supply (V) the read and write energies were measured at: they are
    /// scaled to `tech.node_nm` and `tech.vdd_v` (`None`: taken as given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_at: Option<[f64; 2]>,
    /// Area of one cell, in F² (F = `tech.node_nm`).
    pub cell_area_f2: f64,
}

impl Default for SramConfig {
    fn default() -> Self {
        Self {
            read_bit_pj: 0.156,
            write_bit_pj: 0.156,
            access_ns: 1.0,
            leakage_nw_per_bit: 1.2,
            measured_at: Some([45.0, 0.9]),
            cell_area_f2: 190.0,
        }
    }
}

/// Checks `[sram]`.
fn validate(arch: &ArchConfig) -> Check {
    let s = &arch.sram;
    crate::config::device::cell_area("sram.cell_area_f2", s.cell_area_f2)?;
    energy("sram.read_bit_pj", s.read_bit_pj)?;
    if let Some(at) = s.measured_at {
        crate::config::device::measured_at("sram.measured_at", at)?;
    }
    energy("sram.write_bit_pj", s.write_bit_pj)?;
    pulse("sram.access_ns", s.access_ns)?;
    at_least(
        "sram.leakage_nw_per_bit",
        s.leakage_nw_per_bit,
        0.0,
        1e6,
        "a leakage power in nW",
    )?;
    super::no_variation(arch)
}

/// SRAM as the arch describes it.
pub fn new(arch: &ArchConfig) -> WordTech {
    let s = &arch.sram;
    let access_ps = ns_to_ps(s.access_ns);
    let width = format_of(arch).width() as usize;
    let e = crate::hw::scaling::scaled_pj(arch, "sram.write_bit_pj");
    let exact = Direction {
        bits: vec![BitWrite::new(access_ps, 1.0, (e, e, 0.0)); width],
        times: None,
        p_switch: vec![1.0; width],
    };
    WordTech {
        name: "sram",
        layout: word_layout(arch),
        read_ns: s.access_ns,
        cell_area_f2: s.cell_area_f2,
        leakage_nw_per_cell: s.leakage_nw_per_bit,
        writer: WordWriter {
            format: format_of(arch),
            threshold: arch.update.write_threshold_lsb,
            skip_unchanged: arch.update.skip_unchanged,
            read_before_write: false,
            read_bit_pj: crate::hw::scaling::scaled_pj(arch, "sram.read_bit_pj"),
            read_ps: access_ps,
            set: exact.clone(),
            reset: exact,
            seed: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::WriteCounts;
    use crate::hw::EnergyTable;
    use crate::tech::Technology;

    fn sram() -> ArchConfig {
        let mut a = ArchConfig::default();
        a.weights.store = StoreKind::Sram;
        a
    }

    #[test]
    fn writes_are_exact_and_cost_every_bit_of_a_changed_word() {
        let t = new(&sram());
        let w = t.writer(0, &[Some(3)]);
        let mut stored = vec![0u32, 0x5A, 0xFF];
        let new = [0x81u32, 0x5A, 0x00];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        assert_eq!(stored, new);
        assert_eq!((c.strings_written, c.strings_skipped), (2, 1));
        assert_eq!((c.program_pulses, c.switches, c.bit_errors), (16, 10, 0));
        assert!((c.program_energy_pj - 16.0 * 0.156).abs() < 1e-12);
        assert_eq!(c.write_time_ps, 2000);
        assert_eq!(w.worst_fail_p(), 0.0);
    }

    #[test]
    fn every_cell_of_every_tile_leaks() {
        let a = sram();
        let e = EnergyTable::new(&a);
        // 8 subarrays x 128 x 64 words x 8 cells x 1.2 nW.
        let want = 8.0 * 128.0 * 64.0 * 8.0 * 1.2e-6;
        assert!(
            (e.weights_leakage_mw - want).abs() < 1e-12,
            "{}",
            e.weights_leakage_mw
        );
        assert!((e.read_bit_pj - 0.156).abs() < 1e-12);
        assert_eq!(
            EnergyTable::new(&ArchConfig::default()).weights_leakage_mw,
            0.0
        );
    }
}
