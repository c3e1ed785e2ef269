//! The architecture file (`arch/*.toml`): how the hardware holds the weights.
//!
//! Every key is documented in `docs/config.md`; defaults live here, in one place.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Loaded;
use super::device::{DeviceConfig, EnergyConfig, StringConfig, SwitchingModel, UpdateConfig};
use super::hw::{ChipConfig, DramConfig, NocConfig, SubarrayConfig, TechConfig, TileConfig};
use super::source::{KeyPath, parse_dotted};
use super::variation::VariationConfig;
use crate::device::measured::{self, Surface};
use crate::error::InputError;

/// The schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole architecture description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchConfig {
    /// Version of the file format; must be [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// A short name for reports (defaults to the file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// How weights are stored and updated.
    #[serde(default)]
    pub weights: WeightsConfig,
    /// The MTJ and its switching.
    #[serde(default)]
    pub device: DeviceConfig,
    /// The NAND-SPIN string and its heavy-metal strip.
    #[serde(default)]
    pub string: StringConfig,
    /// How weight updates are written to the strings.
    #[serde(default)]
    pub update: UpdateConfig,
    /// The chip: tiles, clock and mapping policy.
    #[serde(default)]
    pub chip: ChipConfig,
    /// One tile: subarrays, compute unit, buffer.
    #[serde(default)]
    pub tile: TileConfig,
    /// One subarray: strings, write drivers, sense amplifiers.
    #[serde(default)]
    pub subarray: SubarrayConfig,
    /// The on-chip network.
    #[serde(default)]
    pub noc: NocConfig,
    /// Off-chip DRAM.
    #[serde(default)]
    pub dram: DramConfig,
    /// The energy table: pJ per action (device actions default to the physics).
    #[serde(default)]
    pub energy: EnergyConfig,
    /// Device-to-device and cycle-to-cycle variation (none by default).
    #[serde(default)]
    pub variation: VariationConfig,
    /// The process: technology node and SRAM cells (area).
    #[serde(default)]
    pub tech: TechConfig,
    /// STT-MRAM cells (`weights.store = "stt"`); left out of records when default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub stt: crate::tech::stt::SttConfig,
    /// SOT-MRAM cells (`weights.store = "sot"`); left out of records when default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub sot: crate::tech::sot::SotConfig,
    /// SRAM cells (`weights.store = "sram"`); left out of records when default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub sram: crate::tech::sram::SramConfig,
    /// Processing in memory (`tile.compute = "pim"`); left out of records when default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pim: crate::pim::PimConfig,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

impl Default for ArchConfig {
    fn default() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            name: None,
            weights: WeightsConfig::default(),
            device: DeviceConfig::default(),
            string: StringConfig::default(),
            update: UpdateConfig::default(),
            chip: ChipConfig::default(),
            tile: TileConfig::default(),
            subarray: SubarrayConfig::default(),
            noc: NocConfig::default(),
            dram: DramConfig::default(),
            energy: EnergyConfig::default(),
            variation: VariationConfig::default(),
            tech: TechConfig::default(),
            stt: Default::default(),
            sot: Default::default(),
            sram: Default::default(),
            pim: Default::default(),
        }
    }
}

/// Smallest `weights.range` and `weights.auto_range_headroom`.
pub const MIN_RANGE: f64 = 1e-6;
/// Largest `weights.range` and `weights.auto_range_headroom`.
pub const MAX_RANGE: f64 = 1e6;

/// Top-level keys of the arch file (used to route `--set` overrides).
pub const ARCH_KEYS: &[&str] = &[
    "schema_version",
    "name",
    "weights",
    "device",
    "string",
    "update",
    "chip",
    "tile",
    "subarray",
    "noc",
    "dram",
    "energy",
    "variation",
    "tech",
    "stt",
    "sot",
    "sram",
    "pim",
];

/// Which weight store holds the trainable parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// Ideal f32 weights (the software reference).
    Float,
    /// B-bit fixed-point codes, per-layer scale, exact writes.
    Fixed,
    /// B-bit codes held bit by bit in NAND-SPIN strings, written through the device model.
    Nandspin,
    /// B-bit codes in STT-MRAM words (1T1MTJ cells), written by STT in both directions.
    Stt,
    /// B-bit codes in SOT-MRAM words (2T1MTJ cells), written through heavy-metal lines.
    Sot,
    /// B-bit codes in SRAM words (6T cells): exact, and leaking.
    Sram,
}

impl StoreKind {
    /// Its name in the arch file.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Float => "float",
            StoreKind::Fixed => "fixed",
            StoreKind::Nandspin => "nandspin",
            StoreKind::Stt => "stt",
            StoreKind::Sot => "sot",
            StoreKind::Sram => "sram",
        }
    }

    /// Whether the weights live in simulated cells of a memory technology (every store
    /// but `float` and `fixed`).
    pub fn has_cells(self) -> bool {
        crate::tech::registration(self).is_some()
    }
}

/// How a signed integer weight code is laid out in B bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Two's complement: codes -2^(B-1) .. 2^(B-1)-1.
    TwosComplement,
    /// A sign bit (MSB) and a B-1-bit magnitude: -(2^(B-1)-1) .. 2^(B-1)-1.
    SignMagnitude,
    /// Unsigned code minus 2^(B-1): -2^(B-1) .. 2^(B-1)-1.
    OffsetBinary,
}

/// How an intended (real-valued) weight becomes an integer code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Round to the nearest code (ties away from zero).
    Nearest,
    /// Round up with probability equal to the fractional part (unbiased).
    Stochastic,
}

/// Whether codes are stored complemented when that takes fewer 1s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inversion {
    /// Codes are stored as they are.
    None,
    /// Each code has a flag MTJ above its most significant bit; a code whose complement
    /// (with the flag at 1) has fewer 1s is stored complemented. Decoding reads the flag.
    FewerOnes,
}

/// Where the random bits of stochastic rounding come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RandomSource {
    /// A digital linear-feedback shift register: `energy.rng_bit_pj` per bit.
    Lfsr,
    /// MTJ pulses at the width where the device switches with probability 0.5, sensed and
    /// reset, on the subarrays' write drivers.
    Mtj,
}

/// Where the biases live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiasPlacement {
    /// In digital f32 registers next to the compute unit: exact.
    Digital,
    /// In the same store, with the same format, as the weights.
    Store,
}

/// The representable range of a layer's weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeSpec {
    /// Per layer: the smallest power of two at least `auto_range_headroom` times the
    /// initialisation bound 1/sqrt(fan_in).
    Auto,
    /// The same for every layer: weights in [-r, r).
    Fixed(f64),
}

impl Serialize for RangeSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RangeSpec::Auto => s.serialize_str("auto"),
            RangeSpec::Fixed(r) => s.serialize_f64(*r),
        }
    }
}

impl<'de> Deserialize<'de> for RangeSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RangeSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\" or a positive number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RangeSpec, E> {
                if v == "auto" {
                    Ok(RangeSpec::Auto)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RangeSpec, E> {
                Ok(RangeSpec::Fixed(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RangeSpec, E> {
                Ok(RangeSpec::Fixed(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RangeSpec, E> {
                Ok(RangeSpec::Fixed(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `[weights]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeightsConfig {
    /// `float`, `fixed` or `nandspin`.
    pub store: StoreKind,
    /// Bits per weight code, B (2..=16).
    pub bits: u32,
    /// Code layout in bits.
    pub encoding: Encoding,
    /// Rounding of intended updates to codes.
    pub rounding: Rounding,
    /// Representable range: `"auto"` (per layer) or a number r (weights in [-r, r)).
    pub range: RangeSpec,
    /// With `range = "auto"`: how many times the init bound the range must cover.
    pub auto_range_headroom: f64,
    /// `digital` (exact f32 registers) or `store` (quantised like the weights).
    pub biases: BiasPlacement,
    /// `none`, or `fewer_ones`: a flag MTJ per code, codes stored complemented when that
    /// takes fewer 1s.
    pub invert: Inversion,
    /// Where stochastic rounding's random bits come from: `lfsr` or `mtj`.
    pub random_source: RandomSource,
    /// Random bits one stochastic rounding consumes (costed; the rounding itself is
    /// simulated at full f32 resolution).
    pub random_bits: u32,
}

/// Most `weights.random_bits`.
pub const MAX_RANDOM_BITS: u32 = 32;

impl WeightsConfig {
    /// MTJs one code takes: its bits, plus the inversion flag with `invert = "fewer_ones"`.
    pub fn cell_bits(&self) -> u32 {
        self.bits + u32::from(self.invert == Inversion::FewerOnes)
    }
}

impl Default for WeightsConfig {
    fn default() -> Self {
        Self {
            store: StoreKind::Nandspin,
            bits: 8,
            encoding: Encoding::TwosComplement,
            rounding: Rounding::Stochastic,
            range: RangeSpec::Auto,
            auto_range_headroom: 4.0,
            biases: BiasPlacement::Digital,
            invert: Inversion::None,
            random_source: RandomSource::Lfsr,
            random_bits: 8,
        }
    }
}

impl ArchConfig {
    /// Checks values that the types alone do not; returns the offending key and why.
    pub fn validate(&self) -> Result<(), (KeyPath, String)> {
        if self.schema_version != SCHEMA_VERSION {
            return Err((
                parse_dotted("schema_version"),
                format!(
                    "schema_version {} is not supported (this build reads {SCHEMA_VERSION})",
                    self.schema_version
                ),
            ));
        }
        let w = &self.weights;
        if !(2..=16).contains(&w.bits) {
            return Err((
                parse_dotted("weights.bits"),
                format!("must be between 2 and 16, got {}", w.bits),
            ));
        }
        // Bounds keep every code step a normal, finite f32 for any bit width and fan-in.
        if let RangeSpec::Fixed(r) = w.range
            && !(MIN_RANGE..=MAX_RANGE).contains(&r)
        {
            return Err((
                parse_dotted("weights.range"),
                format!(
                    "must be \"auto\" or a number from {MIN_RANGE:e} to {MAX_RANGE:e}, got {r:e}"
                ),
            ));
        }
        if !(MIN_RANGE..=MAX_RANGE).contains(&w.auto_range_headroom) {
            return Err((
                parse_dotted("weights.auto_range_headroom"),
                format!(
                    "must be from {MIN_RANGE:e} to {MAX_RANGE:e}, got {:e}",
                    w.auto_range_headroom
                ),
            ));
        }
        if !(1..=MAX_RANDOM_BITS).contains(&w.random_bits) {
            return Err((
                parse_dotted("weights.random_bits"),
                format!("must be from 1 to {MAX_RANDOM_BITS}, got {}", w.random_bits),
            ));
        }
        self.device.validate()?;
        self.string.validate()?;
        self.update.validate(w.bits)?;
        self.energy.validate()?;
        self.chip.validate()?;
        self.tile.validate()?;
        self.subarray.validate()?;
        self.noc.validate()?;
        self.dram.validate()?;
        self.tech.validate()?;
        self.variation.validate()?;
        self.validate_variation_law()?;
        if let Some(r) = crate::tech::registration(w.store) {
            (r.validate)(self)?;
        }
        if self.tile.compute == crate::config::hw::Compute::Pim {
            self.pim.validate(self)?;
        }
        // A measured law is checked once its file is read (load_files).
        if self.device.switching != SwitchingModel::Measured || self.device.measured.is_some() {
            self.check_random_source()?;
        }
        Ok(())
    }

    /// With `random_source = "mtj"` and stochastic rounding: that the device law has a pulse
    /// that switches with probability 0.5 at the program current.
    pub fn check_random_source(&self) -> Result<(), (KeyPath, String)> {
        let w = &self.weights;
        if w.random_source == RandomSource::Mtj
            && w.rounding == Rounding::Stochastic
            && crate::hw::rng::half_switch_pulse_ns(self).is_none()
        {
            return Err((
                parse_dotted("weights.random_source"),
                format!(
                    "\"mtj\" needs a pulse that switches with probability 0.5, and no pulse at update.program_current_ua = {} µA does under this device law; use \"lfsr\" or another current",
                    self.update.program_current_ua
                ),
            ));
        }
        Ok(())
    }

    /// Spreads of parameters the switching law does not use are refused: they would
    /// silently change nothing.
    fn validate_variation_law(&self) -> Result<(), (KeyPath, String)> {
        let law = self.device.switching;
        let uses = |k: &str| match law {
            SwitchingModel::Precessional => true,
            SwitchingModel::Thermal => matches!(k, "delta" | "ic0"),
            SwitchingModel::Measured => k == "ic0",
            SwitchingModel::Fixed => false,
        };
        for (k, s) in self.variation.switching_spreads() {
            if s > 0.0 && !uses(k) {
                let name = serde_name(law);
                return Err((
                    parse_dotted(&format!("variation.{k}")),
                    format!(
                        "device.switching = \"{name}\" does not depend on device.{}; a spread of it would change nothing (set it to 0)",
                        match k {
                            "ic0" => "ic0_ua",
                            "mu0_hk" => "mu0_hk_t",
                            other => other,
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The one-line warnings a run of this arch prints: about its measured switching data
    /// (a dip with the current), and when its program pulse widths or current fall outside
    /// the data's grid (where the surface is clamped); about sections of another memory
    /// technology than the store's, and `[pim]` under digital compute, which have no
    /// effect.
    pub fn warnings(&self) -> Vec<String> {
        let mut foreign = crate::tech::foreign_section_warnings(self);
        if self.tile.compute == crate::config::hw::Compute::Digital
            && self.pim != crate::pim::PimConfig::default()
        {
            foreign.push(
                "warning: [pim] is set but tile.compute = \"digital\": its keys have no effect (they apply to tile.compute = \"pim\")"
                    .to_string(),
            );
        }
        let Some(s) = &self.device.measured else {
            return foreign;
        };
        let bits = self.weights.bits;
        let widths: Vec<f64> = (0..bits)
            .map(|b| self.update.program_pulse_ns.for_bit(b, bits))
            .collect();
        let mut out = s.warnings.clone();
        out.extend(measured::grid_warning(
            s,
            "update.program_pulse_ns",
            &widths,
            "update.program_current_ua",
            &[self.update.program_current_ua],
        ));
        out.extend(foreign);
        out
    }

    /// Checks that span sections, for the `nandspin` store only.
    pub(crate) fn validate_device_store(&self) -> Result<(), (KeyPath, String)> {
        let (b, n) = (self.weights.cell_bits(), self.string.mtjs);
        let fits = if b <= n { n % b == 0 } else { b % n == 0 };
        if !fits && self.weights.invert == Inversion::FewerOnes {
            return Err((
                parse_dotted("weights.invert"),
                format!(
                    "{}-bit codes with their inversion flag take {b} MTJs, which do not fit {n}-MTJ strings: bits + 1 must divide string.mtjs or be a multiple of it (e.g. weights.bits = {} or string.mtjs = {b})",
                    self.weights.bits,
                    n.saturating_sub(1).max(2),
                ),
            ));
        }
        if !fits {
            return Err((
                parse_dotted("weights.bits"),
                format!(
                    "{b}-bit codes do not fit {n}-MTJ strings: the bit width must divide string.mtjs (several weights per string) or be a multiple of it (several strings per weight)"
                ),
            ));
        }
        if self.device.switching == SwitchingModel::Thermal
            && self.update.program_current_ua >= self.device.ic0_ua
        {
            return Err((
                parse_dotted("update.program_current_ua"),
                format!(
                    "{} µA is not below device.ic0_ua ({} µA): the thermal (Néel-Brown) law holds below I_c0 only; use device.switching = \"precessional\" above it",
                    self.update.program_current_ua, self.device.ic0_ua
                ),
            ));
        }
        if self.device.switching == SwitchingModel::Precessional
            && self.update.program_current_ua <= self.device.ic0_ua
        {
            return Err((
                parse_dotted("update.program_current_ua"),
                format!(
                    "{} µA does not exceed device.ic0_ua ({} µA): precessional switching needs an overdrive; use device.switching = \"thermal\" below I_c0",
                    self.update.program_current_ua, self.device.ic0_ua
                ),
            ));
        }
        Ok(())
    }
}

/// The name a switching law has in the arch file.
fn serde_name(law: SwitchingModel) -> String {
    toml::Value::try_from(law)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Reads the files an arch config names, once it is loaded and checked: with
/// `device.switching = "measured"`, the CSV of `device.measured_csv` (relative to the folder
/// of the file the config came from) into `device.measured`. Every command that reads an
/// arch file calls this. An error is one line naming the arch file's line (or the `--set`)
/// and the key, then the CSV file and its line.
pub fn load_files(a: &mut Loaded<ArchConfig>) -> Result<(), InputError> {
    let d = &a.config.device;
    if d.switching != SwitchingModel::Measured {
        return Ok(());
    }
    let key = parse_dotted("device.measured_csv");
    let Some(rel) = &d.measured_csv else {
        return Err(a.error_at(&key, "switching = \"measured\" needs this key"));
    };
    let path = if rel.is_absolute() {
        rel.clone()
    } else {
        a.source.path.parent().unwrap_or(Path::new("")).join(rel)
    };
    let surface = Surface::read(&path).map_err(|msg| a.error_at(&key, &msg))?;
    a.config.device.measured = Some(Arc::new(surface));
    a.config
        .check_random_source()
        .map_err(|(k, msg)| a.error_at(&k, &msg))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::Source;
    use crate::config::{Override, load_source};

    /// Loads `text` as `dir/a.toml` with `sets`, then its files.
    fn load(dir: &Path, text: &str, sets: &[&str]) -> Result<Loaded<ArchConfig>, InputError> {
        let o: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        let src = Source::from_text(dir.join("a.toml"), text);
        let mut a = load_source(src, &o, ArchConfig::validate)?;
        load_files(&mut a)?;
        Ok(a)
    }

    const MEASURED: &str = "[device]\nswitching = \"measured\"\nmeasured_csv = \"dev/d.csv\"\n";

    #[test]
    fn measured_switching_reads_its_csv_beside_the_arch_file() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::create_dir(d.join("dev")).unwrap();
        std::fs::write(
            d.join("dev/d.csv"),
            "pulse_ns,current_uA,p_switch\n1,120,0.4\n3,120,0.9\n",
        )
        .unwrap();
        let a = load(d, MEASURED, &[]).unwrap();
        let s = a.config.device.measured.as_ref().unwrap();
        assert_eq!(s.path, d.join("dev/d.csv"));
        assert_eq!(s.p, vec![0.4, 0.9]);
        assert!(a.config.warnings().is_empty());
        // Other laws leave it unread.
        let a = load(d, "[device]\nmeasured_csv = \"nope.csv\"\n", &[]).unwrap();
        assert!(a.config.device.measured.is_none());
        // A program current off the grid is a warning.
        let a = load(d, MEASURED, &["update.program_current_ua=200"]).unwrap();
        let w = a.config.warnings();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("update.program_current_ua 200 µA is outside"),
            "{w:?}"
        );
    }

    #[test]
    fn measured_switching_errors_name_the_key_then_the_csv() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let arch = d.join("a.toml").display().to_string();
        let e = load(d, "[device]\nswitching = \"measured\"\n", &[]).unwrap_err();
        assert!(
            e.message.starts_with(&format!(
                "{arch}:2: device.switching: \"measured\" needs device.measured_csv"
            )),
            "{}",
            e.message
        );
        let e = load(d, MEASURED, &[]).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "{arch}:3: device.measured_csv: no such file {} (a relative path is relative to the arch file's folder)",
                d.join("dev/d.csv").display()
            )
        );
        std::fs::write(
            d.join("bad.csv"),
            "pulse_ns,current_uA,p_switch\n1,120,0.4\n3,120,1.2\n",
        )
        .unwrap();
        let e = load(d, MEASURED, &["device.measured_csv=bad.csv"]).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "--set device.measured_csv=bad.csv: device.measured_csv: {}:3: p_switch must be a probability from 0 to 1, got 1.2",
                d.join("bad.csv").display()
            )
        );
        // An MTJ random source needs a P = 0.5 pulse, checked once the data are read.
        std::fs::write(
            d.join("low.csv"),
            "pulse_ns,current_uA,p_switch\n1,120,0.1\n3,120,0.4\n",
        )
        .unwrap();
        let e = load(
            d,
            MEASURED,
            &["device.measured_csv=low.csv", "weights.random_source=mtj"],
        )
        .unwrap_err();
        assert!(
            e.message.starts_with(
                "--set weights.random_source=mtj: weights.random_source: \"mtj\" needs a pulse"
            ),
            "{}",
            e.message
        );
    }
}
