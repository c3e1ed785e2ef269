//! The arch file's organisation sections: `[chip]` (tiles, clock, mapping policy),
//! `[tile]` (subarrays, compute unit, buffer), `[subarray]` (strings, write drivers, sense
//! amplifiers), `[noc]` (on-chip network) and `[dram]`.
//!
//! Every key is documented in `docs/config.md`; defaults live here, and the bundled
//! `arch/nandspin.toml` says where each comes from.

use serde::{Deserialize, Serialize};

use super::device::{Check, at_least, cell_area, in_range, key_err};

/// How the scheduler places layers on tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// Each weight layer gets tiles of its own, and spare tiles go to the layers that gain
    /// most (more MAC lanes and write drivers); falls back to `pack` when the chip has too
    /// few tiles for that.
    Spread,
    /// Layers fill subarrays in graph order, sharing tiles; spare tiles stay idle.
    Pack,
}

impl Mapping {
    /// The name in the arch file and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mapping::Spread => "spread",
            Mapping::Pack => "pack",
        }
    }
}

/// What happens when the network's weights do not fit on the chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Refuse the run, saying how many tiles are needed.
    Error,
    /// Split the layers into folds that each fit, and swap folds through DRAM every batch.
    Swap,
}

/// The `[chip]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChipConfig {
    /// Number of tiles.
    pub tiles: u32,
    /// Clock of the digital logic, in GHz; reports count cycles of this clock.
    pub clock_ghz: f64,
    /// How layers are placed on tiles.
    pub mapping: Mapping,
    /// What to do when the weights do not fit.
    pub on_overflow: Overflow,
}

impl Default for ChipConfig {
    fn default() -> Self {
        Self {
            tiles: 16,
            clock_ghz: 1.0,
            mapping: Mapping::Spread,
            on_overflow: Overflow::Error,
        }
    }
}

/// The number format of the compute unit's MACs and of the activations and gradients moved
/// through buffers, the network and DRAM (the training's numerics stay f32; this is the
/// costed datapath).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacPrecision {
    /// 32-bit floating point: `energy.mac_fp32_pj`, 4 bytes per value.
    Fp32,
    /// 16-bit floating point: `energy.mac_fp16_pj`, 2 bytes per value.
    Fp16,
    /// 8-bit integers, 32-bit accumulation: `energy.mac_int8_pj`, 1 byte per value.
    Int8,
}

impl MacPrecision {
    /// Bytes of one activation or gradient value.
    pub fn value_bytes(self) -> u64 {
        match self {
            MacPrecision::Fp32 => 4,
            MacPrecision::Fp16 => 2,
            MacPrecision::Int8 => 1,
        }
    }

    /// The `[energy]` entry of one MAC of this precision.
    pub fn energy_entry(self) -> &'static str {
        match self {
            MacPrecision::Fp32 => "energy.mac_fp32_pj",
            MacPrecision::Fp16 => "energy.mac_fp16_pj",
            MacPrecision::Int8 => "energy.mac_int8_pj",
        }
    }
}

/// Where a tile computes the MACs of conv and dense layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compute {
    /// In the tile's digital compute unit, beside the memory.
    #[default]
    Digital,
    /// In the NAND-SPIN subarrays that hold the layer's weights, for the phases
    /// `pim.phases` lists (`[pim]`; the other phases stay digital).
    Pim,
}

/// The `[tile]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TileConfig {
    /// Where the MACs of conv and dense layers run.
    #[serde(skip_serializing_if = "is_digital")]
    pub compute: Compute,
    /// NAND-SPIN subarrays per tile.
    pub subarrays: u32,
    /// Multiply-accumulates the compute unit does per cycle.
    pub mac_lanes: u32,
    /// Number format of the MACs and of the values moved.
    pub mac: MacPrecision,
    /// SRAM buffer for activations and gradients, in KiB.
    pub buffer_kib: f64,
    /// Area added to each tile on top of the modelled components, in mm² (0: none).
    pub area_mm2: f64,
    /// Area of one MAC lane of the compute unit, in F².
    pub mac_area_f2: f64,
    /// SRAM for the f32 master weights (`update.master = "digital"`), in KiB.
    pub master_kib: f64,
    /// Bytes the master SRAM reads or writes per cycle.
    pub master_bytes_per_cycle: f64,
    /// Area of the master SRAM per KiB, in mm² (added to the tile's with
    /// `update.master = "digital"`).
    pub master_area_mm2_per_kib: f64,
}

fn is_digital(c: &Compute) -> bool {
    *c == Compute::Digital
}

impl Default for TileConfig {
    fn default() -> Self {
        Self {
            compute: Compute::Digital,
            subarrays: 8,
            mac_lanes: 128,
            mac: MacPrecision::Fp16,
            buffer_kib: 64.0,
            area_mm2: 0.0,
            mac_area_f2: 500_000.0,
            master_kib: 128.0,
            master_bytes_per_cycle: 32.0,
            master_area_mm2_per_kib: 0.0011,
        }
    }
}

/// The `[subarray]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubarrayConfig {
    /// Rows of strings.
    pub rows: u32,
    /// Strings per row.
    pub columns: u32,
    /// Strings that can be erased and programmed at the same time.
    pub write_drivers: u32,
    /// Bits that can be sensed at the same time.
    pub sense_amps: u32,
    /// Area of one write driver, in F².
    pub write_driver_area_f2: f64,
    /// Area of one sense amplifier, in F².
    pub sense_amp_area_f2: f64,
}

impl Default for SubarrayConfig {
    fn default() -> Self {
        Self {
            rows: 128,
            columns: 64,
            write_drivers: 8,
            sense_amps: 64,
            write_driver_area_f2: 5000.0,
            sense_amp_area_f2: 2500.0,
        }
    }
}

impl SubarrayConfig {
    /// Strings one subarray holds.
    pub fn strings(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.columns)
    }
}

/// The `[noc]` section: a 2-D mesh joining the tiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NocConfig {
    /// Bytes a link carries per cycle.
    pub bytes_per_cycle: f64,
    /// Latency of one hop, in cycles.
    pub hop_cycles: u32,
}

impl Default for NocConfig {
    fn default() -> Self {
        Self {
            bytes_per_cycle: 32.0,
            hop_cycles: 1,
        }
    }
}

/// The `[dram]` section: off-chip memory for the data set and for swapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DramConfig {
    /// Bandwidth, in GB/s (10^9 bytes per second).
    pub bandwidth_gb_s: f64,
    /// Latency of one transfer, in ns.
    pub latency_ns: f64,
}

impl Default for DramConfig {
    fn default() -> Self {
        Self {
            bandwidth_gb_s: 25.6,
            latency_ns: 50.0,
        }
    }
}

/// Most tiles on a chip.
pub const MAX_TILES: u32 = 1 << 16;
/// Most subarrays per tile, rows or columns per subarray.
pub const MAX_UNITS: u32 = 1 << 16;

fn count(key: &str, v: u32, max: u32, what: &str) -> Check {
    if v == 0 {
        key_err(key, format!("must be at least 1 ({what}), got 0"))
    } else if v > max {
        key_err(key, format!("must be at most {max} ({what}), got {v}"))
    } else {
        Ok(())
    }
}

impl ChipConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        count("chip.tiles", self.tiles, MAX_TILES, "tiles on the chip")?;
        // Up to 10 GHz the cycle, rounded to whole ps, is within 0.5 % of the clock's.
        at_least(
            "chip.clock_ghz",
            self.clock_ghz,
            1e-3,
            10.0,
            "a clock in GHz",
        )
    }

    /// Length of one clock cycle, in ps, rounded to whole ps (333 ps at 3 GHz); every
    /// duration and cycle count uses this rounded cycle.
    pub fn cycle_ps(&self) -> u64 {
        ((1000.0 / self.clock_ghz).round() as u64).max(1)
    }
}

impl TileConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        count(
            "tile.subarrays",
            self.subarrays,
            MAX_UNITS,
            "subarrays per tile",
        )?;
        count("tile.mac_lanes", self.mac_lanes, 1 << 24, "MACs per cycle")?;
        at_least(
            "tile.buffer_kib",
            self.buffer_kib,
            1.0 / 1024.0,
            1e9,
            "a buffer size in KiB",
        )?;
        at_least("tile.area_mm2", self.area_mm2, 0.0, 1e6, "an area in mm²")?;
        cell_area("tile.mac_area_f2", self.mac_area_f2)?;
        at_least(
            "tile.master_kib",
            self.master_kib,
            0.0,
            1e9,
            "a size in KiB",
        )?;
        at_least(
            "tile.master_bytes_per_cycle",
            self.master_bytes_per_cycle,
            1.0 / 64.0,
            1e9,
            "a bandwidth in bytes per cycle",
        )?;
        at_least(
            "tile.master_area_mm2_per_kib",
            self.master_area_mm2_per_kib,
            0.0,
            1e3,
            "an area in mm² per KiB",
        )
    }

    /// The buffer, in bytes.
    pub fn buffer_bytes(&self) -> u64 {
        (self.buffer_kib * 1024.0).floor() as u64
    }
}

impl SubarrayConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        count("subarray.rows", self.rows, MAX_UNITS, "rows of strings")?;
        count(
            "subarray.columns",
            self.columns,
            MAX_UNITS,
            "strings per row",
        )?;
        count(
            "subarray.write_drivers",
            self.write_drivers,
            MAX_UNITS,
            "strings written at once",
        )?;
        count(
            "subarray.sense_amps",
            self.sense_amps,
            MAX_UNITS,
            "bits sensed at once",
        )?;
        cell_area("subarray.write_driver_area_f2", self.write_driver_area_f2)?;
        cell_area("subarray.sense_amp_area_f2", self.sense_amp_area_f2)
    }
}

impl NocConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        at_least(
            "noc.bytes_per_cycle",
            self.bytes_per_cycle,
            1e-3,
            1e9,
            "a link width in bytes per cycle",
        )?;
        if self.hop_cycles > 1_000_000 {
            return key_err(
                "noc.hop_cycles",
                format!("must be at most 1000000, got {}", self.hop_cycles),
            );
        }
        Ok(())
    }
}

impl DramConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        at_least(
            "dram.bandwidth_gb_s",
            self.bandwidth_gb_s,
            1e-3,
            1e6,
            "a bandwidth in GB/s",
        )?;
        at_least(
            "dram.latency_ns",
            self.latency_ns,
            0.0,
            1e9,
            "a latency in ns",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_counts_are_refused_with_their_key() {
        let c = ChipConfig {
            tiles: 0,
            ..ChipConfig::default()
        };
        let (path, msg) = c.validate().unwrap_err();
        assert_eq!(super::super::source::path_string(&path), "chip.tiles");
        assert!(msg.contains("at least 1"), "{msg}");
        let s = SubarrayConfig {
            write_drivers: 0,
            ..SubarrayConfig::default()
        };
        let (path, _) = s.validate().unwrap_err();
        assert_eq!(
            super::super::source::path_string(&path),
            "subarray.write_drivers"
        );
    }

    #[test]
    fn cycle_of_a_1_ghz_clock_is_1000_ps() {
        assert_eq!(ChipConfig::default().cycle_ps(), 1000);
        let c = ChipConfig {
            clock_ghz: 2.5,
            ..ChipConfig::default()
        };
        assert_eq!(c.cycle_ps(), 400);
    }
}

/// Smallest and largest `tech.node_nm`: the nodes of the published CMOS scaling tables
/// (Stillmaker and Baas, Integration 58, 2017: 180 nm to 7 nm).
pub const NODE_RANGE_NM: (f64, f64) = (7.0, 180.0);

/// The `[tech]` section: the process the chip is built in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TechConfig {
    /// Technology node (feature size F), in nm: areas given in F² scale with it, and the
    /// digital energies are scaled to it.
    pub node_nm: f64,
    /// Supply voltage of the chip's logic, in V (the digital energies are scaled to it).
    pub vdd_v: f64,
    /// Area of one 6T SRAM cell of the tile buffers, in F².
    pub sram_cell_area_f2: f64,
    /// Share of an SRAM macro's area that is cells (the rest: decoders, sense amplifiers).
    pub sram_array_efficiency: f64,
}

impl Default for TechConfig {
    fn default() -> Self {
        Self {
            node_nm: 45.0,
            vdd_v: 0.9,
            sram_cell_area_f2: 190.0,
            sram_array_efficiency: 0.7,
        }
    }
}

impl TechConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        let (lo, hi) = NODE_RANGE_NM;
        if !(self.node_nm.is_finite() && (lo..=hi).contains(&self.node_nm)) {
            return key_err(
                "tech.node_nm",
                format!(
                    "must be a node from {lo} to {hi} nm, the range of the published scaling tables (Stillmaker and Baas, 2017), got {}",
                    crate::config::device::num(self.node_nm)
                ),
            );
        }
        let (vlo, vhi) = crate::hw::scaling::VDD_RANGE_V;
        if !(self.vdd_v.is_finite() && (vlo..=vhi).contains(&self.vdd_v)) {
            return key_err(
                "tech.vdd_v",
                format!(
                    "must be a supply from {vlo} to {vhi} V, got {}",
                    crate::config::device::num(self.vdd_v)
                ),
            );
        }
        cell_area("tech.sram_cell_area_f2", self.sram_cell_area_f2)?;
        in_range(
            "tech.sram_array_efficiency",
            self.sram_array_efficiency,
            0.0,
            1.0,
            "a share of the macro's area",
        )
    }

    /// Area of `f2` F² at this node, in mm².
    pub fn mm2(&self, f2: f64) -> f64 {
        f2 * self.node_nm * self.node_nm * 1e-12
    }
}
