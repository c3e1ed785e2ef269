//! 2-D convolution by im2col + GEMM, in the (C, N, H, W) layout of [`Act`].

use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewMut2, ArrayViewMut3, Axis, Slice};

use super::direct;
use super::gemm::{Mat, cut_parts, gemm_cut, gemm_view};
use super::kernels::{BLOCK_VALUES, block, blocks, run_blocks, split_view};
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

/// The columns of images `imgs` of the im2col matrix: `cols` is (C_in*k*k) x
/// (imgs.len()*H_out*W_out), rows contiguous.
fn im2col_block(g: &ConvGeom, x: &Act, imgs: Range<usize>, mut cols: ArrayViewMut2<f32>) {
    let (h, w, k, s, p) = (g.input.h, g.input.w, g.kernel, g.stride, g.padding);
    let (oh, ow) = (g.out_h, g.out_w);
    let ohw = oh * ow;
    let plane = h * w;
    let mut rows = cols
        .rows_mut()
        .into_iter()
        .map(|r| r.into_slice().expect("im2col rows are contiguous"));
    // A "same" convolution (stride 1, output as wide as the input): output pixel q of an
    // image reads input pixel q + delta, so each image's row is one shifted copy with the
    // rows and columns outside the image zeroed.
    // (With stride 1, `ow == w` means 2 * padding = kernel - 1, and then `oh == h` too.)
    let shifted = s == 1 && ow == w;
    for c in 0..g.input.c {
        let xc = &x.channel(c)[imgs.start * plane..imgs.end * plane];
        for ky in 0..k {
            let (ylo, yhi) = g.valid(ky, oh, h);
            for kx in 0..k {
                let (xlo, xhi) = g.valid(kx, ow, w);
                let row = rows.next().expect("one row per (channel, ky, kx)");
                for (img, out) in xc.chunks_exact(plane).zip(row.chunks_exact_mut(ohw)) {
                    if shifted {
                        shifted_copy(img, out, (ky * w + kx, p * w + p), (ylo * ow, yhi * ow));
                        if xlo > 0 || xhi < ow {
                            for r in out.chunks_exact_mut(ow) {
                                zero(&mut r[..xlo]);
                                zero(&mut r[xhi..]);
                            }
                        }
                        continue;
                    }
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

/// `out[q] = img[q + a - b]` for the pixels `q` in `[lo, hi)` (the rows whose source row is
/// inside the image) whose source is in `img`, zero elsewhere. (Pixels whose source column
/// is outside the image read a neighbouring row's value here; the caller zeroes them.)
#[inline]
fn shifted_copy(img: &[f32], out: &mut [f32], (a, b): (usize, usize), (lo, hi): (usize, usize)) {
    let lo = lo.max(b.saturating_sub(a)).min(out.len());
    let hi = hi.min((img.len() + b).saturating_sub(a)).max(lo);
    out[..lo].fill(0.0);
    out[hi..].fill(0.0);
    if lo < hi {
        out[lo..hi].copy_from_slice(&img[lo + a - b..hi + a - b]);
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

/// Folds the columns of a block of images of the im2col matrix's gradient (`dcols`,
/// (C_in*k*k) x (images*H_out*W_out), rows contiguous) into those images of `dx`
/// ((C_in, images, H*W)). Each input value receives its terms in (ky, kx) order, as the
/// whole batch's loop would add them.
fn col2im_block(
    g: &ConvGeom,
    dcols: ArrayView2<f32>,
    mut dx: ArrayViewMut3<f32>,
    accumulate: bool,
) {
    let (h, w, k, s, p) = (g.input.h, g.input.w, g.kernel, g.stride, g.padding);
    let (oh, ow) = (g.out_h, g.out_w);
    let ohw = oh * ow;
    let plane = h * w;
    let rows: Vec<&[f32]> = dcols
        .rows()
        .into_iter()
        .map(|r| r.to_slice().expect("dcols rows are contiguous"))
        .collect();
    for c in 0..g.input.c {
        let xc = dx
            .index_axis_mut(Axis(0), c)
            .into_slice()
            .expect("a channel's images are contiguous");
        if !accumulate {
            xc.fill(0.0);
        }
        for (b, img) in xc.chunks_exact_mut(plane).enumerate() {
            for ky in 0..k {
                let (ylo, yhi) = g.valid(ky, oh, h);
                for kx in 0..k {
                    let (xlo, xhi) = g.valid(kx, ow, w);
                    let src = &rows[(c * k + ky) * k + kx][b * ohw..(b + 1) * ohw];
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
/// Leaves the im2col matrix in `cols` for the backward pass. Blocks of images run in
/// parallel, each unfolding its images and multiplying them while they are in cache. A
/// 3x3 "same" convolution runs directly instead ([`super::direct`]), with no im2col matrix.
pub fn forward(
    kern: Kernels,
    g: &ConvGeom,
    x: &Act,
    weight: &[f32],
    bias: &[f32],
    cols: &mut Vec<f32>,
    y: &mut Act,
) {
    if direct::applies(kern, g) {
        direct::forward(g, x, weight, bias, y);
        return;
    }
    forward_cut(kern, g, x, weight, bias, cols, y, true);
}

#[allow(clippy::too_many_arguments)]
fn forward_cut(
    kern: Kernels,
    g: &ConvGeom,
    x: &Act,
    weight: &[f32],
    bias: &[f32],
    cols: &mut Vec<f32>,
    y: &mut Act,
    cut: bool,
) {
    let (n, ohw, kl, co) = (x.n, g.out_h * g.out_w, g.k_len(), g.out_channels);
    let np = n * ohw;
    cols.resize(kl * np, 0.0);
    y.reshape(g.out_shape(), n);
    let parts = if cut { cut_parts(n, co, kl, ohw) } else { 1 };
    let w = ArrayView2::from_shape((co, kl), weight).expect("weight size");
    let cv = ArrayViewMut2::from_shape((kl, np), &mut cols[..]).expect("cols size");
    let yv = ArrayViewMut2::from_shape((co, np), &mut y.data[..]).expect("output size");
    let unit = ohw.max(1);
    let items: Vec<_> = split_view(cv, Axis(1), unit, parts)
        .into_iter()
        .zip(split_view(yv, Axis(1), unit, parts))
        .collect();
    // Within a block, a few images at a time: their columns are multiplied right after
    // they are unfolded, while they are still in cache.
    let per = if cut {
        chunk_images(kl, co, ohw)
    } else {
        n.max(1)
    };
    run_blocks(items, |i, (mut cb, mut yb)| {
        let imgs = block(n, parts, i);
        for first in imgs.clone().step_by(per) {
            let sub = first..(first + per).min(imgs.end);
            let r = Slice::from((sub.start - imgs.start) * ohw..(sub.end - imgs.start) * ohw);
            let mut cc = cb.slice_axis_mut(Axis(1), r);
            let mut yc = yb.slice_axis_mut(Axis(1), r);
            im2col_block(g, x, sub, cc.view_mut());
            for (mut row, &b) in yc.rows_mut().into_iter().zip(bias) {
                row.fill(b);
            }
            if kern == Kernels::Native && co < TRANSPOSED_BELOW {
                // Y^T = cols^T W^T: the same dot products, on the `gemm` crate's faster
                // path for few output channels (it reads the im2col matrix unpacked).
                let wt = w.reversed_axes();
                gemm_view(
                    kern,
                    1.0,
                    cc.view().reversed_axes(),
                    wt,
                    1.0,
                    yc.reversed_axes(),
                );
            } else {
                gemm_view(kern, 1.0, w, cc.view(), 1.0, yc);
            }
        }
    });
}

/// Images whose im2col columns a forward block unfolds and multiplies at a time: about
/// [`CHUNK_VALUES`] values, and enough columns that each chunk's product stays on the
/// `gemm` crate's path of the whole product (see [`super::gemm::gemm_blocks`]).
fn chunk_images(k_len: usize, out_channels: usize, ohw: usize) -> usize {
    let ohw = ohw.max(1);
    (CHUNK_VALUES / (k_len * ohw).max(1))
        .max(65usize.div_ceil(ohw))
        .max(257usize.div_ceil(ohw * out_channels.max(1)))
        .max(1)
}

/// Values of the im2col matrix a forward block unfolds at a time before multiplying them
/// (64 Ki values, 256 KiB: half a 512 KiB L2 cache).
const CHUNK_VALUES: usize = 64 << 10;

/// Output channels below which the native forward product runs transposed (measured on the
/// shapes of the bundled workloads' convolutions: 1.3x to 2x faster with 16 or 32 output
/// channels, no gain from 64).
const TRANSPOSED_BELOW: usize = 64;

/// Backward: weight and bias gradients into `dw`, `db` (overwritten); when `dx` is given,
/// the input gradient too (`dcols` is scratch space; blocks of images run in parallel, each
/// folding its columns back while they are in cache). `x` is the forward pass's input
/// (read by the direct path, which keeps no im2col matrix).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    kern: Kernels,
    g: &ConvGeom,
    (x, dy): (&Act, &Act),
    weight: &[f32],
    cols: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dcols: &mut Vec<f32>,
    dx: Option<(&mut Act, bool)>,
) {
    if direct::applies(kern, g) {
        direct::backward_weights(g, x, dy, dw, dcols);
        bias_grad(g, dy, db);
        if let Some((dx, acc)) = dx {
            direct::backward_data(g, dy, weight, dx, acc);
        }
        return;
    }
    backward_cut(kern, g, dy, weight, cols, dw, db, dcols, dx, true);
}

/// The im2col matrix of `x` into `cols`: (C_in*k*k) x (N*H_out*W_out), rows contiguous,
/// as [`forward`] leaves it (blocks of images in parallel).
pub fn unfold(g: &ConvGeom, x: &Act, cols: &mut Vec<f32>) {
    let (n, ohw) = (x.n, g.out_h * g.out_w);
    cols.resize(g.k_len() * n * ohw, 0.0);
    let parts = blocks(n, g.k_len() * ohw, BLOCK_VALUES, 1);
    let cv = ArrayViewMut2::from_shape((g.k_len(), n * ohw), &mut cols[..]).expect("cols size");
    run_blocks(split_view(cv, Axis(1), ohw.max(1), parts), |i, cb| {
        im2col_block(g, x, block(n, parts, i), cb);
    });
}

/// The input gradient alone: `dx` from `dy` and `weight` (added to `dx` when its flag says
/// so), as [`backward`] computes it.
pub fn backward_data(
    kern: Kernels,
    g: &ConvGeom,
    dy: &Act,
    weight: &[f32],
    dcols: &mut Vec<f32>,
    (dx, acc): (&mut Act, bool),
) {
    if direct::applies(kern, g) {
        direct::backward_data(g, dy, weight, dx, acc);
    } else {
        data_grad(kern, g, dy, weight, dcols, (dx, acc), true);
    }
}

/// Bias gradient: `db[c]` = the sum of channel c of `dy` over images and positions
/// (overwritten), in [`sum8`]'s order.
fn bias_grad(g: &ConvGeom, dy: &Act, db: &mut [f32]) {
    let np = dy.n * g.out_h * g.out_w;
    for (c, d) in db.iter_mut().enumerate() {
        *d = sum8(&dy.data[c * np..(c + 1) * np]);
    }
}

#[allow(clippy::too_many_arguments)]
fn backward_cut(
    kern: Kernels,
    g: &ConvGeom,
    dy: &Act,
    weight: &[f32],
    cols: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dcols: &mut Vec<f32>,
    dx: Option<(&mut Act, bool)>,
    cut: bool,
) {
    let (n, ohw, kl, co) = (dy.n, g.out_h * g.out_w, g.k_len(), g.out_channels);
    let np = n * ohw;
    let dym = Mat::new(&dy.data, co, np);
    gemm_cut(kern, 1.0, dym, Mat::new(cols, kl, np).t(), 0.0, dw, cut);
    bias_grad(g, dy, db);
    if let Some(dx) = dx {
        data_grad(kern, g, dy, weight, dcols, dx, cut);
    }
}

/// `dx` (added to when its flag says so) from `dy` and `weight`, through `dcols`.
fn data_grad(
    kern: Kernels,
    g: &ConvGeom,
    dy: &Act,
    weight: &[f32],
    dcols: &mut Vec<f32>,
    (dx, acc): (&mut Act, bool),
    cut: bool,
) {
    let (n, ohw, kl, co) = (dy.n, g.out_h * g.out_w, g.k_len(), g.out_channels);
    let np = n * ohw;
    let dym = Mat::new(&dy.data, co, np);
    // The buffer only grows (layers of different sizes share it): no refill per layer.
    if dcols.len() < kl * np {
        dcols.resize(kl * np, 0.0);
    }
    let dcols = &mut dcols[..kl * np];
    dx.reshape(g.input, n);
    let parts = if cut { cut_parts(n, kl, co, ohw) } else { 1 };
    let wt = ArrayView2::from_shape((co, kl), weight)
        .expect("weight size")
        .reversed_axes();
    let dyv = dym.view();
    let dcv = ArrayViewMut2::from_shape((kl, np), &mut dcols[..]).expect("dcols size");
    let dxv = ArrayViewMut3::from_shape((g.input.c, n, g.input.plane()), &mut dx.data[..])
        .expect("dx size");
    let items: Vec<_> = split_view(dcv, Axis(1), ohw.max(1), parts)
        .into_iter()
        .zip(split_view(dxv, Axis(1), 1, parts))
        .collect();
    run_blocks(items, |i, (mut dcb, dxb)| {
        let imgs = block(n, parts, i);
        let r = Slice::from(imgs.start * ohw..imgs.end * ohw);
        gemm_view(
            kern,
            1.0,
            wt,
            dyv.slice_axis(Axis(1), r),
            0.0,
            dcb.view_mut(),
        );
        col2im_block(g, dcb.view(), dxb, acc);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stand-alone unfolding the fused forward must match: `x` into `cols`, a
    /// (C_in*k*k) x (N*H_out*W_out) row-major matrix (blocks of images in parallel).
    fn im2col(g: &ConvGeom, x: &Act, cols: &mut Vec<f32>) {
        unfold(g, x, cols);
    }

    /// The stand-alone folding (the adjoint of [`im2col`]): `dcols` (the gradient of the
    /// im2col matrix) back into `dx`, adding to it when `accumulate`, overwriting it
    /// otherwise (blocks of images in parallel).
    fn col2im(g: &ConvGeom, dcols: &[f32], dx: &mut Act, accumulate: bool) {
        let (n, ohw) = (dx.n, g.out_h * g.out_w);
        let parts = blocks(n, g.k_len() * ohw, BLOCK_VALUES, 1);
        let dcv = ArrayView2::from_shape((g.k_len(), n * ohw), dcols).expect("dcols size");
        let dxv = ArrayViewMut3::from_shape((g.input.c, n, g.input.plane()), &mut dx.data[..])
            .expect("dx size");
        run_blocks(split_view(dxv, Axis(1), 1, parts), |i, dxb| {
            let imgs = block(n, parts, i);
            let cols = dcv.slice_axis(Axis(1), Slice::from(imgs.start * ohw..imgs.end * ohw));
            col2im_block(g, cols, dxb, accumulate);
        });
    }

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
            // "Same" convolutions (output as large as the input: the shifted-copy path).
            (1, 1, 5, 6, 3),
            (1, 2, 4, 3, 5),
            (1, 1, 1, 1, 3),
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
            // The im2col path, which the direct path replaces for 3x3 "same" convolutions.
            let mut y2 = Act::default();
            forward_cut(Kernels::Native, &g, &x, &wt, &b, &mut cols, &mut y2, true);
            for (a, e) in y2.data.iter().zip(&r.data) {
                assert!(
                    (a - e).abs() < 1e-5,
                    "im2col, stride {stride} pad {padding}"
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

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Forward and backward cut into blocks of images (on 1, 2 and 3 threads) give the bits
    /// of the whole batch on one thread, for both kernel sets, on awkward shapes: odd batch
    /// sizes, strides and padding, output channels on either side of 64, a kernel wider than
    /// the image.
    #[test]
    fn cut_conv_is_the_whole_conv_bit_for_bit() {
        let pools = crate::nn::kernels::test_pools();
        // (c_in, h, w, c_out, kernel, stride, padding, batch)
        let cases = [
            (1, 28, 28, 6, 5, 1, 2, 33),
            (6, 14, 14, 16, 5, 1, 0, 37),
            (3, 13, 11, 70, 3, 1, 1, 19),
            (7, 17, 19, 5, 5, 2, 1, 45),
            (32, 7, 7, 128, 3, 1, 1, 13),
            (2, 3, 4, 65, 7, 1, 4, 301),
            (5, 9, 9, 64, 3, 3, 2, 97),
        ];
        for (ci, h, w, co, k, stride, padding, n) in cases {
            let input = Shape::new(ci, h, w);
            let g = ConvGeom {
                input,
                out_channels: co,
                kernel: k,
                stride,
                padding,
                out_h: (h + 2 * padding - k) / stride + 1,
                out_w: (w + 2 * padding - k) / stride + 1,
            };
            let ohw = g.out_h * g.out_w;
            let fw = cut_parts(n, co, g.k_len(), ohw);
            let bw = cut_parts(n, g.k_len(), co, ohw);
            assert!(
                fw > 1 && bw > 1,
                "{ci}x{h}x{w} -> {co}: not cut ({fw}, {bw})"
            );
            let mut x = Act::zeros(input, n);
            for (i, v) in x.data.iter_mut().enumerate() {
                *v = ((i * 7919) % 1013) as f32 / 500.0 - 1.0;
            }
            let wt: Vec<f32> = (0..co * g.k_len())
                .map(|i| ((i * 31) % 211) as f32 / 100.0 - 1.05)
                .collect();
            let b: Vec<f32> = (0..co).map(|i| i as f32 * 0.01 - 0.3).collect();
            let mut dy = Act::zeros(g.out_shape(), n);
            for (i, v) in dy.data.iter_mut().enumerate() {
                *v = ((i * 104_729) % 997) as f32 / 400.0 - 1.2;
            }
            let dx0: Vec<f32> = (0..x.data.len()).map(|i| (i % 13) as f32 * 0.1).collect();
            for kern in [Kernels::Native, Kernels::Portable] {
                let run = |cut: bool| {
                    let (mut cols, mut y, mut dcols) = (Vec::new(), Act::default(), Vec::new());
                    forward_cut(kern, &g, &x, &wt, &b, &mut cols, &mut y, cut);
                    let (mut dw, mut db) = (vec![0.0; wt.len()], vec![0.0; co]);
                    let mut dxs = Vec::new();
                    for acc in [false, true] {
                        let mut dx = Act {
                            shape: input,
                            n,
                            data: dx0.clone(),
                        };
                        backward_cut(
                            kern,
                            &g,
                            &dy,
                            &wt,
                            &cols,
                            &mut dw,
                            &mut db,
                            &mut dcols,
                            Some((&mut dx, acc)),
                            cut,
                        );
                        dxs.push(bits(&dx.data));
                    }
                    (bits(&cols), bits(&y.data), bits(&dw), bits(&db), dxs)
                };
                let whole = run(false);
                for pool in &pools {
                    let got = pool.install(|| run(true));
                    assert!(
                        got == whole,
                        "{kern:?} {ci}x{h}x{w} -> {co} k{k} s{stride} p{padding} n{n}, {} threads",
                        pool.current_num_threads()
                    );
                }
                // The stand-alone im2col and col2im agree with the fused ones.
                let mut cols = Vec::new();
                pools[1].install(|| im2col(&g, &x, &mut cols));
                assert_eq!(bits(&cols), whole.0);
            }
        }
    }
}
