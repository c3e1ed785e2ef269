//! The energy table (Accelergy-style): components count actions, and this table turns the
//! counts into pJ. Device actions come from the device physics unless the arch's `[energy]`
//! section fixes them; digital actions come from `[energy]`.

use crate::config::ArchConfig;
use crate::config::device::Master;
use crate::device::circuit::{erase_energy_pj, read_energy_pj};

/// pJ per action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyTable {
    /// One HM-strip erase pulse (whole string).
    pub erase_pj: f64,
    /// Reading one MTJ.
    pub read_bit_pj: f64,
    /// One multiply-accumulate.
    pub mac_pj: f64,
    /// One byte in or out of a tile buffer.
    pub buffer_byte_pj: f64,
    /// One byte over one network hop.
    pub noc_byte_hop_pj: f64,
    /// One byte to or from DRAM.
    pub dram_byte_pj: f64,
    /// Leakage of one tile, in mW (= pJ per ns).
    pub tile_leakage_mw: f64,
    /// Leakage of one tile's master-weight SRAM, in mW (0 without master weights).
    pub master_leakage_mw: f64,
    /// Leakage of one tile's weight cells, in mW (0 for non-volatile cells).
    pub weights_leakage_mw: f64,
}

impl EnergyTable {
    /// The arch's table.
    pub fn new(a: &ArchConfig) -> Self {
        let e = &a.energy;
        let tech = crate::tech::of(a);
        // The digital entries at the chip's node and supply.
        let scaled = crate::hw::scaling::scaled_entries(a);
        let cells_per_tile = f64::from(a.tile.subarrays)
            * f64::from(a.subarray.rows)
            * f64::from(a.subarray.columns)
            * f64::from(crate::device::Layout::of(a).mtjs);
        Self {
            erase_pj: erase_energy_pj(&a.string, e),
            read_bit_pj: tech
                .as_ref()
                .map_or_else(|| read_energy_pj(&a.device, e), |t| t.read_bit_pj()),
            mac_pj: if e.mac_pj.is_some() {
                scaled["energy.mac_pj"].scaled_pj
            } else {
                scaled[a.tile.mac.energy_entry()].scaled_pj
            },
            buffer_byte_pj: scaled["energy.buffer_byte_pj"].scaled_pj,
            noc_byte_hop_pj: scaled["energy.noc_byte_hop_pj"].scaled_pj,
            dram_byte_pj: e.dram_byte_pj,
            tile_leakage_mw: e.tile_leakage_mw,
            master_leakage_mw: if a.update.master == Master::Digital {
                a.tile.master_kib * e.master_leakage_mw_per_kib
            } else {
                0.0
            },
            weights_leakage_mw: tech
                .as_ref()
                .map_or(0.0, |t| t.leakage_nw_per_cell() * cells_per_tile * 1e-6),
        }
    }

    /// Leakage energy of `tiles` tiles over `ps` picoseconds, in pJ.
    pub fn leakage_pj(&self, tiles: u32, ps: u64) -> f64 {
        self.tile_leakage_mw * f64::from(tiles) * ps as f64 / 1000.0
    }

    /// Leakage energy of `tiles` tiles' weight cells over `ps` picoseconds, in pJ.
    pub fn weights_leakage_pj(&self, tiles: u32, ps: u64) -> f64 {
        self.weights_leakage_mw * f64::from(tiles) * ps as f64 / 1000.0
    }

    /// Leakage energy of `tiles` tiles' master-weight SRAMs over `ps` picoseconds, in pJ.
    pub fn master_leakage_pj(&self, tiles: u32, ps: u64) -> f64 {
        self.master_leakage_mw * f64::from(tiles) * ps as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_physics() {
        let mut a = ArchConfig::default();
        let physics = EnergyTable::new(&a);
        assert!(
            physics.erase_pj > 0.05 && physics.erase_pj < 0.1,
            "{}",
            physics.erase_pj
        );
        a.energy.hm_erase_pulse_pj = Some(1.0);
        a.energy.mtj_read_pj = Some(0.5);
        let t = EnergyTable::new(&a);
        assert_eq!(t.erase_pj, 1.0);
        assert_eq!(t.read_bit_pj, 0.5);
        // 1 mW for 1 µs is 1 nJ.
        assert!((t.leakage_pj(1, 1_000_000) - 1000.0).abs() < 1e-9);
    }
}
