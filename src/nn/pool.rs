//! Max and average pooling over square windows.

use std::ops::Range;

use super::kernels::{BLOCK_VALUES, block, blocks, run_blocks, split_slice};
use super::tensor::{Act, Shape};

/// The geometry of one pooling layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    /// Input shape.
    pub input: Shape,
    /// Window size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding on each side.
    pub padding: usize,
    /// Output shape.
    pub output: Shape,
}

impl PoolGeom {
    /// The input rows (or columns) covered by output row `o`: `[lo, hi)`.
    #[inline]
    fn window(&self, o: usize, size: usize) -> (usize, usize) {
        let start = (o * self.stride) as isize - self.padding as isize;
        let lo = start.max(0) as usize;
        let hi = ((start + self.kernel as isize).max(0) as usize).min(size);
        (lo, hi)
    }
}

/// Max pooling forward; `argmax` receives, per output, the index of the winning input.
/// Blocks of planes (one channel of one image each) run in parallel.
pub fn max_forward(g: &PoolGeom, x: &Act, y: &mut Act, argmax: &mut Vec<u32>) {
    y.reshape(g.output, x.n);
    argmax.resize(y.data.len(), 0);
    let planes = g.input.c * x.n;
    let (ip, op) = (g.input.plane(), g.output.plane());
    let parts = blocks(planes, ip.max(op), BLOCK_VALUES, 1);
    let items: Vec<_> = split_slice(&mut y.data, planes, op, parts)
        .into_iter()
        .zip(split_slice(argmax, planes, op, parts))
        .collect();
    run_blocks(items, |i, (ys, am)| {
        max_forward_planes(g, &x.data, block(planes, parts, i), ys, am);
    });
}

/// Max pooling of input planes `planes` into `ys` and `am` (those planes' outputs).
fn max_forward_planes(
    g: &PoolGeom,
    x: &[f32],
    planes: Range<usize>,
    ys: &mut [f32],
    am: &mut [u32],
) {
    let (h, w) = (g.input.h, g.input.w);
    let (oh, ow) = (g.output.h, g.output.w);
    let first = planes.start;
    if g.kernel == 2 && g.stride == 2 && g.padding == 0 {
        // The common case, without window arithmetic.
        for pl in planes {
            let base = pl * h * w;
            let xs = &x[base..base + h * w];
            let at0 = (pl - first) * oh * ow;
            let ys = &mut ys[at0..at0 + oh * ow];
            let am = &mut am[at0..at0 + oh * ow];
            for oy in 0..oh {
                let r0 = &xs[2 * oy * w..2 * oy * w + w];
                let r1 = &xs[(2 * oy + 1) * w..(2 * oy + 1) * w + w];
                for ox in 0..ow {
                    let c = 2 * ox;
                    let (mut best, mut at) = (r0[c], 2 * oy * w + c);
                    if r0[c + 1] > best {
                        (best, at) = (r0[c + 1], 2 * oy * w + c + 1);
                    }
                    if r1[c] > best {
                        (best, at) = (r1[c], (2 * oy + 1) * w + c);
                    }
                    if r1[c + 1] > best {
                        (best, at) = (r1[c + 1], (2 * oy + 1) * w + c + 1);
                    }
                    ys[oy * ow + ox] = best;
                    am[oy * ow + ox] = (base + at) as u32;
                }
            }
        }
        return;
    }
    for pl in planes {
        let base = pl * h * w;
        for oy in 0..oh {
            let (ylo, yhi) = g.window(oy, h);
            for ox in 0..ow {
                let (xlo, xhi) = g.window(ox, w);
                let (mut best, mut at) = (f32::NEG_INFINITY, base + ylo * w + xlo);
                for iy in ylo..yhi {
                    for ix in xlo..xhi {
                        let v = x[base + iy * w + ix];
                        if v > best {
                            best = v;
                            at = base + iy * w + ix;
                        }
                    }
                }
                let o = ((pl - first) * oh + oy) * ow + ox;
                ys[o] = best;
                am[o] = at as u32;
            }
        }
    }
}

/// Max pooling backward: each output's gradient goes to its winning input (which lies in
/// the output's plane, so blocks of planes run in parallel).
pub fn max_backward(g: &PoolGeom, dy: &Act, argmax: &[u32], dx: &mut Act, accumulate: bool) {
    dx.reshape(g.input, dy.n);
    let planes = g.input.c * dy.n;
    let (ip, op) = (g.input.plane(), g.output.plane());
    let parts = blocks(planes, ip.max(op), BLOCK_VALUES, 1);
    run_blocks(split_slice(&mut dx.data, planes, ip, parts), |i, dxs| {
        let r = block(planes, parts, i);
        if !accumulate {
            dxs.fill(0.0);
        }
        let base = r.start * ip;
        let outs = r.start * op..r.end * op;
        for (&d, &a) in dy.data[outs.clone()].iter().zip(&argmax[outs]) {
            dxs[a as usize - base] += d;
        }
    });
}

/// Average pooling forward (padding counts as zeros: the divisor is always k*k).
pub fn avg_forward(g: &PoolGeom, x: &Act, y: &mut Act) {
    y.reshape(g.output, x.n);
    let (h, w) = (g.input.h, g.input.w);
    let (oh, ow) = (g.output.h, g.output.w);
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    let planes = g.input.c * x.n;
    let parts = blocks(planes, (h * w).max(oh * ow), BLOCK_VALUES, 1);
    run_blocks(split_slice(&mut y.data, planes, oh * ow, parts), |i, ys| {
        let r = block(planes, parts, i);
        for pl in r.clone() {
            let base = pl * h * w;
            for oy in 0..oh {
                let (ylo, yhi) = g.window(oy, h);
                for ox in 0..ow {
                    let (xlo, xhi) = g.window(ox, w);
                    let mut s = 0.0;
                    for iy in ylo..yhi {
                        for ix in xlo..xhi {
                            s += x.data[base + iy * w + ix];
                        }
                    }
                    ys[((pl - r.start) * oh + oy) * ow + ox] = s * inv;
                }
            }
        }
    });
}

/// Average pooling backward.
pub fn avg_backward(g: &PoolGeom, dy: &Act, dx: &mut Act, accumulate: bool) {
    dx.reshape(g.input, dy.n);
    let (h, w) = (g.input.h, g.input.w);
    let (oh, ow) = (g.output.h, g.output.w);
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    let planes = g.input.c * dy.n;
    let parts = blocks(planes, (h * w).max(oh * ow), BLOCK_VALUES, 1);
    run_blocks(split_slice(&mut dx.data, planes, h * w, parts), |i, dxs| {
        let r = block(planes, parts, i);
        if !accumulate {
            dxs.fill(0.0);
        }
        for pl in r.clone() {
            let base = (pl - r.start) * h * w;
            for oy in 0..oh {
                let (ylo, yhi) = g.window(oy, h);
                for ox in 0..ow {
                    let (xlo, xhi) = g.window(ox, w);
                    let d = dy.data[(pl * oh + oy) * ow + ox] * inv;
                    for iy in ylo..yhi {
                        for ix in xlo..xhi {
                            dxs[base + iy * w + ix] += d;
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(
        c: usize,
        h: usize,
        w: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> PoolGeom {
        let o = |s: usize| (s + 2 * padding - kernel) / stride + 1;
        PoolGeom {
            input: Shape::new(c, h, w),
            kernel,
            stride,
            padding,
            output: Shape::new(c, o(h), o(w)),
        }
    }

    /// Pooling cut into blocks of planes (on 1, 2 and 3 threads) gives the bits of a plain
    /// loop over the whole batch: the 2x2 fast path and overlapping, padded windows, an odd
    /// number of planes, gradients added to old values and written over them.
    #[test]
    fn cut_pooling_is_the_plain_loop_bit_for_bit() {
        let pools = crate::nn::kernels::test_pools();
        for g in [geom(5, 17, 19, 2, 2, 0), geom(3, 13, 15, 3, 2, 1)] {
            let n = 263;
            let planes = g.input.c * n;
            assert!(blocks(planes, g.input.plane(), BLOCK_VALUES, 1) > 2);
            let mut x = Act::zeros(g.input, n);
            for (i, v) in x.data.iter_mut().enumerate() {
                *v = ((i * 7919) % 1013) as f32 / 500.0 - 1.0;
            }
            let mut dy = Act::zeros(g.output, n);
            for (i, v) in dy.data.iter_mut().enumerate() {
                *v = ((i * 31) % 97) as f32 / 50.0 - 0.9;
            }
            let dx0: Vec<f32> = (0..x.data.len()).map(|i| (i % 11) as f32 * 0.3).collect();
            // The plain loops.
            let (h, w, oh, ow) = (g.input.h, g.input.w, g.output.h, g.output.w);
            let inv = 1.0 / (g.kernel * g.kernel) as f32;
            let (mut ymax, mut am, mut yavg) = (vec![0.0; dy.data.len()], Vec::new(), Vec::new());
            for pl in 0..planes {
                for oy in 0..oh {
                    let (ylo, yhi) = g.window(oy, h);
                    for ox in 0..ow {
                        let (xlo, xhi) = g.window(ox, w);
                        let (mut best, mut at, mut s) = (f32::NEG_INFINITY, 0, 0.0);
                        for iy in ylo..yhi {
                            for ix in xlo..xhi {
                                let i = pl * h * w + iy * w + ix;
                                if x.data[i] > best {
                                    (best, at) = (x.data[i], i);
                                }
                                s += x.data[i];
                            }
                        }
                        ymax[am.len()] = best;
                        am.push(at as u32);
                        yavg.push(s * inv);
                    }
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for acc in [false, true] {
                let mut dmax = if acc {
                    dx0.clone()
                } else {
                    vec![0.0; dx0.len()]
                };
                let mut davg = dmax.clone();
                for (o, (&d, &a)) in dy.data.iter().zip(&am).enumerate() {
                    dmax[a as usize] += d;
                    let (pl, oy, ox) = (o / (oh * ow), o / ow % oh, o % ow);
                    let ((ylo, yhi), (xlo, xhi)) = (g.window(oy, h), g.window(ox, w));
                    for iy in ylo..yhi {
                        for ix in xlo..xhi {
                            davg[pl * h * w + iy * w + ix] += d * inv;
                        }
                    }
                }
                for pool in &pools {
                    pool.install(|| {
                        let (mut y, mut arg) = (Act::default(), Vec::new());
                        max_forward(&g, &x, &mut y, &mut arg);
                        assert_eq!(bits(&y.data), bits(&ymax));
                        assert_eq!(arg, am);
                        avg_forward(&g, &x, &mut y);
                        assert_eq!(bits(&y.data), bits(&yavg));
                        let mut dx = Act {
                            shape: g.input,
                            n,
                            data: dx0.clone(),
                        };
                        max_backward(&g, &dy, &arg, &mut dx, acc);
                        assert_eq!(bits(&dx.data), bits(&dmax), "max, accumulate {acc}");
                        dx.data.copy_from_slice(&dx0);
                        avg_backward(&g, &dy, &mut dx, acc);
                        assert_eq!(bits(&dx.data), bits(&davg), "avg, accumulate {acc}");
                    });
                }
            }
        }
    }
}
