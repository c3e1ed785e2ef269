//! Technology-node scaling of the energy table: every digital `[energy]` entry states the
//! node and supply it was measured at (`energy.measured_at`), and is scaled once to the
//! chip's `tech.node_nm` and `tech.vdd_v` by the energy-per-operation fits of A. Stillmaker
//! and B. Baas, "Scaling equations for the accurate prediction of CMOS device performance
//! from 180 nm to 7 nm", Integration, the VLSI Journal 58 (2017) 74-81: at each node the
//! energy of an operation goes as a·V² + b·V + c. Their general-purpose (high-performance)
//! fits are used from 45 nm down; between two nodes of the table the energy is interpolated
//! log-linearly in the node. Device actions (MTJ pulses, strip erase: their own physics),
//! DRAM (another chip) and leakage powers are not scaled.

use std::collections::BTreeMap;

use crate::config::ArchConfig;

/// The energy fits: (node in nm, [a, b, c]) with energy ∝ a·V² + b·V + c, V in volts
/// (Stillmaker and Baas 2017; HP devices from 45 nm down), largest node first.
pub const ENERGY_FITS: [(f64, [f64; 3]); 11] = [
    (180.0, [0.0, 24.64, -17.98]),
    (130.0, [7.171, -6.709, 2.904]),
    (90.0, [4.762, -4.781, 2.092]),
    (65.0, [3.755, -4.398, 1.975]),
    (45.0, [1.018, -0.3107, 0.1539]),
    (32.0, [0.8367, -0.4341, 0.1701]),
    (20.0, [0.373, -0.1582, 0.04104]),
    (16.0, [0.2958, -0.1241, 0.03024]),
    (14.0, [0.2363, -0.09675, 0.02239]),
    (10.0, [0.2068, -0.09311, 0.02375]),
    (7.0, [0.1776, -0.09097, 0.02447]),
];

/// The `[energy]` entries that may state where they were measured (and so are scaled).
pub const SCALABLE: [&str; 8] = [
    "mac_pj",
    "mac_fp32_pj",
    "mac_fp16_pj",
    "mac_int8_pj",
    "buffer_byte_pj",
    "noc_byte_hop_pj",
    "master_byte_pj",
    "rng_bit_pj",
];

/// Smallest and largest supply voltage accepted, in V.
pub const VDD_RANGE_V: (f64, f64) = (0.3, 2.0);

/// The fit's relative energy per operation at `node_nm` (within the table's range) and
/// `vdd_v`.
pub fn relative_energy(node_nm: f64, vdd_v: f64) -> f64 {
    let at = |[a, b, c]: [f64; 3]| a * vdd_v * vdd_v + b * vdd_v + c;
    let i = ENERGY_FITS
        .iter()
        .position(|&(n, _)| n <= node_nm)
        .unwrap_or(ENERGY_FITS.len() - 1);
    let (n_lo, fit_lo) = ENERGY_FITS[i];
    if n_lo == node_nm || i == 0 {
        return at(fit_lo);
    }
    let (n_hi, fit_hi) = ENERGY_FITS[i - 1];
    let t = (node_nm.ln() - n_lo.ln()) / (n_hi.ln() - n_lo.ln());
    (at(fit_lo).ln() * (1.0 - t) + at(fit_hi).ln() * t).exp()
}

/// The factor that takes an energy measured at `from` (node nm, supply V) to `to`.
pub fn factor(from: (f64, f64), to: (f64, f64)) -> f64 {
    if from == to {
        return 1.0;
    }
    relative_energy(to.0, to.1) / relative_energy(from.0, from.1)
}

/// One scaled entry, as `run.toml` records it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scaled {
    /// The value the arch gives, in pJ.
    pub measured_pj: f64,
    /// The node it was measured at, in nm.
    pub node_nm: f64,
    /// The supply it was measured at, in V.
    pub vdd_v: f64,
    /// `scaled_pj / measured_pj`.
    pub factor: f64,
    /// The value the chip model uses, in pJ.
    pub scaled_pj: f64,
}

/// The digital `[energy]` entries with their value at the chip's node and supply; entries
/// without a stated node keep their value (factor 1). With `sram.measured_at`, the SRAM
/// cells' read and write energies too (as `sram.read_bit_pj`, `sram.write_bit_pj`).
pub fn scaled_entries(a: &ArchConfig) -> BTreeMap<String, Scaled> {
    let to = (a.tech.node_nm, a.tech.vdd_v);
    let e = &a.energy;
    let mut values: Vec<(&str, f64)> = vec![
        ("mac_fp32_pj", e.mac_fp32_pj),
        ("mac_fp16_pj", e.mac_fp16_pj),
        ("mac_int8_pj", e.mac_int8_pj),
        ("buffer_byte_pj", e.buffer_byte_pj),
        ("noc_byte_hop_pj", e.noc_byte_hop_pj),
        ("master_byte_pj", e.master_byte_pj),
        ("rng_bit_pj", e.rng_bit_pj),
    ];
    if let Some(m) = e.mac_pj {
        values.push(("mac_pj", m));
    }
    let mut out = BTreeMap::new();
    for (name, v) in values {
        let from = e.measured_at.get(name).map(|&[n, vdd]| (n, vdd));
        out.insert(format!("energy.{name}"), scaled(v, from, to));
    }
    if a.weights.store == crate::config::arch::StoreKind::Sram {
        let from = a.sram.measured_at.map(|[n, vdd]| (n, vdd));
        for (name, v) in [
            ("sram.read_bit_pj", a.sram.read_bit_pj),
            ("sram.write_bit_pj", a.sram.write_bit_pj),
        ] {
            out.insert(name.to_string(), scaled(v, from, to));
        }
    }
    out
}

fn scaled(v: f64, from: Option<(f64, f64)>, to: (f64, f64)) -> Scaled {
    let (node_nm, vdd_v) = from.unwrap_or(to);
    let f = from.map_or(1.0, |from| factor(from, to));
    Scaled {
        measured_pj: v,
        node_nm,
        vdd_v,
        factor: f,
        scaled_pj: v * f,
    }
}

/// The scaled value of entry `name` (`energy.mac_fp16_pj`, `sram.read_bit_pj`, ...).
pub fn scaled_pj(a: &ArchConfig, name: &str) -> f64 {
    scaled_entries(a)[name].scaled_pj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_match_the_published_fits_at_two_nodes() {
        // Stillmaker and Baas 2017, energy fits: 45 nm (HP) 1.018 V² - 0.3107 V + 0.1539,
        // 32 nm (HP) 0.8367 V² - 0.4341 V + 0.1701, 7 nm 0.1776 V² - 0.09097 V + 0.02447.
        let e45 = 1.018 * 0.81 - 0.3107 * 0.9 + 0.1539; // at 0.9 V: 0.69885
        let e32 = 0.8367 * 0.81 - 0.4341 * 0.9 + 0.1701; // at 0.9 V: 0.45714
        let e7 = 0.1776 * 0.49 - 0.09097 * 0.7 + 0.02447; // at 0.7 V: 0.04781
        assert!((factor((45.0, 0.9), (32.0, 0.9)) - e32 / e45).abs() < 1e-12);
        assert!((factor((45.0, 0.9), (7.0, 0.7)) - e7 / e45).abs() < 1e-12);
        assert!((e32 / e45 - 0.65413).abs() < 1e-5 && (e7 / e45 - 0.06842).abs() < 1e-5);
        assert_eq!(factor((45.0, 0.9), (45.0, 0.9)), 1.0);
    }

    #[test]
    fn between_nodes_the_energy_is_log_linear_and_monotone() {
        let (e32, e20) = (relative_energy(32.0, 0.9), relative_energy(20.0, 0.9));
        let e28 = relative_energy(28.0, 0.9);
        let t = (28f64.ln() - 20f64.ln()) / (32f64.ln() - 20f64.ln());
        assert!((e28.ln() - (e20.ln() * (1.0 - t) + e32.ln() * t)).abs() < 1e-12);
        let mut last = f64::INFINITY;
        for (n, _) in ENERGY_FITS {
            let e = relative_energy(n, 1.0);
            assert!(e > 0.0 && e < last, "{n} nm: {e}");
            last = e;
        }
    }

    #[test]
    fn the_default_chip_keeps_its_table_and_another_node_scales_it() {
        let mut a = ArchConfig::default();
        for (name, s) in scaled_entries(&a) {
            assert_eq!(s.factor, 1.0, "{name}");
        }
        a.tech.node_nm = 32.0;
        let s = scaled_entries(&a);
        let f = factor((45.0, 0.9), (32.0, 0.9));
        assert!((s["energy.mac_fp16_pj"].scaled_pj - 1.5 * f).abs() < 1e-12);
        assert!((s["energy.buffer_byte_pj"].scaled_pj - 1.25 * f).abs() < 1e-12);
        // An entry that states no node is left alone.
        a.energy.measured_at.remove("rng_bit_pj");
        assert_eq!(scaled_entries(&a)["energy.rng_bit_pj"].factor, 1.0);
    }
}
