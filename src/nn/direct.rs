//! Direct 3x3 convolutions (stride 1, padding 1) with AVX2 and FMA: the forward pass, the
//! input gradient and the weight gradient without an im2col matrix, for the `native`
//! kernels on CPUs that have both features (elsewhere the im2col + GEMM path runs).
//!
//! Each image's channels are copied into a zero-bordered plane of (H+2) x (W+2) values, so
//! that every tap (ky, kx) of the kernel reads the plane at one constant offset from the
//! output position: an output row of W values is computed as W+2 padded positions, two of
//! them thrown away. Every output value is one chain of fused multiply-adds over the input
//! channels and then the taps, in that order, whatever the thread count; every weight
//! gradient is eight lanes of such chains over the images and positions, added up in a fixed
//! order.

use super::conv::ConvGeom;
use super::kernels::{block, blocks, run_blocks, split_slice};
use super::tensor::Act;
use crate::config::workload::Kernels;

/// Output channels one forward tile computes (6 channels x 16 positions: 12 accumulators).
const CB: usize = 6;
/// Output positions one forward tile computes: two 8-lane vectors.
const QB: usize = 16;
/// Output channels one weight-gradient tile computes (4 channels x 3 taps).
const WB: usize = 4;
/// Input values (padded planes of every channel) the weight gradient takes a few images of
/// at a time: 32 Ki values, 128 KiB.
const WGRAD_VALUES: usize = 32 << 10;
/// Work (multiply-adds) a parallel block should have at least.
const MIN_BLOCK_MACS: usize = 1 << 20;

/// Whether the direct path runs convolution `g` with kernels `kern`: a 3x3 kernel, stride
/// 1 and padding 1 (a "same" convolution), the `native` kernels, and a CPU with AVX2 and
/// FMA (as our dispatch sees it: `NANDSPIN_FORCE_ISA` can turn it off).
pub fn applies(kern: Kernels, g: &ConvGeom) -> bool {
    kern == Kernels::Native && g.kernel == 3 && g.stride == 1 && g.padding == 1 && simd()
}

/// Whether the features our dispatch sees (the CPU's, narrowed by `NANDSPIN_FORCE_ISA`)
/// include AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
fn simd() -> bool {
    let seen = super::kernels::seen_features();
    seen.contains(&"avx2") && seen.contains(&"fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn simd() -> bool {
    false
}

/// The zero-bordered plane one image's channel is copied into.
#[derive(Debug, Clone, Copy)]
struct Grid {
    /// Image height and width.
    h: usize,
    w: usize,
    /// Padded width, W + 2.
    wp: usize,
    /// Values between two channels' planes in the scratch buffer: (H+2)(W+2) plus slack
    /// for the last tile's reads.
    stride: usize,
    /// Padded positions computed per channel, from the first output's: (H-1)(W+2) + W,
    /// rounded up to whole tiles.
    len: usize,
}

impl Grid {
    fn new(h: usize, w: usize) -> Self {
        let wp = w + 2;
        let len = ((h - 1) * wp + w).div_ceil(QB) * QB;
        Grid {
            h,
            w,
            wp,
            stride: (h + 2) * wp + QB,
            len,
        }
    }

    /// Index in a plane of output position 0 (row 1, column 1 of the padded plane).
    fn q0(&self) -> usize {
        self.wp + 1
    }

    /// Offsets from an output position to the input its taps read, in tap order.
    fn taps(&self) -> [isize; 9] {
        let wp = self.wp as isize;
        std::array::from_fn(|t| (t as isize / 3 - 1) * wp + (t as isize % 3 - 1))
    }

    /// Whether every tap of every computed position reads inside one channel's plane of
    /// `stride` values: the first tap of position 0 at index 0 or later, the last tap of the
    /// last position before `stride`. The kernels check it before reading through raw
    /// pointers.
    fn reads_inside(&self) -> bool {
        let taps = self.taps();
        let first = self.q0() as isize + taps[0];
        let last = (self.q0() + self.len - 1) as isize + taps[8];
        first >= 0 && last < self.stride as isize
    }

    /// Copies the planes `src(c)` of `channels` channels into `dst` (zero borders).
    fn pad<'a>(&self, channels: usize, src: impl Fn(usize) -> &'a [f32], dst: &mut Vec<f32>) {
        dst.resize(channels * self.stride, 0.0);
        for (c, d) in dst.chunks_exact_mut(self.stride).enumerate() {
            self.place(src(c), d, self.q0());
        }
    }

    /// Writes the H x W `plane` into the padded plane `dst`, its first value at `at`, and
    /// zeros everywhere else in `dst` (borders, the two values between rows, the slack), so
    /// `dst` needs no clearing first.
    fn place(&self, plane: &[f32], dst: &mut [f32], at: usize) {
        let gap = self.wp - self.w;
        dst[..at].fill(0.0);
        for y in 0..self.h {
            let d = at + y * self.wp;
            copy_row(
                &mut dst[d..d + self.w],
                &plane[y * self.w..(y + 1) * self.w],
            );
            if y + 1 < self.h {
                dst[d + self.w..d + self.w + gap].fill(0.0);
            }
        }
        dst[at + (self.h - 1) * self.wp + self.w..].fill(0.0);
    }
}

/// Forward: `y = conv(x, weight) + bias`, `weight` C_out x C_in x 3 x 3.
pub fn forward(g: &ConvGeom, x: &Act, weight: &[f32], bias: &[f32], y: &mut Act) {
    let (ci, co) = (g.input.c, g.out_channels);
    y.reshape(g.out_shape(), x.n);
    let wr = arrange(co, ci, |o, c, t| weight[(o * ci + c) * 9 + t]);
    same_conv(x, ci, &wr, co, Some(bias), &mut y.data, false);
}

/// Input gradient: `dx (+)= conv_transpose(dy, weight)`, added to `dx` when `accumulate`.
pub fn backward_data(g: &ConvGeom, dy: &Act, weight: &[f32], dx: &mut Act, accumulate: bool) {
    let (ci, co) = (g.input.c, g.out_channels);
    dx.reshape(g.input, dy.n);
    // The transposed convolution is the convolution of dy with the kernel turned by 180
    // degrees and its channel axes swapped.
    let wr = arrange(ci, co, |i, o, t| weight[(o * ci + i) * 9 + (8 - t)]);
    same_conv(dy, co, &wr, ci, None, &mut dx.data, accumulate);
}

/// Weight gradient: `dw = sum over images and positions of dy x x`, C_out x C_in x 3 x 3
/// (overwritten). `scratch` holds every image's input and output gradient on the padded
/// grid (it only grows).
pub fn backward_weights(g: &ConvGeom, x: &Act, dy: &Act, dw: &mut [f32], scratch: &mut Vec<f32>) {
    let (ci, co, n) = (g.input.c, g.out_channels, x.n);
    let grid = Grid::new(g.input.h, g.input.w);
    let (hw, row) = (g.input.plane(), ci * 9);
    // Once for all tiles: the images' input planes, and dy's on the padded grid, zero at
    // the thrown-away positions and past the last channel (so they add nothing).
    let co_pad = co.div_ceil(WB) * WB;
    let (x_img, dy_img) = (ci * grid.stride, co_pad * grid.len);
    if scratch.len() < n * (x_img + dy_img) {
        scratch.resize(n * (x_img + dy_img), 0.0);
    }
    let (xpad, rest) = scratch.split_at_mut(n * x_img);
    let dypad = &mut rest[..n * dy_img];
    let img_parts = blocks(n, (ci + co) * hw, 1 << 15, 1);
    let items: Vec<_> = split_slice(xpad, n, x_img, img_parts)
        .into_iter()
        .zip(split_slice(dypad, n, dy_img, img_parts))
        .collect();
    run_blocks(items, |p, (xs, ds)| {
        // `place` writes every value of a plane, borders included: no clearing first.
        for (i, b) in block(n, img_parts, p).enumerate() {
            for c in 0..ci {
                let plane = &mut xs[(i * ci + c) * grid.stride..][..grid.stride];
                grid.place(x.plane(c, b), plane, grid.q0());
            }
            for o in 0..co_pad {
                let plane = &mut ds[(i * co_pad + o) * grid.len..][..grid.len];
                if o < co {
                    grid.place(dy.plane(o, b), plane, 0);
                } else {
                    plane.fill(0.0);
                }
            }
        }
    });
    let (xpad, dypad) = (&*xpad, &*dypad);
    let mut tiles: Vec<&mut [f32]> = dw.chunks_mut(WB * row).collect();
    let parts = blocks(tiles.len(), WB * row * n * hw, MIN_BLOCK_MACS, 1);
    let mut groups: Vec<Vec<(usize, &mut [f32])>> = (0..parts).map(|_| Vec::new()).collect();
    for (p, group) in groups.iter_mut().enumerate() {
        for k in block(tiles.len(), parts, p) {
            group.push((k, std::mem::take(&mut tiles[k])));
        }
    }
    run_blocks(groups, |_, group| {
        // Each tile's lanes, kept over the images.
        let lanes = row * WB * 8;
        let mut acc = vec![0.0f32; group.len() * lanes];
        // A few images at a time (about WGRAD_VALUES input values), so that each tile's
        // lanes are loaded and stored once per few images.
        let per = (WGRAD_VALUES / x_img).clamp(1, n.max(1));
        for first in (0..n).step_by(per) {
            let imgs = per.min(n - first);
            let xp = &xpad[first * x_img..(first + imgs) * x_img];
            for (i, &(k, _)) in group.iter().enumerate() {
                let dyp = &dypad[first * dy_img + k * WB * grid.len..];
                let acc = &mut acc[i * lanes..(i + 1) * lanes];
                // SAFETY: `applies` checked AVX2 and FMA; the buffers have the sizes the
                // kernel reads (see `Grid`).
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    let images = simd::Images {
                        count: imgs,
                        x_stride: x_img,
                        dy_stride: dy_img,
                    };
                    simd::wgrad_tile(&grid, (xp, ci), dyp, images, acc);
                }
            }
        }
        for (i, (k, out)) in group.into_iter().enumerate() {
            let acc = &acc[i * lanes..(i + 1) * lanes];
            for j in 0..WB.min(co - k * WB) {
                for (r, d) in out[j * row..(j + 1) * row].iter_mut().enumerate() {
                    let l = &acc[(r * WB + j) * 8..(r * WB + j + 1) * 8];
                    *d = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
                }
            }
        }
    });
}

/// `weight` rearranged for the forward tiles: blocks of [`CB`] output channels, then input
/// channel, tap, and the block's channels (zero past the last), from `w(out, in, tap)`.
fn arrange(outs: usize, ins: usize, w: impl Fn(usize, usize, usize) -> f32) -> Vec<f32> {
    let blocks = outs.div_ceil(CB);
    let mut r = vec![0.0; blocks * ins * 9 * CB];
    for o in 0..outs {
        for i in 0..ins {
            for t in 0..9 {
                r[((o / CB * ins + i) * 9 + t) * CB + o % CB] = w(o, i, t);
            }
        }
    }
    r
}

/// `out` (C_out x N x H x W) = the same-size 3x3 convolution of `x` (`ins` channels) with
/// the arranged weights `wr`, plus `bias`; added to `out` instead when `accumulate`. Blocks
/// of images run in parallel.
fn same_conv(
    x: &Act,
    ins: usize,
    wr: &[f32],
    outs: usize,
    bias: Option<&[f32]>,
    out: &mut [f32],
    accumulate: bool,
) {
    let (n, h, w) = (x.n, x.shape.h, x.shape.w);
    let grid = Grid::new(h, w);
    let hw = h * w;
    let parts = blocks(n, outs * ins * 9 * hw, MIN_BLOCK_MACS, 1);
    // Each block writes its images' planes of every output channel: raw parts of `out`,
    // disjoint between blocks.
    let base = SendPtr(out.as_mut_ptr());
    assert_eq!(out.len(), outs * n * hw, "output size");
    run_blocks((0..parts).collect(), |p, _| {
        let (mut xp, mut yp) = (Vec::new(), vec![0.0f32; CB * grid.len]);
        for b in block(n, parts, p) {
            grid.pad(ins, |c| x.plane(c, b), &mut xp);
            for ob in 0..outs.div_ceil(CB) {
                // SAFETY: as in `backward_weights`.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    simd::conv_tile(&grid, &xp, ins, &wr[ob * ins * 9 * CB..], &mut yp);
                }
                for j in 0..CB.min(outs - ob * CB) {
                    let o = ob * CB + j;
                    // SAFETY: plane (o, b) of `out` belongs to this block's image `b` alone.
                    let dst = unsafe {
                        let base = &base;
                        std::slice::from_raw_parts_mut(base.0.add((o * n + b) * hw), hw)
                    };
                    let src = &yp[j * grid.len..];
                    for yy in 0..h {
                        let d = &mut dst[yy * w..(yy + 1) * w];
                        let s = &src[yy * grid.wp..yy * grid.wp + w];
                        match (bias, accumulate) {
                            (_, true) => d.iter_mut().zip(s).for_each(|(d, s)| *d += s),
                            (Some(bias), false) => {
                                d.iter_mut().zip(s).for_each(|(d, s)| *d = s + bias[o])
                            }
                            (None, false) => copy_row(d, s),
                        }
                    }
                }
            }
        }
    });
}

/// Copies a short row with a plain loop: rows are a few dozen values, and a memcpy call per
/// row costs more than the copy.
#[inline]
fn copy_row(d: &mut [f32], s: &[f32]) {
    for (d, &s) in d.iter_mut().zip(s) {
        *d = s;
    }
}

/// A raw pointer the blocks share; each writes its own disjoint planes through it.
struct SendPtr(*mut f32);
// SAFETY: the blocks write disjoint planes (see `same_conv`).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{CB, Grid, QB, WB};
    use std::arch::x86_64::*;

    /// One block of [`CB`] output channels over every padded position of one image:
    /// `yp[j * len + q] = sum over channels c, taps t of wr[(c*9 + t)*CB + j] * xp[c][q0 + q
    /// + tap offset]`, each a chain of fused multiply-adds in that order.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn conv_tile(g: &Grid, xp: &[f32], ins: usize, wr: &[f32], yp: &mut [f32]) {
        assert!(xp.len() >= ins * g.stride && wr.len() >= ins * 9 * CB);
        assert!(yp.len() >= CB * g.len && g.len.is_multiple_of(QB) && g.reads_inside());
        let taps = g.taps();
        let (xp, wr, yo) = (xp.as_ptr(), wr.as_ptr(), yp.as_mut_ptr());
        let mut q = 0;
        while q < g.len {
            let mut acc = [[_mm256_setzero_ps(); 2]; CB];
            for c in 0..ins {
                // SAFETY: reads stay within channel c's plane and slack (see `Grid`).
                unsafe {
                    let base = xp.add(c * g.stride + g.q0() + q);
                    let wc = wr.add(c * 9 * CB);
                    for (t, &off) in taps.iter().enumerate() {
                        let p = base.offset(off);
                        let a0 = _mm256_loadu_ps(p);
                        let a1 = _mm256_loadu_ps(p.add(8));
                        let wt = wc.add(t * CB);
                        for (j, acc) in acc.iter_mut().enumerate() {
                            let w = _mm256_broadcast_ss(&*wt.add(j));
                            acc[0] = _mm256_fmadd_ps(a0, w, acc[0]);
                            acc[1] = _mm256_fmadd_ps(a1, w, acc[1]);
                        }
                    }
                }
            }
            for (j, acc) in acc.iter().enumerate() {
                // SAFETY: q + 16 <= len.
                unsafe {
                    _mm256_storeu_ps(yo.add(j * g.len + q), acc[0]);
                    _mm256_storeu_ps(yo.add(j * g.len + q + 8), acc[1]);
                }
            }
            q += QB;
        }
    }

    /// Images a weight-gradient tile adds: how many, and the values between two images'
    /// input planes and between two images' output gradients.
    pub(super) struct Images {
        pub count: usize,
        pub x_stride: usize,
        pub dy_stride: usize,
    }

    /// Adds images to the weight-gradient lanes of a block of [`WB`] output channels:
    /// `acc[((c*9 + t)*WB + j)*8 + l] += dyp[j][q] * xp[c][q0 + q + tap offset]` over the
    /// images in order and, within each, the padded positions `q` in lane `l` (q mod 8) in
    /// order.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn wgrad_tile(
        g: &Grid,
        (xp, ins): (&[f32], usize),
        dyp: &[f32],
        im: Images,
        acc: &mut [f32],
    ) {
        assert!(im.count >= 1 && xp.len() >= (im.count - 1) * im.x_stride + ins * g.stride);
        assert!(dyp.len() >= (im.count - 1) * im.dy_stride + WB * g.len);
        assert!(acc.len() >= ins * 9 * WB * 8 && g.len.is_multiple_of(8) && g.reads_inside());
        let taps = g.taps();
        let (xp, dyp, ap) = (xp.as_ptr(), dyp.as_ptr(), acc.as_mut_ptr());
        for c in 0..ins {
            for ky in 0..3 {
                // SAFETY: reads within the planes and slack; acc within its length.
                unsafe {
                    let at = |kx: usize, j: usize| ap.add(((c * 9 + ky * 3 + kx) * WB + j) * 8);
                    let mut a = [[_mm256_setzero_ps(); WB]; 3];
                    for (kx, row) in a.iter_mut().enumerate() {
                        for (j, v) in row.iter_mut().enumerate() {
                            *v = _mm256_loadu_ps(at(kx, j));
                        }
                    }
                    for b in 0..im.count {
                        let base = xp.add(b * im.x_stride + c * g.stride + g.q0());
                        let dyb = dyp.add(b * im.dy_stride);
                        let mut q = 0;
                        while q < g.len {
                            // 12 accumulators, 3 inputs and one output gradient at a time:
                            // the 16 vector registers, nothing spilled.
                            let xv: [__m256; 3] = std::array::from_fn(|kx| {
                                _mm256_loadu_ps(base.add(q).offset(taps[ky * 3 + kx]))
                            });
                            for j in 0..WB {
                                let d = _mm256_loadu_ps(dyb.add(j * g.len + q));
                                for (row, &xv) in a.iter_mut().zip(&xv) {
                                    row[j] = _mm256_fmadd_ps(xv, d, row[j]);
                                }
                            }
                            q += 8;
                        }
                    }
                    for (kx, row) in a.iter().enumerate() {
                        for (j, v) in row.iter().enumerate() {
                            _mm256_storeu_ps(at(kx, j), *v);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::tensor::Shape;

    fn geom(ci: usize, h: usize, w: usize, co: usize) -> ConvGeom {
        ConvGeom {
            input: Shape::new(ci, h, w),
            out_channels: co,
            kernel: 3,
            stride: 1,
            padding: 1,
            out_h: h,
            out_w: w,
        }
    }

    fn filled(shape: Shape, n: usize, salt: usize) -> Act {
        let mut a = Act::zeros(shape, n);
        for (i, v) in a.data.iter_mut().enumerate() {
            *v = (((i + salt) * 7919) % 1013) as f32 / 500.0 - 1.0;
        }
        a
    }

    /// The input value (c, b, y + dy, x + dx) of `x`, zero outside the image.
    fn at(x: &Act, c: usize, b: usize, y: isize, xx: isize) -> f64 {
        let (h, w) = (x.shape.h as isize, x.shape.w as isize);
        if y < 0 || xx < 0 || y >= h || xx >= w {
            0.0
        } else {
            f64::from(x.data[x.idx(c, b, y as usize, xx as usize)])
        }
    }

    /// `|a - e| <= 1e-5 * scale + 1e-6`, where `scale` is the sum of the terms' magnitudes.
    fn near(a: f32, e: f64, scale: f64) -> bool {
        (f64::from(a) - e).abs() <= 1e-5 * scale + 1e-6
    }

    // (c_in, h, w, c_out, batch): channel counts off the tiles' multiples, 1x1 and thin
    // images, the bundled networks' shapes.
    const CASES: [(usize, usize, usize, usize, usize); 7] = [
        (1, 28, 28, 32, 2),
        (3, 5, 6, 7, 3),
        (32, 14, 14, 64, 2),
        (5, 1, 1, 4, 3),
        (7, 7, 7, 13, 2),
        (16, 3, 9, 6, 3),
        (2, 9, 1, 5, 2),
    ];

    #[test]
    fn runs_exactly_on_same_3x3_convolutions_where_the_dispatch_sees_avx2_and_fma() {
        let seen = crate::nn::kernels::seen_features();
        let cpu = cfg!(target_arch = "x86_64") && seen.contains(&"avx2") && seen.contains(&"fma");
        assert_eq!(simd(), cpu);
        assert_eq!(applies(Kernels::Native, &geom(4, 5, 5, 4)), cpu);
        assert!(!applies(Kernels::Portable, &geom(4, 5, 5, 4)));
        // (kernel, stride, padding) of convolutions the im2col path keeps.
        for (kernel, stride, padding) in [(5, 1, 2), (3, 2, 1), (3, 1, 0), (3, 1, 2), (1, 1, 0)] {
            let g = ConvGeom {
                kernel,
                stride,
                padding,
                ..geom(4, 5, 5, 4)
            };
            assert!(!applies(Kernels::Native, &g), "{kernel} {stride} {padding}");
        }
    }

    #[test]
    fn place_writes_the_plane_and_zeros_everywhere_else() {
        for (h, w) in [(1, 1), (3, 4), (5, 1), (2, 30), (7, 7)] {
            let g = Grid::new(h, w);
            let plane: Vec<f32> = (0..h * w).map(|i| i as f32 + 1.0).collect();
            // Output gradients start at 0 and fill `len` values; inputs start at output 0's
            // place in a plane of `stride` values.
            for (at, size) in [(0, g.len), (g.q0(), g.stride)] {
                let mut dst = vec![f32::NAN; size];
                g.place(&plane, &mut dst, at);
                for (i, &v) in dst.iter().enumerate() {
                    let d = i as isize - at as isize;
                    let (r, c) = (d.div_euclid(g.wp as isize), d.rem_euclid(g.wp as isize));
                    let inside = d >= 0 && (r as usize) < h && (c as usize) < w;
                    let want = if inside {
                        plane[r as usize * w + c as usize]
                    } else {
                        0.0
                    };
                    assert_eq!(v.to_bits(), want.to_bits(), "{h}x{w} at {at}: index {i}");
                }
            }
        }
    }

    #[test]
    fn every_tap_reads_inside_the_padded_plane() {
        for (h, w) in [(1, 1), (28, 28), (14, 14), (7, 7), (3, 9), (9, 1), (2, 30)] {
            let g = Grid::new(h, w);
            assert!(g.reads_inside(), "{h}x{w}");
            assert_eq!(g.q0(), g.wp + 1, "output 0 sits at row 1, column 1");
            // The computed positions cover the last output, (H-1, W-1).
            assert!(g.len > (h - 1) * g.wp + (w - 1) && g.len.is_multiple_of(QB));
            // Taps: the 3x3 neighbourhood, row by row.
            let wp = g.wp as isize;
            assert_eq!(
                g.taps(),
                [-wp - 1, -wp, -wp + 1, -1, 0, 1, wp - 1, wp, wp + 1]
            );
            // One position less of slack, or output 0 one place earlier, would read outside.
            let short = Grid {
                stride: g.q0() + g.len + g.wp,
                ..g
            };
            assert!(!short.reads_inside(), "{h}x{w}");
        }
    }

    #[test]
    fn matches_the_definition_of_a_same_convolution() {
        if !simd() {
            return;
        }
        for (ci, h, w, co, n) in CASES {
            let g = geom(ci, h, w, co);
            assert!(applies(Kernels::Native, &g) && !applies(Kernels::Portable, &g));
            let x = filled(g.input, n, 1);
            let dy = filled(g.out_shape(), n, 2);
            let wt: Vec<f32> = (0..co * ci * 9)
                .map(|i| ((i * 31) % 211) as f32 / 100.0 - 1.05)
                .collect();
            let bias: Vec<f32> = (0..co).map(|o| o as f32 * 0.1 - 0.3).collect();
            let wv = |o: usize, c: usize, t: usize| f64::from(wt[(o * ci + c) * 9 + t]);
            let mut y = Act::default();
            forward(&g, &x, &wt, &bias, &mut y);
            let dx0 = filled(g.input, n, 3);
            let (mut dx_set, mut dx_add) = (dx0.clone(), dx0.clone());
            backward_data(&g, &dy, &wt, &mut dx_set, false);
            backward_data(&g, &dy, &wt, &mut dx_add, true);
            let mut dw = vec![f32::NAN; wt.len()];
            // Scratch left dirty by an earlier layer: every value read must be written first.
            let mut scratch = vec![f32::NAN; 5000];
            backward_weights(&g, &x, &dy, &mut dw, &mut scratch);
            for b in 0..n {
                for yy in 0..h as isize {
                    for xx in 0..w as isize {
                        for (o, &bo) in bias.iter().enumerate() {
                            let (mut s, mut scale) = (f64::from(bo), f64::from(bo).abs());
                            for c in 0..ci {
                                for t in 0..9 {
                                    let (ky, kx) = (t as isize / 3 - 1, t as isize % 3 - 1);
                                    let term = wv(o, c, t) * at(&x, c, b, yy + ky, xx + kx);
                                    s += term;
                                    scale += term.abs();
                                }
                            }
                            let got = y.data[y.idx(o, b, yy as usize, xx as usize)];
                            assert!(near(got, s, scale), "y {ci}->{co} {h}x{w}: {got} vs {s}");
                        }
                        for c in 0..ci {
                            let (mut s, mut scale) = (0.0, 0.0);
                            for o in 0..co {
                                for t in 0..9 {
                                    let (ky, kx) = (t as isize / 3 - 1, t as isize % 3 - 1);
                                    let term = wv(o, c, t) * at(&dy, o, b, yy - ky, xx - kx);
                                    s += term;
                                    scale += term.abs();
                                }
                            }
                            let i = dx0.idx(c, b, yy as usize, xx as usize);
                            assert!(near(dx_set.data[i], s, scale), "dx {ci}->{co} {h}x{w}");
                            let e = s + f64::from(dx0.data[i]);
                            assert!(near(dx_add.data[i], e, scale + e.abs()), "dx += ");
                        }
                    }
                }
            }
            for o in 0..co {
                for c in 0..ci {
                    for t in 0..9 {
                        let (ky, kx) = (t as isize / 3 - 1, t as isize % 3 - 1);
                        let (mut s, mut scale) = (0.0, 0.0);
                        for b in 0..n {
                            for yy in 0..h as isize {
                                for xx in 0..w as isize {
                                    let d = at(&dy, o, b, yy, xx);
                                    let term = d * at(&x, c, b, yy + ky, xx + kx);
                                    s += term;
                                    scale += term.abs();
                                }
                            }
                        }
                        let got = dw[(o * ci + c) * 9 + t];
                        assert!(near(got, s, scale), "dw {ci}->{co} {h}x{w}: {got} vs {s}");
                    }
                }
            }
        }
    }

    #[test]
    fn gives_the_same_bits_on_any_thread_count() {
        if !simd() {
            return;
        }
        let pools = crate::nn::kernels::test_pools();
        // Batches large enough to be cut into blocks.
        for (ci, h, w, co, n) in [(3, 28, 28, 32, 33), (32, 14, 14, 64, 9), (64, 7, 7, 70, 17)] {
            let g = geom(ci, h, w, co);
            let x = filled(g.input, n, 4);
            let dy = filled(g.out_shape(), n, 5);
            let wt: Vec<f32> = (0..co * ci * 9)
                .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
                .collect();
            let bias = vec![0.25; co];
            let run = || {
                let mut y = Act::default();
                forward(&g, &x, &wt, &bias, &mut y);
                let mut dx = filled(g.input, n, 6);
                backward_data(&g, &dy, &wt, &mut dx, true);
                let mut dw = vec![0.0; wt.len()];
                backward_weights(&g, &x, &dy, &mut dw, &mut Vec::new());
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (bits(&y.data), bits(&dx.data), bits(&dw))
            };
            let parts = blocks(n, co * ci * 9 * h * w, MIN_BLOCK_MACS, 1);
            let tiles = blocks(co.div_ceil(WB), WB * ci * 9 * n * h * w, MIN_BLOCK_MACS, 1);
            assert!(
                parts > 1 && tiles > 1,
                "{ci}x{h}x{w} -> {co}, {n} images: not cut"
            );
            let one = pools[0].install(run);
            for pool in &pools[1..] {
                assert!(
                    pool.install(run) == one,
                    "{ci}x{h}x{w} -> {co}: threads changed bits"
                );
            }
        }
    }
}
