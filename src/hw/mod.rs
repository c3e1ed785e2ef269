//! The modelled hardware: a chip of tiles on a 2-D mesh network, each tile with NAND-SPIN
//! subarrays (strings, write drivers, sense amplifiers, one heavy-metal strip per string), a
//! digital compute unit (MAC lanes) and an SRAM buffer; DRAM for the data set and swapping.
//!
//! This module turns the arch file into what the scheduler and the engine need: durations
//! of the components' actions ([`Timing`]), the energy of each action ([`energy`]) and the
//! distances on the network ([`Mesh`]).

pub mod area;
pub mod energy;
pub mod rng;
pub mod scaling;

use crate::config::ArchConfig;
use crate::device::string::ns_to_ps;
use crate::engine::Ps;

pub use energy::EnergyTable;

/// Bytes of one f32 value: a master-weight copy (`update.master = "digital"`); activations
/// and gradients take `tile.mac`'s bytes instead.
pub const VALUE_BYTES: u64 = 4;
/// Bytes of one input pixel as the data set stores it (8-bit greyscale).
pub const PIXEL_BYTES: u64 = 1;

/// The tiles' 2-D mesh. Tiles are numbered in square shells around tile 0 (where DRAM
/// attaches): shell `n` holds the tiles with `max(x, y) = n`, so tile `i` sits at the same
/// place whatever the chip's size, and the first `k` tiles always form a compact block.
/// A chip of `T` tiles fills a `ceil(sqrt(T))`-wide square.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mesh;

impl Mesh {
    /// Coordinates `(x, y)` of tile `i`.
    pub fn position(i: u32) -> (u32, u32) {
        let n = (f64::from(i)).sqrt() as u32;
        // Correct the float square root at large i.
        let n = if (n + 1) * (n + 1) <= i {
            n + 1
        } else if n * n > i {
            n - 1
        } else {
            n
        };
        let r = i - n * n;
        if r <= n { (n, r) } else { (2 * n - r, n) }
    }

    /// Manhattan distance between two tiles, in hops.
    pub fn hops(a: u32, b: u32) -> u64 {
        let ((ax, ay), (bx, by)) = (Self::position(a), Self::position(b));
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
            read_ps: ns_to_ps(crate::tech::of(a).map_or(a.device.read_ns, |t| t.read_ns())),
            noc_bytes_per_cycle: a.noc.bytes_per_cycle,
            hop_cycles: u64::from(a.noc.hop_cycles),
            // 1 GB/s moves one byte per ns = 1000 ps.
            dram_ps_per_byte: 1000.0 / a.dram.bandwidth_gb_s,
            dram_latency_ps: (a.dram.latency_ns * 1000.0).round() as Ps,
        }
    }

    /// Time of `macs` multiply-accumulates on one compute unit: whole cycles, in ps.
    pub fn mac_ps(&self, macs: u64) -> Ps {
        macs.div_ceil(self.mac_lanes).saturating_mul(self.cycle_ps)
    }

    /// Time to sense `bits` bits of one subarray, in ps.
    pub fn read_ps(&self, bits: u64) -> Ps {
        bits.div_ceil(self.sense_amps).saturating_mul(self.read_ps)
    }

    /// Time to send `bytes` to tiles at most `max_hops` away (a multicast over the mesh):
    /// serialisation on one link plus hop latency, whole cycles, in ps.
    pub fn noc_ps(&self, bytes: u64, max_hops: u64) -> Ps {
        let cycles = ((bytes as f64 / self.noc_bytes_per_cycle).ceil() as u64)
            .saturating_add(max_hops.saturating_mul(self.hop_cycles));
        cycles.saturating_mul(self.cycle_ps)
    }

    /// Time of one DRAM transfer of `bytes`, in ps.
    pub fn dram_ps(&self, bytes: u64) -> Ps {
        // `as` saturates: a transfer longer than the u64 range lasts to its end.
        self.dram_latency_ps
            .saturating_add((bytes as f64 * self.dram_ps_per_byte).ceil() as Ps)
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
    fn mesh_fills_square_shells() {
        let pos: Vec<(u32, u32)> = (0..9).map(Mesh::position).collect();
        assert_eq!(
            pos,
            [
                (0, 0),
                (1, 0),
                (1, 1),
                (0, 1),
                (2, 0),
                (2, 1),
                (2, 2),
                (1, 2),
                (0, 2)
            ]
        );
        // The first 16 tiles fill a 4 x 4 square, each place once.
        let mut seen = std::collections::HashSet::new();
        for i in 0..16 {
            let (x, y) = Mesh::position(i);
            assert!(x < 4 && y < 4 && seen.insert((x, y)));
        }
        assert_eq!(Mesh::hops(0, 6), 4);
        assert_eq!(Mesh::hops(5, 5), 0);
        // Exact at the largest tile count.
        let last = crate::config::hw::MAX_TILES - 1;
        let (x, y) = Mesh::position(last);
        assert!(x < 256 && y < 256, "{x} {y}");
        assert_eq!(Mesh::position(255 * 255), (255, 0));
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
