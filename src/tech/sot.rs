//! SOT-MRAM (2T1MTJ): every bit its own MTJ on its own heavy-metal line, written by a
//! current through the line (spin-orbit torque; the polarity picks the direction) and read
//! through a separate path (the `[device]` MTJ's read). A write pulse costs I²·R_line·t
//! whatever the MTJ does, and switches with a law of its own: a table of P(switch) against
//! width, or the thermal (Néel-Brown) law below the SOT critical current. Pulse widths are
//! `[update]`'s. A failed pulse leaves the old bit. Keys: `[sot]`.

use serde::{Deserialize, Serialize};

use super::word::{Direction, WordTech, WordWriter};
use super::{
    BitWrite, Registration, WritePolicy, bit_pulse_ps, format_of, no_variation, word_layout,
};
use crate::config::arch::{ArchConfig, StoreKind};
use crate::config::device::{
    Check, DeviceConfig, MAX_PULSE_NS, SwitchingModel, at_least, current, energy, key_err, num,
};
use crate::device::Switching;
use crate::device::circuit::{joule_pj, read_energy_pj};
use crate::device::string::ns_to_ps;

/// The registry's entry.
pub const REGISTRATION: Registration = Registration {
    store: StoreKind::Sot,
    section: Some("sot"),
    build: |arch| Box::new(new(arch)),
    layout: super::word_layout,
    validate,
    section_set: |arch| arch.sot != SotConfig::default(),
};

/// Switching law of an SOT write pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SotSwitching {
    /// `fixed_p_switch` at `fixed_pulse_ns`, linear in between (0 at 0 ns).
    Fixed,
    /// Néel-Brown with the `[device]` Δ and τ0, critical current `ic0_ua`.
    Thermal,
}

/// The `[sot]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SotConfig {
    /// Switching law of a write pulse.
    pub switching: SotSwitching,
    /// `switching = "fixed"`: pulse widths, in ns, strictly increasing.
    pub fixed_pulse_ns: Vec<f64>,
    /// `switching = "fixed"`: P(switch) at each width.
    pub fixed_p_switch: Vec<f64>,
    /// `switching = "thermal"`: SOT critical current, in µA.
    pub ic0_ua: f64,
    /// Write current through the heavy-metal line, in µA.
    pub write_current_ua: f64,
    /// Resistance of one cell's heavy-metal line, in Ω.
    pub line_resistance_ohm: f64,
    /// Write-driver energy per pulse on top of I²·R_line·t, in pJ.
    pub write_overhead_pj: f64,
    /// Which cells of a changed word are pulsed.
    pub write: WritePolicy,
    /// Area of one cell, in F² (F = `tech.node_nm`).
    pub cell_area_f2: f64,
}

impl Default for SotConfig {
    fn default() -> Self {
        Self {
            switching: SotSwitching::Fixed,
            fixed_pulse_ns: vec![0.2, 0.5],
            fixed_p_switch: vec![0.5, 1.0],
            ic0_ua: 300.0,
            write_current_ua: 200.0,
            line_resistance_ohm: 800.0,
            write_overhead_pj: 0.01,
            write: WritePolicy::Differing,
            cell_area_f2: 40.0,
        }
    }
}

/// Checks `[sot]`.
fn validate(arch: &ArchConfig) -> Check {
    let s = &arch.sot;
    crate::config::device::cell_area("sot.cell_area_f2", s.cell_area_f2)?;
    current("sot.ic0_ua", s.ic0_ua)?;
    current("sot.write_current_ua", s.write_current_ua)?;
    at_least(
        "sot.line_resistance_ohm",
        s.line_resistance_ohm,
        0.0,
        1e9,
        "a resistance in Ω",
    )?;
    energy("sot.write_overhead_pj", s.write_overhead_pj)?;
    no_variation(arch)?;
    match s.switching {
        SotSwitching::Fixed => {
            let (w, p) = (&s.fixed_pulse_ns, &s.fixed_p_switch);
            if w.is_empty() || w.len() != p.len() {
                return key_err(
                    "sot.fixed_p_switch",
                    format!(
                        "needs one probability per width of sot.fixed_pulse_ns ({} widths, {} probabilities, at least one)",
                        w.len(),
                        p.len()
                    ),
                );
            }
            let mut last = 0.0;
            for &x in w {
                if !(x.is_finite() && x > last && x <= MAX_PULSE_NS) {
                    return key_err(
                        "sot.fixed_pulse_ns",
                        format!(
                            "must be strictly increasing widths above 0 ns and up to {MAX_PULSE_NS:e} ns, got {}",
                            num(x)
                        ),
                    );
                }
                last = x;
            }
            if let Some(&x) = p.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                return key_err(
                    "sot.fixed_p_switch",
                    format!("must be probabilities from 0 to 1, got {}", num(x)),
                );
            }
        }
        SotSwitching::Thermal if s.write_current_ua >= s.ic0_ua => {
            return key_err(
                "sot.write_current_ua",
                format!(
                    "{} µA is not below sot.ic0_ua ({} µA): the thermal (Néel-Brown) law holds below the critical current only",
                    num(s.write_current_ua),
                    num(s.ic0_ua)
                ),
            );
        }
        SotSwitching::Thermal => {}
    }
    Ok(())
}

/// SOT-MRAM as the arch describes it.
pub fn new(arch: &ArchConfig) -> WordTech {
    let s = &arch.sot;
    let law = DeviceConfig {
        switching: match s.switching {
            SotSwitching::Fixed => SwitchingModel::Fixed,
            SotSwitching::Thermal => SwitchingModel::Thermal,
        },
        fixed_pulse_ns: s.fixed_pulse_ns.clone(),
        fixed_p_switch: s.fixed_p_switch.clone(),
        ic0_ua: s.ic0_ua,
        measured_csv: None,
        measured: None,
        ..arch.device.clone()
    };
    let sw = Switching::new(&law);
    let i = s.write_current_ua;
    let mut bits = Vec::new();
    let mut p_switch = Vec::new();
    for b in 0..format_of(arch).width() {
        let pulse_ps = bit_pulse_ps(arch, b);
        let ns = pulse_ps as f64 / 1000.0;
        let p = sw.p_switch(ns, i);
        // The current flows through the line, not the MTJ: the same energy whatever
        // the MTJ does.
        let pj = joule_pj(i, s.line_resistance_ohm, ns) + s.write_overhead_pj;
        bits.push(BitWrite::new(pulse_ps, p, (pj, pj, 0.0)));
        p_switch.push(p);
    }
    let dir = Direction {
        bits,
        times: None,
        p_switch,
    };
    WordTech {
        name: "sot",
        layout: word_layout(arch),
        read_ns: arch.device.read_ns,
        cell_area_f2: arch.sot.cell_area_f2,
        leakage_nw_per_cell: 0.0,
        writer: WordWriter {
            format: format_of(arch),
            threshold: arch.update.write_threshold_lsb,
            skip_unchanged: arch.update.skip_unchanged,
            read_before_write: s.write == WritePolicy::Differing,
            read_bit_pj: read_energy_pj(&arch.device, &arch.energy),
            read_ps: ns_to_ps(arch.device.read_ns),
            set: dir.clone(),
            reset: dir,
            seed: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::device::PulseWidths;
    use crate::config::source::path_string;

    fn sot(ns: f64) -> ArchConfig {
        let mut a = ArchConfig::default();
        a.weights.store = StoreKind::Sot;
        a.update.program_pulse_ns = PulseWidths::One(ns);
        a
    }

    #[test]
    fn a_pulse_costs_the_line_whatever_the_mtj_does() {
        let t = new(&sot(1.0));
        let b = t.writer.set.bits[0];
        // 200^2 uA^2 x 800 Ohm x 1 ns = 0.032 pJ, plus 0.01 pJ of driver.
        assert!((b.fail_pj - 0.042).abs() < 1e-12, "{}", b.fail_pj);
        assert_eq!((b.base_pj, b.slope_pj_per_ns), (b.fail_pj, 0.0));
        assert_eq!(t.writer.reset.bits[0], b);
    }

    #[test]
    fn the_table_is_certain_from_half_a_nanosecond() {
        for (ns, p) in [(3.0, 1.0), (1.0, 1.0), (0.5, 1.0), (0.2, 0.5), (0.1, 0.25)] {
            let t = new(&sot(ns));
            assert!((t.writer.set.p_switch[0] - p).abs() < 1e-12, "{ns} ns");
        }
    }

    #[test]
    fn bad_sections_name_their_key() {
        let mut a = sot(1.0);
        a.sot.fixed_p_switch = vec![0.5];
        assert_eq!(
            path_string(&a.validate().unwrap_err().0),
            "sot.fixed_p_switch"
        );
        let mut a = sot(1.0);
        a.sot.fixed_pulse_ns = vec![0.5, 0.2];
        assert_eq!(
            path_string(&a.validate().unwrap_err().0),
            "sot.fixed_pulse_ns"
        );
        let mut a = sot(1.0);
        a.sot.switching = SotSwitching::Thermal;
        a.sot.ic0_ua = 100.0;
        let (p, msg) = a.validate().unwrap_err();
        assert_eq!(path_string(&p), "sot.write_current_ua");
        assert!(msg.contains("is not below sot.ic0_ua"), "{msg}");
        a.sot.ic0_ua = 400.0;
        assert!(a.validate().is_ok());
    }
}
