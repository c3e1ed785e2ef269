//! Where the random bits of stochastic rounding come from, and what they cost.
//!
//! Every code an update rounds stochastically consumes `weights.random_bits` random bits.
//! - `lfsr`: a digital linear-feedback shift register beside the compute unit,
//!   `energy.rng_bit_pj` per bit, working alongside the optimiser step (no time of its own).
//! - `mtj`: the subarray's own MTJs as a true random source: a string is reset by one SOT
//!   erase, each of its N MTJs gets one STT pulse at the program current of the width at
//!   which the device law switches with probability 0.5, and the string is read; that gives
//!   N random bits. These strings run on the subarray's write drivers before its writes.
//!
//! The source only costs: the simulated rounding draws from the same keyed stream whatever
//! the source, so the numerics of a seed do not depend on it.

use crate::config::ArchConfig;
use crate::config::arch::{RandomSource, Rounding, StoreKind};
use crate::device::Switching;
use crate::device::circuit::{ProgramPulse, erase_energy_pj, read_energy_pj};
use crate::device::string::ns_to_ps;

/// The width of a program pulse at `update.program_current_ua` that switches with
/// probability 0.5 under the arch's device law, in ns; `None` when no pulse does.
pub fn half_switch_pulse_ns(arch: &ArchConfig) -> Option<f64> {
    half_switch(
        &Switching::new(&arch.device),
        arch.update.program_current_ua,
    )
}

/// The width of a pulse of `current_ua` that switches with probability 0.5 under `sw`.
fn half_switch(sw: &Switching, current_ua: f64) -> Option<f64> {
    let most = sw.p_switch(crate::config::device::MAX_PULSE_NS, current_ua);
    (most >= 0.5).then(|| sw.quantile(0.5, current_ua))
}

/// What the random bits of one update cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RngCost {
    /// No stochastic rounding (rounding to nearest, or a float store).
    None,
    /// An LFSR: energy per bit, in pJ.
    Lfsr {
        /// Energy per random bit, in pJ.
        bit_pj: f64,
    },
    /// MTJ strings as the source.
    Mtj {
        /// Random bits one string gives (its MTJs).
        bits_per_string: u64,
        /// Duration of one string's reset, pulses and read, in ps.
        string_ps: u64,
        /// Energy of the same, in pJ.
        string_pj: f64,
        /// The pulse width used, in ns.
        pulse_ns: f64,
    },
}

impl RngCost {
    /// The cost the arch describes. Arch files are checked to have a P = 0.5 pulse
    /// before this is called with `random_source = "mtj"`.
    pub fn new(arch: &ArchConfig) -> Self {
        let w = &arch.weights;
        if w.rounding != Rounding::Stochastic || w.store == StoreKind::Float {
            return RngCost::None;
        }
        match w.random_source {
            RandomSource::Lfsr => RngCost::Lfsr {
                bit_pj: crate::hw::scaling::scaled_pj(arch, "energy.rng_bit_pj"),
            },
            RandomSource::Mtj => {
                let sw = Switching::new(&arch.device);
                let pulse_ns = half_switch(&sw, arch.update.program_current_ua).unwrap_or(0.0);
                let n = u64::from(arch.string.mtjs);
                let rounds = n.div_ceil(u64::from(arch.string.program_parallelism.max(1)));
                let pulse = ProgramPulse::new(&arch.device, &arch.energy);
                let pulse_pj =
                    pulse.expected_energy_pj(&sw, arch.update.program_current_ua, pulse_ns);
                RngCost::Mtj {
                    bits_per_string: n,
                    string_ps: ns_to_ps(arch.string.erase_pulse_ns)
                        + rounds * ns_to_ps(pulse_ns)
                        + ns_to_ps(arch.device.read_ns),
                    string_pj: erase_energy_pj(&arch.string, &arch.energy)
                        + n as f64 * (pulse_pj + read_energy_pj(&arch.device, &arch.energy)),
                    pulse_ns,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::device::SwitchingModel;

    #[test]
    fn half_switch_pulse_switches_half_the_time() {
        let a = ArchConfig::default();
        let t = half_switch_pulse_ns(&a).expect("the default law reaches 0.5");
        let p = Switching::new(&a.device).p_switch(t, a.update.program_current_ua);
        assert!((p - 0.5).abs() < 1e-9, "{t} ns -> {p}");
        // Below 1 ns at 4 x I_c0, where P(1 ns) = 0.84.
        assert!(t > 0.3 && t < 1.0, "{t}");
        // A table that never reaches 0.5 has no such pulse.
        let mut a = ArchConfig::default();
        a.device.switching = SwitchingModel::Fixed;
        a.device.fixed_pulse_ns = vec![1.0];
        a.device.fixed_p_switch = vec![0.4];
        assert_eq!(half_switch_pulse_ns(&a), None);
        a.device.fixed_p_switch = vec![0.8];
        assert!((half_switch_pulse_ns(&a).unwrap() - 0.625).abs() < 1e-12);
        // A table that just reaches 0.5 does so at its width.
        a.device.fixed_p_switch = vec![0.5];
        assert!((half_switch_pulse_ns(&a).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_measured_law_has_the_half_switch_pulse_of_its_data() {
        // The shipped CSV tabulates the default law: its P = 0.5 width is the law's, to the
        // CSV's rounding.
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("arch/devices/precessional.csv");
        let surface = crate::device::measured::Surface::read(&path).unwrap();
        let mut a = ArchConfig::default();
        let want = half_switch_pulse_ns(&a).unwrap();
        a.device.switching = SwitchingModel::Measured;
        a.device.measured = Some(std::sync::Arc::new(surface));
        let got = half_switch_pulse_ns(&a).unwrap();
        assert!((got - want).abs() < 1e-8, "{got} vs {want}");
    }

    #[test]
    fn mtj_strings_cost_their_pulses() {
        let mut a = ArchConfig::default();
        assert_eq!(RngCost::new(&a), RngCost::Lfsr { bit_pj: 0.03 });
        a.weights.random_source = RandomSource::Mtj;
        let RngCost::Mtj {
            bits_per_string,
            string_ps,
            string_pj,
            pulse_ns,
        } = RngCost::new(&a)
        else {
            panic!("an MTJ source");
        };
        assert_eq!(bits_per_string, 8);
        // Erase 1 ns, eight pulses one at a time, one read of 1 ns.
        assert_eq!(string_ps, 1000 + 8 * ns_to_ps(pulse_ns) + 1000);
        let erase = erase_energy_pj(&a.string, &a.energy);
        assert!(string_pj > erase + 8.0 * 0.02, "{string_pj}");
        a.weights.rounding = Rounding::Nearest;
        assert_eq!(RngCost::new(&a), RngCost::None);
    }
}
