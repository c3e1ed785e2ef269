//! 2-D convolution by im2col + GEMM, in the (C, N, H, W) layout of [`Act`].

use super::gemm::{Mat, gemm};
use super::tensor::{Act, Shape};
use crate::config::workload::Kernels;

/// The geometry of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Input shape.
    pub input: Shape,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
}

impl ConvGeom {
    /// Rows of the im2col matrix: C_in * k * k (the fan-in of one output).
    pub fn k_len(&self) -> usize {
        self.input.c * self.kernel * self.kernel
    }
    /// Output shape.
    pub fn out_shape(&self) -> Shape {
        Shape::new(self.out_channels, self.out_h, self.out_w)
    }
    /// For kernel offset `kx`, the output columns whose input column is inside the image:
    /// `[lo, hi)`, with input column `ox * stride + kx - padding`.
    #[inline]
    fn valid(&self, kx: usize, out: usize, size: usize) -> (usize, usize) {
        let s = self.stride;
        // ox*s + kx >= pad  <=>  ox >= ceil((pad - kx) / s)
        let lo = if kx >= self.padding {
            0
        } else {
            (self.padding - kx).div_ceil(s)
        };
        // ox*s + kx - pad < size  <=>  ox < ceil((size + pad - kx) / s)
        let hi = if size + self.padding > kx {
            (size + self.padding - kx).div_ceil(s).min(out)
        } else {
            0
        };
        (lo.min(hi), hi)
    }
}

/// Unfolds `x` into `cols`, a (C_in*k*k) x (N*H_out*W_out) row-major matrix.
pub fn im2col(g: &ConvGeom, x: &Act, cols: &mut Vec<f32>) {
    let n = x.n;
    let (h, w, k, s, p) = (g.input.h, g.input.w, g.kernel, g.stride, g.padding);
    let (oh, ow) = (g.out_h, g.out_w);
    let np = n * oh * ow;
    cols.resize(g.k_len() * np, 0.0);
    let plane = h * w;
    for c in 0..g.input.c {
        let xc = x.channel(c);
        for ky in 0..k {
            let (ylo, yhi) = g.valid(ky, oh, h);
            for kx in 0..k {
                let (xlo, xhi) = g.valid(kx, ow, w);
                let r = (c * k + ky) * k + kx;
                let row = &mut cols[r * np..(r + 1) * np];
                for b in 0..n {
                    let img = &xc[b * plane..(b + 1) * plane];
                    let out = &mut row[b * oh * ow..(b + 1) * oh * ow];
                    for oy in 0..oh {
                        let dst = &mut out[oy * ow..(oy + 1) * ow];
                        if oy < ylo || oy >= yhi {
                            zero(dst);
                            continue;
                        }
                        let iy = oy * s + ky - p;
                        let src = &img[iy * w..(iy + 1) * w];
                        zero(&mut dst[..xlo]);
                        zero(&mut dst[xhi..]);
                        // (With an empty valid range, `xlo + kx` may be below `p`.)
                        if s == 1 && xlo < xhi {
                            let ix0 = xlo + kx - p;
                            // A plain loop: rows are short, and a memcpy call per row costs
                            // more than the copy.
                            for (d, &v) in dst[xlo..xhi].iter_mut().zip(&src[ix0..]) {
                                *d = v;
                            }
                        } else {
                            for ox in xlo..xhi {
                                dst[ox] = src[ox * s + kx - p];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Zeroes a short slice without a memset call.
#[inline]
fn zero(v: &mut [f32]) {
    for x in v {
        *x = 0.0;
    }
}

/// Sum of a slice with eight independent accumulators (vectorises; the order is fixed, so
/// the result is deterministic).
pub fn sum8(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in rest {
        s += x;
    }
    s
}

/// Folds `dcols` (the gradient of the im2col matrix) back into `dx`, adding to it when
/// `accumulate`, overwriting it otherwise.
pub fn col2im(g: &ConvGeom, dcols: &[f32], dx: &mut Act, accumulate: bool) {
    let n = dx.n;
    let (h, w, k, s, p) = (g.input.h, g.input.w, g.kernel, g.stride, g.padding);
    let (oh, ow) = (g.out_h, g.out_w);
    let np = n * oh * ow;
    if !accumulate {
        dx.data.fill(0.0);
    }
    let plane = h * w;
    let chan = n * plane;
    for c in 0..g.input.c {
        let xc = &mut dx.data[c * chan..(c + 1) * chan];
        for ky in 0..k {
            let (ylo, yhi) = g.valid(ky, oh, h);
            for kx in 0..k {
                let (xlo, xhi) = g.valid(kx, ow, w);
                let r = (c * k + ky) * k + kx;
                let row = &dcols[r * np..(r + 1) * np];
                for b in 0..n {
                    let img = &mut xc[b * plane..(b + 1) * plane];
                    let src = &row[b * oh * ow..(b + 1) * oh * ow];
                    for oy in ylo..yhi {
                        let iy = oy * s + ky - p;
                        let dst = &mut img[iy * w..(iy + 1) * w];
                        let srow = &src[oy * ow..(oy + 1) * ow];
                        // (With an empty valid range, `xlo + kx` may be below `p`.)
                        if s == 1 && xlo < xhi {
                            let ix0 = xlo + kx - p;
                            for (d, v) in
                                dst[ix0..ix0 + (xhi - xlo)].iter_mut().zip(&srow[xlo..xhi])
                            {
                                *d += v;
                            }
                        } else {
                            for ox in xlo..xhi {
                                dst[ox * s + kx - p] += srow[ox];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Forward: `y = W * im2col(x) + b`. `weight` is C_out x (C_in*k*k), `bias` has C_out values.
/// Leaves the im2col matrix in `cols` for the backward pass.
pub fn forward(
    kern: Kernels,
    g: &ConvGeom,
    x: &Act,
    weight: &[f32],
    bias: &[f32],
    cols: &mut Vec<f32>,
    y: &mut Act,
) {
    im2col(g, x, cols);
    let np = x.n * g.out_h * g.out_w;
    y.reshape(g.out_shape(), x.n);
    for (c, &b) in bias.iter().enumerate() {
        y.data[c * np..(c + 1) * np].fill(b);
    }
    gemm(
        kern,
        1.0,
        Mat::new(weight, g.out_channels, g.k_len()),
        Mat::new(cols, g.k_len(), np),
        1.0,
        &mut y.data,
    );
}

/// Backward: weight and bias gradients into `dw`, `db` (overwritten); when `dx` is given,
/// the input gradient too (`dcols` is scratch space).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    kern: Kernels,
    g: &ConvGeom,
    dy: &Act,
    weight: &[f32],
    cols: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dcols: &mut Vec<f32>,
    dx: Option<(&mut Act, bool)>,
) {
    let np = dy.n * g.out_h * g.out_w;
    let dym = Mat::new(&dy.data, g.out_channels, np);
    gemm(kern, 1.0, dym, Mat::new(cols, g.k_len(), np).t(), 0.0, dw);
    for (c, d) in db.iter_mut().enumerate() {
        *d = sum8(&dy.data[c * np..(c + 1) * np]);
    }
    if let Some((dx, acc)) = dx {
        dcols.resize(g.k_len() * np, 0.0);
        gemm(
            kern,
            1.0,
            Mat::new(weight, g.out_channels, g.k_len()).t(),
            dym,
            0.0,
            dcols,
        );
        dx.reshape(g.input, dy.n);
        col2im(g, dcols, dx, acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution, for reference.
    fn direct(g: &ConvGeom, x: &Act, w: &[f32], b: &[f32]) -> Act {
        let mut y = Act::zeros(g.out_shape(), x.n);
        let k = g.kernel;
        for co in 0..g.out_channels {
            for n in 0..x.n {
                for oy in 0..g.out_h {
                    for ox in 0..g.out_w {
                        let mut s = b[co];
                        for ci in 0..g.input.c {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (oy * g.stride + ky) as isize - g.padding as isize;
                                    let ix = (ox * g.stride + kx) as isize - g.padding as isize;
                                    if iy < 0
                                        || ix < 0
                                        || iy >= g.input.h as isize
                                        || ix >= g.input.w as isize
                                    {
                                        continue;
                                    }
                                    let wv = w[co * g.k_len() + (ci * k + ky) * k + kx];
                                    s += wv * x.data[x.idx(ci, n, iy as usize, ix as usize)];
                                }
                            }
                        }
                        let i = y.idx(co, n, oy, ox);
                        y.data[i] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn matches_direct_convolution() {
        // (stride, padding, h, w, kernel): odd strides, padding wider than the image, a
        // kernel larger than the unpadded image.
        for &(stride, padding, h, w, k) in &[
            (1, 0, 6, 7, 3),
            (1, 2, 5, 5, 3),
            (2, 1, 7, 6, 3),
            (3, 2, 8, 9, 3),
            (1, 2, 1, 1, 5),
            (1, 4, 2, 3, 7),
            (2, 3, 3, 2, 5),
            (4, 1, 6, 6, 2),
        ] {
            let input = Shape::new(2, h, w);
            let out_h = (h + 2 * padding - k) / stride + 1;
            let out_w = (w + 2 * padding - k) / stride + 1;
            let g = ConvGeom {
                input,
                out_channels: 3,
                kernel: k,
                stride,
                padding,
                out_h,
                out_w,
            };
            let mut x = Act::zeros(input, 2);
            for (i, v) in x.data.iter_mut().enumerate() {
                *v = ((i * 7919) % 23) as f32 / 23.0 - 0.5;
            }
            let wt: Vec<f32> = (0..3 * g.k_len())
                .map(|i| ((i * 31) % 11) as f32 / 11.0 - 0.4)
                .collect();
            let b = [0.1, -0.2, 0.3];
            let mut cols = Vec::new();
            let mut y = Act::default();
            forward(Kernels::Native, &g, &x, &wt, &b, &mut cols, &mut y);
            let r = direct(&g, &x, &wt, &b);
            for (a, e) in y.data.iter().zip(&r.data) {
                assert!(
                    (a - e).abs() < 1e-5,
                    "stride {stride} pad {padding}: {a} vs {e}"
                );
            }
            // col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>.
            let c: Vec<f32> = (0..cols.len())
                .map(|i| ((i * 13) % 7) as f32 - 3.0)
                .collect();
            let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let mut dx = Act::zeros(input, 2);
            col2im(&g, &c, &mut dx, false);
            let rhs: f32 = x.data.iter().zip(&dx.data).map(|(a, b)| a * b).sum();
            assert!(
                (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }
}
