//! A network ready to run: the checked graph, its parameters and its working buffers.

use rand::RngExt;

use super::conv::{self, ConvGeom};
use super::dense;
use super::elementwise as ew;
use super::graph::{Graph, LayerNode, OpSpec};
use super::loss::{BatchScore, softmax_cross_entropy};
use super::pool::{self, PoolGeom};
use super::tensor::Act;
use crate::config::workload::Kernels;
use crate::rng::{Purpose, keyed_rng};
use crate::store::{ParamId, ParamKind, ParamSpec, WeightStore};

/// The compiled form of one layer.
#[derive(Debug, Clone)]
enum Op {
    Conv(ConvGeom),
    MaxPool(PoolGeom),
    AvgPool(PoolGeom),
    Relu,
    Flatten,
    Dense { out: usize },
    Add,
}

/// A network with buffers for one batch of any size.
#[derive(Debug)]
pub struct Network {
    graph: Graph,
    ops: Vec<Op>,
    params: Vec<ParamSpec>,
    /// (weight, bias) of each layer that has parameters.
    layer_params: Vec<Option<(ParamId, ParamId)>>,
    outs: Vec<Act>,
    grads: Vec<Act>,
    grad_written: Vec<bool>,
    cols: Vec<Vec<f32>>,
    argmax: Vec<Vec<u32>>,
    dcols: Vec<f32>,
    kernels: Kernels,
    /// Gradient of the mean batch loss with respect to each parameter (after `backward`).
    pub param_grads: Vec<Vec<f32>>,
}

impl Network {
    /// Compiles a checked graph.
    pub fn new(graph: Graph) -> Self {
        let mut params = Vec::new();
        let mut layer_params = Vec::new();
        let mut ops = Vec::new();
        for l in &graph.layers {
            let (op, p) = match l.op {
                OpSpec::Conv2d {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                } => {
                    let g = ConvGeom {
                        input: l.in_shape,
                        out_channels,
                        kernel,
                        stride,
                        padding,
                        out_h: l.out_shape.h,
                        out_w: l.out_shape.w,
                    };
                    let fan_in = g.k_len();
                    (
                        Op::Conv(g),
                        Some((out_channels * fan_in, out_channels, fan_in)),
                    )
                }
                OpSpec::MaxPool {
                    kernel,
                    stride,
                    padding,
                } => (Op::MaxPool(pool_geom(l, kernel, stride, padding)), None),
                OpSpec::AvgPool {
                    kernel,
                    stride,
                    padding,
                } => (Op::AvgPool(pool_geom(l, kernel, stride, padding)), None),
                OpSpec::Relu => (Op::Relu, None),
                OpSpec::Flatten => (Op::Flatten, None),
                OpSpec::Dense { out_features } => {
                    let fan_in = l.in_shape.len();
                    (
                        Op::Dense { out: out_features },
                        Some((out_features * fan_in, out_features, fan_in)),
                    )
                }
                OpSpec::Add => (Op::Add, None),
            };
            ops.push(op);
            layer_params.push(p.map(|(wlen, blen, fan_in)| {
                let w = params.len();
                params.push(ParamSpec {
                    name: format!("{}.weight", l.name),
                    layer: l.name.clone(),
                    kind: ParamKind::Weight,
                    len: wlen,
                    fan_in,
                });
                params.push(ParamSpec {
                    name: format!("{}.bias", l.name),
                    layer: l.name.clone(),
                    kind: ParamKind::Bias,
                    len: blen,
                    fan_in,
                });
                (w, w + 1)
            }));
        }
        let n = graph.layers.len();
        Self {
            param_grads: params.iter().map(|p| vec![0.0; p.len]).collect(),
            graph,
            ops,
            params,
            layer_params,
            outs: vec![Act::default(); n],
            grads: vec![Act::default(); n],
            grad_written: vec![false; n],
            cols: vec![Vec::new(); n],
            argmax: vec![Vec::new(); n],
            dcols: Vec::new(),
            kernels: Kernels::Native,
        }
    }

    /// The network with `kernels` for its matrix products and loss (`native` by default).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The kernels it runs.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// The parameter tensors, in a fixed order (weight then bias of each layer).
    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// Trainable values: weights and biases of every layer.
    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(|p| p.len).sum()
    }

    /// The layers, in execution order.
    pub fn layers(&self) -> &[LayerNode] {
        &self.graph.layers
    }

    /// Initial parameter values, as PyTorch initialises conv and linear layers:
    /// uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] for weights and biases alike.
    /// Each tensor draws from its own stream keyed on (seed, tensor index).
    pub fn init_params(&self, seed: u64) -> Vec<Vec<f32>> {
        self.params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut rng = keyed_rng(seed, Purpose::Init, &[i as u64]);
                let bound = 1.0 / (p.fan_in as f32).sqrt();
                (0..p.len)
                    .map(|_| rng.random_range(-bound..bound))
                    .collect()
            })
            .collect()
    }

    /// Runs the network on `x` (the data batch, shaped as the graph's input) and returns
    /// the logits (classes x N).
    pub fn forward(&mut self, store: &dyn WeightStore, x: &Act) -> &Act {
        for i in 0..self.ops.len() {
            let (prev, rest) = self.outs.split_at_mut(i);
            let y = &mut rest[0];
            let layer = &self.graph.layers[i];
            let input = |k: usize| -> &Act {
                match layer.inputs[k] {
                    None => x,
                    Some(j) => &prev[j],
                }
            };
            match &self.ops[i] {
                Op::Conv(g) => {
                    let (w, b) = self.layer_params[i].expect("conv has parameters");
                    conv::forward(
                        self.kernels,
                        g,
                        input(0),
                        store.values(w),
                        store.values(b),
                        &mut self.cols[i],
                        y,
                    );
                }
                Op::MaxPool(g) => pool::max_forward(g, input(0), y, &mut self.argmax[i]),
                Op::AvgPool(g) => pool::avg_forward(g, input(0), y),
                Op::Relu => ew::relu_forward(input(0), y),
                Op::Flatten => ew::flatten_forward(input(0), y),
                Op::Dense { out } => {
                    let (w, b) = self.layer_params[i].expect("dense has parameters");
                    dense::forward(
                        self.kernels,
                        input(0),
                        store.values(w),
                        store.values(b),
                        *out,
                        y,
                    );
                }
                Op::Add => {
                    let xs: Vec<&Act> = (0..layer.inputs.len()).map(input).collect();
                    ew::add_forward(&xs, y);
                }
            }
        }
        self.outs.last().expect("a network has layers")
    }

    /// Scores the last forward pass against `labels`; with `train`, also sets the gradient
    /// of the mean loss with respect to the logits, ready for [`Network::backward`].
    pub fn score(&mut self, labels: &[u8], train: bool) -> BatchScore {
        let last = self.outs.len() - 1;
        let grad = if train {
            Some(&mut self.grads[last])
        } else {
            None
        };
        softmax_cross_entropy(self.kernels, &self.outs[last], labels, grad)
    }

    /// Back-propagates the logits' gradient (from [`Network::score`]) through the last
    /// forward pass on `x`, filling [`Network::param_grads`].
    pub fn backward(&mut self, store: &dyn WeightStore, x: &Act) {
        let n = self.ops.len();
        self.grad_written.fill(false);
        self.grad_written[n - 1] = true;
        for i in (0..n).rev() {
            let layer = &self.graph.layers[i];
            let (gprev, grest) = self.grads.split_at_mut(i);
            let dy = &grest[0];
            let input = |k: usize| -> &Act {
                match layer.inputs[k] {
                    None => x,
                    Some(j) => &self.outs[j],
                }
            };
            match &self.ops[i] {
                Op::Conv(g) => {
                    let (w, b) = self.layer_params[i].expect("conv has parameters");
                    let (gw, gb) = two_mut(&mut self.param_grads, w, b);
                    let dx = target(gprev, &mut self.grad_written, layer.inputs[0]);
                    conv::backward(
                        self.kernels,
                        g,
                        dy,
                        store.values(w),
                        &self.cols[i],
                        gw,
                        gb,
                        &mut self.dcols,
                        dx,
                    );
                }
                Op::Dense { .. } => {
                    let (w, b) = self.layer_params[i].expect("dense has parameters");
                    let (gw, gb) = two_mut(&mut self.param_grads, w, b);
                    let dx = target(gprev, &mut self.grad_written, layer.inputs[0]);
                    dense::backward(self.kernels, input(0), dy, store.values(w), gw, gb, dx);
                }
                Op::MaxPool(g) => {
                    if let Some((dx, acc)) = target(gprev, &mut self.grad_written, layer.inputs[0])
                    {
                        pool::max_backward(g, dy, &self.argmax[i], dx, acc);
                    }
                }
                Op::AvgPool(g) => {
                    if let Some((dx, acc)) = target(gprev, &mut self.grad_written, layer.inputs[0])
                    {
                        pool::avg_backward(g, dy, dx, acc);
                    }
                }
                Op::Relu => {
                    if let Some((dx, acc)) = target(gprev, &mut self.grad_written, layer.inputs[0])
                    {
                        ew::relu_backward(&self.outs[i], dy, dx, acc);
                    }
                }
                Op::Flatten => {
                    if let Some((dx, acc)) = target(gprev, &mut self.grad_written, layer.inputs[0])
                    {
                        ew::flatten_backward(layer.in_shape, dy, dx, acc);
                    }
                }
                Op::Add => {
                    for k in 0..layer.inputs.len() {
                        if let Some((dx, acc)) =
                            target(gprev, &mut self.grad_written, layer.inputs[k])
                        {
                            ew::add_backward(dy, dx, acc);
                        }
                    }
                }
            }
        }
    }
}

fn pool_geom(l: &LayerNode, kernel: usize, stride: usize, padding: usize) -> PoolGeom {
    PoolGeom {
        input: l.in_shape,
        kernel,
        stride,
        padding,
        output: l.out_shape,
    }
}

/// The gradient buffer of an input (`None` for the data input, which needs none) and
/// whether to add to it (another consumer already wrote it in this pass).
fn target<'a>(
    grads: &'a mut [Act],
    written: &mut [bool],
    input: Option<usize>,
) -> Option<(&'a mut Act, bool)> {
    let j = input?;
    let acc = written[j];
    written[j] = true;
    Some((&mut grads[j], acc))
}

fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert!(a < b);
    let (l, r) = v.split_at_mut(b);
    (&mut l[a], &mut r[0])
}
