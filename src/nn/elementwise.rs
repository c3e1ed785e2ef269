//! Layers without parameters that act element by element: ReLU, flatten, add. Blocks of
//! values (or channels) run in parallel on rayon's current pool; every value is computed
//! as on one thread.

use super::kernels::{BLOCK_VALUES, block, blocks, run_blocks, split_slice};
use super::tensor::{Act, Shape};

/// Blocks for `len` values of one-step work.
fn value_parts(len: usize) -> usize {
    blocks(len, 1, BLOCK_VALUES, 1)
}

/// `y = max(0, x)`.
pub fn relu_forward(x: &Act, y: &mut Act) {
    y.reshape(x.shape, x.n);
    let len = x.data.len();
    let parts = value_parts(len);
    run_blocks(split_slice(&mut y.data, len, 1, parts), |i, ys| {
        for (o, &v) in ys.iter_mut().zip(&x.data[block(len, parts, i)]) {
            *o = v.max(0.0);
        }
    });
}

/// `dx = dy` where the output was positive, else 0 (`y` is the forward output).
pub fn relu_backward(y: &Act, dy: &Act, dx: &mut Act, accumulate: bool) {
    dx.reshape(y.shape, y.n);
    let len = y.data.len();
    let parts = value_parts(len);
    run_blocks(split_slice(&mut dx.data, len, 1, parts), |i, dxs| {
        let r = block(len, parts, i);
        let (dys, ys) = (&dy.data[r.clone()], &y.data[r]);
        if accumulate {
            for ((d, &g), &o) in dxs.iter_mut().zip(dys).zip(ys) {
                *d += if o > 0.0 { g } else { 0.0 };
            }
        } else {
            for ((d, &g), &o) in dxs.iter_mut().zip(dys).zip(ys) {
                *d = if o > 0.0 { g } else { 0.0 };
            }
        }
    });
}

/// (C, N, H, W) -> (C*H*W, N): each sample's features in C, H, W order.
pub fn flatten_forward(x: &Act, y: &mut Act) {
    let (n, plane, ch) = (x.n, x.shape.plane(), x.shape.c);
    y.reshape(Shape::new(x.shape.len(), 1, 1), n);
    let parts = blocks(ch, n * plane, BLOCK_VALUES, 1);
    run_blocks(split_slice(&mut y.data, ch, plane * n, parts), |i, ys| {
        let r = block(ch, parts, i);
        for c in r.clone() {
            let src = x.channel(c);
            let out = &mut ys[(c - r.start) * plane * n..(c - r.start + 1) * plane * n];
            for b in 0..n {
                for p in 0..plane {
                    out[p * n + b] = src[b * plane + p];
                }
            }
        }
    });
}

/// The inverse permutation of [`flatten_forward`], for gradients.
pub fn flatten_backward(in_shape: Shape, dy: &Act, dx: &mut Act, accumulate: bool) {
    let (n, plane, ch) = (dy.n, in_shape.plane(), in_shape.c);
    dx.reshape(in_shape, n);
    let parts = blocks(ch, n * plane, BLOCK_VALUES, 1);
    run_blocks(split_slice(&mut dx.data, ch, n * plane, parts), |i, dxs| {
        let r = block(ch, parts, i);
        for c in r.clone() {
            let out = &mut dxs[(c - r.start) * n * plane..(c - r.start + 1) * n * plane];
            for b in 0..n {
                for p in 0..plane {
                    let v = dy.data[(c * plane + p) * n + b];
                    let d = &mut out[b * plane + p];
                    if accumulate {
                        *d += v;
                    } else {
                        *d = v;
                    }
                }
            }
        }
    });
}

/// `y = sum of inputs` (added in input order).
pub fn add_forward(xs: &[&Act], y: &mut Act) {
    y.reshape(xs[0].shape, xs[0].n);
    let len = y.data.len();
    let parts = value_parts(len);
    run_blocks(split_slice(&mut y.data, len, 1, parts), |i, ys| {
        let r = block(len, parts, i);
        ys.copy_from_slice(&xs[0].data[r.clone()]);
        for x in &xs[1..] {
            for (o, &v) in ys.iter_mut().zip(&x.data[r.clone()]) {
                *o += v;
            }
        }
    });
}

/// Each input of a sum receives the output gradient unchanged.
pub fn add_backward(dy: &Act, dx: &mut Act, accumulate: bool) {
    dx.reshape(dy.shape, dy.n);
    let len = dy.data.len();
    let parts = value_parts(len);
    run_blocks(split_slice(&mut dx.data, len, 1, parts), |i, dxs| {
        let dys = &dy.data[block(len, parts, i)];
        if accumulate {
            for (d, &g) in dxs.iter_mut().zip(dys) {
                *d += g;
            }
        } else {
            dxs.copy_from_slice(dys);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ReLU, flatten and add cut into blocks (on 1, 2 and 3 threads) give the bits of plain
    /// loops, gradients written over and added to old values.
    #[test]
    fn cut_elementwise_is_the_plain_loop_bit_for_bit() {
        let shape = Shape::new(37, 9, 7);
        let n = 129;
        let len = shape.len() * n;
        assert!(value_parts(len) > 2 && blocks(37, n * 63, BLOCK_VALUES, 1) > 2);
        let act = |f: &dyn Fn(usize) -> f32| Act {
            shape,
            n,
            data: (0..len).map(f).collect(),
        };
        let x = act(&|i| ((i * 7919) % 1013) as f32 / 500.0 - 1.0);
        let x2 = act(&|i| ((i * 31) % 97) as f32 / 50.0 - 0.9);
        let old = act(&|i| (i % 11) as f32 * 0.3);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let relu: Vec<f32> = x.data.iter().map(|v| v.max(0.0)).collect();
        let plane = shape.plane();
        let mut flat = vec![0.0; len];
        for c in 0..shape.c {
            for b in 0..n {
                for p in 0..plane {
                    flat[(c * plane + p) * n + b] = x.data[(c * n + b) * plane + p];
                }
            }
        }
        let sum: Vec<f32> = x.data.iter().zip(&x2.data).map(|(a, b)| a + b).collect();
        for pool in crate::nn::kernels::test_pools() {
            pool.install(|| {
                let mut y = Act::default();
                relu_forward(&x, &mut y);
                assert_eq!(bits(&y.data), bits(&relu));
                add_forward(&[&x, &x2], &mut y);
                assert_eq!(bits(&y.data), bits(&sum));
                flatten_forward(&x, &mut y);
                assert_eq!(bits(&y.data), bits(&flat));
                let flat_act = y.clone();
                for acc in [false, true] {
                    let base = |v: f32, o: f32| if acc { o + v } else { v };
                    let mut dx = old.clone();
                    relu_backward(&x, &x2, &mut dx, acc);
                    let want: Vec<f32> = (0..len)
                        .map(|i| base(if x.data[i] > 0.0 { x2.data[i] } else { 0.0 }, old.data[i]))
                        .collect();
                    assert_eq!(bits(&dx.data), bits(&want));
                    let mut dx = old.clone();
                    add_backward(&x2, &mut dx, acc);
                    let want: Vec<f32> = (0..len).map(|i| base(x2.data[i], old.data[i])).collect();
                    assert_eq!(bits(&dx.data), bits(&want));
                    let mut dx = old.clone();
                    flatten_backward(shape, &flat_act, &mut dx, acc);
                    let want: Vec<f32> = (0..len).map(|i| base(x.data[i], old.data[i])).collect();
                    assert_eq!(bits(&dx.data), bits(&want));
                }
            });
        }
    }
}
