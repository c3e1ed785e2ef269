//! Weight stores: where the trainable parameters live.
//!
//! The training loop reads every parameter from a store, computes the update it intends, and
//! asks the store to write it; the next step trains on whatever the store then holds. The
//! `float` store holds ideal f32 values; the `fixed` store holds B-bit codes per layer. The
//! `nandspin`, `stt`, `sot` and `sram` stores hold the codes bit by bit in the simulated
//! cells of a memory technology ([`crate::tech`]) and write them through its device model.

mod cells;
mod fixed;
pub mod format;
mod master;
pub mod quantise;

use crate::config::arch::{ArchConfig, StoreKind};
use crate::config::device::Master;
use crate::config::workload::Kernels;
use crate::device::{StringWrite, WriteCounts};
use crate::pim::Slot;
use crate::pim::operands::OperandBatch;
pub use cells::CellStore;
pub use fixed::FixedStore;
pub use master::Mastered;

/// Index of a parameter tensor in [`crate::nn::network::Network::params`].
pub type ParamId = usize;

/// Whether a parameter tensor holds weights or biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Synaptic weights (kernels, dense matrices).
    Weight,
    /// Biases.
    Bias,
}

/// A parameter tensor of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// `layer.weight` or `layer.bias`.
    pub name: String,
    /// The layer it belongs to.
    pub layer: String,
    /// Weights or biases.
    pub kind: ParamKind,
    /// Number of values.
    pub len: usize,
    /// Inputs that feed one output of the layer (C_in*k*k or in_features).
    pub fan_in: usize,
}

/// Where parameters live: read values, write intended updates.
pub trait WeightStore: DeviceLog {
    /// The values the store holds now (what forward and backward use).
    fn values(&self, id: ParamId) -> &[f32];
    /// The values the optimiser's next update starts from: what the store holds, or the
    /// f32 master copy with `update.master = "digital"`.
    fn base_values(&self, id: ParamId) -> &[f32] {
        self.values(id)
    }
    /// Writes the intended new values of parameter `id` at update `step` (0 is the
    /// initial write); the store decides what it actually holds afterwards.
    fn write(&mut self, id: ParamId, intended: &[f32], step: u64);
    /// Writes several parameters at update `step`, each at most once; the same as calling
    /// [`WeightStore::write`] for each in turn (a store may do them in parallel).
    fn write_many(&mut self, updates: &[(ParamId, &[f32])], step: u64) {
        for &(id, intended) in updates {
            self.write(id, intended, step);
        }
    }
    /// A one-line description for summaries ("fixed 8-bit two's complement, stochastic").
    fn describe(&self) -> String;
    /// Device activity of the writes since the last call, one entry per parameter tensor,
    /// and starts counting afresh; `None` for stores without a device model.
    fn take_counts(&mut self) -> Option<Vec<WriteCounts>> {
        None
    }
    /// The failure probability of one program pulse that the worst 1 % of the store's
    /// MTJs reach (`p_fail_worst1pct`); `None` for stores without a device model.
    fn worst_fail_p(&self) -> Option<f64> {
        None
    }
    /// Runs the `kernels` copies of the store's arithmetic (`native` unless set; the
    /// copies give the same bits, see [`quantise`]).
    fn set_kernels(&mut self, _kernels: Kernels) {}
}

/// What the device did at the last update, as the chip model reads it.
pub trait DeviceLog {
    /// The strings of parameter `id` written by the last update, with their durations;
    /// `None` for stores without strings or parameters held digitally.
    fn last_writes(&self, _id: ParamId) -> Option<&[StringWrite]> {
        None
    }
    /// The codes the strings of parameter `id` hold now, one per value; `None` for stores
    /// without strings or parameters held digitally.
    fn held_codes(&self, _id: ParamId) -> Option<&[u32]> {
        None
    }
    /// The in-memory operand writes of the last training batch, per (layer node, slot),
    /// with `tile.compute = "pim"` (none otherwise).
    fn operand_writes(&self) -> &[(usize, Slot, OperandBatch)] {
        &[]
    }
}

/// A copy of a [`DeviceLog`] at one update, for the chip model to read later (on another
/// thread).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedLog {
    writes: Vec<Option<Vec<StringWrite>>>,
    codes: Vec<Option<Vec<u32>>>,
    operands: Vec<(usize, Slot, OperandBatch)>,
}

impl RecordedLog {
    /// Copies the last writes of parameters `0..params` of `log`, and their held codes when
    /// `with_codes` (needed only to cost swapping).
    pub fn capture(log: &dyn DeviceLog, params: usize, with_codes: bool) -> Self {
        Self {
            writes: (0..params)
                .map(|id| log.last_writes(id).map(<[_]>::to_vec))
                .collect(),
            codes: (0..params)
                .map(|id| {
                    with_codes
                        .then(|| log.held_codes(id).map(<[_]>::to_vec))
                        .flatten()
                })
                .collect(),
            operands: Vec::new(),
        }
    }

    /// The log with the operand writes of the batch `pim` just ran (if any).
    pub fn with_operands(mut self, pim: Option<&crate::pim::layers::PimLayers>) -> Self {
        if let Some(p) = pim {
            self.operands = p
                .ops
                .batch_counts()
                .iter()
                .map(|(&(node, slot), b)| (node, slot, b.clone()))
                .collect();
        }
        self
    }
}

impl DeviceLog for RecordedLog {
    fn last_writes(&self, id: ParamId) -> Option<&[StringWrite]> {
        self.writes.get(id)?.as_deref()
    }
    fn held_codes(&self, id: ParamId) -> Option<&[u32]> {
        self.codes.get(id)?.as_deref()
    }
    fn operand_writes(&self) -> &[(usize, Slot, OperandBatch)] {
        &self.operands
    }
}

/// Ideal f32 storage: holds exactly what is written.
#[derive(Debug, Clone)]
pub struct FloatStore {
    values: Vec<Vec<f32>>,
}

impl FloatStore {
    /// A store for `params`, all zero until written.
    pub fn new(params: &[ParamSpec]) -> Self {
        Self {
            values: params.iter().map(|p| vec![0.0; p.len]).collect(),
        }
    }
}

impl DeviceLog for FloatStore {}

impl WeightStore for FloatStore {
    fn values(&self, id: ParamId) -> &[f32] {
        &self.values[id]
    }
    fn write(&mut self, id: ParamId, intended: &[f32], _step: u64) {
        self.values[id].copy_from_slice(intended);
    }
    fn describe(&self) -> String {
        "float (ideal f32)".into()
    }
}

/// Builds the store the arch asks for, holding `initial` (written as step 0). The initial
/// programming goes through the device like any write, but is not counted as training
/// activity.
pub fn build(
    arch: &ArchConfig,
    params: &[ParamSpec],
    initial: &[Vec<f32>],
    seed: u64,
) -> Box<dyn WeightStore> {
    build_with(arch, params, initial, seed, Kernels::Native)
}

/// [`build`] with the given kernels.
pub fn build_with(
    arch: &ArchConfig,
    params: &[ParamSpec],
    initial: &[Vec<f32>],
    seed: u64,
    kernels: Kernels,
) -> Box<dyn WeightStore> {
    let mut store: Box<dyn WeightStore> = match arch.weights.store {
        StoreKind::Float => Box::new(FloatStore::new(params)),
        StoreKind::Fixed => Box::new(
            FixedStore::new(&arch.weights, params, seed)
                .with_threshold(arch.update.write_threshold_lsb),
        ),
        _ => Box::new(CellStore::new(arch, params, seed)),
    };
    if arch.update.master == Master::Digital {
        store = Box::new(Mastered::new(store, params.iter().map(|p| p.len)));
    }
    store.set_kernels(kernels);
    let all: Vec<(ParamId, &[f32])> = initial
        .iter()
        .enumerate()
        .map(|(id, v)| (id, v.as_slice()))
        .collect();
    store.write_many(&all, 0);
    store.take_counts();
    store
}
