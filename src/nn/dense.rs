//! Fully connected layers on (features x N) activations.

use super::gemm::{Mat, gemm};
use super::tensor::{Act, Shape};
use crate::config::workload::Kernels;

/// Forward: `y = W x + b`, with `weight` out x in (row-major) and `x` in x N.
pub fn forward(kern: Kernels, x: &Act, weight: &[f32], bias: &[f32], out: usize, y: &mut Act) {
    let (f, n) = (x.shape.c, x.n);
    y.reshape(Shape::new(out, 1, 1), n);
    for (o, &b) in bias.iter().enumerate() {
        y.data[o * n..(o + 1) * n].fill(b);
    }
    gemm(
        kern,
        1.0,
        Mat::new(weight, out, f),
        Mat::new(&x.data, f, n),
        1.0,
        &mut y.data,
    );
}

/// Backward: `dw = dy x^T`, `db = sum_n dy` (overwritten); `dx = W^T dy` when asked.
pub fn backward(
    kern: Kernels,
    x: &Act,
    dy: &Act,
    weight: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: Option<(&mut Act, bool)>,
) {
    let (f, n, out) = (x.shape.c, x.n, dy.shape.c);
    let dym = Mat::new(&dy.data, out, n);
    gemm(kern, 1.0, dym, Mat::new(&x.data, f, n).t(), 0.0, dw);
    for (o, d) in db.iter_mut().enumerate() {
        *d = super::conv::sum8(&dy.data[o * n..(o + 1) * n]);
    }
    if let Some((dx, acc)) = dx {
        dx.reshape(x.shape, n);
        let beta = if acc { 1.0 } else { 0.0 };
        gemm(
            kern,
            1.0,
            Mat::new(weight, out, f).t(),
            dym,
            beta,
            &mut dx.data,
        );
    }
}

/// The input gradient alone: `dx = W^T dy` (added to `dx` when its flag says so), as
/// [`backward`] computes it; `x_shape` is the input's per-sample shape.
pub fn backward_data(
    kern: Kernels,
    x_shape: Shape,
    dy: &Act,
    weight: &[f32],
    (dx, acc): (&mut Act, bool),
) {
    let (f, n, out) = (x_shape.c, dy.n, dy.shape.c);
    dx.reshape(x_shape, n);
    let beta = if acc { 1.0 } else { 0.0 };
    gemm(
        kern,
        1.0,
        Mat::new(weight, out, f).t(),
        Mat::new(&dy.data, out, n),
        beta,
        &mut dx.data,
    );
}
