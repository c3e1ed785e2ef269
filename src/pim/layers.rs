//! The network's side of in-memory MACs: which layers' inputs can be negative, and the
//! operands as the device holds them, per layer and slot, ready for the layer's kernels.

use std::collections::BTreeMap;

use super::Slot;
use super::operands::{Operands, Pass};
use crate::nn::graph::{Graph, LayerNode, OpSpec};
use crate::nn::tensor::Act;

/// Operand writes and the held operands of every conv and dense layer.
#[derive(Debug, Clone)]
pub struct PimLayers {
    /// The writes.
    pub ops: Operands,
    /// Per layer: whether its input can be negative.
    signed: Vec<bool>,
    /// Per layer: whether a conv or dense layer feeds it (through any layers), so that its
    /// activation gradient is needed (an AG pass).
    has_ag: Vec<bool>,
    held: BTreeMap<(usize, Slot), Act>,
}

impl PimLayers {
    /// The PIM state of the network `graph` describes.
    pub fn new(ops: Operands, graph: &Graph) -> Self {
        Self {
            ops,
            signed: signed_inputs(&graph.layers),
            has_ag: fed_by_weights(&graph.layers),
            held: BTreeMap::new(),
        }
    }

    /// Sets what the next passes are (see [`Pass`]).
    pub fn set_pass(&mut self, pass: Pass) {
        self.ops.set_pass(pass);
    }

    /// Writes operand `x` of `layer` into `slot`; [`PimLayers::get`] then gives what the
    /// strings hold.
    pub fn write(&mut self, layer: usize, slot: Slot, x: &Act) {
        let out = self.held.entry((layer, slot)).or_default();
        out.shape = x.shape;
        out.n = x.n;
        let signed = self.signed[layer];
        self.ops.write(
            layer,
            slot,
            signed,
            (&x.data, x.shape.c, x.n, x.shape.plane()),
            &mut out.data,
        );
    }

    /// Whether layer `layer` has an AG pass: a conv or dense layer feeds it.
    pub fn has_ag(&self, layer: usize) -> bool {
        self.has_ag[layer]
    }

    /// The operand last written into (`layer`, `slot`).
    pub fn get(&self, layer: usize, slot: Slot) -> &Act {
        &self.held[&(layer, slot)]
    }
}

/// Per layer: whether a conv or dense layer feeds it, through any layers.
fn fed_by_weights(layers: &[LayerNode]) -> Vec<bool> {
    let mut out: Vec<bool> = Vec::with_capacity(layers.len());
    // Per layer: whether its output carries a weight layer's work.
    let mut carries: Vec<bool> = Vec::with_capacity(layers.len());
    for l in layers {
        let fed = l.inputs.iter().flatten().any(|&j| carries[j]);
        out.push(fed);
        carries.push(fed || matches!(l.op, OpSpec::Conv2d { .. } | OpSpec::Dense { .. }));
    }
    out
}

/// Per layer: whether its (first) input can hold negative values. The data cannot (pixels
/// are 0 to 1); a ReLU's output cannot; pooling and flattening keep their input's sign; a
/// sum is non-negative when all its terms are; everything else can be negative.
pub fn signed_inputs(layers: &[LayerNode]) -> Vec<bool> {
    let mut nonneg_out: Vec<bool> = Vec::with_capacity(layers.len());
    let nonneg = |src: Option<usize>, out: &[bool]| src.is_none_or(|j| out[j]);
    let mut signed = Vec::with_capacity(layers.len());
    for l in layers {
        let first = l.inputs.first().copied().flatten();
        signed.push(!nonneg(first, &nonneg_out));
        let out = match l.op {
            OpSpec::Relu => true,
            OpSpec::MaxPool { .. } | OpSpec::AvgPool { .. } | OpSpec::Flatten => {
                nonneg(first, &nonneg_out)
            }
            OpSpec::Add => l.inputs.iter().all(|&s| nonneg(s, &nonneg_out)),
            OpSpec::Conv2d { .. } | OpSpec::Dense { .. } | OpSpec::BatchNorm { .. } => false,
        };
        nonneg_out.push(out);
    }
    signed
}
