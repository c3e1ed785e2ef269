//! MTJ switching under one STT program pulse: the probability that a pulse of width t and
//! current I switches the free layer AP -> P, and the distribution of the moment it does.
//!
//! Every model is a cumulative distribution F(t) of the switching time T under a constant
//! current: a pulse of width t_p switches with probability F(t_p), and a pulse that switches
//! does so at T drawn from F restricted to [0, t_p].

use std::sync::Arc;

use super::measured::Surface;
use crate::config::device::{DeviceConfig, SwitchingModel};

/// Gyromagnetic ratio of the electron, γ, in rad s⁻¹ T⁻¹ (CODATA 2018).
pub const GAMMA_RAD_PER_S_T: f64 = 1.760_859_630_23e11;

/// A switching law with its parameters resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Switching {
    /// `F(t) = exp(-(π²Δ/4) exp(-2 (i-1) t / τ_D))` for `i = I/I_c0 > 1`; never switches at
    /// `i <= 1` (Sun 2004; Butler et al. 2012).
    Precessional {
        /// π²Δ/4.
        a: f64,
        /// τ_D = (1 + α²) / (α γ μ0 H_k), in ns.
        tau_d_ns: f64,
        /// I_c0, in µA.
        ic0_ua: f64,
    },
    /// `F(t) = 1 - exp(-t/τ)`, `τ = τ0 exp(Δ (1 - i))` (Néel–Brown).
    Thermal {
        /// Δ.
        delta: f64,
        /// τ0, in ns.
        tau0_ns: f64,
        /// I_c0, in µA.
        ic0_ua: f64,
    },
    /// Piecewise-linear F through (0, 0) and the table's points; flat after the last one.
    /// Independent of the current.
    Fixed {
        /// Widths, in ns, strictly increasing.
        pulse_ns: Vec<f64>,
        /// F at each width.
        p: Vec<f64>,
    },
    /// A measured surface of F over pulse width and current (`device.measured_csv`),
    /// interpolated as [`super::measured`] describes; with a `mean_switch_ns` column, the
    /// mean switching times are the measured ones.
    Measured(Arc<Surface>),
}

impl Switching {
    /// The model a `[device]` section describes. For `switching = "measured"` the section's
    /// surface must have been loaded ([`crate::config::arch::load_files`] does so wherever
    /// an arch file is read); without it this panics.
    pub fn new(d: &DeviceConfig) -> Self {
        match d.switching {
            SwitchingModel::Precessional => Switching::Precessional {
                a: std::f64::consts::PI.powi(2) * d.delta / 4.0,
                tau_d_ns: tau_d_ns(d.damping, d.mu0_hk_t),
                ic0_ua: d.ic0_ua,
            },
            SwitchingModel::Thermal => Switching::Thermal {
                delta: d.delta,
                tau0_ns: d.tau0_ns,
                ic0_ua: d.ic0_ua,
            },
            SwitchingModel::Fixed => Switching::Fixed {
                pulse_ns: d.fixed_pulse_ns.clone(),
                p: d.fixed_p_switch.clone(),
            },
            SwitchingModel::Measured => Switching::Measured(Arc::clone(
                d.measured
                    .as_ref()
                    .expect("a measured law's surface is loaded with its arch file"),
            )),
        }
    }

    /// With a measured surface that has mean switching times: the measured mean switching
    /// time of the pulses of `pulse_ns` at `current_ua` that switch (ns, within the pulse),
    /// which every switched pulse is then taken to take; `None` for every other law, or
    /// when the pulse never switches.
    pub fn measured_mean_ns(&self, pulse_ns: f64, current_ua: f64) -> Option<f64> {
        let Switching::Measured(s) = self else {
            return None;
        };
        if self.p_switch(pulse_ns, current_ua) <= 0.0 {
            return None;
        }
        s.mean_at(pulse_ns, current_ua)
            .map(|m| m.clamp(0.0, pulse_ns.max(0.0)))
    }

    /// F(t): the probability that a pulse of `current_ua` has switched the MTJ within
    /// `t_ns`; so also the switching probability of a pulse `t_ns` wide.
    pub fn cdf(&self, t_ns: f64, current_ua: f64) -> f64 {
        if t_ns <= 0.0 {
            return 0.0;
        }
        match self {
            Switching::Precessional {
                a,
                tau_d_ns,
                ic0_ua,
            } => match precession_rate_per_ns(*tau_d_ns, *ic0_ua, current_ua) {
                Some(k) => (-a * (-k * t_ns).exp()).exp(),
                None => 0.0,
            },
            Switching::Thermal {
                delta,
                tau0_ns,
                ic0_ua,
            } => {
                let tau = neel_brown_tau_ns(*delta, *tau0_ns, *ic0_ua, current_ua);
                -(-t_ns / tau).exp_m1()
            }
            Switching::Fixed { pulse_ns, p } => through_table(pulse_ns, p, t_ns),
            Switching::Measured(s) => s.cdf(t_ns, current_ua),
        }
    }

    /// The switching probability of one pulse of `pulse_ns` at `current_ua`.
    pub fn p_switch(&self, pulse_ns: f64, current_ua: f64) -> f64 {
        self.cdf(pulse_ns, current_ua)
    }

    /// The switching time t (ns) with F(t) = u, for `0 <= u < F(+inf)`: a pulse whose
    /// uniform draw u falls below F(t_p) switches, at `quantile(u)` <= t_p.
    pub fn quantile(&self, u: f64, current_ua: f64) -> f64 {
        match self {
            Switching::Precessional {
                a,
                tau_d_ns,
                ic0_ua,
            } => {
                // Only draws below F(t_p) are inverted, and F = 0 at i <= 1.
                let Some(k) = precession_rate_per_ns(*tau_d_ns, *ic0_ua, current_ua) else {
                    return 0.0;
                };
                // F(0) = exp(-a) > 0: draws below it switch at once.
                let t = (a.ln() - (-u.ln()).ln()) / k;
                t.max(0.0)
            }
            Switching::Thermal {
                delta,
                tau0_ns,
                ic0_ua,
            } => -neel_brown_tau_ns(*delta, *tau0_ns, *ic0_ua, current_ua) * (-u).ln_1p(),
            // The inverse of a piecewise-linear law is the same table read the other way.
            Switching::Fixed { pulse_ns, p } => through_table(p, pulse_ns, u),
            Switching::Measured(s) => s.quantile(u, current_ua),
        }
    }

    /// E[min(T, t_p)]: how long, on average, the MTJ stays antiparallel during a pulse of
    /// `pulse_ns` (ns), i.e. ∫₀^t_p (1 − F(t)) dt, in closed form.
    pub fn mean_active_ns(&self, pulse_ns: f64, current_ua: f64) -> f64 {
        if pulse_ns <= 0.0 {
            return 0.0;
        }
        match self {
            Switching::Precessional {
                a,
                tau_d_ns,
                ic0_ua,
            } => match precession_rate_per_ns(*tau_d_ns, *ic0_ua, current_ua) {
                // x = a exp(-k t) turns the integral into (Ein(a) - Ein(a e^{-k t_p})) / k.
                Some(k) => (ein(*a) - ein(a * (-k * pulse_ns).exp())) / k,
                None => pulse_ns,
            },
            Switching::Thermal {
                delta,
                tau0_ns,
                ic0_ua,
            } => {
                let tau = neel_brown_tau_ns(*delta, *tau0_ns, *ic0_ua, current_ua);
                -tau * (-pulse_ns / tau).exp_m1()
            }
            Switching::Fixed { pulse_ns: w, p } => {
                // Trapezoids of 1 - F between the knots (F is linear between them).
                let mut total = 0.0;
                let (mut t0, mut f0) = (0.0, 0.0);
                for (&t1, &f1) in w.iter().zip(p) {
                    if t1 >= pulse_ns {
                        break;
                    }
                    total += (t1 - t0) * (1.0 - 0.5 * (f0 + f1));
                    (t0, f0) = (t1, f1);
                }
                let f_end = self.cdf(pulse_ns, current_ua);
                total + (pulse_ns - t0) * (1.0 - 0.5 * (f0 + f_end))
            }
            Switching::Measured(s) => match self.measured_mean_ns(pulse_ns, current_ua) {
                // E[min(T, t_p)] = p E[T | T <= t_p] + (1 - p) t_p.
                Some(m) => {
                    let p = self.p_switch(pulse_ns, current_ua);
                    p * m + (1.0 - p) * pulse_ns
                }
                None => s.integral_ns(pulse_ns, current_ua, true),
            },
        }
    }

    /// E[T | T <= t_p]: the mean switching time of the pulses that switch (ns), or `None`
    /// when a pulse of this width never switches.
    pub fn mean_switch_ns(&self, pulse_ns: f64, current_ua: f64) -> Option<f64> {
        let p = self.p_switch(pulse_ns, current_ua);
        if p <= 0.0 {
            return None;
        }
        if let Some(m) = self.measured_mean_ns(pulse_ns, current_ua) {
            return Some(m);
        }
        // E[T; T <= t_p] = t_p F(t_p) - ∫₀^t_p F dt, so the mean is t_p - (∫F) / p; the
        // integral is computed directly so that this stays exact when p is tiny.
        let integral = self.integral_cdf_ns(pulse_ns, current_ua);
        Some((pulse_ns - integral / p).clamp(0.0, pulse_ns))
    }

    /// ∫₀^t_p F(t) dt in ns, in closed form without cancellation (for a measured surface:
    /// p (t_p − mean) with its mean switching times, else by quadrature).
    pub fn integral_cdf_ns(&self, pulse_ns: f64, current_ua: f64) -> f64 {
        match self {
            Switching::Precessional {
                a,
                tau_d_ns,
                ic0_ua,
            } => match precession_rate_per_ns(*tau_d_ns, *ic0_ua, current_ua) {
                // x = a exp(-k t): ∫F dt = (E1(a e^{-k t_p}) - E1(a)) / k.
                Some(k) => (e1_of_ln(a.ln() - k * pulse_ns) - e1(*a)) / k,
                None => 0.0,
            },
            Switching::Thermal {
                delta,
                tau0_ns,
                ic0_ua,
            } => {
                // τ (x - 1 + e^{-x}) with x = t_p / τ; a series for small x.
                let tau = neel_brown_tau_ns(*delta, *tau0_ns, *ic0_ua, current_ua);
                let x = pulse_ns / tau;
                if !x.is_finite() || x > 1e15 {
                    // Switches at once: F = 1 over the whole pulse.
                    return pulse_ns;
                }
                let g = if x < 1e-3 {
                    x * x * (0.5 - x / 6.0 + x * x / 24.0)
                } else {
                    x + (-x).exp_m1()
                };
                tau * g
            }
            Switching::Fixed { .. } => pulse_ns - self.mean_active_ns(pulse_ns, current_ua),
            Switching::Measured(s) => match self.measured_mean_ns(pulse_ns, current_ua) {
                Some(m) => self.p_switch(pulse_ns, current_ua) * (pulse_ns - m),
                None => s.integral_ns(pulse_ns, current_ua, false),
            },
        }
    }
}

/// E1(z) = ∫_z^∞ e^(−x) / x dx for z > 0: Ein(z) − ln z − γ for small z, Lentz's continued
/// fraction beyond (relative precision even where E1 underflows towards 0).
pub fn e1(z: f64) -> f64 {
    if z < 2.0 {
        return ein(z) - z.ln() - EULER_GAMMA;
    }
    e1_fraction(z)
}

/// The precessional law's rate k = 2 (i − 1) / τ_D in 1/ns, with i = I / I_c0; `None` at
/// i <= 1, where the law never switches.
fn precession_rate_per_ns(tau_d_ns: f64, ic0_ua: f64, current_ua: f64) -> Option<f64> {
    let i = current_ua / ic0_ua;
    (i > 1.0).then(|| 2.0 * (i - 1.0) / tau_d_ns)
}

/// The Néel–Brown mean switching time τ = τ0 exp(Δ (1 − i)) in ns, with i = I / I_c0.
fn neel_brown_tau_ns(delta: f64, tau0_ns: f64, ic0_ua: f64, current_ua: f64) -> f64 {
    tau0_ns * (delta * (1.0 - current_ua / ic0_ua)).exp()
}

/// The piecewise-linear function through (0, 0) and the points (xs[i], ys[i]) at x, flat
/// after the last point; `xs` non-decreasing, and strictly increasing wherever it is
/// crossed (the first point beyond x is always above the one before it).
fn through_table(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let k = xs.partition_point(|&w| w <= x);
    if k == xs.len() {
        return ys[k - 1];
    }
    let (x0, y0) = if k == 0 {
        (0.0, 0.0)
    } else {
        (xs[k - 1], ys[k - 1])
    };
    y0 + (ys[k] - y0) * (x - x0) / (xs[k] - x0)
}

/// E1(z) given ln z, for z that may underflow: E1(z) = −γ − ln z + z − ... for tiny z.
fn e1_of_ln(ln_z: f64) -> f64 {
    if ln_z < -40.0 {
        -EULER_GAMMA - ln_z
    } else {
        e1(ln_z.exp())
    }
}

/// Euler–Mascheroni constant γ.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// E1(z) for z >= 2 by the continued fraction e^-z / (z + 1 - 1/(z + 3 - 4/(z + 5 - ...))).
fn e1_fraction(z: f64) -> f64 {
    let tiny = 1e-300;
    let mut b = z + 1.0;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for n in 1..500 {
        let an = -((n * n) as f64);
        b += 2.0;
        d = 1.0 / (an * d + b);
        c = b + an / c;
        let del = c * d;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h * (-z).exp()
}

/// Ein(z) = ∫₀^z (1 − e^(−x)) / x dx, the entire exponential integral: its power series
/// for small z, ln z + γ + E1(z) (E1 by Lentz's continued fraction) beyond.
pub fn ein(z: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    if z < 2.0 {
        // sum_{n>=1} (-1)^(n+1) z^n / (n n!)
        let (mut term, mut sum) = (z, z);
        for n in 2..200 {
            term *= -z / n as f64;
            let add = term / n as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return sum;
    }
    z.ln() + EULER_GAMMA + e1_fraction(z)
}

/// τ_D = (1 + α²) / (α γ μ0 H_k), in ns.
pub fn tau_d_ns(damping: f64, mu0_hk_t: f64) -> f64 {
    (1.0 + damping * damping) / (damping * GAMMA_RAD_PER_S_T * mu0_hk_t) * 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn precessional() -> Switching {
        Switching::new(&DeviceConfig::default())
    }

    #[test]
    fn matches_the_design_illustration() {
        // alpha 0.02, mu0 Hk 0.3 T: tau_D ~ 0.95 ns; Delta 40, i = 4: P(1 ns) ~ 0.84,
        // P(3 ns) ~ 1 - 1e-6; i = 5: P(1 ns) ~ 0.98.
        assert!((tau_d_ns(0.02, 0.3) - 0.947).abs() < 0.001);
        let s = precessional();
        assert!((s.p_switch(1.0, 120.0) - 0.84).abs() < 0.005);
        let miss3 = 1.0 - s.p_switch(3.0, 120.0);
        assert!(miss3 > 1e-7 && miss3 < 1e-5, "{miss3}");
        assert!((s.p_switch(1.0, 150.0) - 0.98).abs() < 0.005);
    }

    #[test]
    fn below_critical_current_precession_never_switches() {
        let s = precessional();
        assert_eq!(s.p_switch(10.0, 30.0), 0.0);
        assert_eq!(s.p_switch(10.0, 20.0), 0.0);
        assert_eq!(s.mean_switch_ns(10.0, 20.0), None);
    }

    #[test]
    fn quantile_inverts_cdf() {
        let d = DeviceConfig::default();
        let thermal = Switching::new(&DeviceConfig {
            switching: SwitchingModel::Thermal,
            ..d.clone()
        });
        let fixed = Switching::new(&DeviceConfig {
            switching: SwitchingModel::Fixed,
            fixed_pulse_ns: vec![0.5, 1.0, 3.0],
            fixed_p_switch: vec![0.1, 0.84, 0.99],
            ..d
        });
        for (s, i) in [(precessional(), 120.0), (thermal, 28.0), (fixed, 1.0)] {
            for t in [0.2, 0.7, 1.0, 2.0, 2.9] {
                let u = s.cdf(t, i);
                let back = s.quantile(u, i);
                assert!(
                    (back - t).abs() < 1e-6 * t.max(1.0),
                    "{s:?} t {t} back {back}"
                );
            }
        }
    }

    /// ∫₀^t (1 − F) by a fine Simpson rule, for checking the closed forms.
    fn simpson_active(s: &Switching, t: f64, i: f64) -> f64 {
        let n = 200_000;
        let h = t / n as f64;
        let g = |x: f64| 1.0 - s.cdf(x, i);
        let mut acc = g(0.0) + g(t);
        for j in 1..n {
            acc += g(j as f64 * h) * if j % 2 == 1 { 4.0 } else { 2.0 };
        }
        acc * h / 3.0
    }

    #[test]
    fn ein_matches_its_series_and_known_values() {
        // Ein(1) = 0.796599599297053 (A&S 5.1.40 with E1(1) = 0.219383934395520).
        assert!((ein(1.0) - 0.796_599_599_297_053).abs() < 1e-14);
        // Both branches agree at the switch point.
        let below = ein(2.0 - 1e-9);
        assert!((ein(2.0) - below).abs() < 1e-8, "{} {}", ein(2.0), below);
        // E1(10) = 4.156968929685324e-6.
        let want = 10f64.ln() + 0.577_215_664_901_532_9 + 4.156_968_929_685_324e-6;
        assert!((ein(10.0) - want).abs() < 1e-13);
    }

    #[test]
    fn closed_form_active_time_matches_quadrature() {
        let d = DeviceConfig::default();
        let thermal = Switching::new(&DeviceConfig {
            switching: SwitchingModel::Thermal,
            ..d.clone()
        });
        let fixed = Switching::Fixed {
            pulse_ns: vec![0.5, 1.0, 3.0],
            p: vec![0.1, 0.84, 0.99],
        };
        for (s, i) in [
            (precessional(), 120.0),
            (precessional(), 45.0),
            (thermal, 28.0),
            (fixed, 1.0),
        ] {
            for t in [0.3, 1.0, 2.0, 3.0, 7.0] {
                let exact = s.mean_active_ns(t, i);
                let quad = simpson_active(&s, t, i);
                assert!(
                    (exact - quad).abs() < 1e-6,
                    "{s:?} i {i} t {t}: {exact} vs {quad}"
                );
            }
        }
    }

    #[test]
    fn fixed_table_interpolates_from_zero() {
        let s = Switching::Fixed {
            pulse_ns: vec![1.0, 3.0],
            p: vec![0.8, 1.0],
        };
        assert_eq!(s.p_switch(0.5, 1.0), 0.4);
        assert_eq!(s.p_switch(1.0, 1.0), 0.8);
        assert!((s.p_switch(2.0, 1.0) - 0.9).abs() < 1e-12);
        assert_eq!(s.p_switch(9.0, 1.0), 1.0);
    }

    /// The precessional law of the default device sampled on a grid (exact values, no
    /// rounding), as a measured surface; with the law's mean switching times if `means`.
    fn sampled(widths: &[f64], currents: &[f64], means: bool) -> Switching {
        let model = precessional();
        let mut p = Vec::new();
        let mut m = Vec::new();
        for &i in currents {
            for &t in widths {
                p.push(model.p_switch(t, i));
                m.push(model.mean_switch_ns(t, i));
            }
        }
        let s = Surface::from_grid(widths, currents, &p, means.then_some(&m[..])).unwrap();
        Switching::Measured(Arc::new(s))
    }

    #[test]
    fn a_measured_precessional_surface_reproduces_the_law() {
        // Fine in width from 0.05 ns, so that the atom below the grid (F(0.05 ns) < 1e-30)
        // does not count; coarse in current, where the law's ln(-ln F) is exactly linear.
        let widths: Vec<f64> = (1..=100).map(|k| 0.05 * k as f64).collect();
        let currents = [45.0, 80.0, 120.0, 160.0, 200.0];
        let model = precessional();
        let from_f = sampled(&widths, &currents, false);
        // Means are not bilinear in (t, I): they take a finer grid in current.
        let finer: Vec<f64> = (0..=31).map(|k| 45.0 + 5.0 * k as f64).collect();
        let from_means = sampled(&widths, &finer, true);
        for i in [50.0, 100.0, 120.0, 137.5, 190.0] {
            for t in [0.33, 0.8, 1.0, 1.37, 2.21, 3.0, 4.66] {
                let (want, got) = (model.p_switch(t, i), from_f.p_switch(t, i));
                // Exact up to rounding: near F = 1 the grid's P holds 1 - P to an ulp of 1
                // only (1 - P(4.66 ns, 120 µA) = 1.5e-11 carries 7e-6 of relative error).
                assert!(
                    (got - want).abs() <= 1e-12 * want + 1e-13,
                    "P({t} ns, {i} µA): {got} vs {want}"
                );
                if (1e-6..1.0 - 1e-6).contains(&want) {
                    let (q, back) = (model.quantile(want, i), from_f.quantile(want, i));
                    assert!(
                        (q - back).abs() < 1e-9,
                        "quantile at {t} ns, {i} µA: {back} vs {q}"
                    );
                }
                // Mean switching time and E[min(T, t_p)]: integrated from F, or interpolated
                // from the law's own means (exact on the grid, bilinear between).
                let want_mean = model.mean_switch_ns(t, i).unwrap();
                let got_mean = from_f.mean_switch_ns(t, i).unwrap();
                assert!(
                    (got_mean - want_mean).abs() < 1e-9,
                    "mean at {t} ns, {i} µA: {got_mean} vs {want_mean}"
                );
                let want_active = model.mean_active_ns(t, i);
                assert!((from_f.mean_active_ns(t, i) - want_active).abs() < 1e-9);
                assert!(
                    (from_means.mean_active_ns(t, i) - want_active).abs() < 1e-2 * t,
                    "E[min(T, t_p)] at {t} ns, {i} µA from interpolated means: {} vs {want_active}",
                    from_means.mean_active_ns(t, i)
                );
                assert!((from_f.integral_cdf_ns(t, i) - (t - want_active)).abs() < 1e-9);
            }
        }
        // On grid points the interpolated means are the law's.
        for (t, i) in [(1.0, 120.0), (3.0, 80.0), (0.5, 200.0), (4.0, 50.0)] {
            let want = model.mean_switch_ns(t, i).unwrap();
            assert!((from_means.mean_switch_ns(t, i).unwrap() - want).abs() < 1e-12);
            assert!((from_means.mean_active_ns(t, i) - model.mean_active_ns(t, i)).abs() < 1e-12);
        }
    }

    #[test]
    fn the_shipped_precessional_csv_reproduces_the_law() {
        // arch/devices/precessional.csv: the default device's law at 0.5-5 ns x 40-200 µA,
        // P with 9 decimals and means with 6, read as an arch file reads it.
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("arch/devices/precessional.csv");
        let csv = Switching::Measured(Arc::new(Surface::read(&path).unwrap()));
        let model = precessional();
        let pulse = crate::device::circuit::ProgramPulse::new(
            &DeviceConfig::default(),
            &crate::config::device::EnergyConfig::default(),
        );
        // On grid points: P as printed (9 decimals).
        for (t, i) in [(1.0, 120.0), (3.0, 120.0), (0.5, 150.0), (2.5, 60.0)] {
            assert!(
                (csv.p_switch(t, i) - model.p_switch(t, i)).abs() < 6e-10,
                "{t} {i}"
            );
        }
        // Between them P is still close (the rounding of small P at the neighbours moves
        // ln(-ln P)), and so are the mean switching time (bilinear in t, not the law's
        // shape) and the mean pulse energy.
        for (t, i) in [(0.75, 120.0), (1.25, 135.0), (2.2, 95.0), (3.7, 64.0)] {
            let (got, want) = (csv.p_switch(t, i), model.p_switch(t, i));
            assert!((got - want).abs() < 1e-6, "P({t}, {i}): {got} vs {want}");
            let (got, want) = (
                csv.mean_switch_ns(t, i).unwrap(),
                model.mean_switch_ns(t, i).unwrap(),
            );
            assert!(
                (got - want).abs() < 0.05 * t,
                "mean({t}, {i}): {got} vs {want}"
            );
            let got = pulse.expected_energy_pj(&csv, i, t);
            let want = pulse.expected_energy_pj(&model, i, t);
            assert!(
                (got / want - 1.0).abs() < 0.01,
                "energy({t}, {i}): {got} vs {want}"
            );
        }
    }

    #[test]
    fn mean_switch_time_of_uniform_law_is_half_the_pulse() {
        // F(t) = t / 2 on [0, 2]: E[T | T <= 1] = 0.5.
        let s = Switching::Fixed {
            pulse_ns: vec![2.0],
            p: vec![1.0],
        };
        assert!((s.mean_switch_ns(1.0, 1.0).unwrap() - 0.5).abs() < 1e-9);
        assert!((s.mean_active_ns(1.0, 1.0) - 0.75).abs() < 1e-9);
    }
}
