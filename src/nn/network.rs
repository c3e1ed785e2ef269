//! A network ready to run: the checked graph, its parameters and its working buffers.

use rand::RngExt;

use super::batch_norm::{self as bn, BnGeom, BnState};
use super::conv::{self, ConvGeom};
use super::dense;
use super::elementwise as ew;
use super::graph::{Graph, LayerNode, OpSpec};
use super::loss::{BatchScore, softmax_cross_entropy};
use super::pool::{self, PoolGeom};
use super::tensor::Act;
use crate::config::workload::Kernels;
use crate::pim::Slot;
use crate::pim::layers::PimLayers;
use crate::pim::operands::{Operands, Pass};
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
    BatchNorm(BnGeom),
}

/// Whether a forward pass trains (batch statistics, running statistics updated) or
/// evaluates (running statistics). Only batch-norm layers tell the two apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A training batch.
    Train,
    /// Scoring (the test set).
    Eval,
}

/// How a parameter tensor starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Init {
    /// Uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)].
    Uniform,
    /// Every value the same.
    Const(f32),
}

/// A network with buffers for one batch of any size.
#[derive(Debug)]
pub struct Network {
    graph: Graph,
    ops: Vec<Op>,
    params: Vec<ParamSpec>,
    inits: Vec<Init>,
    /// (weight, bias) of each layer that has parameters (gamma, beta for batch norm).
    layer_params: Vec<Option<(ParamId, ParamId)>>,
    outs: Vec<Act>,
    grads: Vec<Act>,
    grad_written: Vec<bool>,
    cols: Vec<Vec<f32>>,
    argmax: Vec<Vec<u32>>,
    bn: Vec<BnState>,
    dcols: Vec<f32>,
    kernels: Kernels,
    /// In-memory MACs (`tile.compute = "pim"`): their operand writes and held operands.
    pim: Option<PimLayers>,
    /// Gradient of the mean batch loss with respect to each parameter (after `backward`).
    pub param_grads: Vec<Vec<f32>>,
}

impl Network {
    /// Compiles a checked graph.
    pub fn new(graph: Graph) -> Self {
        let mut params = Vec::new();
        let mut inits = Vec::new();
        let mut layer_params = Vec::new();
        let mut ops = Vec::new();
        let mut bn = Vec::new();
        for (i, l) in graph.layers.iter().enumerate() {
            if let OpSpec::BatchNorm { momentum, epsilon } = l.op {
                let channels = l.in_shape.c;
                ops.push(Op::BatchNorm(BnGeom {
                    channels,
                    momentum,
                    epsilon,
                }));
                bn.resize(i + 1, BnState::default());
                bn[i] = BnState::new(channels);
                // Gamma and beta are held like biases, on the tile of the weight layer
                // whose output they normalise.
                let host = host_layer(&graph, i).to_string();
                let g = params.len();
                for (suffix, init) in [("gamma", 1.0), ("beta", 0.0)] {
                    params.push(ParamSpec {
                        name: format!("{}.{suffix}", l.name),
                        layer: host.clone(),
                        kind: ParamKind::Bias,
                        len: channels,
                        fan_in: 1,
                    });
                    inits.push(Init::Const(init));
                }
                layer_params.push(Some((g, g + 1)));
                continue;
            }
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
                OpSpec::BatchNorm { .. } => unreachable!("handled above"),
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
                inits.extend([Init::Uniform, Init::Uniform]);
                (w, w + 1)
            }));
        }
        let n = graph.layers.len();
        bn.resize(n, BnState::default());
        Self {
            param_grads: params.iter().map(|p| vec![0.0; p.len]).collect(),
            graph,
            ops,
            params,
            inits,
            layer_params,
            outs: vec![Act::default(); n],
            grads: vec![Act::default(); n],
            grad_written: vec![false; n],
            cols: vec![Vec::new(); n],
            argmax: vec![Vec::new(); n],
            bn,
            dcols: Vec::new(),
            kernels: Kernels::Native,
            pim: None,
        }
    }

    /// The network with the conv and dense MACs of the phases `ops` lists run in memory:
    /// their operands quantised and written through `ops` before each MAC.
    pub fn with_pim(mut self, ops: Operands) -> Self {
        self.pim = Some(PimLayers::new(ops, &self.graph));
        self
    }

    /// The in-memory MACs' state, if the network runs any.
    pub fn pim(&self) -> Option<&PimLayers> {
        self.pim.as_ref()
    }

    /// Sets what the next forward and backward pass are, for the random keys of in-memory
    /// operand writes (no effect without them).
    pub fn set_pass(&mut self, pass: Pass) {
        if let Some(p) = &mut self.pim {
            p.set_pass(pass);
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

    /// Initial parameter values, as PyTorch initialises its layers: uniform in
    /// [-1/sqrt(fan_in), 1/sqrt(fan_in)] for the weights and biases of conv and dense
    /// layers (each tensor draws from its own stream keyed on (seed, tensor index)); 1 for a
    /// batch norm's gamma, 0 for its beta.
    pub fn init_params(&self, seed: u64) -> Vec<Vec<f32>> {
        self.params
            .iter()
            .zip(&self.inits)
            .enumerate()
            .map(|(i, (p, init))| match *init {
                Init::Const(v) => vec![v; p.len],
                Init::Uniform => {
                    let mut rng = keyed_rng(seed, Purpose::Init, &[i as u64]);
                    let bound = 1.0 / (p.fan_in as f32).sqrt();
                    (0..p.len)
                        .map(|_| rng.random_range(-bound..bound))
                        .collect()
                }
            })
            .collect()
    }

    /// The running (mean, variance) of batch-norm layer `name` per channel, or `None` if
    /// there is no such batch-norm layer.
    pub fn running_stats(&self, name: &str) -> Option<(&[f32], &[f32])> {
        let i = self
            .graph
            .layers
            .iter()
            .position(|l| l.name == name && matches!(l.op, OpSpec::BatchNorm { .. }))?;
        Some((&self.bn[i].running_mean, &self.bn[i].running_var))
    }

    /// Runs the network on `x` (the data batch, shaped as the graph's input) and returns
    /// the logits (classes x N). In [`Mode::Train`] batch-norm layers use the batch's
    /// statistics and update their running ones.
    pub fn forward(&mut self, store: &dyn WeightStore, x: &Act, mode: Mode) -> &Act {
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
                    let x = match &mut self.pim {
                        Some(p) if p.ops.fw => {
                            p.write(i, Slot::FwInput, input(0));
                            p.get(i, Slot::FwInput)
                        }
                        _ => input(0),
                    };
                    conv::forward(
                        self.kernels,
                        g,
                        x,
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
                    let x = match &mut self.pim {
                        Some(p) if p.ops.fw => {
                            p.write(i, Slot::FwInput, input(0));
                            p.get(i, Slot::FwInput)
                        }
                        _ => input(0),
                    };
                    dense::forward(self.kernels, x, store.values(w), store.values(b), *out, y);
                }
                Op::Add => {
                    let xs: Vec<&Act> = (0..layer.inputs.len()).map(input).collect();
                    ew::add_forward(&xs, y);
                }
                Op::BatchNorm(g) => {
                    let (gm, bt) = self.layer_params[i].expect("batch norm has parameters");
                    let (gamma, beta) = (store.values(gm), store.values(bt));
                    match mode {
                        Mode::Train => {
                            bn::forward_train(g, input(0), gamma, beta, &mut self.bn[i], y)
                        }
                        Mode::Eval => bn::forward_eval(g, input(0), gamma, beta, &self.bn[i], y),
                    }
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
            if let Some(p) = &mut self.pim
                && matches!(self.ops[i], Op::Conv(_) | Op::Dense { .. })
            {
                let (w, b) = self.layer_params[i].expect("conv and dense have parameters");
                let (gw, gb) = two_mut(&mut self.param_grads, w, b);
                let dx = target(gprev, &mut self.grad_written, layer.inputs[0]);
                pim_backward(
                    p,
                    i,
                    (&self.ops[i], self.kernels),
                    (input(0), dy),
                    store.values(w),
                    (gw, gb),
                    (&mut self.cols[i], &mut self.dcols),
                    dx,
                );
                continue;
            }
            match &self.ops[i] {
                Op::Conv(g) => {
                    let (w, b) = self.layer_params[i].expect("conv has parameters");
                    let (gw, gb) = two_mut(&mut self.param_grads, w, b);
                    let dx = target(gprev, &mut self.grad_written, layer.inputs[0]);
                    conv::backward(
                        self.kernels,
                        g,
                        (input(0), dy),
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
                Op::BatchNorm(g) => {
                    let (gm, bt) = self.layer_params[i].expect("batch norm has parameters");
                    let (dg, db) = two_mut(&mut self.param_grads, gm, bt);
                    let dx = target(gprev, &mut self.grad_written, layer.inputs[0]);
                    bn::backward(g, dy, store.values(gm), &self.bn[i], dg, db, dx);
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

/// The backward pass of conv or dense layer `i` with in-memory MACs: the input gradient
/// from the output gradient as AG's write left it (when AG runs in memory), the weight
/// gradient from the input and output gradient as WG's writes left them (when WG does);
/// digital phases use the exact values.
#[allow(clippy::too_many_arguments)]
fn pim_backward(
    p: &mut PimLayers,
    i: usize,
    (op, kern): (&Op, Kernels),
    (x, dy): (&Act, &Act),
    weight: &[f32],
    (gw, gb): (&mut Vec<f32>, &mut Vec<f32>),
    (cols, dcols): (&mut Vec<f32>, &mut Vec<f32>),
    dx: Option<(&mut Act, bool)>,
) {
    // AG runs for a layer that a weight layer feeds (the chip model's AG passes); the
    // gradient of a layer fed only through parameter-free layers from the data goes nowhere.
    let ag_held = p.ops.ag && dx.is_some() && p.has_ag(i);
    if ag_held {
        p.write(i, Slot::AgGradient, dy);
    }
    if let Some(dx) = dx {
        let dy_ag = if ag_held {
            p.get(i, Slot::AgGradient)
        } else {
            dy
        };
        match op {
            Op::Conv(g) => conv::backward_data(kern, g, dy_ag, weight, dcols, dx),
            _ => dense::backward_data(kern, x.shape, dy_ag, weight, dx),
        }
    }
    if p.ops.wg {
        p.write(i, Slot::WgInput, x);
        if !ag_held {
            p.write(i, Slot::WgGradient, dy);
        }
    }
    let (x_wg, dy_wg) = match (p.ops.wg, ag_held) {
        (false, _) => (x, dy),
        (true, true) => (p.get(i, Slot::WgInput), p.get(i, Slot::AgGradient)),
        (true, false) => (p.get(i, Slot::WgInput), p.get(i, Slot::WgGradient)),
    };
    match op {
        Op::Conv(g) => {
            // The forward pass unfolded its own operand; WG's may differ.
            if (p.ops.fw || p.ops.wg) && !super::direct::applies(kern, g) {
                conv::unfold(g, x_wg, cols);
            }
            conv::backward(kern, g, (x_wg, dy_wg), weight, cols, gw, gb, dcols, None);
        }
        _ => dense::backward(kern, x_wg, dy_wg, weight, gw, gb, None),
    }
}

/// The weight layer whose output batch-norm layer `i` normalises: the first weight layer up
/// its (first) inputs, through layers without parameters; the layer itself if there is
/// none (it normalises the data).
fn host_layer(graph: &Graph, i: usize) -> &str {
    let mut j = i;
    while let Some(Some(p)) = graph.layers[j].inputs.first() {
        j = *p;
        if matches!(
            graph.layers[j].op,
            OpSpec::Conv2d { .. } | OpSpec::Dense { .. }
        ) {
            return &graph.layers[j].name;
        }
    }
    &graph.layers[i].name
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::workload::LayerSpec;
    use crate::nn::graph::build;
    use crate::nn::tensor::Shape;
    use crate::store::FloatStore;

    fn net(text: &str) -> Network {
        #[derive(serde::Deserialize)]
        struct L {
            layers: Vec<LayerSpec>,
        }
        let layers = toml::from_str::<L>(text).unwrap().layers;
        Network::new(build(&layers, Shape::new(1, 4, 4)).unwrap())
    }

    const BN_NET: &str = r#"
[[layers]]
name = "c1"
type = "conv2d"
input = "input"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
name = "r1"
type = "relu"
input = "c1"
[[layers]]
name = "bn1"
type = "batch_norm"
input = "r1"
momentum = 0.5
[[layers]]
name = "f"
type = "flatten"
input = "bn1"
[[layers]]
name = "d"
type = "dense"
input = "f"
out_features = 3
"#;

    #[test]
    fn batch_norm_parameters_state_and_modes() {
        let mut n = net(BN_NET);
        let names: Vec<(&str, &str)> = n
            .params()
            .iter()
            .map(|p| (p.name.as_str(), p.layer.as_str()))
            .collect();
        // Gamma and beta belong to the conv layer whose output they normalise.
        assert_eq!(
            names,
            [
                ("c1.weight", "c1"),
                ("c1.bias", "c1"),
                ("bn1.gamma", "c1"),
                ("bn1.beta", "c1"),
                ("d.weight", "d"),
                ("d.bias", "d")
            ]
        );
        let init = n.init_params(7);
        assert_eq!(init[2], [1.0, 1.0]);
        assert_eq!(init[3], [0.0, 0.0]);
        // The conv and dense tensors draw the same values as without the batch norm.
        let plain = net(&BN_NET.replace("input = \"bn1\"", "input = \"r1\"").replace(
            "[[layers]]\nname = \"bn1\"\ntype = \"batch_norm\"\ninput = \"r1\"\nmomentum = 0.5\n",
            "",
        ));
        let p0 = plain.init_params(7);
        assert_eq!(init[0], p0[0]);
        assert_ne!(
            init[4], p0[2],
            "tensor indices shift: d.weight is tensor 4 here"
        );
        let mut store = FloatStore::new(n.params());
        for (i, v) in init.iter().enumerate() {
            store.write(i, v, 0);
        }
        let mut x = Act::zeros(Shape::new(1, 4, 4), 2);
        for (i, v) in x.data.iter_mut().enumerate() {
            *v = (i as f32 * 0.37).sin();
        }
        // Evaluation leaves the running statistics alone; training moves them.
        n.forward(&store, &x, Mode::Eval);
        assert_eq!(n.running_stats("bn1").unwrap().0, [0.0, 0.0]);
        assert_eq!(n.running_stats("bn1").unwrap().1, [1.0, 1.0]);
        let eval0 = n.forward(&store, &x, Mode::Eval).data.clone();
        let train = n.forward(&store, &x, Mode::Train).data.clone();
        let (mean, var) = n.running_stats("bn1").unwrap();
        assert!(mean.iter().all(|&m| m > 0.0), "{mean:?}");
        assert!(var.iter().all(|&v| v != 1.0), "{var:?}");
        let eval1 = n.forward(&store, &x, Mode::Eval).data.clone();
        assert_ne!(eval0, eval1);
        assert_ne!(train, eval1);
        assert!(n.running_stats("r1").is_none());
    }
}
