//! The arch file's device sections: `[device]` (the MTJ and its switching), `[string]` (the
//! NAND-SPIN string and its heavy-metal strip), `[update]` (how weight updates are written)
//! and `[energy]` (per-action energy overrides).
//!
//! Every key is documented in `docs/config.md`; defaults live here, in one place, and the
//! bundled `arch/nandspin.toml` says where each comes from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::source::{KeyPath, Seg, parse_dotted};

/// Which law gives the probability that one program pulse switches an MTJ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchingModel {
    /// Precessional (Sun 2004, Butler 2012): for currents above `ic0_ua`, pulses of ns.
    Precessional,
    /// Thermally activated (Néel–Brown): long pulses, any current.
    Thermal,
    /// A table of probabilities per pulse width (`fixed_pulse_ns`, `fixed_p_switch`).
    Fixed,
    /// Measured data: P_sw over pulse width and current from the CSV file
    /// `measured_csv` (see [`crate::device::measured`]).
    Measured,
}

/// How the write driver drives a program pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drive {
    /// A current source: the current stays at `program_current_ua` when the MTJ switches.
    Current,
    /// A voltage source set to `program_current_ua * r_ap_ohm`: the current rises to
    /// `V / r_p_ohm` once the MTJ has switched.
    Voltage,
}

/// The `[device]` section: one MTJ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {
    /// Switching law of a program pulse.
    pub switching: SwitchingModel,
    /// Thermal stability factor Δ = E_b / k_B T (dimensionless).
    pub delta: f64,
    /// Gilbert damping α of the free layer (dimensionless).
    pub damping: f64,
    /// Anisotropy field μ0·H_k of the free layer, in tesla.
    pub mu0_hk_t: f64,
    /// Critical switching current I_c0 (AP -> P), in µA.
    pub ic0_ua: f64,
    /// Attempt time τ0 of thermal switching, in ns.
    pub tau0_ns: f64,
    /// Resistance in the parallel state (a stored 1), in Ω.
    pub r_p_ohm: f64,
    /// Resistance in the antiparallel state (erased, a stored 0), in Ω.
    pub r_ap_ohm: f64,
    /// Current or voltage drive of program pulses.
    pub drive: Drive,
    /// Write-driver energy per program pulse on top of the MTJ's I²Rt, in pJ.
    pub program_overhead_pj: f64,
    /// Read current through one MTJ, in µA.
    pub read_current_ua: f64,
    /// Duration of one read (sensing a string's bits in parallel), in ns.
    pub read_ns: f64,
    /// Sense-amplifier energy per bit read on top of the MTJ's I²Rt, in pJ.
    pub read_overhead_pj: f64,
    /// `switching = "fixed"`: pulse widths of the table, in ns, strictly increasing.
    pub fixed_pulse_ns: Vec<f64>,
    /// `switching = "fixed"`: switching probability at each width (0 at 0 ns is implied;
    /// linear in between; the last value beyond the last width).
    pub fixed_p_switch: Vec<f64>,
    /// `switching = "measured"`: the CSV file of measured switching probabilities over pulse
    /// width and current (relative paths are relative to the arch file's folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_csv: Option<PathBuf>,
    /// The surface read from `measured_csv`, filled when the arch file is loaded
    /// ([`crate::config::arch::load_files`]); `None` for the other laws.
    #[serde(skip)]
    pub measured: Option<Arc<crate::device::measured::Surface>>,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            switching: SwitchingModel::Precessional,
            delta: 40.0,
            damping: 0.02,
            mu0_hk_t: 0.3,
            ic0_ua: 30.0,
            tau0_ns: 1.0,
            r_p_ohm: 3000.0,
            r_ap_ohm: 6000.0,
            drive: Drive::Current,
            program_overhead_pj: 0.01,
            read_current_ua: 10.0,
            read_ns: 1.0,
            read_overhead_pj: 0.02,
            fixed_pulse_ns: vec![1.0, 3.0],
            fixed_p_switch: vec![0.84, 1.0],
            measured_csv: None,
            measured: None,
        }
    }
}

/// The `[string]` section: one NAND-SPIN string and its heavy-metal (HM) strip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StringConfig {
    /// MTJs per string, N.
    pub mtjs: u32,
    /// How many MTJs of one string are programmed at once.
    pub program_parallelism: u32,
    /// SOT erase current along the HM strip, in µA.
    pub erase_current_ua: f64,
    /// Erase pulse width, in ns.
    pub erase_pulse_ns: f64,
    /// SOT critical current of the strip's MTJs, in µA: an erase switches a string only
    /// when `erase_current_ua` reaches it (see `variation.erase_threshold`).
    pub erase_critical_ua: f64,
    /// Strip resistance in Ω; when absent it is computed from resistivity and geometry.
    pub strip_resistance_ohm: Option<f64>,
    /// Resistivity of the heavy metal, in µΩ·cm.
    pub hm_resistivity_uohm_cm: f64,
    /// Strip length, in nm.
    pub hm_length_nm: f64,
    /// Strip width, in nm.
    pub hm_width_nm: f64,
    /// Strip thickness, in nm.
    pub hm_thickness_nm: f64,
    /// Driver energy per erase pulse on top of the strip's I²Rt, in pJ.
    pub erase_overhead_pj: f64,
    /// Probability that an erase leaves one MTJ that held a 1 still at 1.
    pub erase_failure_p: f64,
    /// Area of one MTJ of a string with its share of the string's access transistors and
    /// strip, in F² (F = `tech.node_nm`).
    pub cell_area_f2: f64,
}

impl Default for StringConfig {
    fn default() -> Self {
        Self {
            mtjs: 8,
            program_parallelism: 1,
            erase_current_ua: 120.0,
            erase_pulse_ns: 1.0,
            erase_critical_ua: 80.0,
            strip_resistance_ohm: None,
            hm_resistivity_uohm_cm: 200.0,
            hm_length_nm: 480.0,
            hm_width_nm: 50.0,
            hm_thickness_nm: 5.0,
            erase_overhead_pj: 0.01,
            erase_failure_p: 0.0,
            cell_area_f2: 13.0,
        }
    }
}

impl StringConfig {
    /// The HM strip's resistance in Ω: given, or ρ·L / (w·t).
    pub fn strip_ohm(&self) -> f64 {
        self.strip_resistance_ohm.unwrap_or_else(|| {
            // µΩ·cm -> Ω·m is 1e-8; nm -> m is 1e-9 (length over an area: 1e9 net).
            self.hm_resistivity_uohm_cm * 1e-8 * self.hm_length_nm
                / (self.hm_width_nm * self.hm_thickness_nm)
                * 1e9
        })
    }
}

/// Program pulse widths: one for every bit, or one per bit position.
#[derive(Debug, Clone, PartialEq)]
pub enum PulseWidths {
    /// The same width for every bit, in ns.
    One(f64),
    /// One width per bit position, most significant bit first, in ns.
    PerBit(Vec<f64>),
}

impl PulseWidths {
    /// The width for bit `bit` (0 = least significant) of a `bits`-bit code, in ns.
    pub fn for_bit(&self, bit: u32, bits: u32) -> f64 {
        match self {
            PulseWidths::One(w) => *w,
            PulseWidths::PerBit(v) => v[(bits - 1 - bit) as usize],
        }
    }
}

impl Serialize for PulseWidths {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PulseWidths::One(w) => s.serialize_f64(*w),
            PulseWidths::PerBit(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for PulseWidths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PulseWidths;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a pulse width in ns, or a list of widths (MSB first)")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PulseWidths, E> {
                Ok(PulseWidths::One(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PulseWidths, E> {
                Ok(PulseWidths::One(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PulseWidths, E> {
                Ok(PulseWidths::One(v as f64))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PulseWidths, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element::<f64>()? {
                    v.push(x);
                }
                Ok(PulseWidths::PerBit(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Where the optimiser's copy of each stored weight lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Master {
    /// No copy: every update starts from the value the strings hold.
    None,
    /// An f32 master copy in SRAM on the tile: the optimiser updates it, and a string is
    /// rewritten from it when one of its codes is `write_threshold_lsb` or more off.
    Digital,
}

/// When a string write starts with the SOT erase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EraseMode {
    /// Every string write erases first.
    Always,
    /// Only when a 1 the string holds must become 0; otherwise only the missing 1s are
    /// programmed.
    WhenNeeded,
}

/// The `[update]` section: how an intended weight update is written to the strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateConfig {
    /// STT program pulse width in ns: one number, or a list with one per bit, MSB first.
    pub program_pulse_ns: PulseWidths,
    /// STT program current through the MTJ at the start of the pulse, in µA.
    pub program_current_ua: f64,
    /// Leave a string alone when the code it holds already equals the intended one.
    pub skip_unchanged: bool,
    /// `none` (updates start from the held values) or `digital` (an f32 master copy).
    pub master: Master,
    /// Rewrite a string only when one of its codes is at least this many LSBs off the
    /// intended code (1: whenever the bits differ).
    pub write_threshold_lsb: u32,
    /// `always` erase before programming, or only `when_needed`.
    pub erase: EraseMode,
    /// Read back and re-pulse the N most significant bits of each code (0: no verify).
    pub verify_bits: u32,
    /// With `verify_bits > 0`: how many times a string may be re-pulsed after the first
    /// attempt.
    pub verify_max_retries: u32,
    /// The key `update.verify` of earlier versions, refused with a pointer to
    /// `verify_bits`.
    #[serde(default, skip_serializing)]
    pub verify: Option<toml::Value>,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        Self {
            program_pulse_ns: PulseWidths::One(3.0),
            program_current_ua: 120.0,
            skip_unchanged: true,
            master: Master::None,
            write_threshold_lsb: 1,
            erase: EraseMode::Always,
            verify_bits: 0,
            verify_max_retries: 3,
            verify: None,
        }
    }
}

/// The `[energy]` section: the energy table, pJ per action (Accelergy-style). Device
/// actions are absent by default, meaning "from the device physics"; a number replaces the
/// physics. The digital actions have fixed defaults (sources in `arch/nandspin.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnergyConfig {
    /// Energy of one HM-strip erase pulse (a whole string), in pJ.
    pub hm_erase_pulse_pj: Option<f64>,
    /// Energy of one MTJ program pulse, whatever its outcome, in pJ.
    pub mtj_program_pulse_pj: Option<f64>,
    /// Energy of reading one MTJ, in pJ.
    pub mtj_read_pj: Option<f64>,
    /// Energy of one multiply-accumulate, in pJ, replacing the figure of `tile.mac`'s
    /// precision when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_pj: Option<f64>,
    /// Energy of one fp32 multiply-accumulate (`tile.mac = "fp32"`), in pJ.
    pub mac_fp32_pj: f64,
    /// Energy of one fp16 multiply-accumulate (`tile.mac = "fp16"`), in pJ.
    pub mac_fp16_pj: f64,
    /// Energy of one 8-bit multiply with 32-bit accumulate (`tile.mac = "int8"`), in pJ.
    pub mac_int8_pj: f64,
    /// Energy of one byte read from or written to a tile's SRAM buffer, in pJ.
    pub buffer_byte_pj: f64,
    /// Energy of moving one byte over one hop of the on-chip network, in pJ.
    pub noc_byte_hop_pj: f64,
    /// Energy of one byte read from or written to DRAM, in pJ.
    pub dram_byte_pj: f64,
    /// Leakage power of one tile (peripherals, buffer, compute unit), in mW (1 mW for
    /// 1 ns is 1 pJ).
    pub tile_leakage_mw: f64,
    /// Energy of one byte read from or written to the master-weight SRAM, in pJ.
    pub master_byte_pj: f64,
    /// Leakage power of the master-weight SRAM per KiB, in mW (with
    /// `update.master = "digital"`).
    pub master_leakage_mw_per_kib: f64,
    /// Energy of one random bit from the LFSR (`weights.random_source = "lfsr"`), in pJ.
    pub rng_bit_pj: f64,
    /// The node (nm) and supply (V) each digital entry was measured at; listed entries are
    /// scaled to `tech.node_nm` and `tech.vdd_v` ([`crate::hw::scaling`]).
    pub measured_at: BTreeMap<String, [f64; 2]>,
}

impl Default for EnergyConfig {
    fn default() -> Self {
        Self {
            hm_erase_pulse_pj: None,
            mtj_program_pulse_pj: None,
            mtj_read_pj: None,
            mac_pj: None,
            mac_fp32_pj: 4.6,
            mac_fp16_pj: 1.5,
            mac_int8_pj: 0.3,
            buffer_byte_pj: 1.25,
            noc_byte_hop_pj: 0.5,
            dram_byte_pj: 160.0,
            tile_leakage_mw: 1.0,
            master_byte_pj: 1.25,
            master_leakage_mw_per_kib: 0.01,
            rng_bit_pj: 0.03,
            measured_at: crate::hw::scaling::SCALABLE
                .iter()
                .filter(|&&k| k != "mac_pj")
                .map(|&k| (k.to_string(), [45.0, 0.9]))
                .collect(),
        }
    }
}

/// Largest tolerated leakage power of one tile, in mW.
pub const MAX_LEAKAGE_MW: f64 = 1e6;

/// Largest pulse width accepted anywhere, in ns (1 ms).
pub const MAX_PULSE_NS: f64 = 1e6;
/// Smallest pulse width accepted anywhere, in ns (1 ps, the time resolution).
pub const MIN_PULSE_NS: f64 = 1e-3;
/// Largest current accepted anywhere, in µA (100 mA).
pub const MAX_CURRENT_UA: f64 = 1e5;
/// Largest tolerated per-action overhead or energy override, in pJ.
pub const MAX_ENERGY_PJ: f64 = 1e6;
/// Smallest Gilbert damping accepted (below any ferromagnet's; keeps τ_D finite).
pub const MIN_DAMPING: f64 = 1e-4;
/// Smallest anisotropy field accepted, in tesla.
pub const MIN_MU0_HK_T: f64 = 1e-3;
/// Smallest critical current accepted, in µA.
pub const MIN_IC0_UA: f64 = 0.1;
/// Largest strip resistance accepted, given or computed, in Ω.
pub const MAX_STRIP_OHM: f64 = 1e9;

/// Most MTJs per string.
pub const MAX_MTJS: u32 = 64;
/// Largest `update.write_threshold_lsb` (a 16-bit code spans 65,535 LSBs).
pub const MAX_THRESHOLD_LSB: u32 = 65_535;

/// Most verify retries.
pub const MAX_VERIFY_RETRIES: u32 = 255;

pub(crate) type Check = Result<(), (KeyPath, String)>;

/// A number for messages: plain, or in exponent form when very small or large.
pub(crate) fn num(v: f64) -> String {
    if v != 0.0 && v.is_finite() && (v.abs() < 1e-3 || v.abs() >= 1e7) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

pub(crate) fn key_err(key: &str, msg: String) -> Check {
    Err((parse_dotted(key), msg))
}

/// `lo < v <= hi` (or `lo <= v` when `lo_inclusive`), finite.
pub(crate) fn in_range(key: &str, v: f64, lo: f64, hi: f64, what: &str) -> Check {
    if v.is_finite() && v > lo && v <= hi {
        Ok(())
    } else {
        key_err(
            key,
            format!("must be {what} (> {lo} and <= {hi:e}), got {}", num(v)),
        )
    }
}

/// `lo <= v <= hi`, finite.
pub(crate) fn at_least(key: &str, v: f64, lo: f64, hi: f64, what: &str) -> Check {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        key_err(
            key,
            format!("must be {what} from {lo:e} to {hi:e}, got {}", num(v)),
        )
    }
}

/// A `[node_nm, vdd_v]` pair: a node within the scaling tables' range and a supply voltage.
pub(crate) fn measured_at(key: &str, [node, vdd]: [f64; 2]) -> Check {
    let (lo, hi) = crate::config::hw::NODE_RANGE_NM;
    let (vlo, vhi) = crate::hw::scaling::VDD_RANGE_V;
    if !(node.is_finite() && (lo..=hi).contains(&node)) {
        return key_err(
            key,
            format!(
                "the node must be from {lo} to {hi} nm, the range of the published scaling tables (Stillmaker and Baas, 2017), got {}",
                num(node)
            ),
        );
    }
    if !(vdd.is_finite() && (vlo..=vhi).contains(&vdd)) {
        return key_err(
            key,
            format!("the supply must be from {vlo} to {vhi} V, got {}", num(vdd)),
        );
    }
    Ok(())
}

/// A cell or component area in F²: above 0, at most 1e9.
pub(crate) fn cell_area(key: &str, v: f64) -> Check {
    in_range(key, v, 0.0, 1e9, "an area in F² (feature size squared)")
}

pub(crate) fn pulse(key: &str, v: f64) -> Check {
    if v.is_finite() && (MIN_PULSE_NS..=MAX_PULSE_NS).contains(&v) {
        Ok(())
    } else {
        key_err(
            key,
            format!(
                "must be a pulse width from {MIN_PULSE_NS} ns (1 ps) to {MAX_PULSE_NS:e} ns, got {}",
                num(v)
            ),
        )
    }
}

pub(crate) fn current(key: &str, v: f64) -> Check {
    in_range(key, v, 0.0, MAX_CURRENT_UA, "a positive current in µA")
}

pub(crate) fn energy(key: &str, v: f64) -> Check {
    if v.is_finite() && (0.0..=MAX_ENERGY_PJ).contains(&v) {
        Ok(())
    } else {
        key_err(
            key,
            format!(
                "must be an energy from 0 to {MAX_ENERGY_PJ:e} pJ, got {}",
                num(v)
            ),
        )
    }
}

impl DeviceConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        if !(self.delta.is_finite() && (5.0..=200.0).contains(&self.delta)) {
            return key_err(
                "device.delta",
                format!(
                    "thermal stability factor must be from 5 to 200 (memories use 40-80), got {}",
                    self.delta
                ),
            );
        }
        at_least(
            "device.damping",
            self.damping,
            MIN_DAMPING,
            1.0,
            "a Gilbert damping",
        )?;
        at_least(
            "device.mu0_hk_t",
            self.mu0_hk_t,
            MIN_MU0_HK_T,
            10.0,
            "a field in tesla",
        )?;
        at_least(
            "device.ic0_ua",
            self.ic0_ua,
            MIN_IC0_UA,
            MAX_CURRENT_UA,
            "a current in µA",
        )?;
        in_range(
            "device.tau0_ns",
            self.tau0_ns,
            0.0,
            1e3,
            "an attempt time in ns",
        )?;
        in_range(
            "device.r_p_ohm",
            self.r_p_ohm,
            0.0,
            1e9,
            "a resistance in Ω",
        )?;
        in_range(
            "device.r_ap_ohm",
            self.r_ap_ohm,
            0.0,
            1e9,
            "a resistance in Ω",
        )?;
        if self.r_ap_ohm <= self.r_p_ohm {
            return key_err(
                "device.r_ap_ohm",
                format!(
                    "must exceed device.r_p_ohm ({} Ω): an MTJ's antiparallel state has the higher resistance, got {}",
                    self.r_p_ohm, self.r_ap_ohm
                ),
            );
        }
        energy("device.program_overhead_pj", self.program_overhead_pj)?;
        current("device.read_current_ua", self.read_current_ua)?;
        pulse("device.read_ns", self.read_ns)?;
        energy("device.read_overhead_pj", self.read_overhead_pj)?;
        if self.switching == SwitchingModel::Fixed {
            self.validate_table()?;
        }
        if self.switching == SwitchingModel::Measured {
            match &self.measured_csv {
                None => {
                    return key_err(
                        "device.switching",
                        "\"measured\" needs device.measured_csv, the CSV file of measured switching probabilities (columns pulse_ns, current_uA, p_switch; see docs/config.md)".into(),
                    );
                }
                Some(p) if p.as_os_str().is_empty() => {
                    return key_err(
                        "device.measured_csv",
                        "must name a CSV file, got an empty path".into(),
                    );
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn validate_table(&self) -> Check {
        let (t, p) = (&self.fixed_pulse_ns, &self.fixed_p_switch);
        if t.is_empty() {
            return key_err(
                "device.fixed_pulse_ns",
                "switching = \"fixed\" needs at least one pulse width".into(),
            );
        }
        if t.len() != p.len() {
            return key_err(
                "device.fixed_p_switch",
                format!(
                    "has {} values but device.fixed_pulse_ns has {}; give one probability per width",
                    p.len(),
                    t.len()
                ),
            );
        }
        let at = |key: &str, i: usize| {
            let mut k = parse_dotted(key);
            k.push(Seg::Index(i));
            k
        };
        for (i, &w) in t.iter().enumerate() {
            if let Err((_, m)) = pulse("device.fixed_pulse_ns", w) {
                return Err((at("device.fixed_pulse_ns", i), m));
            }
            if i > 0 && w <= t[i - 1] {
                return Err((
                    at("device.fixed_pulse_ns", i),
                    format!(
                        "widths must increase strictly, got {} after {}",
                        w,
                        t[i - 1]
                    ),
                ));
            }
        }
        for (i, &q) in p.iter().enumerate() {
            if !(0.0..=1.0).contains(&q) {
                return Err((
                    at("device.fixed_p_switch", i),
                    format!("must be a probability from 0 to 1, got {q}"),
                ));
            }
            if i > 0 && q < p[i - 1] {
                return Err((
                    at("device.fixed_p_switch", i),
                    format!(
                        "a longer pulse cannot switch less often: {q} after {}",
                        p[i - 1]
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl StringConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        if !(1..=MAX_MTJS).contains(&self.mtjs) {
            return key_err(
                "string.mtjs",
                format!("must be from 1 to {MAX_MTJS}, got {}", self.mtjs),
            );
        }
        if !(1..=self.mtjs).contains(&self.program_parallelism) {
            return key_err(
                "string.program_parallelism",
                format!(
                    "must be from 1 to string.mtjs ({}), got {}",
                    self.mtjs, self.program_parallelism
                ),
            );
        }
        cell_area("string.cell_area_f2", self.cell_area_f2)?;
        current("string.erase_current_ua", self.erase_current_ua)?;
        current("string.erase_critical_ua", self.erase_critical_ua)?;
        if self.erase_current_ua < self.erase_critical_ua {
            return key_err(
                "string.erase_current_ua",
                format!(
                    "{} µA is below string.erase_critical_ua ({} µA): such an erase would switch nothing; raise the current or lower the critical current",
                    num(self.erase_current_ua),
                    num(self.erase_critical_ua)
                ),
            );
        }
        pulse("string.erase_pulse_ns", self.erase_pulse_ns)?;
        if let Some(r) = self.strip_resistance_ohm {
            in_range(
                "string.strip_resistance_ohm",
                r,
                0.0,
                1e9,
                "a resistance in Ω",
            )?;
        }
        in_range(
            "string.hm_resistivity_uohm_cm",
            self.hm_resistivity_uohm_cm,
            0.0,
            1e6,
            "a resistivity in µΩ·cm",
        )?;
        for (k, v) in [
            ("string.hm_length_nm", self.hm_length_nm),
            ("string.hm_width_nm", self.hm_width_nm),
            ("string.hm_thickness_nm", self.hm_thickness_nm),
        ] {
            in_range(k, v, 0.0, 1e6, "a length in nm")?;
        }
        let r = self.strip_ohm();
        if !(r.is_finite() && r > 0.0 && r <= MAX_STRIP_OHM) {
            return key_err(
                "string",
                format!(
                    "the strip's resistance rho L / (w t) = {r:.3e} Ω is outside 0 to {MAX_STRIP_OHM:e} Ω; check the hm_* geometry or give string.strip_resistance_ohm"
                ),
            );
        }
        energy("string.erase_overhead_pj", self.erase_overhead_pj)?;
        if !(0.0..1.0).contains(&self.erase_failure_p) {
            return key_err(
                "string.erase_failure_p",
                format!(
                    "must be a probability from 0 to below 1, got {}",
                    self.erase_failure_p
                ),
            );
        }
        Ok(())
    }
}

impl UpdateConfig {
    /// Checks ranges against a `bits`-bit code; errors name the key.
    pub fn validate(&self, bits: u32) -> Check {
        match &self.program_pulse_ns {
            PulseWidths::One(w) => pulse("update.program_pulse_ns", *w)?,
            PulseWidths::PerBit(v) => {
                if v.len() != bits as usize {
                    return key_err(
                        "update.program_pulse_ns",
                        format!(
                            "lists {} widths but weights.bits is {bits}; give one per bit, MSB first",
                            v.len()
                        ),
                    );
                }
                for (i, &w) in v.iter().enumerate() {
                    if let Err((mut k, m)) = pulse("update.program_pulse_ns", w) {
                        k.push(Seg::Index(i));
                        return Err((k, m));
                    }
                }
            }
        }
        current("update.program_current_ua", self.program_current_ua)?;
        if self.verify.is_some() {
            return key_err(
                "update.verify",
                format!(
                    "was replaced by update.verify_bits: the number of most significant bits read back and re-pulsed, 0 to weights.bits (verify = true is verify_bits = {bits})"
                ),
            );
        }
        if self.verify_bits > bits {
            return key_err(
                "update.verify_bits",
                format!(
                    "must be from 0 to weights.bits ({bits}), got {}",
                    self.verify_bits
                ),
            );
        }
        if !(1..=MAX_THRESHOLD_LSB).contains(&self.write_threshold_lsb) {
            return key_err(
                "update.write_threshold_lsb",
                format!(
                    "must be a whole number of LSBs from 1 to {MAX_THRESHOLD_LSB}, got {}",
                    self.write_threshold_lsb
                ),
            );
        }
        if self.verify_max_retries > MAX_VERIFY_RETRIES {
            return key_err(
                "update.verify_max_retries",
                format!(
                    "must be from 0 to {MAX_VERIFY_RETRIES}, got {}",
                    self.verify_max_retries
                ),
            );
        }
        Ok(())
    }
}

impl EnergyConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        for (k, v) in [
            ("energy.hm_erase_pulse_pj", self.hm_erase_pulse_pj),
            ("energy.mtj_program_pulse_pj", self.mtj_program_pulse_pj),
            ("energy.mtj_read_pj", self.mtj_read_pj),
        ] {
            if let Some(v) = v {
                energy(k, v)?;
            }
        }
        if let Some(v) = self.mac_pj {
            energy("energy.mac_pj", v)?;
        }
        for (k, v) in [
            ("energy.mac_fp32_pj", self.mac_fp32_pj),
            ("energy.mac_fp16_pj", self.mac_fp16_pj),
            ("energy.mac_int8_pj", self.mac_int8_pj),
            ("energy.buffer_byte_pj", self.buffer_byte_pj),
            ("energy.noc_byte_hop_pj", self.noc_byte_hop_pj),
            ("energy.dram_byte_pj", self.dram_byte_pj),
            ("energy.master_byte_pj", self.master_byte_pj),
            ("energy.rng_bit_pj", self.rng_bit_pj),
        ] {
            energy(k, v)?;
        }
        at_least(
            "energy.master_leakage_mw_per_kib",
            self.master_leakage_mw_per_kib,
            0.0,
            MAX_LEAKAGE_MW,
            "a power in mW per KiB",
        )?;
        at_least(
            "energy.tile_leakage_mw",
            self.tile_leakage_mw,
            0.0,
            MAX_LEAKAGE_MW,
            "a power in mW",
        )?;
        for (name, &at) in &self.measured_at {
            let key = format!("energy.measured_at.{name}");
            if !crate::hw::scaling::SCALABLE.contains(&name.as_str()) {
                return key_err(
                    &key,
                    format!(
                        "`{name}` is not scaled by the node: only the digital entries are ({}); DRAM is another chip, leakage and the device actions are not scaled",
                        crate::hw::scaling::SCALABLE.join(", ")
                    ),
                );
            }
            measured_at(&key, at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_strip_is_about_4_kohm() {
        let r = StringConfig::default().strip_ohm();
        assert!((r - 3840.0).abs() < 1e-6, "{r}");
    }

    #[test]
    fn per_bit_widths_are_msb_first() {
        let w = PulseWidths::PerBit(vec![3.0, 2.0, 1.0]);
        assert_eq!(w.for_bit(2, 3), 3.0);
        assert_eq!(w.for_bit(0, 3), 1.0);
        assert_eq!(PulseWidths::One(1.5).for_bit(7, 8), 1.5);
    }

    #[test]
    fn ranges() {
        let mut d = DeviceConfig::default();
        assert!(d.validate().is_ok());
        d.damping = 0.0;
        assert!(d.validate().is_err());
        d.damping = 0.02;
        d.delta = 1.0;
        assert!(d.validate().is_err());
        d.delta = 40.0;
        d.r_ap_ohm = 2000.0;
        assert!(d.validate().is_err());
        let mut u = UpdateConfig::default();
        assert!(u.validate(8).is_ok());
        u.program_pulse_ns = PulseWidths::One(0.0);
        assert!(u.validate(8).is_err());
        u.program_pulse_ns = PulseWidths::PerBit(vec![1.0; 7]);
        assert!(u.validate(8).is_err());
        u.program_pulse_ns = PulseWidths::PerBit(vec![1.0; 8]);
        assert!(u.validate(8).is_ok());
        u.program_current_ua = -5.0;
        assert!(u.validate(8).is_err());
    }
}
