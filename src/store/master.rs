//! Master weights (`update.master = "digital"`): an f32 copy of every parameter in SRAM on
//! the tile that holds it, as mixed-precision in-memory training keeps one. The optimiser
//! updates the copy; forward and backward read what the store holds; the store rewrites a
//! string from the copy when one of its codes is `update.write_threshold_lsb` or more off
//! the copy's code. A write error therefore lasts until the string's next rewrite, and the
//! next update starts from the exact copy, so errors never compound.

use super::{DeviceLog, ParamId, WeightStore};
use crate::config::workload::Kernels;
use crate::device::{StringWrite, WriteCounts};

/// A store with an f32 master copy of every parameter in front of it.
pub struct Mastered {
    inner: Box<dyn WeightStore>,
    /// The master copy, one tensor per parameter.
    master: Vec<Vec<f32>>,
}

impl Mastered {
    /// `inner` with master copies of parameters of these lengths (zero until written).
    pub fn new(inner: Box<dyn WeightStore>, lens: impl IntoIterator<Item = usize>) -> Self {
        Self {
            inner,
            master: lens.into_iter().map(|n| vec![0.0; n]).collect(),
        }
    }
}

impl DeviceLog for Mastered {
    fn last_writes(&self, id: ParamId) -> Option<&[StringWrite]> {
        self.inner.last_writes(id)
    }
    fn held_codes(&self, id: ParamId) -> Option<&[u32]> {
        self.inner.held_codes(id)
    }
}

impl WeightStore for Mastered {
    fn values(&self, id: ParamId) -> &[f32] {
        self.inner.values(id)
    }
    fn base_values(&self, id: ParamId) -> &[f32] {
        &self.master[id]
    }
    fn write(&mut self, id: ParamId, intended: &[f32], step: u64) {
        self.write_many(&[(id, intended)], step);
    }
    fn write_many(&mut self, updates: &[(ParamId, &[f32])], step: u64) {
        for &(id, intended) in updates {
            self.master[id].copy_from_slice(intended);
        }
        self.inner.write_many(updates, step);
    }
    fn describe(&self) -> String {
        format!("{}, f32 master weights", self.inner.describe())
    }
    fn worst_fail_p(&self) -> Option<f64> {
        self.inner.worst_fail_p()
    }
    fn take_counts(&mut self) -> Option<Vec<WriteCounts>> {
        self.inner.take_counts()
    }
    fn set_kernels(&mut self, kernels: Kernels) {
        self.inner.set_kernels(kernels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::arch::{ArchConfig, Encoding, RangeSpec};
    use crate::config::device::{Master, PulseWidths, SwitchingModel};
    use crate::store::{ParamKind, ParamSpec, build};

    /// A sign-magnitude store of `n` weights in [-1, 1) whose pulses switch with P = 0.84.
    fn store(n: usize, master: Master) -> Box<dyn WeightStore> {
        let mut a = ArchConfig::default();
        a.weights.encoding = Encoding::SignMagnitude;
        a.weights.range = RangeSpec::Fixed(1.0);
        a.device.switching = SwitchingModel::Fixed;
        a.device.fixed_pulse_ns = vec![1.0];
        a.device.fixed_p_switch = vec![0.84];
        a.update.program_pulse_ns = PulseWidths::One(1.0);
        a.update.master = master;
        let p = ParamSpec {
            name: "l.weight".into(),
            layer: "l".into(),
            kind: ParamKind::Weight,
            len: n,
            fan_in: 1,
        };
        build(&a, &[p], &[vec![0.5; n]], 3)
    }

    /// Rewrites every weight `steps` times with updates that cancel out (+d, -d, ...), as
    /// the optimiser would with a zero-mean gradient; returns the mean |held - 0.5| after
    /// `steps / 2` and after `steps` updates.
    fn drift(master: Master, steps: u64) -> (f64, f64) {
        let n = 2000;
        let mut s = store(n, master);
        let mut half = 0.0;
        for t in 1..=steps {
            let d = if t % 2 == 1 { 0.02 } else { -0.02 };
            let next: Vec<f32> = s.base_values(0).iter().map(|w| w + d).collect();
            s.write(0, &next, t);
            if t == steps / 2 {
                half = mean_error(s.values(0));
            }
        }
        (half, mean_error(s.values(0)))
    }

    fn mean_error(v: &[f32]) -> f64 {
        v.iter().map(|&w| f64::from((w - 0.5).abs())).sum::<f64>() / v.len() as f64
    }

    #[test]
    fn the_copy_reports_what_the_store_does() {
        let n = 300;
        let (mut with, mut without) = (store(n, Master::Digital), store(n, Master::None));
        let next = vec![-0.25f32; n];
        with.write(0, &next, 1);
        without.write(0, &next, 1);
        // The same strings written the same way: the copy changes no draw.
        assert_eq!(with.values(0), without.values(0));
        assert_eq!(with.held_codes(0), without.held_codes(0));
        assert_eq!(with.last_writes(0), without.last_writes(0));
        assert!(!with.last_writes(0).unwrap().is_empty());
        let counts = with.take_counts().expect("device counts");
        assert_eq!(Some(counts), without.take_counts());
        assert_eq!(with.base_values(0), &next[..]);
        assert_ne!(with.values(0), &next[..], "some writes fail at P = 0.84");
        assert!(with.describe().ends_with(", f32 master weights"));
        assert!(with.describe().starts_with(&without.describe()));
    }

    #[test]
    fn without_master_weights_errors_compound_and_with_them_they_stay_bounded() {
        // Blind: a failed bit of a magnitude shrinks |w|, and the next update starts from
        // the shrunk value, so the weights drift towards 0 (a drift of 0.5 is total).
        let (half, end) = drift(Master::None, 200);
        assert!(half > 0.2, "mean drift after 100 blind rewrites: {half}");
        assert!(
            end > 0.4,
            "after 200 the weights have all but vanished: {end}"
        );
        let (early, _) = drift(Master::None, 4);
        assert!(
            early < half,
            "the drift grows: {early} after 2, {half} after 100"
        );
        // Master weights: each rewrite starts from the exact copy, so the error is that of
        // one write and does not grow. 0.5 is code 64, a single 1: it fails with P = 0.16
        // and then reads 0, a mean error of about 0.16 x 0.5 = 0.08.
        let (half, end) = drift(Master::Digital, 200);
        assert!(half < 0.12 && end < 0.12, "{half} {end}");
        assert!((end - half).abs() < 0.02, "no growth: {half} -> {end}");
    }
}
