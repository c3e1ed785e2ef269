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
    fn take_counts(&mut self) -> Option<Vec<WriteCounts>> {
        self.inner.take_counts()
    }
    fn set_kernels(&mut self, kernels: Kernels) {
        self.inner.set_kernels(kernels);
    }
}
