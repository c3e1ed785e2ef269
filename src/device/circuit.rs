//! Energy of the device's actions from the circuit: I²Rt in the MTJ or the heavy-metal
//! strip plus a driver or sense-amplifier overhead, unless the arch's `[energy]` table
//! gives a fixed value.

use super::switching::Switching;
use crate::config::device::{DeviceConfig, Drive, EnergyConfig, StringConfig};

/// I²Rt in pJ for a current in µA, a resistance in Ω and a time in ns.
#[inline]
pub fn joule_pj(current_ua: f64, ohm: f64, ns: f64) -> f64 {
    // (1e-6 A)² · Ω · 1e-9 s = 1e-21 J = 1e-9 pJ.
    current_ua * current_ua * ohm * ns * 1e-9
}

/// One STT program pulse through an MTJ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgramPulse {
    /// Resistance while the MTJ is still antiparallel, in Ω.
    r_before_ohm: f64,
    /// Effective resistance after it switched, in Ω: R_P under current drive; under voltage
    /// drive V = I·R_AP and V²/R_P = I²·R_AP²/R_P.
    r_after_ohm: f64,
    /// Driver overhead per pulse, in pJ.
    overhead_pj: f64,
    /// A fixed energy per pulse from `[energy]`, replacing the physics.
    fixed_pj: Option<f64>,
}

impl ProgramPulse {
    /// The program pulse the arch describes.
    pub fn new(d: &DeviceConfig, e: &EnergyConfig) -> Self {
        Self::with_resistances(d, e, d.r_p_ohm, d.r_ap_ohm)
    }

    /// The program pulse through one MTJ of resistances `r_p_ohm` and `r_ap_ohm` (a device
    /// drawn by `[variation]`), under the arch's drive, overhead and overrides.
    pub fn with_resistances(
        d: &DeviceConfig,
        e: &EnergyConfig,
        r_p_ohm: f64,
        r_ap_ohm: f64,
    ) -> Self {
        let r_after_ohm = match d.drive {
            Drive::Current => r_p_ohm,
            Drive::Voltage => r_ap_ohm * r_ap_ohm / r_p_ohm,
        };
        Self {
            r_before_ohm: r_ap_ohm,
            r_after_ohm,
            overhead_pj: d.program_overhead_pj,
            fixed_pj: e.mtj_program_pulse_pj,
        }
    }

    /// This pulse through an MTJ of resistance `r_before_ohm` until it switches and an
    /// effective `r_after_ohm` after (see [`Self::with_resistances`]).
    #[inline]
    pub fn with_ohms(&self, r_before_ohm: f64, r_after_ohm: f64) -> Self {
        Self {
            r_before_ohm,
            r_after_ohm,
            ..*self
        }
    }

    /// The resistances the pulse sees before and after the switch, in Ω (R_AP, and R_P or
    /// R_AP²/R_P by the drive).
    pub fn ohms(&self) -> (f64, f64) {
        (self.r_before_ohm, self.r_after_ohm)
    }

    /// Whether the energy of a pulse depends on when it switched (false when fixed).
    pub fn depends_on_switch_time(&self) -> bool {
        self.fixed_pj.is_none()
    }

    /// The energy of one pulse of `current_ua` and `pulse_ns` that switched at `switch_ns`
    /// (`None`: it did not switch), in pJ.
    pub fn energy_pj(&self, current_ua: f64, pulse_ns: f64, switch_ns: Option<f64>) -> f64 {
        if let Some(e) = self.fixed_pj {
            return e;
        }
        let before = switch_ns.unwrap_or(pulse_ns).min(pulse_ns);
        joule_pj(current_ua, self.r_before_ohm, before)
            + joule_pj(current_ua, self.r_after_ohm, pulse_ns - before)
            + self.overhead_pj
    }

    /// The energy of a pulse that switched, as `base + slope * switch_ns`: returns
    /// `(energy if it did not switch, base, slope)` in pJ and pJ/ns.
    pub fn linear_pj(&self, current_ua: f64, pulse_ns: f64) -> (f64, f64, f64) {
        if let Some(e) = self.fixed_pj {
            return (e, e, 0.0);
        }
        let fail = self.energy_pj(current_ua, pulse_ns, None);
        let base = joule_pj(current_ua, self.r_after_ohm, pulse_ns) + self.overhead_pj;
        let slope = joule_pj(current_ua, self.r_before_ohm - self.r_after_ohm, 1.0);
        (fail, base, slope)
    }

    /// The mean energy of one pulse over the switching-time distribution, in pJ:
    /// `I²(R_after t_p + (R_before − R_after) E[min(T, t_p)]) + overhead`.
    pub fn expected_energy_pj(&self, sw: &Switching, current_ua: f64, pulse_ns: f64) -> f64 {
        if let Some(e) = self.fixed_pj {
            return e;
        }
        let active = sw.mean_active_ns(pulse_ns, current_ua);
        joule_pj(current_ua, self.r_after_ohm, pulse_ns)
            + joule_pj(current_ua, self.r_before_ohm - self.r_after_ohm, active)
            + self.overhead_pj
    }
}

/// Energy of one SOT erase pulse along a string's HM strip, in pJ:
/// `I² R_strip t + overhead`, or the `[energy]` table's value.
pub fn erase_energy_pj(s: &StringConfig, e: &EnergyConfig) -> f64 {
    e.hm_erase_pulse_pj.unwrap_or_else(|| {
        joule_pj(s.erase_current_ua, s.strip_ohm(), s.erase_pulse_ns) + s.erase_overhead_pj
    })
}

/// Energy of reading one MTJ, in pJ: I²Rt at the mean of R_P and R_AP (half the bits in
/// each state, assumed) plus the sense amplifier, or the `[energy]` table's value.
pub fn read_energy_pj(d: &DeviceConfig, e: &EnergyConfig) -> f64 {
    e.mtj_read_pj.unwrap_or_else(|| {
        joule_pj(d.read_current_ua, 0.5 * (d.r_p_ohm + d.r_ap_ohm), d.read_ns) + d.read_overhead_pj
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erase_of_the_default_string_is_about_0_06_pj() {
        // 120 µA² · 3840 Ω · 1 ns = 0.0553 pJ, plus 0.01 pJ of driver.
        let e = erase_energy_pj(&StringConfig::default(), &EnergyConfig::default());
        assert!((e - 0.0653).abs() < 1e-3, "{e}");
    }

    #[test]
    fn current_drive_costs_less_after_switching_voltage_drive_more() {
        let d = DeviceConfig::default();
        let e = EnergyConfig::default();
        let cur = ProgramPulse::new(&d, &e);
        let volt = ProgramPulse::new(
            &DeviceConfig {
                drive: Drive::Voltage,
                ..d
            },
            &e,
        );
        let never = cur.energy_pj(100.0, 3.0, None);
        assert!(cur.energy_pj(100.0, 3.0, Some(1.0)) < never);
        assert!(volt.energy_pj(100.0, 3.0, Some(1.0)) > never);
        // Failed pulses cost the same under both drives (the MTJ stays at R_AP).
        assert_eq!(volt.energy_pj(100.0, 3.0, None), never);
        let (fail, base, slope) = cur.linear_pj(100.0, 3.0);
        assert_eq!(fail, never);
        let at1 = cur.energy_pj(100.0, 3.0, Some(1.0));
        assert!((base + slope * 1.0 - at1).abs() < 1e-12);
    }

    #[test]
    fn overrides_replace_the_physics() {
        let e = EnergyConfig {
            hm_erase_pulse_pj: Some(0.5),
            mtj_program_pulse_pj: Some(0.2),
            mtj_read_pj: Some(0.03),
            ..EnergyConfig::default()
        };
        let d = DeviceConfig::default();
        assert_eq!(erase_energy_pj(&StringConfig::default(), &e), 0.5);
        assert_eq!(read_energy_pj(&d, &e), 0.03);
        let p = ProgramPulse::new(&d, &e);
        assert_eq!(p.energy_pj(100.0, 3.0, Some(0.5)), 0.2);
        assert!(!p.depends_on_switch_time());
    }
}
