//! Layers without parameters that act element by element: ReLU, flatten, add.

use super::tensor::{Act, Shape};

/// `y = max(0, x)`.
pub fn relu_forward(x: &Act, y: &mut Act) {
    y.reshape(x.shape, x.n);
    for (o, &i) in y.data.iter_mut().zip(&x.data) {
        *o = i.max(0.0);
    }
}

/// `dx = dy` where the output was positive, else 0 (`y` is the forward output).
pub fn relu_backward(y: &Act, dy: &Act, dx: &mut Act, accumulate: bool) {
    dx.reshape(y.shape, y.n);
    if accumulate {
        for ((d, &g), &o) in dx.data.iter_mut().zip(&dy.data).zip(&y.data) {
            *d += if o > 0.0 { g } else { 0.0 };
        }
    } else {
        for ((d, &g), &o) in dx.data.iter_mut().zip(&dy.data).zip(&y.data) {
            *d = if o > 0.0 { g } else { 0.0 };
        }
    }
}

/// (C, N, H, W) -> (C*H*W, N): each sample's features in C, H, W order.
pub fn flatten_forward(x: &Act, y: &mut Act) {
    let (n, plane) = (x.n, x.shape.plane());
    y.reshape(Shape::new(x.shape.len(), 1, 1), n);
    for c in 0..x.shape.c {
        let src = x.channel(c);
        for b in 0..n {
            for p in 0..plane {
                y.data[(c * plane + p) * n + b] = src[b * plane + p];
            }
        }
    }
}

/// The inverse permutation of [`flatten_forward`], for gradients.
pub fn flatten_backward(in_shape: Shape, dy: &Act, dx: &mut Act, accumulate: bool) {
    let (n, plane) = (dy.n, in_shape.plane());
    dx.reshape(in_shape, n);
    for c in 0..in_shape.c {
        for b in 0..n {
            for p in 0..plane {
                let v = dy.data[(c * plane + p) * n + b];
                let d = &mut dx.data[(c * n + b) * plane + p];
                if accumulate {
                    *d += v;
                } else {
                    *d = v;
                }
            }
        }
    }
}

/// `y = sum of inputs`.
pub fn add_forward(xs: &[&Act], y: &mut Act) {
    y.reshape(xs[0].shape, xs[0].n);
    y.data.copy_from_slice(&xs[0].data);
    for x in &xs[1..] {
        for (o, &v) in y.data.iter_mut().zip(&x.data) {
            *o += v;
        }
    }
}

/// Each input of a sum receives the output gradient unchanged.
pub fn add_backward(dy: &Act, dx: &mut Act, accumulate: bool) {
    dx.reshape(dy.shape, dy.n);
    if accumulate {
        for (d, &g) in dx.data.iter_mut().zip(&dy.data) {
            *d += g;
        }
    } else {
        dx.data.copy_from_slice(&dy.data);
    }
}
