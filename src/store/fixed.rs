//! The `fixed` store: every weight a B-bit code with a per-layer step, written exactly.

use super::quantise::Quantiser;
use super::{ParamId, ParamSpec, WeightStore};
use crate::config::arch::WeightsConfig;

/// How one parameter tensor is held.
#[derive(Debug, Clone)]
struct Slot {
    /// Codes as stored (bit patterns), one per value; empty for digital slots.
    codes: Vec<u32>,
    /// Decoded values.
    values: Vec<f32>,
}

/// B-bit fixed-point weights, per-layer range, rounding to nearest or stochastic.
#[derive(Debug, Clone)]
pub struct FixedStore {
    quantiser: Quantiser,
    slots: Vec<Slot>,
    /// Code integers of the update being written.
    scratch: Vec<i32>,
    /// `update.write_threshold_lsb`: a code is rewritten only when the new integer is at
    /// least this far from the held one.
    threshold: u32,
}

impl FixedStore {
    /// A store for `params`; values are zero until written.
    pub fn new(cfg: &WeightsConfig, params: &[ParamSpec], seed: u64) -> Self {
        let quantiser = Quantiser::new(cfg, params, seed);
        let slots = params
            .iter()
            .enumerate()
            .map(|(id, p)| Slot {
                codes: if quantiser.step(id).is_some() {
                    vec![0; p.len]
                } else {
                    vec![]
                },
                values: vec![0.0; p.len],
            })
            .collect();
        Self {
            quantiser,
            slots,
            scratch: Vec::new(),
            threshold: 1,
        }
    }

    /// The same store, keeping a held code unless the new one is at least `lsb` away
    /// (`update.write_threshold_lsb`; 1 writes every change). The initial write (step 0)
    /// writes every code.
    pub fn with_threshold(mut self, lsb: u32) -> Self {
        self.threshold = lsb.max(1);
        self
    }

    /// The stored bit patterns of parameter `id` (empty when it is held digitally).
    pub fn codes(&self, id: ParamId) -> &[u32] {
        &self.slots[id].codes
    }

    /// The value of one code step of parameter `id` (`None` when held digitally).
    pub fn step(&self, id: ParamId) -> Option<f32> {
        self.quantiser.step(id)
    }
}

impl super::DeviceLog for FixedStore {}

impl WeightStore for FixedStore {
    fn set_kernels(&mut self, kernels: crate::config::workload::Kernels) {
        self.quantiser.set_kernels(kernels);
    }
    fn values(&self, id: ParamId) -> &[f32] {
        &self.slots[id].values
    }

    fn write(&mut self, id: ParamId, intended: &[f32], step: u64) {
        let slot = &mut self.slots[id];
        let Some(step_value) = self.quantiser.step(id) else {
            slot.values.copy_from_slice(intended);
            return;
        };
        let format = self.quantiser.format;
        let n = &mut self.scratch;
        n.resize(intended.len(), 0);
        self.quantiser.quantise(id, intended, step, 0, n);
        // The held value is the code's integer times the step: decode(encode(n)) == n for
        // every n in range (tested in `format`), so no decode is needed here.
        for ((c, v), &n) in slot.codes.iter_mut().zip(&mut slot.values).zip(n.iter()) {
            if step > 0 && self.threshold > 1 && format.decode(*c).abs_diff(n) < self.threshold {
                continue;
            }
            *c = format.encode(n);
            *v = n as f32 * step_value;
        }
    }

    fn describe(&self) -> String {
        format!("fixed {}", self.quantiser.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::arch::{RangeSpec, Rounding};
    use crate::store::ParamKind;
    use crate::store::quantise::layer_range;

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
    fn portable_and_native_rounding_copies_agree() {
        use crate::config::workload::Kernels;
        let cfg = WeightsConfig {
            range: RangeSpec::Fixed(1.0),
            ..WeightsConfig::default()
        };
        let p = [spec(ParamKind::Weight, 1000, 1)];
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 0.9).collect();
        let mut native = FixedStore::new(&cfg, &p, 4);
        let mut portable = FixedStore::new(&cfg, &p, 4);
        portable.set_kernels(Kernels::Portable);
        for step in 1..4 {
            native.write(0, &x, step);
            portable.write(0, &x, step);
            assert_eq!(native.values(0), portable.values(0));
        }
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
