//! The standard normal distribution: its CDF Φ, its quantile Φ⁻¹, and draws from it
//! truncated to a symmetric interval, by inverse transform of a uniform number (so a draw
//! is a pure function of its keyed uniform, as every random outcome of a run is).

/// Φ(x) = P(Z <= x) for a standard normal Z.
pub fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p) for 0 < p < 1 (−∞ at 0, +∞ at 1): [`quantile_fast`] refined by one Halley step
/// on Φ, which brings it to about machine precision.
pub fn quantile(p: f64) -> f64 {
    let x = quantile_fast(p);
    if !x.is_finite() {
        return x;
    }
    // One Halley step: e = Φ(x) − p, u = e·√(2π)·exp(x²/2).
    let e = cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// Φ⁻¹(p) for 0 < p < 1 by P. J. Acklam's rational approximation alone (relative error
/// below 1.15e-9, no special function but a logarithm in the tails): what random draws
/// use, a draw being as good as its uniform.
#[inline]
pub fn quantile_fast(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        let r = (-2.0 * q.ln()).sqrt();
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    };
    if p < P_LOW {
        tail(p)
    } else if p > 1.0 - P_LOW {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// A standard normal draw truncated to [−c, c], from `u` uniform in [0, 1):
/// Φ⁻¹(Φ(−c) + u·(Φ(c) − Φ(−c))), with `lo` = Φ(−c) given.
#[inline]
pub fn truncated(u: f64, c: f64, lo: f64) -> f64 {
    quantile_fast(lo + u * (1.0 - 2.0 * lo)).clamp(-c, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Φ(1.96) = 0.9750021048517795 (A&S table 26.1).
        assert!((cdf(1.96) - 0.975_002_104_851_779_5).abs() < 1e-15);
        assert_eq!(cdf(0.0), 0.5);
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.01, -2.326_347_874_040_841),
            (1e-10, -6.361_340_902_404_056),
            (0.999, 3.090_232_306_167_813_6),
        ] {
            let q = quantile(p);
            assert!((q - z).abs() < 1e-12 * z.abs().max(1.0), "{p}: {q} vs {z}");
        }
    }

    #[test]
    fn quantile_inverts_the_cdf_everywhere() {
        for k in 1..2000 {
            let p = k as f64 / 2000.0;
            assert!((cdf(quantile(p)) - p).abs() < 1e-14, "{p}");
        }
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(quantile(1.0), f64::INFINITY);
    }

    #[test]
    fn the_fast_quantile_is_within_its_bound() {
        for k in 1..20_000 {
            let p = k as f64 / 20_000.0;
            let (fast, exact) = (quantile_fast(p), quantile(p));
            assert!(
                (fast - exact).abs() <= 1.2e-9 * exact.abs().max(1e-3),
                "{p}: {fast} vs {exact}"
            );
        }
    }

    #[test]
    fn truncated_draws_stay_inside_and_keep_the_median() {
        let (l3, l4, l2) = (cdf(-3.0), cdf(-4.0), cdf(-2.0));
        assert!(truncated(0.5, 4.0, l4).abs() < 1e-9);
        assert!(truncated(0.0, 3.0, l3) >= -3.0 && truncated(0.0, 3.0, l3) < -2.99);
        assert!(truncated(1.0 - 1e-16, 3.0, l3) <= 3.0);
        // Symmetric: u and 1 − u give opposite draws.
        let (a, b) = (truncated(0.2, 2.0, l2), truncated(0.8, 2.0, l2));
        assert!((a + b).abs() < 1e-9);
    }
}
