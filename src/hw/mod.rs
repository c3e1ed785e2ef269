//! The modelled hardware: a chip of tiles on a 2-D mesh network, each tile with NAND-SPIN
//! subarrays (strings, write drivers, sense amplifiers, one heavy-metal strip per string), a
//! digital compute unit (MAC lanes) and an SRAM buffer; DRAM for the data set and swapping.
//!
//! This module turns the arch file into what the scheduler and the engine need: durations
//! of the components' actions ([`Timing`]), the energy of each action ([`energy`]) and the
//! distances on the network ([`Mesh`]).

pub mod energy;

use crate::config::ArchConfig;
use crate::device::string::ns_to_ps;
use crate::engine::Ps;

pub use energy::EnergyTable;

/// Bytes of one activation or gradient value (the numerics are f32).
pub const VALUE_BYTES: u64 = 4;
/// Bytes of one input pixel as the data set stores it (8-bit greyscale).
pub const PIXEL_BYTES: u64 = 1;

/// The tiles' 2-D mesh: tile `i` sits at `(i mod w, i div w)` with `w = ceil(sqrt(tiles))`;
/// DRAM attaches at tile 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mesh {
    /// Tiles per mesh row.
    pub width: u32,
}

impl Mesh {
    /// The mesh for `tiles` tiles.
    pub fn new(tiles: u32) -> Self {
        let mut w = (f64::from(tiles)).sqrt().ceil() as u32;
        while w > 1 && (w - 1) * (w - 1) >= tiles {
            w -= 1;
        }
        Self { width: w.max(1) }
    }

    /// Manhattan distance between two tiles, in hops.
    pub fn hops(&self, a: u32, b: u32) -> u64 {
        let (ax, ay) = (a % self.width, a / self.width);
        let (bx, by) = (b % self.width, b / self.width);
        u64::from(ax.abs_diff(bx) + ay.abs_diff(by))
    }
}

/// Durations of the components' actions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// One clock cycle, in ps.
    pub cycle_ps: Ps,
    /// MACs per cycle of one tile's compute unit.
    pub mac_lanes: u64,
    /// Bits sensed at once in one subarray.
    pub sense_amps: u64,
    /// One read of `sense_amps` bits, in ps.
    pub read_ps: Ps,
    /// Bytes per cycle of one network link.
    pub noc_bytes_per_cycle: f64,
    /// Latency of one hop, in cycles.
    pub hop_cycles: u64,
    /// DRAM: ps per byte (from the bandwidth) and latency per transfer.
    pub dram_ps_per_byte: f64,
    /// DRAM latency of one transfer, in ps.
    pub dram_latency_ps: Ps,
}

impl Timing {
    /// The arch's timing.
    pub fn new(a: &ArchConfig) -> Self {
        Self {
            cycle_ps: a.chip.cycle_ps(),
            mac_lanes: u64::from(a.tile.mac_lanes),
            sense_amps: u64::from(a.subarray.sense_amps),
            read_ps: ns_to_ps(a.device.read_ns),
            noc_bytes_per_cycle: a.noc.bytes_per_cycle,
            hop_cycles: u64::from(a.noc.hop_cycles),
            // 1 GB/s moves one byte per ns = 1000 ps.
            dram_ps_per_byte: 1000.0 / a.dram.bandwidth_gb_s,
            dram_latency_ps: (a.dram.latency_ns * 1000.0).round() as Ps,
        }
    }

    /// Time of `macs` multiply-accumulates on one compute unit: whole cycles, in ps.
    pub fn mac_ps(&self, macs: u64) -> Ps {
        macs.div_ceil(self.mac_lanes) * self.cycle_ps
    }

    /// Time to sense `bits` bits of one subarray, in ps.
    pub fn read_ps(&self, bits: u64) -> Ps {
        bits.div_ceil(self.sense_amps) * self.read_ps
    }

    /// Time to send `bytes` to tiles at most `max_hops` away (a multicast over the mesh):
    /// serialisation on one link plus hop latency, whole cycles, in ps.
    pub fn noc_ps(&self, bytes: u64, max_hops: u64) -> Ps {
        let cycles =
            (bytes as f64 / self.noc_bytes_per_cycle).ceil() as u64 + max_hops * self.hop_cycles;
        cycles * self.cycle_ps
    }

    /// Time of one DRAM transfer of `bytes`, in ps.
    pub fn dram_ps(&self, bytes: u64) -> Ps {
        self.dram_latency_ps + (bytes as f64 * self.dram_ps_per_byte).ceil() as Ps
    }

    /// Whole cycles covering `ps` (rounded up).
    pub fn cycles(&self, ps: Ps) -> u64 {
        ps.div_ceil(self.cycle_ps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_is_as_square_as_possible() {
        assert_eq!(Mesh::new(1).width, 1);
        assert_eq!(Mesh::new(4).width, 2);
        assert_eq!(Mesh::new(5).width, 3);
        assert_eq!(Mesh::new(16).width, 4);
        let m = Mesh::new(16);
        assert_eq!(m.hops(0, 15), 6);
        assert_eq!(m.hops(5, 5), 0);
    }

    #[test]
    fn mac_time_is_whole_cycles() {
        let t = Timing::new(&ArchConfig::default());
        assert_eq!(t.cycle_ps, 1000);
        assert_eq!(t.mac_ps(1), 1000);
        assert_eq!(t.mac_ps(128), 1000);
        assert_eq!(t.mac_ps(129), 2000);
        assert_eq!(t.cycles(1001), 2);
    }
}
