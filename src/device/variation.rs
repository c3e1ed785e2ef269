//! Real devices differ: device-to-device variation of the MTJ's parameters (drawn once per
//! MTJ), of the SOT erase threshold (drawn once per string), and cycle-to-cycle variation
//! of the program current (drawn for every pulse).
//!
//! A device is drawn from a stream keyed on the seed and its *logical* place: the parameter
//! tensor, the string's index in it and the MTJ's position in the string. Where the tensor
//! is mapped on the chip (tiles, subarrays) plays no part, so sweeps over the organisation
//! train on the same devices and give the same numerics.
//!
//! Each MTJ's switching probability at its bit's pulse width is computed once, exactly,
//! from its drawn parameters (the same closed forms as the nominal law), and kept as the
//! draw threshold of its pulses; a pulse then costs one comparison as without variation.
//! Under cycle-to-cycle variation a pulse's current is drawn, and its probability is
//! computed exactly only when the pulse's switching draw falls between the probabilities
//! at the extreme currents (kept per MTJ too).

use rayon::prelude::*;

use super::circuit::ProgramPulse;
use super::normal;
use super::string::{Layout, ns_to_ps};
use super::switching::{Switching, tau_d_ns};
use crate::config::arch::ArchConfig;
use crate::config::device::{DeviceConfig, Drive, SwitchingModel};
use crate::config::variation::{Distribution, NORMAL_MAX_DEVIATION, TRUNCATE_Z};
use crate::rng::{Purpose, TWO_POW_53, key, keyed_u53, threshold_u53};

/// One spread: the factor a draw multiplies a nominal value by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    dist: Distribution,
    /// Relative standard deviation.
    s: f64,
    /// σ of ln(factor) for the lognormal.
    sigma_ln: f64,
    /// The draws' truncation, in standard deviations.
    z_max: f64,
    /// Φ(−z_max).
    lo: f64,
}

impl Spread {
    /// A spread of relative standard deviation `s` (0: every factor is 1).
    pub fn new(dist: Distribution, s: f64) -> Self {
        let z_max = match dist {
            Distribution::Normal if s > 0.0 => TRUNCATE_Z.min(NORMAL_MAX_DEVIATION / s),
            _ => TRUNCATE_Z,
        };
        Self {
            dist,
            s,
            sigma_ln: (1.0 + s * s).ln().sqrt(),
            z_max,
            lo: normal::cdf(-z_max),
        }
    }

    /// Whether draws differ from 1.
    pub fn is_on(&self) -> bool {
        self.s > 0.0
    }

    /// The factor at a standard normal `z`.
    fn at_z(&self, z: f64) -> f64 {
        match self.dist {
            Distribution::Lognormal => {
                (self.sigma_ln * z - 0.5 * self.sigma_ln * self.sigma_ln).exp()
            }
            Distribution::Normal => 1.0 + self.s * z,
        }
    }

    /// The factor for `u` uniform in [0, 1) (exactly 1 when the spread is 0).
    pub fn factor(&self, u: f64) -> f64 {
        if self.s == 0.0 {
            return 1.0;
        }
        self.at_z(normal::truncated(u, self.z_max, self.lo))
    }

    /// The smallest and largest factor a draw can give.
    pub fn range(&self) -> (f64, f64) {
        if self.s == 0.0 {
            (1.0, 1.0)
        } else {
            (self.at_z(-self.z_max), self.at_z(self.z_max))
        }
    }
}

/// One MTJ's switching law, with its drawn parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Law {
    /// The precessional law (see [`Switching::Precessional`]).
    Precessional {
        /// π²Δ/4.
        a: f64,
        /// τ_D, in ns.
        tau_d_ns: f64,
        /// I_c0, in µA.
        ic0_ua: f64,
    },
    /// The thermal law (see [`Switching::Thermal`]).
    Thermal {
        /// Δ.
        delta: f64,
        /// τ0, in ns.
        tau0_ns: f64,
        /// I_c0, in µA.
        ic0_ua: f64,
    },
    /// The arch's own table (`fixed`, or a measured surface) at the current divided by
    /// `ic0_factor`: a device whose I_c0 is f times the nominal one behaves at current I
    /// as the nominal device at I / f.
    Scaled {
        /// The MTJ's I_c0 over the nominal one.
        ic0_factor: f64,
    },
}

impl Law {
    /// Runs `f` on the law as a [`Switching`] and the current it sees.
    #[inline]
    fn with<R>(
        &self,
        nominal: &Switching,
        current_ua: f64,
        f: impl FnOnce(&Switching, f64) -> R,
    ) -> R {
        match *self {
            Law::Precessional {
                a,
                tau_d_ns,
                ic0_ua,
            } => f(
                &Switching::Precessional {
                    a,
                    tau_d_ns,
                    ic0_ua,
                },
                current_ua,
            ),
            Law::Thermal {
                delta,
                tau0_ns,
                ic0_ua,
            } => f(
                &Switching::Thermal {
                    delta,
                    tau0_ns,
                    ic0_ua,
                },
                current_ua,
            ),
            Law::Scaled { ic0_factor } => f(nominal, current_ua / ic0_factor),
        }
    }

    /// The probability that a pulse of `pulse_ns` at `current_ua` switches the MTJ.
    pub fn p_switch(&self, nominal: &Switching, pulse_ns: f64, current_ua: f64) -> f64 {
        self.with(nominal, current_ua, |s, i| s.p_switch(pulse_ns, i))
    }

    /// The switching time (ns) of a pulse of `pulse_ns` at `current_ua` that switched with
    /// uniform draw `u`: the law's quantile, or, for measured data with mean switching
    /// times, the measured mean (as for the nominal device), within the pulse.
    pub fn switch_time_ns(
        &self,
        nominal: &Switching,
        u: f64,
        pulse_ns: f64,
        current_ua: f64,
    ) -> f64 {
        self.with(nominal, current_ua, |s, i| {
            s.measured_mean_ns(pulse_ns, i)
                .unwrap_or_else(|| s.quantile(u, i))
                .clamp(0.0, pulse_ns)
        })
    }

    /// Whether the switching probability never falls as the current rises (true of the
    /// closed-form laws; a table is not assumed to be).
    fn monotone_in_current(&self) -> bool {
        !matches!(self, Law::Scaled { .. })
    }
}

/// One MTJ as drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mtj {
    /// Its switching law.
    pub law: Law,
    /// The program current through it over `update.program_current_ua` (1 under current
    /// drive; R_AP,nominal / R_AP under voltage drive).
    pub current_factor: f64,
    /// Its program pulse's energy model (its own R_P and R_AP).
    pub pulse: ProgramPulse,
}

/// Draws devices: the spreads of `[variation]` around the nominal `[device]`.
#[derive(Debug, Clone)]
pub struct Drawer {
    /// Spreads of Δ, I_c0, μ0·H_k, α, R_P, R_AP, in [`Kind`] order.
    spreads: [Spread; 6],
    /// Spread of a string's SOT erase threshold.
    erase: Spread,
    /// Cycle-to-cycle spread of a pulse's current.
    pub pulse_current: Spread,
    device: DeviceConfig,
    energy: crate::config::device::EnergyConfig,
    /// The nominal law.
    pub nominal: Switching,
    erase_current_ua: f64,
    erase_critical_ua: f64,
    /// The seed devices are drawn from.
    seed: u64,
}

/// What a device draw is for (the low bits of its index).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Delta = 0,
    Ic0 = 1,
    Hk = 2,
    Damping = 3,
    Rp = 4,
    Rap = 5,
    Erase = 6,
}

/// Index of a device draw: the string, the MTJ in it (at most 64) and what is drawn.
#[inline]
fn device_index(string: u64, mtj: u64, kind: Kind) -> u64 {
    (string << 12) | (mtj << 4) | kind as u64
}

impl Drawer {
    /// The drawer of the arch's `[variation]`; devices are keyed on `variation.seed`, or
    /// `seed` (the run's) when absent.
    pub fn new(arch: &ArchConfig, seed: u64) -> Self {
        let v = &arch.variation;
        let sp = |s| Spread::new(v.distribution, s);
        Self {
            spreads: [
                sp(v.delta),
                sp(v.ic0),
                sp(v.mu0_hk),
                sp(v.damping),
                sp(v.r_p),
                sp(v.r_ap),
            ],
            erase: sp(v.erase_threshold),
            pulse_current: sp(v.program_current),
            device: arch.device.clone(),
            energy: arch.energy.clone(),
            nominal: Switching::new(&arch.device),
            erase_current_ua: arch.string.erase_current_ua,
            erase_critical_ua: arch.string.erase_critical_ua,
            seed: v.seed.unwrap_or(seed),
        }
    }

    /// The stream key of tensor `param`'s devices.
    pub fn tensor_key(&self, param: u64) -> u64 {
        key(&[self.seed, Purpose::Device as u64, param])
    }

    /// The factor of spread `kind` for the device at `index` (no draw when it is off).
    #[inline]
    fn factor(&self, stream: u64, string: u64, mtj: u64, kind: Kind) -> f64 {
        let s = &self.spreads[kind as usize];
        if !s.is_on() {
            return 1.0;
        }
        let n = keyed_u53(stream, device_index(string, mtj, kind));
        s.factor(n as f64 / TWO_POW_53)
    }

    /// The MTJ at position `mtj` of string `string` of the tensor keyed `stream`.
    pub fn mtj(&self, stream: u64, string: u64, mtj: u64) -> Mtj {
        let d = &self.device;
        let f = |k| self.factor(stream, string, mtj, k);
        let (f_delta, f_ic0, f_hk, f_damping, f_rp, f_rap) = (
            f(Kind::Delta),
            f(Kind::Ic0),
            f(Kind::Hk),
            f(Kind::Damping),
            f(Kind::Rp),
            f(Kind::Rap),
        );
        let law = match d.switching {
            SwitchingModel::Precessional => Law::Precessional {
                a: std::f64::consts::PI.powi(2) * d.delta * f_delta / 4.0,
                tau_d_ns: tau_d_ns(d.damping * f_damping, d.mu0_hk_t * f_hk),
                ic0_ua: d.ic0_ua * f_ic0,
            },
            SwitchingModel::Thermal => Law::Thermal {
                delta: d.delta * f_delta,
                tau0_ns: d.tau0_ns,
                ic0_ua: d.ic0_ua * f_ic0,
            },
            _ => Law::Scaled { ic0_factor: f_ic0 },
        };
        let (r_p, r_ap) = (d.r_p_ohm * f_rp, d.r_ap_ohm * f_rap);
        Mtj {
            law,
            current_factor: match d.drive {
                Drive::Current => 1.0,
                // The driver's voltage is set for the nominal R_AP.
                Drive::Voltage => 1.0 / f_rap,
            },
            pulse: ProgramPulse::with_resistances(d, &self.energy, r_p, r_ap),
        }
    }

    /// Whether the erase current reaches string `string`'s drawn SOT threshold.
    pub fn erases(&self, stream: u64, string: u64) -> bool {
        if !self.erase.is_on() {
            return self.erase_current_ua >= self.erase_critical_ua;
        }
        let n = keyed_u53(stream, device_index(string, 0, Kind::Erase));
        let threshold = self.erase_critical_ua * self.erase.factor(n as f64 / TWO_POW_53);
        self.erase_current_ua >= threshold
    }

    /// The switching probability of `mtj` for one pulse of `pulse_ns` at `current_ua`
    /// (the arch's program current, before the MTJ's own factor), averaged over the
    /// cycle-to-cycle spread of the current (a 16-point midpoint rule in its quantiles).
    pub fn mean_p_switch(&self, mtj: &Mtj, pulse_ns: f64, current_ua: f64) -> f64 {
        self.mean_p_switch_of(&mtj.law, mtj.current_factor, pulse_ns, current_ua)
    }

    /// [`Self::mean_p_switch`] of an MTJ of law `law` and current factor `current_factor`.
    pub fn mean_p_switch_of(
        &self,
        law: &Law,
        current_factor: f64,
        pulse_ns: f64,
        current_ua: f64,
    ) -> f64 {
        let i = current_ua * current_factor;
        if !self.pulse_current.is_on() {
            return law.p_switch(&self.nominal, pulse_ns, i);
        }
        const POINTS: usize = 16;
        (0..POINTS)
            .map(|j| {
                let c = self.pulse_current.factor((j as f64 + 0.5) / POINTS as f64);
                law.p_switch(&self.nominal, pulse_ns, i * c)
            })
            .sum::<f64>()
            / POINTS as f64
    }
}

/// Where bit `bit` of code `elem` sits: its string's index in the tensor and its
/// position in that string.
pub fn place(layout: &Layout, elem: usize, bit: u32) -> (u64, u64) {
    let (width, n) = (layout.bits, layout.mtjs);
    if width <= n {
        let k = layout.weights_per_string();
        ((elem / k) as u64, ((elem % k) as u32 * width + bit) as u64)
    } else {
        let m = layout.strings_per_weight();
        let j = (width - 1 - bit) / n;
        let lo = width - (j + 1) * n;
        ((elem * m) as u64 + u64::from(j), u64::from(bit - lo))
    }
}

/// The devices of one parameter tensor, as the write path reads them: per MTJ (bit `b` of
/// code `e` at `e * width + b`), only what a pulse needs, in compact arrays.
#[derive(Debug, Clone)]
pub struct TensorDevices {
    /// A switching draw below this switches a pulse at the MTJ's own current.
    pub threshold: Vec<u64>,
    /// The MTJ's switching-time law at its own current (see [`TimeKind`]).
    pub times: Vec<[f32; 2]>,
    /// (R_before, R_after in Ω, current factor): empty without spreads of R_P or R_AP.
    pub resist: Vec<[f32; 3]>,
    /// The MTJs' laws, under cycle-to-cycle variation only (a pulse's probability at its
    /// drawn current needs the law).
    pub laws: Vec<Law>,
    /// Under cycle-to-cycle variation, when the law is monotone in the current: the
    /// thresholds at the smallest and largest current a pulse can have.
    pub bounds: Vec<[u64; 2]>,
    /// Per string: whether an erase switches it.
    pub erases: Vec<bool>,
}

impl TensorDevices {
    /// The program current through MTJ `d` over `update.program_current_ua`.
    #[inline]
    pub fn current_factor(&self, d: usize) -> f64 {
        self.resist.get(d).map_or(1.0, |r| f64::from(r[2]))
    }
}

/// How [`TensorDevices::times`] gives a switched pulse's time from its uniform draw u.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// `[ln a, 1/k]`: T = (ln a − ln(−ln u)) / k (the precessional law's quantile).
    Precessional,
    /// `[τ, 0]`: T = −τ ln(1 − u) (the thermal law's quantile).
    Thermal,
    /// `[I_c0 factor, 0]`: the arch's own table at the current over the factor.
    Scaled,
}

impl TimeKind {
    fn of(law: &Law) -> Self {
        match law {
            Law::Precessional { .. } => TimeKind::Precessional,
            Law::Thermal { .. } => TimeKind::Thermal,
            Law::Scaled { .. } => TimeKind::Scaled,
        }
    }
}

/// The compact switching-time parameters of `law` at `current_ua`.
fn time_params(law: &Law, current_ua: f64) -> [f32; 2] {
    match *law {
        Law::Precessional {
            a,
            tau_d_ns,
            ic0_ua,
        } => {
            let k = 2.0 * (current_ua / ic0_ua - 1.0) / tau_d_ns;
            [a.ln() as f32, if k > 0.0 { (1.0 / k) as f32 } else { 0.0 }]
        }
        Law::Thermal {
            delta,
            tau0_ns,
            ic0_ua,
        } => [
            (tau0_ns * (delta * (1.0 - current_ua / ic0_ua)).exp()) as f32,
            0.0,
        ],
        Law::Scaled { ic0_factor } => [ic0_factor as f32, 0.0],
    }
}

/// Every device of a store's tensors.
#[derive(Debug, Clone)]
pub struct Population {
    /// How devices were drawn.
    pub drawer: Drawer,
    /// MTJs per code (the inversion flag included).
    pub width: usize,
    /// Pulse width of each bit position, in ns (0 = LSB).
    pub pulse_ns: Vec<f64>,
    /// `update.program_current_ua`.
    pub current_ua: f64,
    /// How `times` reads.
    pub time_kind: TimeKind,
    /// By parameter id; `None` for tensors held digitally.
    pub tensors: Vec<Option<TensorDevices>>,
    layout: Layout,
}

impl Population {
    /// Draws the devices of tensors of `lens` codes (`None`: held digitally) whose bit `b`
    /// is programmed by pulses of `pulse_ns[b]`.
    pub fn draw(arch: &ArchConfig, seed: u64, lens: &[Option<usize>], pulse_ns: &[f64]) -> Self {
        let drawer = Drawer::new(arch, seed);
        let layout = Layout::of(arch);
        let width = layout.bits as usize;
        let current_ua = arch.update.program_current_ua;
        let (lo, hi) = drawer.pulse_current.range();
        let c2c = drawer.pulse_current.is_on();
        let resistances =
            drawer.spreads[Kind::Rp as usize].is_on() || drawer.spreads[Kind::Rap as usize].is_on();
        let time_kind = TimeKind::of(&drawer.mtj(0, 0, 0).law);
        let tensors = lens
            .iter()
            .enumerate()
            .map(|(param, len)| {
                let len = (*len)?;
                let stream = drawer.tensor_key(param as u64);
                // Per MTJ: (threshold, times, resistances, bounds, the MTJ if kept).
                type Row = (u64, [f32; 2], [f32; 3], [u64; 2], Option<Law>);
                let rows: Vec<Row> = (0..len * width)
                    .into_par_iter()
                    .map(|i| {
                        let (s, m) = place(&layout, i / width, (i % width) as u32);
                        let mtj = drawer.mtj(stream, s, m);
                        let t = pulse_ns[i % width];
                        // The current factor as the write path reads it back (f32), so that
                        // every probability of this MTJ is at the same current.
                        let factor = if resistances {
                            f64::from(mtj.current_factor as f32)
                        } else {
                            1.0
                        };
                        let i_ua = current_ua * factor;
                        let at =
                            |c: f64| threshold_u53(mtj.law.p_switch(&drawer.nominal, t, i_ua * c));
                        let bounds = if c2c && mtj.law.monotone_in_current() {
                            [at(lo), at(hi)]
                        } else {
                            [0, 0]
                        };
                        let (r_before, r_after) = mtj.pulse.ohms();
                        (
                            at(1.0),
                            time_params(&mtj.law, i_ua),
                            [r_before as f32, r_after as f32, factor as f32],
                            bounds,
                            c2c.then_some(mtj.law),
                        )
                    })
                    .collect();
                // The closed-form laws are monotone in the current; a table is not assumed.
                let monotone = time_kind != TimeKind::Scaled;
                Some(TensorDevices {
                    threshold: rows.iter().map(|r| r.0).collect(),
                    times: rows.iter().map(|r| r.1).collect(),
                    resist: if resistances {
                        rows.iter().map(|r| r.2).collect()
                    } else {
                        Vec::new()
                    },
                    bounds: if c2c && monotone {
                        rows.iter().map(|r| r.3).collect()
                    } else {
                        Vec::new()
                    },
                    laws: rows.into_iter().filter_map(|r| r.4).collect(),
                    erases: (0..layout.strings_for(len) as u64)
                        .map(|s| drawer.erases(stream, s))
                        .collect(),
                })
            })
            .collect();
        Self {
            drawer,
            width,
            pulse_ns: pulse_ns.to_vec(),
            current_ua,
            time_kind,
            tensors,
            layout,
        }
    }

    /// The devices of tensor `param` (`None` when it is held digitally).
    pub fn tensor(&self, param: usize) -> Option<&TensorDevices> {
        self.tensors.get(param).and_then(Option::as_ref)
    }

    /// The MTJ holding bit `bit` of code `elem` of tensor `param`, drawn again.
    pub fn mtj(&self, param: usize, elem: usize, bit: u32) -> Mtj {
        let (s, m) = place(&self.layout, elem, bit);
        self.drawer.mtj(self.drawer.tensor_key(param as u64), s, m)
    }

    /// The switching time (ns) of a pulse of `pulse_ns` on MTJ `d` of `devices` at the
    /// MTJ's own current, switched with uniform draw `u`.
    #[inline]
    pub fn switch_time_ns(&self, devices: &TensorDevices, d: usize, u: f64, pulse_ns: f64) -> f64 {
        let [x, y] = devices.times[d];
        let t = match self.time_kind {
            TimeKind::Precessional => (f64::from(x) - (-u.ln()).ln()) * f64::from(y),
            TimeKind::Thermal => -f64::from(x) * (-u).ln_1p(),
            TimeKind::Scaled => {
                let i_ua = self.current_ua * devices.current_factor(d);
                return Law::Scaled {
                    ic0_factor: f64::from(x),
                }
                .switch_time_ns(&self.drawer.nominal, u, pulse_ns, i_ua);
            }
        };
        t.clamp(0.0, pulse_ns)
    }

    /// The failure probability of one program pulse that the worst 1 % of MTJs reach or
    /// exceed (the 99th percentile over every MTJ of every tensor, nearest rank), at each
    /// MTJ's bit's pulse width, averaged over the cycle-to-cycle current spread.
    pub fn worst_fail_p(&self) -> f64 {
        let mut fails: Vec<f64> = Vec::new();
        for t in self.tensors.iter().flatten() {
            if self.drawer.pulse_current.is_on() {
                fails.par_extend((0..t.laws.len()).into_par_iter().map(|i| {
                    1.0 - self.drawer.mean_p_switch_of(
                        &t.laws[i],
                        t.current_factor(i),
                        self.pulse_ns[i % self.width],
                        self.current_ua,
                    )
                }));
            } else {
                fails.extend(t.threshold.iter().map(|&n| 1.0 - n as f64 / TWO_POW_53));
            }
        }
        percentile(&mut fails, 0.99)
    }
}

/// The nearest-rank `q` quantile of `values` (reordered), 0 when empty: the smallest value
/// that at least a fraction `q` of the values do not exceed.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    *values.select_nth_unstable_by(rank - 1, f64::total_cmp).1
}

/// The pulse width of every bit position of the arch's codes (0 = LSB, the inversion flag
/// last), in ns on the write path's 1 ps grid.
pub fn bit_pulses_ns(arch: &ArchConfig) -> Vec<f64> {
    let bits = arch.weights.bits;
    (0..arch.weights.cell_bits())
        .map(|b| {
            ns_to_ps(arch.update.program_pulse_ns.for_bit(b.min(bits - 1), bits)) as f64 / 1000.0
        })
        .collect()
}

/// The distribution over devices of one pulse's switching probability at each of
/// `pulses_ns` x `currents_ua` (currents outer): `n` MTJs drawn from the arch's
/// `[variation]` (keyed on `seed` as a run's devices, on a stream of their own), each
/// averaged over the cycle-to-cycle spread; returns per grid point the quantiles `qs`.
pub fn p_switch_quantiles(
    arch: &ArchConfig,
    seed: u64,
    n: usize,
    pulses_ns: &[f64],
    currents_ua: &[f64],
    qs: &[f64],
) -> Vec<Vec<f64>> {
    let drawer = Drawer::new(arch, seed);
    let stream = drawer.tensor_key(u64::MAX);
    let mtjs: Vec<Mtj> = (0..n as u64)
        .into_par_iter()
        .map(|s| drawer.mtj(stream, s, 0))
        .collect();
    let mut out = Vec::with_capacity(pulses_ns.len() * currents_ua.len());
    for &i in currents_ua {
        for &t in pulses_ns {
            let mut p: Vec<f64> = mtjs
                .par_iter()
                .map(|m| drawer.mean_p_switch(m, t, i))
                .collect();
            out.push(qs.iter().map(|&q| percentile(&mut p, q)).collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::variation::VariationConfig;

    fn with(v: VariationConfig) -> ArchConfig {
        ArchConfig {
            variation: v,
            ..ArchConfig::default()
        }
    }

    #[test]
    fn spreads_have_the_documented_mean_and_deviation() {
        for dist in [Distribution::Lognormal, Distribution::Normal] {
            for s in [0.05, 0.1, 0.3] {
                let sp = Spread::new(dist, s);
                let n = 200_000;
                let xs: Vec<f64> = (0..n)
                    .map(|j| sp.factor((j as f64 + 0.5) / n as f64))
                    .collect();
                let mean = xs.iter().sum::<f64>() / n as f64;
                let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
                // Truncation at 4 sigma moves the moments by < 0.1 % (and the normal's
                // truncation at |s z| <= 0.9 is symmetric: the mean stays).
                assert!((mean - 1.0).abs() < 1e-3, "{dist:?} {s}: mean {mean}");
                // The normal at s = 0.3 is cut at 3 sigma (factors >= 0.1): 1.3 % less.
                assert!((sd / s - 1.0).abs() < 0.02, "{dist:?} {s}: sd {sd}");
                let (lo, hi) = sp.range();
                assert!(xs.iter().all(|&x| x >= lo && x <= hi && x > 0.0));
            }
        }
        assert_eq!(Spread::new(Distribution::Normal, 0.0).factor(0.3), 1.0);
        assert_eq!(Spread::new(Distribution::Normal, 0.0).range(), (1.0, 1.0));
    }

    #[test]
    fn places_follow_the_layout() {
        let l = Layout { bits: 4, mtjs: 8 };
        assert_eq!(place(&l, 0, 0), (0, 0));
        assert_eq!(place(&l, 1, 3), (0, 7));
        assert_eq!(place(&l, 2, 1), (1, 1));
        let l = Layout { bits: 8, mtjs: 4 };
        // String 0 of a code holds its MSBs.
        assert_eq!(place(&l, 0, 7), (0, 3));
        assert_eq!(place(&l, 0, 4), (0, 0));
        assert_eq!(place(&l, 0, 3), (1, 3));
        assert_eq!(place(&l, 3, 0), (7, 0));
    }

    #[test]
    fn nominal_devices_without_spreads() {
        let a = ArchConfig::default();
        let d = Drawer::new(&a, 3);
        let m = d.mtj(d.tensor_key(0), 5, 2);
        let nominal = Switching::new(&a.device);
        assert_eq!(
            m.law.p_switch(&nominal, 1.0, 120.0),
            nominal.p_switch(1.0, 120.0)
        );
        assert_eq!(m.current_factor, 1.0);
        assert!(d.erases(d.tensor_key(0), 9));
    }

    #[test]
    fn a_spread_of_ic0_moves_the_probability_both_ways() {
        let a = with(VariationConfig {
            ic0: 0.1,
            ..VariationConfig::default()
        });
        let d = Drawer::new(&a, 1);
        let k = d.tensor_key(0);
        let nominal = d.nominal.p_switch(1.0, 120.0);
        let ps: Vec<f64> = (0..500)
            .map(|s| d.mtj(k, s, 0).law.p_switch(&d.nominal, 1.0, 120.0))
            .collect();
        assert!(ps.iter().any(|&p| p < nominal - 0.02));
        assert!(ps.iter().any(|&p| p > nominal + 0.02));
        // Keyed on the place: the same device twice, another elsewhere.
        assert_eq!(d.mtj(k, 7, 3), d.mtj(k, 7, 3));
        assert_ne!(d.mtj(k, 7, 3), d.mtj(k, 7, 4));
        assert_ne!(d.mtj(k, 7, 3), d.mtj(d.tensor_key(1), 7, 3));
    }

    #[test]
    fn voltage_drive_gives_high_resistance_devices_less_current() {
        let mut a = with(VariationConfig {
            r_ap: 0.2,
            ..VariationConfig::default()
        });
        a.device.drive = Drive::Voltage;
        let d = Drawer::new(&a, 1);
        let k = d.tensor_key(0);
        let ms: Vec<Mtj> = (0..200).map(|s| d.mtj(k, s, 0)).collect();
        assert!(ms.iter().any(|m| m.current_factor < 0.9));
        assert!(ms.iter().any(|m| m.current_factor > 1.1));
        // The pulse energy of a failed pulse is V^2/R_AP t: the inverse of R_AP.
        for m in &ms {
            let e = m.pulse.energy_pj(120.0 * m.current_factor, 1.0, None);
            let nominal = 120.0f64.powi(2) * 6000.0 * 1e-9 + 0.01;
            assert!((e - 0.01 - (nominal - 0.01) * m.current_factor).abs() < 1e-9);
        }
    }

    #[test]
    fn erase_thresholds_spread_over_strings() {
        let mut a = with(VariationConfig {
            erase_threshold: 0.2,
            ..VariationConfig::default()
        });
        // The erase current just reaches the nominal threshold: about half the strings
        // do not erase.
        a.string.erase_critical_ua = a.string.erase_current_ua;
        let d = Drawer::new(&a, 1);
        let k = d.tensor_key(0);
        let ok = (0..2000).filter(|&s| d.erases(k, s)).count();
        assert!((900..1100).contains(&ok), "{ok}");
    }

    #[test]
    fn the_write_path_keeps_only_what_the_spreads_need() {
        let a = with(VariationConfig {
            ic0: 0.05,
            ..VariationConfig::default()
        });
        let pop = Population::draw(&a, 0, &[Some(10)], &bit_pulses_ns(&a));
        let t = pop.tensor(0).unwrap();
        assert_eq!((t.threshold.len(), t.times.len()), (80, 80));
        assert!(t.laws.is_empty() && t.bounds.is_empty() && t.resist.is_empty());
        let b = with(VariationConfig {
            ic0: 0.05,
            r_p: 0.05,
            program_current: 0.02,
            ..VariationConfig::default()
        });
        let pop = Population::draw(&b, 0, &[Some(10)], &bit_pulses_ns(&b));
        let t = pop.tensor(0).unwrap();
        assert_eq!((t.laws.len(), t.bounds.len(), t.resist.len()), (80, 80, 80));
        // The bounds bracket the threshold at the MTJ's own current.
        assert!(
            t.bounds
                .iter()
                .zip(&t.threshold)
                .all(|(b, &n)| b[0] <= n && n <= b[1])
        );
    }

    #[test]
    fn a_scaled_table_sees_the_current_over_the_factor() {
        let nominal = Switching::new(&ArchConfig::default().device);
        let law = Law::Scaled { ic0_factor: 1.25 };
        assert_eq!(
            law.p_switch(&nominal, 1.0, 150.0),
            nominal.p_switch(1.0, 120.0)
        );
        let u = 0.3 * nominal.p_switch(1.0, 120.0);
        assert_eq!(
            law.switch_time_ns(&nominal, u, 1.0, 150.0),
            nominal.quantile(u, 120.0).clamp(0.0, 1.0)
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        v.reverse();
        assert_eq!(percentile(&mut v, 0.99), 99.0);
        assert_eq!(percentile(&mut v, 0.5), 50.0);
        assert_eq!(percentile(&mut v, 1.0), 100.0);
        assert_eq!(percentile(&mut [], 0.99), 0.0);
        assert_eq!(percentile(&mut [3.0], 0.01), 3.0);
    }

    #[test]
    fn worst_percent_without_spreads_is_the_worst_bit() {
        let mut a = with(VariationConfig {
            program_current: 0.0,
            r_p: 0.01,
            ..VariationConfig::default()
        });
        a.update.program_pulse_ns = crate::config::device::PulseWidths::PerBit(vec![
            3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 1.0,
        ]);
        let pulses = bit_pulses_ns(&a);
        let pop = Population::draw(&a, 0, &[Some(100), None], &pulses);
        let want = 1.0 - Switching::new(&a.device).p_switch(1.0, 120.0);
        assert!((pop.worst_fail_p() - want).abs() < 1e-12);
        assert!(pop.tensor(1).is_none());
        assert_eq!(pop.tensor(0).unwrap().erases.len(), 100);
    }
}
