//! The `fixed` store: every weight a B-bit code with a per-layer step, written exactly.

use super::format::{Format, round};
use super::{ParamId, ParamKind, ParamSpec, WeightStore};
use crate::config::arch::{BiasPlacement, Encoding, RangeSpec, Rounding, WeightsConfig};
use crate::rng::{Purpose, key, keyed_uniform};

/// How one parameter tensor is held.
#[derive(Debug, Clone)]
struct Slot {
    /// `None`: digital f32 (biases kept in registers).
    quant: Option<Quant>,
    /// Codes as stored (bit patterns), one per value; empty for digital slots.
    codes: Vec<u32>,
    /// Decoded values.
    values: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
struct Quant {
    /// Value of one code step.
    step: f32,
}

/// B-bit fixed-point weights, per-layer range, rounding to nearest or stochastic.
#[derive(Debug, Clone)]
pub struct FixedStore {
    format: Format,
    rounding: Rounding,
    seed: u64,
    slots: Vec<Slot>,
}

/// The range r of a parameter (values in [-r, r)): the configured number, or the smallest
/// power of two at least `headroom / sqrt(fan_in)`.
pub fn layer_range(range: RangeSpec, headroom: f64, fan_in: usize) -> f64 {
    match range {
        RangeSpec::Fixed(r) => r,
        RangeSpec::Auto => {
            let need = headroom / (fan_in.max(1) as f64).sqrt();
            2f64.powi(need.log2().ceil() as i32)
        }
    }
}

impl FixedStore {
    /// A store for `params`; values are zero until written.
    pub fn new(cfg: &WeightsConfig, params: &[ParamSpec], seed: u64) -> Self {
        let format = Format {
            bits: cfg.bits,
            encoding: cfg.encoding,
        };
        let slots = params
            .iter()
            .map(|p| {
                let quantised = p.kind == ParamKind::Weight || cfg.biases == BiasPlacement::Store;
                let quant = quantised.then(|| {
                    let r = layer_range(cfg.range, cfg.auto_range_headroom, p.fan_in);
                    Quant {
                        step: (r / f64::from(1u32 << (cfg.bits - 1))) as f32,
                    }
                });
                Slot {
                    quant,
                    codes: if quantised { vec![0; p.len] } else { vec![] },
                    values: vec![0.0; p.len],
                }
            })
            .collect();
        Self {
            format,
            rounding: cfg.rounding,
            seed,
            slots,
        }
    }

    /// The stored bit patterns of parameter `id` (empty when it is held digitally).
    pub fn codes(&self, id: ParamId) -> &[u32] {
        &self.slots[id].codes
    }

    /// The value of one code step of parameter `id` (`None` when held digitally).
    pub fn step(&self, id: ParamId) -> Option<f32> {
        self.slots[id].quant.map(|q| q.step)
    }
}

impl WeightStore for FixedStore {
    fn values(&self, id: ParamId) -> &[f32] {
        &self.slots[id].values
    }

    fn write(&mut self, id: ParamId, intended: &[f32], step: u64) {
        let slot = &mut self.slots[id];
        let Some(q) = slot.quant else {
            slot.values.copy_from_slice(intended);
            return;
        };
        let stream = key(&[self.seed, Purpose::Rounding as u64, id as u64, step]);
        let (lo, hi) = (self.format.q_min() as f32, self.format.q_max() as f32);
        let (inv, step_value) = (1.0 / q.step, q.step);
        let format = self.format;
        // The held value is the code's integer times the step: decode(encode(n)) == n for
        // every n in range (tested in `format`), so no decode is needed here.
        let mut put = |i: usize, n: f32| {
            slot.codes[i] = format.encode(n as i32);
            slot.values[i] = n * step_value;
        };
        match self.rounding {
            Rounding::Nearest => {
                for (i, &x) in intended.iter().enumerate() {
                    put(i, (x * inv).round().clamp(lo, hi));
                }
            }
            Rounding::Stochastic => {
                for (i, &x) in intended.iter().enumerate() {
                    let u = keyed_uniform(stream, i as u64);
                    put(i, round(x * inv, Rounding::Stochastic, u).clamp(lo, hi));
                }
            }
        }
    }

    fn describe(&self) -> String {
        let enc = match self.format.encoding {
            Encoding::TwosComplement => "two's complement",
            Encoding::SignMagnitude => "sign-magnitude",
            Encoding::OffsetBinary => "offset binary",
        };
        let rnd = match self.rounding {
            Rounding::Nearest => "round to nearest",
            Rounding::Stochastic => "stochastic rounding",
        };
        format!("fixed {}-bit {enc}, {rnd}", self.format.bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ParamKind, len: usize, fan_in: usize) -> ParamSpec {
        ParamSpec {
            name: "l.w".into(),
            layer: "l".into(),
            kind,
            len,
            fan_in,
        }
    }

    #[test]
    fn auto_range_is_a_power_of_two_with_headroom() {
        assert_eq!(layer_range(RangeSpec::Auto, 4.0, 25), 1.0); // 0.8 -> 1
        assert_eq!(layer_range(RangeSpec::Auto, 4.0, 400), 0.25); // 0.2 -> 0.25
        assert_eq!(layer_range(RangeSpec::Fixed(0.3), 4.0, 400), 0.3);
    }

    #[test]
    fn nearest_holds_representable_values_and_clamps() {
        let cfg = WeightsConfig {
            rounding: Rounding::Nearest,
            range: RangeSpec::Fixed(1.0),
            ..WeightsConfig::default()
        };
        let mut s = FixedStore::new(&cfg, &[spec(ParamKind::Weight, 4, 1)], 0);
        s.write(0, &[0.5, -0.503, 3.0, -3.0], 1);
        let step = 1.0 / 128.0;
        assert_eq!(s.values(0), &[0.5, -0.5, 127.0 * step, -1.0]);
        assert_eq!(s.codes(0)[3], 0x80);
    }

    #[test]
    fn stochastic_writes_depend_on_step_not_on_call_order() {
        let cfg = WeightsConfig {
            range: RangeSpec::Fixed(1.0),
            ..WeightsConfig::default()
        };
        let p = [
            spec(ParamKind::Weight, 64, 1),
            spec(ParamKind::Weight, 64, 1),
        ];
        let x: Vec<f32> = (0..64).map(|i| i as f32 * 0.0013 - 0.04).collect();
        let mut a = FixedStore::new(&cfg, &p, 9);
        let mut b = FixedStore::new(&cfg, &p, 9);
        a.write(0, &x, 5);
        a.write(1, &x, 5);
        b.write(1, &x, 5);
        b.write(0, &x, 5);
        assert_eq!(a.values(0), b.values(0));
        assert_eq!(a.values(1), b.values(1));
        // Different parameters draw from different streams.
        assert_ne!(a.values(0), a.values(1));
    }

    #[test]
    fn digital_biases_are_exact() {
        let cfg = WeightsConfig::default();
        let mut s = FixedStore::new(&cfg, &[spec(ParamKind::Bias, 2, 10)], 0);
        s.write(0, &[0.123_456, -0.5], 1);
        assert_eq!(s.values(0), &[0.123_456, -0.5]);
        assert!(s.codes(0).is_empty());
    }
}
