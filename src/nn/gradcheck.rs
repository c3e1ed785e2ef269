//! Finite-difference checks of every layer type's backward pass.

use super::graph::build;
use super::network::{Mode, Network};
use super::tensor::{Act, Shape};
use crate::config::workload::{Kernels, LayerSpec};
use crate::store::{FloatStore, WeightStore};

fn layers(toml_text: &str) -> Vec<LayerSpec> {
    #[derive(serde::Deserialize)]
    struct L {
        layers: Vec<LayerSpec>,
    }
    toml::from_str::<L>(toml_text).unwrap().layers
}

fn loss(net: &mut Network, store: &FloatStore, x: &Act, labels: &[u8]) -> f64 {
    net.forward(store, x, Mode::Train);
    net.score(labels, false).loss_sum / labels.len() as f64
}

/// Compares analytic parameter gradients with central differences.
fn check(text: &str, input: Shape, classes: u8) {
    check_with(text, input, classes, Kernels::Native);
    check_with(text, input, classes, Kernels::Portable);
}

fn check_with(text: &str, input: Shape, classes: u8, kernels: Kernels) {
    let g = build(&layers(text), input).unwrap();
    let mut net = Network::new(g).with_kernels(kernels);
    let init = net.init_params(3);
    let mut store = FloatStore::new(net.params());
    for (i, v) in init.iter().enumerate() {
        store.write(i, v, 0);
    }
    let n = 3;
    let mut x = Act::zeros(input, n);
    let mut rng = crate::rng::keyed_rng(11, crate::rng::Purpose::Init, &[99]);
    for v in x.data.iter_mut() {
        *v = rand::RngExt::random_range(&mut rng, -1.0f32..1.0);
    }
    let labels: Vec<u8> = (0..n as u8).map(|i| i % classes).collect();
    net.forward(&store, &x, Mode::Train);
    net.score(&labels, true);
    net.backward(&store, &x);
    let grads = net.param_grads.clone();
    let mut checked = 0;
    for (p, spec) in net.params().to_vec().iter().enumerate() {
        let stride = (spec.len / 7).max(1);
        for idx in (0..spec.len).step_by(stride) {
            let analytic = grads[p][idx] as f64;
            // Two step sizes: a ReLU or max-pool kink within the larger step spoils that
            // estimate only; f32 round-off spoils the smaller one only.
            let numeric: Vec<f64> = [1e-3f32, 3e-4]
                .iter()
                .map(|&eps| {
                    let mut v = store.values(p).to_vec();
                    let orig = v[idx];
                    v[idx] = orig + eps;
                    store.write(p, &v, 0);
                    let up = loss(&mut net, &store, &x, &labels);
                    v[idx] = orig - eps;
                    store.write(p, &v, 0);
                    let down = loss(&mut net, &store, &x, &labels);
                    v[idx] = orig;
                    store.write(p, &v, 0);
                    (up - down) / (2.0 * eps as f64)
                })
                .collect();
            // Gradients here are ~1e-3; a wrong backward is off by about that much.
            let ok = numeric
                .iter()
                .any(|&n| (n - analytic).abs() <= 1.5e-4 + 5e-2 * n.abs().max(analytic.abs()));
            assert!(
                ok,
                "{}[{idx}]: analytic {analytic:.6} vs numeric {numeric:?}",
                spec.name
            );
            checked += 1;
        }
    }
    assert!(checked > 20);
}

#[test]
fn conv_pool_relu_dense_flatten() {
    check(
        r#"
[[layers]]
name = "c1"
type = "conv2d"
input = "input"
out_channels = 3
kernel = 3
padding = 1
[[layers]]
name = "r1"
type = "relu"
input = "c1"
[[layers]]
name = "p1"
type = "max_pool"
input = "r1"
kernel = 2
[[layers]]
name = "c2"
type = "conv2d"
input = "p1"
out_channels = 4
kernel = 3
stride = 2
padding = 1
[[layers]]
name = "p2"
type = "avg_pool"
input = "c2"
kernel = 2
stride = 1
padding = 1
[[layers]]
name = "f"
type = "flatten"
input = "p2"
[[layers]]
name = "d1"
type = "dense"
input = "f"
out_features = 6
[[layers]]
name = "r2"
type = "relu"
input = "d1"
[[layers]]
name = "d2"
type = "dense"
input = "r2"
out_features = 3
"#,
        Shape::new(2, 8, 8),
        3,
    );
}

#[test]
fn residual_add_and_overlapping_max_pool() {
    // c2 and c3 both read r1, and the add joins them with r1 itself: a node with three
    // consumers, whose gradient must be summed.
    check(
        r#"
[[layers]]
name = "c1"
type = "conv2d"
input = "input"
out_channels = 3
kernel = 3
[[layers]]
name = "r1"
type = "relu"
input = "c1"
[[layers]]
name = "c2"
type = "conv2d"
input = "r1"
out_channels = 3
kernel = 3
padding = 1
[[layers]]
name = "c3"
type = "conv2d"
input = "r1"
out_channels = 3
kernel = 1
[[layers]]
name = "sum"
type = "add"
inputs = ["c2", "c3", "r1"]
[[layers]]
name = "p"
type = "max_pool"
input = "sum"
kernel = 3
stride = 2
[[layers]]
name = "f"
type = "flatten"
input = "p"
[[layers]]
name = "d"
type = "dense"
input = "f"
out_features = 4
"#,
        Shape::new(1, 9, 9),
        4,
    );
}

#[test]
fn batch_norm_after_conv_and_dense_in_training_mode() {
    // Batch statistics in the loss: a wrong backward through the mean and variance shows in
    // the gradients of gamma, beta and of every layer before the normalisation.
    check(
        r#"
[[layers]]
name = "c1"
type = "conv2d"
input = "input"
out_channels = 3
kernel = 3
padding = 1
[[layers]]
name = "bn1"
type = "batch_norm"
input = "c1"
[[layers]]
name = "r1"
type = "relu"
input = "bn1"
[[layers]]
name = "c2"
type = "conv2d"
input = "r1"
out_channels = 3
kernel = 3
padding = 1
[[layers]]
name = "bn2"
type = "batch_norm"
input = "c2"
momentum = 0.5
epsilon = 1e-3
[[layers]]
name = "sum"
type = "add"
inputs = ["bn2", "r1"]
[[layers]]
name = "f"
type = "flatten"
input = "sum"
[[layers]]
name = "d1"
type = "dense"
input = "f"
out_features = 5
[[layers]]
name = "bn3"
type = "batch_norm"
input = "d1"
[[layers]]
name = "r2"
type = "relu"
input = "bn3"
[[layers]]
name = "d2"
type = "dense"
input = "r2"
out_features = 3
"#,
        Shape::new(2, 5, 5),
        3,
    );
}
