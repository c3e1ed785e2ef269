//! Max and average pooling over square windows.

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
pub fn max_forward(g: &PoolGeom, x: &Act, y: &mut Act, argmax: &mut Vec<u32>) {
    y.reshape(g.output, x.n);
    argmax.resize(y.data.len(), 0);
    let (h, w) = (g.input.h, g.input.w);
    let (oh, ow) = (g.output.h, g.output.w);
    let planes = g.input.c * x.n;
    if g.kernel == 2 && g.stride == 2 && g.padding == 0 {
        // The common case, without window arithmetic.
        for pl in 0..planes {
            let base = pl * h * w;
            let xs = &x.data[base..base + h * w];
            let ys = &mut y.data[pl * oh * ow..(pl + 1) * oh * ow];
            let am = &mut argmax[pl * oh * ow..(pl + 1) * oh * ow];
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
    for pl in 0..planes {
        let base = pl * h * w;
        for oy in 0..oh {
            let (ylo, yhi) = g.window(oy, h);
            for ox in 0..ow {
                let (xlo, xhi) = g.window(ox, w);
                let (mut best, mut at) = (f32::NEG_INFINITY, base + ylo * w + xlo);
                for iy in ylo..yhi {
                    for ix in xlo..xhi {
                        let v = x.data[base + iy * w + ix];
                        if v > best {
                            best = v;
                            at = base + iy * w + ix;
                        }
                    }
                }
                let o = (pl * oh + oy) * ow + ox;
                y.data[o] = best;
                argmax[o] = at as u32;
            }
        }
    }
}

/// Max pooling backward: each output's gradient goes to its winning input.
pub fn max_backward(g: &PoolGeom, dy: &Act, argmax: &[u32], dx: &mut Act, accumulate: bool) {
    dx.reshape(g.input, dy.n);
    if !accumulate {
        dx.data.fill(0.0);
    }
    for (&d, &a) in dy.data.iter().zip(argmax) {
        dx.data[a as usize] += d;
    }
}

/// Average pooling forward (padding counts as zeros: the divisor is always k*k).
pub fn avg_forward(g: &PoolGeom, x: &Act, y: &mut Act) {
    y.reshape(g.output, x.n);
    let (h, w) = (g.input.h, g.input.w);
    let (oh, ow) = (g.output.h, g.output.w);
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    for pl in 0..g.input.c * x.n {
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
                y.data[(pl * oh + oy) * ow + ox] = s * inv;
            }
        }
    }
}

/// Average pooling backward.
pub fn avg_backward(g: &PoolGeom, dy: &Act, dx: &mut Act, accumulate: bool) {
    dx.reshape(g.input, dy.n);
    if !accumulate {
        dx.data.fill(0.0);
    }
    let (h, w) = (g.input.h, g.input.w);
    let (oh, ow) = (g.output.h, g.output.w);
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    for pl in 0..g.input.c * dy.n {
        let base = pl * h * w;
        for oy in 0..oh {
            let (ylo, yhi) = g.window(oy, h);
            for ox in 0..ow {
                let (xlo, xhi) = g.window(ox, w);
                let d = dy.data[(pl * oh + oy) * ow + ox] * inv;
                for iy in ylo..yhi {
                    for ix in xlo..xhi {
                        dx.data[base + iy * w + ix] += d;
                    }
                }
            }
        }
    }
}
