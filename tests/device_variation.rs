//! Device variation through the write path, checked statistically: with spreads on, every
//! MTJ's failures over many rewrites follow the binomial law its own drawn parameters give
//! (a chi-square test over thousands of MTJs), the drawn parameters follow the documented
//! distribution (a Kolmogorov–Smirnov test), and the nominal prediction is rejected.

use nandspin::config::ArchConfig;
use nandspin::config::device::PulseWidths;
use nandspin::config::variation::{Distribution, VariationConfig};
use nandspin::device::switching::Switching;
use nandspin::device::variation::{Law, Mtj};
use nandspin::device::{StringWriter, WriteCounts};

/// Codes (8 MTJs each) and rewrites per case.
const CODES: usize = 1000;
const REWRITES: u64 = 200;

fn arch(v: VariationConfig) -> ArchConfig {
    let mut a = ArchConfig {
        variation: v,
        ..ArchConfig::default()
    };
    a.update.program_pulse_ns = PulseWidths::One(1.0);
    a
}

/// Failures of every MTJ (code-major, bit b of code e at 8e + b) over `REWRITES` writes of
/// all-ones codes into erased strings, through the write path.
fn measured_failures(a: &ArchConfig) -> (Vec<u64>, StringWriter) {
    let w = StringWriter::new(a, 11).with_devices(a, 11, &[Some(CODES)]);
    let mut fails = vec![0u64; CODES * 8];
    let new = vec![0xFFu32; CODES];
    for step in 1..=REWRITES {
        let mut stored = vec![0u32; CODES];
        let mut counts = WriteCounts::default();
        w.write(0, step, 0, &mut stored, &new, &mut counts, &mut Vec::new());
        for (e, s) in stored.iter().enumerate() {
            for b in 0..8 {
                if s & (1 << b) == 0 {
                    fails[e * 8 + b] += 1;
                }
            }
        }
    }
    (fails, w)
}

/// The chi-square statistic of binomial counts `k` of `REWRITES` trials against failure
/// probabilities `q`, standardised: (X − dof) / sqrt(2 dof), about N(0, 1) under the null.
fn chi_square_z(k: &[u64], q: &[f64]) -> f64 {
    let n = REWRITES as f64;
    let (mut x, mut dof) = (0.0, 0usize);
    for (&k, &q) in k.iter().zip(q) {
        if q > 1e-9 && q < 1.0 - 1e-9 {
            let expected = n * q;
            x += (k as f64 - expected).powi(2) / (expected * (1.0 - q));
            dof += 1;
        } else {
            // A certain outcome must be what was measured.
            assert_eq!(k as f64, (n * q).round(), "q {q}");
        }
    }
    assert!(dof > 1000, "too few uncertain MTJs: {dof}");
    (x - dof as f64) / (2.0 * dof as f64).sqrt()
}

/// The closed-form switching probability of a drawn MTJ, from its law's parameters.
fn closed_form(m: &Mtj, pulse_ns: f64, current_ua: f64) -> f64 {
    let Law::Precessional {
        a,
        tau_d_ns,
        ic0_ua,
    } = m.law
    else {
        panic!("a precessional device")
    };
    let i = current_ua * m.current_factor / ic0_ua;
    if i <= 1.0 {
        return 0.0;
    }
    (-a * (-2.0 * (i - 1.0) * pulse_ns / tau_d_ns).exp()).exp()
}

#[test]
fn per_device_failure_rates_follow_each_devices_closed_form() {
    let a = arch(VariationConfig {
        ic0: 0.10,
        ..VariationConfig::default()
    });
    let (fails, w) = measured_failures(&a);
    let pop = w.population().expect("devices drawn");
    let q: Vec<f64> = (0..CODES * 8)
        .map(|i| 1.0 - closed_form(&pop.mtj(0, i / 8, (i % 8) as u32), 1.0, 120.0))
        .collect();
    let z = chi_square_z(&fails, &q);
    assert!(z.abs() < 4.0, "chi-square z {z} against the drawn devices");
    // The nominal device's probability for every MTJ is rejected by the same test.
    let nominal = 1.0 - Switching::new(&a.device).p_switch(1.0, 120.0);
    let z_nominal = chi_square_z(&fails, &vec![nominal; fails.len()]);
    assert!(z_nominal > 20.0, "nominal z {z_nominal}");
    // The spread matters: some MTJs fail far more often than the nominal one.
    let worst = pop.worst_fail_p();
    assert!(
        worst > 1.5 * nominal,
        "worst 1 % {worst} vs nominal {nominal}"
    );
}

#[test]
fn drawn_critical_currents_follow_the_lognormal() {
    let s = 0.10;
    let a = arch(VariationConfig {
        ic0: s,
        ..VariationConfig::default()
    });
    let w = StringWriter::new(&a, 3).with_devices(&a, 3, &[Some(CODES)]);
    let pop = w.population().unwrap();
    let mtjs: Vec<Mtj> = (0..CODES * 8)
        .map(|i| pop.mtj(0, i / 8, (i % 8) as u32))
        .collect();
    let mut ln_f: Vec<f64> = mtjs
        .iter()
        .map(|m| match m.law {
            Law::Precessional { ic0_ua, .. } => (ic0_ua / a.device.ic0_ua).ln(),
            _ => unreachable!(),
        })
        .collect();
    ln_f.sort_by(f64::total_cmp);
    // ln f ~ N(−σ²/2, σ²) with σ² = ln(1 + s²) (truncation at 4σ is below 1e-4).
    let sigma = (1.0 + s * s).ln().sqrt();
    let n = ln_f.len() as f64;
    let ks = ln_f
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let cdf = nandspin::device::normal::cdf((x + 0.5 * sigma * sigma) / sigma);
            (cdf - i as f64 / n)
                .abs()
                .max((cdf - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max);
    // The 1 % critical value of the one-sample KS statistic is 1.63 / sqrt(n).
    assert!(ks < 1.63 / n.sqrt(), "KS {ks} over {n} MTJs");
    // And a normal shape of the same spread is a different population.
    let b = arch(VariationConfig {
        ic0: s,
        distribution: Distribution::Normal,
        ..VariationConfig::default()
    });
    let wb = StringWriter::new(&b, 3).with_devices(&b, 3, &[Some(CODES)]);
    assert_ne!(wb.population().unwrap().mtj(0, 0, 0), mtjs[0]);
    // The write path's thresholds are the drawn MTJs' probabilities.
    let devices = pop.tensor(0).unwrap();
    for (i, m) in mtjs.iter().enumerate().take(500) {
        let p = closed_form(m, 1.0, 120.0);
        assert!((devices.threshold[i] as f64 / 2f64.powi(53) - p).abs() < 1e-15);
    }
}

#[test]
fn cycle_to_cycle_current_spread_follows_the_mean_over_currents() {
    let a = arch(VariationConfig {
        ic0: 0.05,
        program_current: 0.05,
        ..VariationConfig::default()
    });
    let (fails, w) = measured_failures(&a);
    let pop = w.population().unwrap();
    let mtjs: Vec<Mtj> = (0..CODES * 8)
        .map(|i| pop.mtj(0, i / 8, (i % 8) as u32))
        .collect();
    let q: Vec<f64> = mtjs
        .iter()
        .map(|m| 1.0 - pop.drawer.mean_p_switch(m, 1.0, 120.0))
        .collect();
    let z = chi_square_z(&fails, &q);
    assert!(z.abs() < 4.0, "chi-square z {z}");
    // Without the per-pulse spread in the prediction the test sees the difference: a
    // pulse's current spread lowers the mean probability of a strongly driven MTJ.
    let q_fixed: Vec<f64> = mtjs
        .iter()
        .map(|m| 1.0 - closed_form(m, 1.0, 120.0))
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        (mean(&q) - mean(&q_fixed)).abs() > 1e-3,
        "{} {}",
        mean(&q),
        mean(&q_fixed)
    );
}
