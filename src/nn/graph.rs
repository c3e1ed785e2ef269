//! The network as a graph of named layers: checked, ordered and with every shape inferred.
//!
//! petgraph holds the layers and their input edges, so branches and skip connections are
//! plain graphs; a cycle, a dangling input, a layer whose output goes nowhere, or shapes that
//! do not fit are errors that name the layer (and the key) at fault.

use std::collections::HashMap;

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use super::tensor::Shape;
use crate::config::source::{KeyPath, Seg};
use crate::config::workload::{
    BN_EPSILON, BN_MOMENTUM, INPUT_NAME, LayerKind, LayerSpec, layer_key,
};
use crate::error::clip;

/// What a layer computes, with its resolved hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpSpec {
    /// Convolution: `out_channels` filters of `kernel x kernel`, with bias.
    Conv2d {
        /// Output channels.
        out_channels: usize,
        /// Kernel size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        padding: usize,
    },
    /// Max pooling (padding never wins the max).
    MaxPool {
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding on each side.
        padding: usize,
    },
    /// Average pooling (padding counts as zeros).
    AvgPool {
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding on each side.
        padding: usize,
    },
    /// max(0, x).
    Relu,
    /// (C, H, W) -> C*H*W features, in C, H, W order.
    Flatten,
    /// Fully connected, with bias.
    Dense {
        /// Output features.
        out_features: usize,
    },
    /// Element-wise sum.
    Add,
    /// Batch normalisation over each channel (feature) of its input, with learned gamma
    /// and beta.
    BatchNorm {
        /// Weight of the newest batch in the running statistics.
        momentum: f32,
        /// Added to the variance before its square root.
        epsilon: f32,
    },
}

/// One layer, resolved: its inputs as indices into the ordered layer list (`None` is the
/// data input) and its input and output shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNode {
    /// The layer's name.
    pub name: String,
    /// Index of the layer in the workload file.
    pub file_index: usize,
    /// What it computes.
    pub op: OpSpec,
    /// Producers of its inputs: `None` for the data input, else an index into
    /// [`Graph::layers`] (always earlier than this layer).
    pub inputs: Vec<Option<usize>>,
    /// Shape of its (first) input.
    pub in_shape: Shape,
    /// Shape of its output.
    pub out_shape: Shape,
}

/// A checked network in topological order; the last layer's output is the logits.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Layers in an order where every input comes before its consumer.
    pub layers: Vec<LayerNode>,
    /// Shape of one input sample.
    pub input_shape: Shape,
}

/// A graph error: the key path at fault and the message.
pub type GraphError = (KeyPath, String);

fn err(index: usize, key: Option<&str>, msg: String) -> GraphError {
    match key {
        Some(k) => (layer_key(index, k), msg),
        None => (vec![Seg::Key("layers".into()), Seg::Index(index)], msg),
    }
}

/// Largest value of any size key (channels, kernel, stride, padding, features).
pub const MAX_SIZE: u32 = 1 << 20;
/// Most activation values one sample may have at any layer's output (256 MiB of f32).
pub const MAX_VALUES_PER_SAMPLE: usize = 1 << 26;
/// Most weights one layer may have (1 GiB of f32).
pub const MAX_LAYER_WEIGHTS: usize = 1 << 28;

fn capped(i: usize, key: &str, v: u32) -> Result<usize, GraphError> {
    if v > MAX_SIZE {
        Err(err(
            i,
            Some(key),
            format!("must be at most {MAX_SIZE}, got {v}"),
        ))
    } else {
        Ok(v as usize)
    }
}

fn padding_of(spec: &LayerSpec, i: usize) -> Result<usize, GraphError> {
    capped(i, "padding", spec.padding.unwrap_or(0))
}

fn need(spec: &LayerSpec, i: usize, key: &str, v: Option<u32>) -> Result<usize, GraphError> {
    if let Some(v) = v {
        capped(i, key, v)?;
    }
    match v {
        None => Err(err(
            i,
            None,
            format!("a {} layer needs `{key}`", spec.kind.as_str()),
        )),
        Some(0) => Err(err(i, Some(key), "must be at least 1, got 0".into())),
        Some(v) => Ok(v as usize),
    }
}

fn positive_or(i: usize, key: &str, v: Option<u32>, default: usize) -> Result<usize, GraphError> {
    if let Some(v) = v {
        capped(i, key, v)?;
    }
    match v {
        Some(0) => Err(err(i, Some(key), "must be at least 1, got 0".into())),
        Some(v) => Ok(v as usize),
        None => Ok(default),
    }
}

/// Keys each layer type accepts besides `name`, `type`, `input`/`inputs`.
fn allowed_keys(kind: LayerKind) -> &'static [&'static str] {
    match kind {
        LayerKind::Conv2d => &["out_channels", "in_channels", "kernel", "stride", "padding"],
        LayerKind::MaxPool | LayerKind::AvgPool => &["kernel", "stride", "padding"],
        LayerKind::Dense => &["out_features", "in_features"],
        LayerKind::Relu | LayerKind::Flatten | LayerKind::Add => &[],
        LayerKind::BatchNorm => &["momentum", "epsilon"],
    }
}

fn check_keys(spec: &LayerSpec, i: usize) -> Result<(), GraphError> {
    let present = [
        ("out_channels", spec.out_channels.is_some()),
        ("in_channels", spec.in_channels.is_some()),
        ("kernel", spec.kernel.is_some()),
        ("stride", spec.stride.is_some()),
        ("padding", spec.padding.is_some()),
        ("out_features", spec.out_features.is_some()),
        ("in_features", spec.in_features.is_some()),
        ("momentum", spec.momentum.is_some()),
        ("epsilon", spec.epsilon.is_some()),
    ];
    let allowed = allowed_keys(spec.kind);
    for (k, set) in present {
        if set && !allowed.contains(&k) {
            return Err(err(
                i,
                Some(k),
                format!("`{k}` does not apply to a {} layer", spec.kind.as_str()),
            ));
        }
    }
    match (spec.kind, &spec.input, &spec.inputs) {
        (_, Some(_), Some(_)) => Err(err(
            i,
            Some("inputs"),
            "give either `input` or `inputs`, not both".into(),
        )),
        (_, None, None) => Err(err(
            i,
            None,
            "names no input: set `input` (or `inputs` for add)".into(),
        )),
        (LayerKind::Add, _, Some(v)) if v.len() < 2 => Err(err(
            i,
            Some("inputs"),
            format!("an add layer needs at least two inputs, got {}", v.len()),
        )),
        (LayerKind::Add, Some(_), None) => Err(err(
            i,
            Some("input"),
            "an add layer takes `inputs = [\"a\", \"b\"]`".into(),
        )),
        (k, None, Some(v)) if k != LayerKind::Add && v.len() != 1 => Err(err(
            i,
            Some("inputs"),
            format!("a {} layer takes one input, got {}", k.as_str(), v.len()),
        )),
        _ => Ok(()),
    }
}

fn window_out(
    i: usize,
    what: &str,
    in_shape: Shape,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<(usize, usize), GraphError> {
    let (ph, pw) = (in_shape.h + 2 * padding, in_shape.w + 2 * padding);
    if kernel > ph || kernel > pw {
        return Err(err(
            i,
            Some("kernel"),
            format!(
                "{what} kernel {kernel} is larger than its input {}x{} (padded {ph}x{pw})",
                in_shape.h, in_shape.w
            ),
        ));
    }
    Ok(((ph - kernel) / stride + 1, (pw - kernel) / stride + 1))
}

/// A batch_norm layer's resolved keys: `momentum` in [0, 1], `epsilon` in (0, 1].
fn batch_norm_op(spec: &LayerSpec, i: usize) -> Result<OpSpec, GraphError> {
    let momentum = spec.momentum.unwrap_or(BN_MOMENTUM);
    if !(momentum.is_finite() && (0.0..=1.0).contains(&momentum)) {
        return Err(err(
            i,
            Some("momentum"),
            format!("must be in [0, 1], got {momentum}"),
        ));
    }
    let epsilon = spec.epsilon.unwrap_or(BN_EPSILON);
    if !(epsilon.is_finite() && epsilon > 0.0 && epsilon <= 1.0) {
        return Err(err(
            i,
            Some("epsilon"),
            format!("must be in (0, 1], got {epsilon}"),
        ));
    }
    Ok(OpSpec::BatchNorm {
        momentum: momentum as f32,
        epsilon: epsilon as f32,
    })
}

/// Checks the layers of a workload and orders them; `input_shape` is one data sample's shape.
pub fn build(specs: &[LayerSpec], input_shape: Shape) -> Result<Graph, GraphError> {
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let mut by_name: HashMap<&str, NodeIndex> = HashMap::new();
    let nodes: Vec<NodeIndex> = (0..specs.len()).map(|i| g.add_node(i)).collect();
    for (i, spec) in specs.iter().enumerate() {
        if spec.name.contains('.') {
            return Err(err(
                i,
                Some("name"),
                format!(
                    "`{}`: layer names may not contain `.` (it separates keys in --set)",
                    clip(&spec.name)
                ),
            ));
        }
        if spec.name.is_empty() || spec.name == INPUT_NAME {
            return Err(err(
                i,
                Some("name"),
                format!("`{}` cannot name a layer", clip(&spec.name)),
            ));
        }
        if by_name.insert(spec.name.as_str(), nodes[i]).is_some() {
            return Err(err(
                i,
                Some("name"),
                format!("two layers are named `{}`", clip(&spec.name)),
            ));
        }
        check_keys(spec, i)?;
    }
    for (i, spec) in specs.iter().enumerate() {
        let key = if spec.inputs.is_some() {
            "inputs"
        } else {
            "input"
        };
        for name in spec.input_names() {
            if name == INPUT_NAME {
                continue;
            }
            match by_name.get(name) {
                Some(&src) => {
                    g.add_edge(src, nodes[i], ());
                }
                None => {
                    return Err(err(
                        i,
                        Some(key),
                        format!("input `{}` is not a layer (nor `{INPUT_NAME}`)", clip(name)),
                    ));
                }
            }
        }
    }
    let order = toposort(&g, None).map_err(|cycle| {
        let i = g[cycle.node_id()];
        err(
            i,
            None,
            format!(
                "is part of a cycle: a layer's inputs must not depend on its output (layer `{}`)",
                clip(&specs[i].name)
            ),
        )
    })?;
    // Exactly one layer whose output nobody consumes: the logits.
    let sinks: Vec<usize> = order
        .iter()
        .filter(|&&n| g.neighbors(n).next().is_none())
        .map(|&n| g[n])
        .collect();
    if sinks.len() > 1 {
        let names: Vec<&str> = sinks.iter().map(|&i| specs[i].name.as_str()).collect();
        // The intended output is most likely the last dense layer (else the last layer) in
        // the file; blame the first other one.
        let mut by_file = sinks.clone();
        by_file.sort_unstable();
        let output = by_file
            .iter()
            .rev()
            .find(|&&i| specs[i].kind == LayerKind::Dense)
            .or(by_file.last())
            .copied()
            .expect("two sinks");
        let blamed = *by_file.iter().find(|&&i| i != output).expect("two sinks");
        return Err(err(
            blamed,
            None,
            format!(
                "output goes nowhere: the network must end in one layer, but {} layers' outputs are unused ({})",
                names.len(),
                clip(&names.join(", "))
            ),
        ));
    }
    let mut position: HashMap<usize, usize> = HashMap::new();
    let mut layers: Vec<LayerNode> = Vec::with_capacity(specs.len());
    for &n in &order {
        let i = g[n];
        let spec = &specs[i];
        let inputs: Vec<Option<usize>> = spec
            .input_names()
            .iter()
            .map(|&name| {
                if name == INPUT_NAME {
                    None
                } else {
                    Some(position[&by_name[name].index()])
                }
            })
            .collect();
        let shape_of = |p: &Option<usize>| match p {
            None => input_shape,
            Some(j) => layers[*j].out_shape,
        };
        let in_shape = shape_of(&inputs[0]);
        let src_name = |p: &Option<usize>| match p {
            None => INPUT_NAME.to_string(),
            Some(j) => layers[*j].name.clone(),
        };
        let (op, out_shape) = match spec.kind {
            LayerKind::Conv2d => {
                let out_channels = need(spec, i, "out_channels", spec.out_channels)?;
                let kernel = need(spec, i, "kernel", spec.kernel)?;
                let stride = positive_or(i, "stride", spec.stride, 1)?;
                let padding = padding_of(spec, i)?;
                if let Some(c) = spec.in_channels
                    && c as usize != in_shape.c
                {
                    return Err(err(
                        i,
                        Some("in_channels"),
                        format!(
                            "expects {c} input channels, gets {} from `{}`",
                            in_shape.c,
                            src_name(&inputs[0])
                        ),
                    ));
                }
                let (h, w) = window_out(i, "conv2d", in_shape, kernel, stride, padding)?;
                (
                    OpSpec::Conv2d {
                        out_channels,
                        kernel,
                        stride,
                        padding,
                    },
                    Shape::new(out_channels, h, w),
                )
            }
            LayerKind::MaxPool | LayerKind::AvgPool => {
                let kernel = need(spec, i, "kernel", spec.kernel)?;
                let stride = positive_or(i, "stride", spec.stride, kernel)?;
                let padding = padding_of(spec, i)?;
                if padding * 2 > kernel {
                    return Err(err(
                        i,
                        Some("padding"),
                        format!("padding {padding} is more than half the kernel {kernel}"),
                    ));
                }
                let (h, w) = window_out(i, spec.kind.as_str(), in_shape, kernel, stride, padding)?;
                let op = if spec.kind == LayerKind::MaxPool {
                    OpSpec::MaxPool {
                        kernel,
                        stride,
                        padding,
                    }
                } else {
                    OpSpec::AvgPool {
                        kernel,
                        stride,
                        padding,
                    }
                };
                (op, Shape::new(in_shape.c, h, w))
            }
            LayerKind::Relu => (OpSpec::Relu, in_shape),
            LayerKind::Flatten => (OpSpec::Flatten, Shape::new(in_shape.len(), 1, 1)),
            LayerKind::Dense => {
                let out_features = need(spec, i, "out_features", spec.out_features)?;
                if in_shape.h != 1 || in_shape.w != 1 {
                    return Err(err(
                        i,
                        Some("input"),
                        format!(
                            "a dense layer needs flat features, but `{}` gives {in_shape}; add a flatten layer",
                            src_name(&inputs[0])
                        ),
                    ));
                }
                if let Some(f) = spec.in_features
                    && f as usize != in_shape.c
                {
                    return Err(err(
                        i,
                        Some("in_features"),
                        format!(
                            "expects {f} input features, gets {} from `{}`",
                            in_shape.c,
                            src_name(&inputs[0])
                        ),
                    ));
                }
                (
                    OpSpec::Dense { out_features },
                    Shape::new(out_features, 1, 1),
                )
            }
            LayerKind::Add => {
                for p in &inputs[1..] {
                    let s = shape_of(p);
                    if s != in_shape {
                        return Err(err(
                            i,
                            Some("inputs"),
                            format!(
                                "inputs differ in shape: `{}` gives {in_shape}, `{}` gives {s}",
                                src_name(&inputs[0]),
                                src_name(p)
                            ),
                        ));
                    }
                }
                (OpSpec::Add, in_shape)
            }
            LayerKind::BatchNorm => (batch_norm_op(spec, i)?, in_shape),
        };
        let values = out_shape.c as u128 * out_shape.h as u128 * out_shape.w as u128;
        if values > MAX_VALUES_PER_SAMPLE as u128 {
            return Err(err(
                i,
                None,
                format!(
                    "output {out_shape} has {values} values per sample, more than the limit of {MAX_VALUES_PER_SAMPLE}"
                ),
            ));
        }
        let weights = match op {
            OpSpec::Conv2d {
                out_channels,
                kernel,
                ..
            } => out_channels
                .saturating_mul(in_shape.c)
                .saturating_mul(kernel)
                .saturating_mul(kernel),
            OpSpec::Dense { out_features } => out_features.saturating_mul(in_shape.len()),
            _ => 0,
        };
        if weights > MAX_LAYER_WEIGHTS {
            return Err(err(
                i,
                None,
                format!("has {weights} weights, more than the limit of {MAX_LAYER_WEIGHTS}"),
            ));
        }
        position.insert(i, layers.len());
        layers.push(LayerNode {
            name: spec.name.clone(),
            file_index: i,
            op,
            inputs,
            in_shape,
            out_shape,
        });
    }
    let last = layers.last().expect("at least one layer");
    if last.out_shape.h != 1 || last.out_shape.w != 1 {
        return Err(err(
            last.file_index,
            None,
            format!(
                "the last layer must give flat class scores, but gives {}",
                last.out_shape
            ),
        ));
    }
    Ok(Graph {
        layers,
        input_shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str, kind: LayerKind, input: &str) -> LayerSpec {
        LayerSpec {
            name: name.into(),
            kind,
            input: Some(input.into()),
            inputs: None,
            out_channels: None,
            in_channels: None,
            kernel: None,
            stride: None,
            padding: None,
            out_features: None,
            in_features: None,
            momentum: None,
            epsilon: None,
        }
    }

    fn lenet() -> Vec<LayerSpec> {
        let mut c1 = layer("conv1", LayerKind::Conv2d, "input");
        c1.out_channels = Some(6);
        c1.kernel = Some(5);
        c1.padding = Some(2);
        let r1 = layer("relu1", LayerKind::Relu, "conv1");
        let mut p1 = layer("pool1", LayerKind::MaxPool, "relu1");
        p1.kernel = Some(2);
        let mut c2 = layer("conv2", LayerKind::Conv2d, "pool1");
        c2.out_channels = Some(16);
        c2.kernel = Some(5);
        c2.in_channels = Some(6);
        let r2 = layer("relu2", LayerKind::Relu, "conv2");
        let mut p2 = layer("pool2", LayerKind::MaxPool, "relu2");
        p2.kernel = Some(2);
        let f = layer("flat", LayerKind::Flatten, "pool2");
        let mut d = layer("fc1", LayerKind::Dense, "flat");
        d.out_features = Some(10);
        vec![c1, r1, p1, c2, r2, p2, f, d]
    }

    #[test]
    fn lenet_shapes() {
        let g = build(&lenet(), Shape::new(1, 28, 28)).unwrap();
        let shapes: Vec<String> = g.layers.iter().map(|l| l.out_shape.to_string()).collect();
        assert_eq!(
            shapes,
            [
                "6x28x28", "6x28x28", "6x14x14", "16x10x10", "16x10x10", "16x5x5", "400", "10"
            ]
        );
    }

    #[test]
    fn errors_name_the_layer() {
        let mut l = lenet();
        l[3].in_channels = Some(4);
        let (p, m) = build(&l, Shape::new(1, 28, 28)).unwrap_err();
        assert_eq!(p, layer_key(3, "in_channels"));
        assert_eq!(m, "expects 4 input channels, gets 6 from `pool1`");

        let mut l = lenet();
        l[3].input = Some("pool9".into());
        let (p, m) = build(&l, Shape::new(1, 28, 28)).unwrap_err();
        assert_eq!(p, layer_key(3, "input"));
        assert!(m.contains("pool9"), "{m}");

        let mut l = lenet();
        l[0].input = Some("fc1".into());
        let (_, m) = build(&l, Shape::new(1, 28, 28)).unwrap_err();
        assert!(m.contains("cycle"), "{m}");

        let mut l = lenet();
        l[3].kernel = Some(15);
        let (p, m) = build(&l, Shape::new(1, 28, 28)).unwrap_err();
        assert_eq!(p, layer_key(3, "kernel"));
        assert!(m.contains("larger than its input 14x14"), "{m}");

        let mut l = lenet();
        l.remove(6);
        l[6].input = Some("pool2".into());
        let (p, m) = build(&l, Shape::new(1, 28, 28)).unwrap_err();
        assert_eq!(p, layer_key(6, "input"));
        assert!(m.contains("add a flatten layer"), "{m}");

        let mut l = lenet();
        l[1].kernel = Some(3);
        let (p, _) = build(&l, Shape::new(1, 28, 28)).unwrap_err();
        assert_eq!(p, layer_key(1, "kernel"));
    }

    #[test]
    fn batch_norm_keys() {
        let mut l = lenet();
        let mut b = layer("bn1", LayerKind::BatchNorm, "conv1");
        b.momentum = Some(0.2);
        l.insert(1, b);
        l[2].input = Some("bn1".into());
        let g = build(&l, Shape::new(1, 28, 28)).unwrap();
        assert_eq!(g.layers[1].out_shape, Shape::new(6, 28, 28));
        assert_eq!(
            g.layers[1].op,
            OpSpec::BatchNorm {
                momentum: 0.2,
                epsilon: 1e-5
            }
        );
        for (key, v, want) in [
            ("momentum", 1.5, "must be in [0, 1], got 1.5"),
            ("momentum", -0.1, "must be in [0, 1], got -0.1"),
            ("epsilon", 0.0, "must be in (0, 1], got 0"),
            ("epsilon", f64::NAN, "must be in (0, 1], got NaN"),
        ] {
            let mut l2 = l.clone();
            if key == "momentum" {
                l2[1].momentum = Some(v);
            } else {
                l2[1].epsilon = Some(v);
            }
            let (p, m) = build(&l2, Shape::new(1, 28, 28)).unwrap_err();
            assert_eq!((p, m.as_str()), (layer_key(1, key), want));
        }
        let mut l2 = l.clone();
        l2[1].kernel = Some(3);
        let (p, m) = build(&l2, Shape::new(1, 28, 28)).unwrap_err();
        assert_eq!(p, layer_key(1, "kernel"));
        assert_eq!(m, "`kernel` does not apply to a batch_norm layer");
        let mut l2 = l;
        l2[0].momentum = Some(0.1);
        let (p, _) = build(&l2, Shape::new(1, 28, 28)).unwrap_err();
        assert_eq!(p, layer_key(0, "momentum"));
    }

    #[test]
    fn residual_add_and_unused_outputs() {
        let mut l = lenet();
        // A skip around relu2: add(conv2, relu2).
        let mut add = layer("skip", LayerKind::Add, "");
        add.input = None;
        add.inputs = Some(vec!["conv2".into(), "relu2".into()]);
        l.insert(5, add);
        l[6].input = Some("skip".into());
        let g = build(&l, Shape::new(1, 28, 28)).unwrap();
        assert_eq!(g.layers.len(), 9);
        // A dangling branch.
        let mut l = lenet();
        l.push(layer("extra", LayerKind::Relu, "conv1"));
        let (_, m) = build(&l, Shape::new(1, 28, 28)).unwrap_err();
        assert!(m.contains("output goes nowhere"), "{m}");
    }
}
