//! Processing in NAND-SPIN (`tile.compute = "pim"`): the MACs of conv and dense layers run
//! in the subarrays that hold the layer's weights, as bitwise ANDs between rows, counted and
//! shifted in the periphery (Zhao et al., "NAND-SPIN-based processing-in-MRAM architecture
//! for convolutional neural network acceleration", Sci. China Inf. Sci. 66(4), 2023). The
//! operand that is not resident (the activations in FW and WG, the output gradients in AG)
//! is written into the array first, through the same device model as the weights, so what
//! the MAC uses is what the device holds after a possibly failed write ([`operands`]).
//! Keys: `[pim]`.

pub mod cost;
pub mod coverage;
pub mod layers;
pub mod operands;

use serde::{Deserialize, Serialize};

use crate::config::ArchConfig;
use crate::config::arch::StoreKind;
use crate::config::device::{Check, MAX_ENERGY_PJ, PulseWidths, key_err, pulse};
use crate::config::source::Seg;

/// The phases whose MACs can run in memory, by their report names.
pub const MAC_PHASES: [&str; 3] = ["FW", "AG", "WG"];

/// The `[pim]` section: what runs in memory and how its operands are held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PimConfig {
    /// Training phases whose MACs run in memory: any of "FW", "AG", "WG".
    pub phases: Vec<String>,
    /// Bits of an activation operand (1 to 16; 2 or more where it can be negative).
    pub activation_bits: u32,
    /// Bits of a gradient operand (2 to 16: gradients are signed).
    pub gradient_bits: u32,
    /// Program pulse width of the operand writes, in ns: one number, or one per bit (MSB
    /// first; then activations and gradients need the same bits). Absent: the weights'
    /// `update.program_pulse_ns`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_pulse_ns: Option<PulseWidths>,
    /// Quantise the operands but write them exactly (no failed bits), to tell the
    /// quantisation's cost from the device's.
    pub exact_operands: bool,
    /// Bit products one in-memory AND yields: the bits one sensing of two active rows
    /// gives. Absent: `subarray.sense_amps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub and_row_bits: Option<u32>,
    /// Time of one in-memory AND, in ns. Absent: `device.read_ns` (a read with two rows
    /// active).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub and_ns: Option<f64>,
    /// Energy of one bit of an in-memory AND, in pJ. Absent: twice the energy of reading
    /// one MTJ (two MTJs conduct per sensed column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub and_bit_pj: Option<f64>,
    /// Population counters per subarray; each counts the 1s of one AND row per cycle.
    pub counters: u32,
    /// Energy of counting one bit, in pJ (at `pim.measured_at`).
    pub popcount_bit_pj: f64,
    /// Shift-add units per subarray; each shifts and accumulates one count per cycle.
    pub adders: u32,
    /// Energy of one shift-add, in pJ (at `pim.measured_at`).
    pub shift_add_pj: f64,
    /// The node (nm) and supply (V) the two digital energies were measured at; they are
    /// scaled to `tech.node_nm` and `tech.vdd_v` like the `[energy]` table.
    pub measured_at: [f64; 2],
}

impl Default for PimConfig {
    fn default() -> Self {
        Self {
            phases: MAC_PHASES.iter().map(|s| s.to_string()).collect(),
            activation_bits: 8,
            gradient_bits: 8,
            write_pulse_ns: None,
            exact_operands: false,
            and_row_bits: None,
            and_ns: None,
            and_bit_pj: None,
            counters: 1,
            popcount_bit_pj: 0.004,
            adders: 1,
            shift_add_pj: 0.1,
            measured_at: [45.0, 0.9],
        }
    }
}

/// Which operand of which phase a write holds; part of the write's random key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// The layer's input, written for the forward pass.
    FwInput = 0,
    /// The layer's output gradient, written for the activation-gradient pass.
    AgGradient = 1,
    /// The layer's input, written again for the weight-gradient pass.
    WgInput = 2,
    /// The layer's output gradient, written for the weight-gradient pass when no
    /// activation-gradient pass of the layer left it in the array.
    WgGradient = 3,
}

impl PimConfig {
    /// Whether the MACs of phase `name` ("FW", "AG", "WG") run in memory.
    pub fn runs(&self, name: &str) -> bool {
        self.phases.iter().any(|p| p == name)
    }

    /// The operand writes' pulse widths.
    pub fn pulse_widths<'a>(&'a self, arch: &'a ArchConfig) -> &'a PulseWidths {
        self.write_pulse_ns
            .as_ref()
            .unwrap_or(&arch.update.program_pulse_ns)
    }

    /// Checks the section against the arch (only when `tile.compute = "pim"`); errors
    /// name the key.
    pub fn validate(&self, arch: &ArchConfig) -> Check {
        for (i, p) in self.phases.iter().enumerate() {
            if !MAC_PHASES.contains(&p.as_str()) {
                let mut k = crate::config::source::parse_dotted("pim.phases");
                k.push(Seg::Index(i));
                let hint = if p == "WU" {
                    " (the weight update has no MACs to run in memory)"
                } else {
                    ""
                };
                return Err((
                    k,
                    format!(
                        "unknown phase \"{}\"{hint}; expected any of \"FW\", \"AG\", \"WG\"",
                        crate::error::clip(p)
                    ),
                ));
            }
            if self.phases[..i].contains(p) {
                return key_err("pim.phases", format!("lists \"{p}\" twice"));
            }
        }
        if !(1..=16).contains(&self.activation_bits) {
            return key_err(
                "pim.activation_bits",
                format!("must be from 1 to 16, got {}", self.activation_bits),
            );
        }
        if !(2..=16).contains(&self.gradient_bits) {
            return key_err(
                "pim.gradient_bits",
                format!(
                    "must be from 2 to 16 (gradients are signed: a sign and a magnitude), got {}",
                    self.gradient_bits
                ),
            );
        }
        let (key, widths) = match &self.write_pulse_ns {
            Some(w) => ("pim.write_pulse_ns", w),
            None => ("update.program_pulse_ns", &arch.update.program_pulse_ns),
        };
        match widths {
            PulseWidths::One(w) => pulse(key, *w)?,
            PulseWidths::PerBit(v) => {
                let (a, g) = (self.activation_bits, self.gradient_bits);
                if a != g || v.len() != a as usize {
                    return key_err(
                        key,
                        format!(
                            "lists {} widths; per-bit operand pulses need pim.activation_bits = pim.gradient_bits = {} (now {a} and {g}){}",
                            v.len(),
                            v.len(),
                            if self.write_pulse_ns.is_none() {
                                "; or set pim.write_pulse_ns to one width"
                            } else {
                                ""
                            }
                        ),
                    );
                }
                for (i, &w) in v.iter().enumerate() {
                    if let Err((mut k, m)) = pulse(key, w) {
                        k.push(Seg::Index(i));
                        return Err((k, m));
                    }
                }
            }
        }
        if let Some(b) = self.and_row_bits
            && !(1..=1 << 20).contains(&b)
        {
            return key_err(
                "pim.and_row_bits",
                format!("must be from 1 to 2^20 bits, got {b}"),
            );
        }
        if let Some(t) = self.and_ns {
            pulse("pim.and_ns", t)?;
        }
        if let Some(e) = self.and_bit_pj {
            energy("pim.and_bit_pj", e)?;
        }
        energy("pim.popcount_bit_pj", self.popcount_bit_pj)?;
        energy("pim.shift_add_pj", self.shift_add_pj)?;
        for (key, n) in [("pim.counters", self.counters), ("pim.adders", self.adders)] {
            if !(1..=1 << 16).contains(&n) {
                return key_err(
                    key,
                    format!("must be from 1 to 65536 per subarray, got {n}"),
                );
            }
        }
        crate::config::device::measured_at("pim.measured_at", self.measured_at)?;
        match arch.weights.store {
            StoreKind::Float | StoreKind::Fixed | StoreKind::Nandspin => {}
            other => {
                return key_err(
                    "tile.compute",
                    format!(
                        "\"pim\" computes in NAND-SPIN subarrays, so it needs weights.store = \"nandspin\" (or the ideal \"fixed\" or \"float\" stores), not \"{}\"",
                        other.name()
                    ),
                );
            }
        }
        if arch.weights.store == StoreKind::Nandspin {
            let n = arch.string.mtjs;
            for (key, b) in [
                ("pim.activation_bits", self.activation_bits),
                ("pim.gradient_bits", self.gradient_bits),
            ] {
                let fits = if b <= n {
                    n.is_multiple_of(b)
                } else {
                    b.is_multiple_of(n)
                };
                if !fits {
                    return key_err(
                        key,
                        format!(
                            "{b}-bit operands do not fit {n}-MTJ strings: the bits must divide string.mtjs or be a multiple of it"
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// An energy in pJ: finite, from 0 to [`MAX_ENERGY_PJ`].
fn energy(key: &str, v: f64) -> Check {
    if v.is_finite() && (0.0..=MAX_ENERGY_PJ).contains(&v) {
        Ok(())
    } else {
        key_err(
            key,
            format!("must be an energy from 0 to {MAX_ENERGY_PJ:e} pJ, got {v}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hw::Compute;

    fn pim_arch(store: StoreKind) -> ArchConfig {
        let mut a = ArchConfig::default();
        a.weights.store = store;
        a.tile.compute = Compute::Pim;
        a
    }

    fn err(a: &ArchConfig) -> (String, String) {
        let (k, m) = a.validate().unwrap_err();
        (crate::config::source::path_string(&k), m)
    }

    #[test]
    fn the_defaults_validate_on_every_store_pim_can_use() {
        for s in [StoreKind::Float, StoreKind::Fixed, StoreKind::Nandspin] {
            pim_arch(s).validate().unwrap();
        }
        for s in [StoreKind::Stt, StoreKind::Sot, StoreKind::Sram] {
            let (k, m) = err(&pim_arch(s));
            assert_eq!(k, "tile.compute");
            assert!(m.contains("needs weights.store = \"nandspin\""), "{m}");
        }
    }

    #[test]
    fn bad_phases_bits_and_widths_name_their_key() {
        let mut a = pim_arch(StoreKind::Nandspin);
        a.pim.phases = vec!["FW".into(), "XX".into()];
        assert_eq!(err(&a).0, "pim.phases[1]");
        a.pim.phases = vec!["WU".into()];
        assert!(err(&a).1.contains("no MACs"));
        a.pim.phases = vec!["FW".into(), "FW".into()];
        assert!(err(&a).1.contains("twice"));
        a.pim.phases = vec![];
        a.validate().unwrap();
        for (bits, ok) in [(0, false), (1, true), (2, true), (16, true), (17, false)] {
            let mut a = pim_arch(StoreKind::Fixed);
            a.pim.activation_bits = bits;
            assert_eq!(a.validate().is_ok(), ok, "activation_bits {bits}");
        }
        // On NAND-SPIN strings the bits must fit the string: 16 does 8-MTJ strings, 6 not.
        let mut a = pim_arch(StoreKind::Nandspin);
        a.pim.activation_bits = 16;
        a.validate().unwrap();
        a.pim.activation_bits = 6;
        assert_eq!(err(&a).0, "pim.activation_bits");
        let mut a = pim_arch(StoreKind::Fixed);
        a.pim.gradient_bits = 1;
        assert!(err(&a).1.contains("signed"));
        a.pim.gradient_bits = 17;
        assert_eq!(err(&a).0, "pim.gradient_bits");
        let mut a = pim_arch(StoreKind::Fixed);
        a.pim.write_pulse_ns = Some(PulseWidths::One(0.0));
        assert_eq!(err(&a).0, "pim.write_pulse_ns");
        a.pim.write_pulse_ns = Some(PulseWidths::PerBit(vec![1.0; 7]));
        assert!(err(&a).1.contains("lists 7 widths"));
        a.pim.write_pulse_ns = Some(PulseWidths::PerBit(vec![1.0; 8]));
        a.validate().unwrap();
    }
}
