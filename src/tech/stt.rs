//! STT-MRAM (1T1MTJ): every bit its own MTJ with its own access transistor, written in both
//! directions by spin-transfer torque. The MTJ and its switching law are `[device]`'s, as
//! for NAND-SPIN's program pulse, with a critical current per direction (P -> AP, writing a
//! 0, needs more); pulse widths and current are `[update]`'s. There is no erase: a failed
//! pulse leaves the old bit, so errors go both ways. Keys: `[stt]`.

use serde::{Deserialize, Serialize};

use super::word::{Direction, WordTech, WordWriter};
use super::{
    BitWrite, Registration, WritePolicy, bit_pulse_ps, format_of, no_variation, word_layout,
};
use crate::config::arch::{ArchConfig, StoreKind};
use crate::config::device::{Check, DeviceConfig, SwitchingModel, current, key_err, num};
use crate::device::Switching;
use crate::device::circuit::{ProgramPulse, read_energy_pj};
use crate::device::string::{SwitchTimes, ns_to_ps};

/// The registry's entry.
pub const REGISTRATION: Registration = Registration {
    store: StoreKind::Stt,
    section: Some("stt"),
    build: |arch| Box::new(new(arch)),
    layout: super::word_layout,
    validate,
    section_set: |arch| arch.stt != SttConfig::default(),
};

/// The `[stt]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SttConfig {
    /// Critical current of AP -> P switching (writing a 1), in µA.
    pub ic0_ap_to_p_ua: f64,
    /// Critical current of P -> AP switching (writing a 0), in µA.
    pub ic0_p_to_ap_ua: f64,
    /// Which cells of a changed word are pulsed.
    pub write: WritePolicy,
    /// Area of one cell, in F² (F = `tech.node_nm`).
    pub cell_area_f2: f64,
}

impl Default for SttConfig {
    fn default() -> Self {
        Self {
            ic0_ap_to_p_ua: 30.0,
            ic0_p_to_ap_ua: 36.0,
            write: WritePolicy::Differing,
            cell_area_f2: 20.0,
        }
    }
}

/// Checks `[stt]` and the switching regime of both directions at the program current.
fn validate(arch: &ArchConfig) -> Check {
    let s = &arch.stt;
    crate::config::device::cell_area("stt.cell_area_f2", s.cell_area_f2)?;
    current("stt.ic0_ap_to_p_ua", s.ic0_ap_to_p_ua)?;
    current("stt.ic0_p_to_ap_ua", s.ic0_p_to_ap_ua)?;
    no_variation(arch)?;
    let i = arch.update.program_current_ua;
    for (key, ic0) in [
        ("stt.ic0_ap_to_p_ua", s.ic0_ap_to_p_ua),
        ("stt.ic0_p_to_ap_ua", s.ic0_p_to_ap_ua),
    ] {
        match arch.device.switching {
            SwitchingModel::Precessional if i <= ic0 => {
                return key_err(
                    "update.program_current_ua",
                    format!(
                        "{} µA does not exceed {key} ({} µA): precessional switching needs an overdrive in both directions; use device.switching = \"thermal\" below the critical currents",
                        num(i),
                        num(ic0)
                    ),
                );
            }
            SwitchingModel::Thermal if i >= ic0 => {
                return key_err(
                    "update.program_current_ua",
                    format!(
                        "{} µA is not below {key} ({} µA): the thermal (Néel-Brown) law holds below the critical current only",
                        num(i),
                        num(ic0)
                    ),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// The pulses of one direction: the `[device]` MTJ with critical current `ic0_ua`.
fn direction(arch: &ArchConfig, ic0_ua: f64, pulse: &ProgramPulse) -> Direction {
    let d = DeviceConfig {
        ic0_ua,
        ..arch.device.clone()
    };
    let sw = Switching::new(&d);
    let i = arch.update.program_current_ua;
    let widths: Vec<f64> = (0..format_of(arch).width())
        .map(|b| bit_pulse_ps(arch, b) as f64 / 1000.0)
        .collect();
    let p_switch: Vec<f64> = widths.iter().map(|&w| sw.p_switch(w, i)).collect();
    Direction {
        bits: widths
            .iter()
            .zip(&p_switch)
            .map(|(&w, &p)| BitWrite::new(ns_to_ps(w), p, pulse.linear_pj(i, w)))
            .collect(),
        times: pulse.depends_on_switch_time().then(|| {
            widths
                .iter()
                .map(|&w| SwitchTimes::new(&sw, w, i))
                .collect()
        }),
        p_switch,
    }
}

/// STT-MRAM as the arch describes it.
pub fn new(arch: &ArchConfig) -> WordTech {
    let set = ProgramPulse::new(&arch.device, &arch.energy);
    let (before, after) = set.ohms();
    // P -> AP: the MTJ starts parallel and ends antiparallel.
    let reset = set.with_ohms(after, before);
    WordTech {
        name: "stt",
        layout: word_layout(arch),
        read_ns: arch.device.read_ns,
        cell_area_f2: arch.stt.cell_area_f2,
        leakage_nw_per_cell: 0.0,
        writer: WordWriter {
            format: format_of(arch),
            threshold: arch.update.write_threshold_lsb,
            skip_unchanged: arch.update.skip_unchanged,
            read_before_write: arch.stt.write == WritePolicy::Differing,
            read_bit_pj: read_energy_pj(&arch.device, &arch.energy),
            read_ps: ns_to_ps(arch.device.read_ns),
            set: direction(arch, arch.stt.ic0_ap_to_p_ua, &set),
            reset: direction(arch, arch.stt.ic0_p_to_ap_ua, &reset),
            seed: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::device::PulseWidths;
    use crate::device::circuit::joule_pj;

    fn stt() -> ArchConfig {
        let mut a = ArchConfig::default();
        a.weights.store = StoreKind::Stt;
        a.update.program_pulse_ns = PulseWidths::One(1.0);
        a
    }

    #[test]
    fn p_to_ap_needs_more_current_so_it_fails_more() {
        let t = new(&stt());
        let (set, reset) = (&t.writer.set, &t.writer.reset);
        // 4x and 3.33x overdrive at 1 ns (nandspin device: 0.840 and 0.490).
        assert!(
            (set.p_switch[0] - 0.8397).abs() < 1e-3,
            "{}",
            set.p_switch[0]
        );
        assert!(
            (reset.p_switch[0] - 0.4895).abs() < 1e-3,
            "{}",
            reset.p_switch[0]
        );
        // The same law as NAND-SPIN's program pulse at the same critical current.
        let sw = Switching::new(&ArchConfig::default().device);
        assert_eq!(set.p_switch[0], sw.p_switch(1.0, 120.0));
    }

    #[test]
    fn a_failed_pulse_costs_the_state_it_stays_in() {
        let a = stt();
        let t = new(&a);
        let d = &a.device;
        let (set, reset) = (&t.writer.set.bits[0], &t.writer.reset.bits[0]);
        // A failed set stays antiparallel, a failed reset parallel; a pulse on a cell
        // already in the target state costs that state's resistance.
        let at = |ohm| joule_pj(120.0, ohm, 1.0) + d.program_overhead_pj;
        assert!((set.fail_pj - at(d.r_ap_ohm)).abs() < 1e-12);
        assert!((reset.fail_pj - at(d.r_p_ohm)).abs() < 1e-12);
        assert!((set.base_pj - at(d.r_p_ohm)).abs() < 1e-12);
        assert!((reset.base_pj - at(d.r_ap_ohm)).abs() < 1e-12);
        // Switching early moves the energy toward the end state's.
        assert!(set.slope_pj_per_ns > 0.0 && reset.slope_pj_per_ns < 0.0);
    }

    #[test]
    fn the_switching_regime_must_hold_in_both_directions() {
        let mut a = stt();
        a.stt.ic0_p_to_ap_ua = 130.0;
        let (path, msg) = a.validate().unwrap_err();
        assert_eq!(
            crate::config::source::path_string(&path),
            "update.program_current_ua"
        );
        assert!(msg.contains("stt.ic0_p_to_ap_ua"), "{msg}");
        a.stt.ic0_p_to_ap_ua = 0.0;
        let (path, _) = a.validate().unwrap_err();
        assert_eq!(
            crate::config::source::path_string(&path),
            "stt.ic0_p_to_ap_ua"
        );
        let mut a = stt();
        a.variation.ic0 = 0.05;
        let (path, msg) = a.validate().unwrap_err();
        assert_eq!(crate::config::source::path_string(&path), "variation");
        assert!(msg.contains("\"nandspin\" only"), "{msg}");
    }
}
