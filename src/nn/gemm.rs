//! Single-precision matrix multiply on strided slices.
//!
//! `native`: the `gemm` crate's kernels (runtime-dispatched AVX2+FMA / NEON / scalar,
//! single-threaded here); it handles the thin matrices of small CNNs about 1.4x faster than
//! `matrixmultiply` on LeNet-5 (measured: 10.8k vs 15.1k training images/s). ndarray's
//! strided views check every matrix against its slice before the unsafe call.
//!
//! `portable`: our own blocked kernel. Every output is `alpha * s + beta * c` (or
//! `alpha * s` when `beta == 0`) with `s = ((0 + a0 b0) + a1 b1) + ...` summed in the order
//! of the inner index, one IEEE multiply and one IEEE add per term: the blocking runs over
//! rows and columns only, vector lanes hold different outputs, and Rust never fuses a
//! multiply and an add. So every compiled copy (baseline SSE2 or NEON, AVX2) and every CPU
//! give the same bits.

use ndarray::{ArrayView2, ArrayViewMut2, Axis, ShapeBuilder, Slice};

use super::kernels::{BLOCK_MACS, Isa, block, blocks, isa, run_blocks, split_view};
use crate::config::workload::Kernels;

/// A read-only matrix view over a slice: `rows x cols`, element (i, j) at `i * rs + j * cs`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    /// The backing values.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row stride in elements.
    pub rs: usize,
    /// Column stride in elements.
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
    /// A bounds-checked view: panics unless every element lies inside `data`.
    pub(crate) fn view(&self) -> ArrayView2<'a, f32> {
        ArrayView2::from_shape(
            (self.rows, self.cols).strides((self.rs, self.cs)),
            self.data,
        )
        .expect("matrix view within its slice")
    }
}

/// `c = alpha * a * b + beta * c`, with `c` a row-major `a.rows x b.cols` matrix
/// (`beta == 0` ignores the old contents of `c`, NaNs included), with the kernels `k`.
/// Large products are cut into blocks of output rows or columns (see [`gemm_blocks`]) run on
/// rayon's current pool; every block sums the whole inner dimension, so the bits do not
/// depend on the thread count (nor, for either kernel set, on the cut: tested below).
pub fn gemm(k: Kernels, alpha: f32, a: Mat, b: Mat, beta: f32, c: &mut [f32]) {
    gemm_cut(k, alpha, a, b, beta, c, true);
}

/// [`gemm`], cut into blocks when `cut`, else whole on the calling thread.
pub(crate) fn gemm_cut(
    k: Kernels,
    alpha: f32,
    a: Mat,
    b: Mat,
    beta: f32,
    c: &mut [f32],
    cut: bool,
) {
    assert_eq!(a.cols, b.rows, "inner dimensions of a GEMM");
    let (av, bv) = (a.view(), b.view());
    let cv = ArrayViewMut2::from_shape((a.rows, b.cols), c).expect("output matrix size");
    let (axis, parts) = if cut {
        gemm_blocks(a.rows, b.cols, a.cols)
    } else {
        (Axis(0), 1)
    };
    if parts == 1 {
        gemm_view(k, alpha, av, bv, beta, cv);
        return;
    }
    let len = cv.len_of(axis);
    run_blocks(split_view(cv, axis, 1, parts), |i, c| {
        let r = Slice::from(block(len, parts, i));
        if axis == Axis(0) {
            gemm_view(k, alpha, av.slice_axis(Axis(0), r), bv, beta, c);
        } else {
            gemm_view(k, alpha, av, bv.slice_axis(Axis(1), r), beta, c);
        }
    });
}

/// How a product with an `m x n` output and inner dimension `k` is cut: along the longer
/// side of the output (each block then reads the operand of the shorter side whole), into
/// a number of blocks of [`blocks`] with at least [`BLOCK_MACS`] each.
///
/// The `gemm` crate picks its code path by size (an output of at most 256 values; both
/// sides at most 64, which also changes how it blocks an inner dimension over 512; a
/// single row or column), and each path sums in its own order. So every block stays on the
/// path of the whole product: at least 65 long when the other side is at most 64, more than
/// 256 values. A block then gives the bits of the same rows and columns of the whole
/// product (tested over many shapes below).
pub fn gemm_blocks(m: usize, n: usize, k: usize) -> (Axis, usize) {
    let (axis, len, other) = if n >= m {
        (Axis(1), n, m)
    } else {
        (Axis(0), m, n)
    };
    (axis, cut_parts(len, other, k, 1))
}

/// The number of blocks for a product whose output has `units * unit` rows (or columns)
/// and `other` columns (rows), cut between units: see [`gemm_blocks`].
pub(crate) fn cut_parts(units: usize, other: usize, k: usize, unit: usize) -> usize {
    let min_len: usize = if other > 64 { 8 } else { 65 };
    let work = unit.saturating_mul(other).saturating_mul(k).max(1);
    let mut parts = blocks(units, work, BLOCK_MACS, min_len.div_ceil(unit.max(1)));
    while parts > 1 && (units / parts) * unit * other <= 256 {
        parts /= 2;
    }
    parts
}

/// `c = alpha * a * b + beta * c` on views, on the calling thread (`c`'s rows contiguous).
pub(crate) fn gemm_view(
    k: Kernels,
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    mut c: ArrayViewMut2<f32>,
) {
    assert_eq!(a.ncols(), b.nrows(), "inner dimensions of a GEMM");
    assert_eq!(c.dim(), (a.nrows(), b.ncols()), "output matrix size");
    if c.is_empty() {
        return;
    }
    if k == Kernels::Portable {
        portable_with(isa(), alpha, a, b, beta, c);
        return;
    }
    let (m, n, kk) = (a.nrows(), b.ncols(), a.ncols());
    let (cs, rs) = (c.strides()[1], c.strides()[0]);
    // SAFETY: the three views lie within their slices with these shapes and strides (ndarray
    // checked them when they were made); `c` is borrowed mutably, so it aliases neither
    // input.
    unsafe {
        gemm::gemm(
            m,
            n,
            kk,
            c.as_mut_ptr(),
            cs,
            rs,
            beta != 0.0,
            a.as_ptr(),
            a.strides()[1],
            a.strides()[0],
            b.as_ptr(),
            b.strides()[1],
            b.strides()[0],
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Columns of `b` packed at a time (a `k x NC` panel stays in L2 for the small `k` of CNNs).
const NC: usize = 512;

/// The portable kernel, compiled for `isa` (which the CPU must have). The micro-tile is
/// 4 x 8 on the baseline copy (eight SSE/NEON accumulators) and 6 x 16 on the AVX2 one
/// (twelve AVX accumulators); tile sizes change the speed only, never the bits.
fn portable_with(
    isa: Isa,
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    c: ArrayViewMut2<f32>,
) {
    match isa {
        // SAFETY: `Avx2` is asked for only when the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { portable_avx2(alpha, a, b, beta, c) },
        _ => portable_baseline(alpha, a, b, beta, c),
    }
}

fn portable_baseline(
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    c: ArrayViewMut2<f32>,
) {
    blocked::<4, 8>(alpha, a, b, beta, c);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn portable_avx2(
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    c: ArrayViewMut2<f32>,
) {
    blocked::<6, 16>(alpha, a, b, beta, c);
}

/// Packs `a` into `MR`-row panels and `b` into `NC`-column panels of `NR`-column strips
/// (zero-padded; padding never reaches `c`), then runs [`tile`] over every pair.
#[inline(always)]
fn blocked<const MR: usize, const NR: usize>(
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    mut c: ArrayViewMut2<f32>,
) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let mut c_rows: Vec<&mut [f32]> = c
        .rows_mut()
        .into_iter()
        .map(|r| r.into_slice().expect("output rows are contiguous"))
        .collect();
    // ap[(panel * k + p) * MR + r] = a[panel * MR + r, p]
    let mut ap = vec![0.0f32; m.div_ceil(MR) * k * MR];
    for (panel, dst) in ap.chunks_exact_mut(k * MR).enumerate() {
        let rows = MR.min(m - panel * MR);
        for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
            for (r, o) in d.iter_mut().enumerate().take(rows) {
                // SAFETY: row panel * MR + r < m and column p < k, inside `a`'s shape.
                *o = unsafe { *a.uget((panel * MR + r, p)) };
            }
        }
    }
    let mut bp: Vec<f32> = Vec::new();
    for j0 in (0..n).step_by(NC) {
        let nb = NC.min(n - j0);
        // bp[(strip * k + p) * NR + j] = b[p, j0 + strip * NR + j], one strip at a time
        // (NR streams along `b`'s rows or columns, whichever way it is stored).
        bp.clear();
        bp.resize(nb.div_ceil(NR) * NR * k, 0.0);
        for (strip, dst) in bp.chunks_exact_mut(k * NR).enumerate() {
            let jb = j0 + strip * NR;
            let cols = NR.min(j0 + nb - jb);
            for (p, d) in dst.chunks_exact_mut(NR).enumerate() {
                for (j, o) in d.iter_mut().enumerate().take(cols) {
                    // SAFETY: row p < k and column jb + j < n, inside `b`'s shape.
                    *o = unsafe { *b.uget((p, jb + j)) };
                }
            }
        }
        for (panel, ap) in ap.chunks_exact(k * MR).enumerate() {
            let rows = MR.min(m - panel * MR);
            for (strip, bp) in bp.chunks_exact(k * NR).enumerate() {
                let acc = tile::<MR, NR>(ap, bp);
                let cols = NR.min(nb - strip * NR);
                for (r, acc_row) in acc.iter().enumerate().take(rows) {
                    let at = j0 + strip * NR;
                    let out = &mut c_rows[panel * MR + r][at..at + cols];
                    if beta == 0.0 {
                        for (o, &s) in out.iter_mut().zip(acc_row) {
                            *o = alpha * s;
                        }
                    } else {
                        for (o, &s) in out.iter_mut().zip(acc_row) {
                            *o = alpha * s + beta * *o;
                        }
                    }
                }
            }
        }
    }
}

/// `MR x NR` sums over the inner index, in its order: `a` is `k` groups of `MR` row values,
/// `b` `k` groups of `NR` column values.
#[inline(always)]
fn tile<const MR: usize, const NR: usize>(a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    let mut acc = [[0.0f32; NR]; MR];
    for (av, bv) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        let av: &[f32; MR] = av.try_into().expect("MR values");
        let bv: &[f32; NR] = bv.try_into().expect("NR values");
        for r in 0..MR {
            for j in 0..NR {
                acc[r][j] += av[r] * bv[j];
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_with_transposes() {
        for &(m, k, n) in &[(5, 7, 3), (6, 25, 40), (17, 1, 9), (1, 33, 1)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect();
            // b is stored as n x k; use its transpose.
            for kern in [Kernels::Native, Kernels::Portable] {
                let mut c = vec![1.0; m * n];
                gemm(
                    kern,
                    2.0,
                    Mat::new(&a, m, k),
                    Mat::new(&b, n, k).t(),
                    0.5,
                    &mut c,
                );
                for i in 0..m {
                    for j in 0..n {
                        let s: f32 = (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum();
                        assert!((c[i * n + j] - (2.0 * s + 0.5)).abs() < 1e-4);
                    }
                }
                // beta = 0 ignores garbage in c.
                let mut c = vec![f32::NAN; m * n];
                gemm(
                    kern,
                    1.0,
                    Mat::new(&a, m, k),
                    Mat::new(&b, n, k).t(),
                    0.0,
                    &mut c,
                );
                assert!(c.iter().all(|v| v.is_finite()));
            }
        }
    }

    /// The portable kernel's bits are those of the plain loop (sum in the inner index's
    /// order, then `alpha * s + beta * c`), for every shape and stride, whichever copy runs.
    #[test]
    fn portable_is_the_plain_loop_bit_for_bit() {
        let shapes = [
            (1, 1, 1),
            (5, 7, 3),
            (4, 150, 600),
            (9, 33, 1030),
            (1, 400, 120),
        ];
        for &(m, k, n) in &shapes {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
            let b: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos() / 7.0).collect();
            let c0: Vec<f32> = (0..m * n).map(|i| (i as f32 * 0.05).sin()).collect();
            for (alpha, beta) in [(1.0f32, 0.0f32), (1.0, 1.0), (0.5, 0.25)] {
                let mut want = c0.clone();
                for i in 0..m {
                    for j in 0..n {
                        let mut s = 0.0f32;
                        for p in 0..k {
                            s += a[i * k + p] * b[j * k + p];
                        }
                        let o = &mut want[i * n + j];
                        *o = if beta == 0.0 {
                            alpha * s
                        } else {
                            alpha * s + beta * *o
                        };
                    }
                }
                let mut got = c0.clone();
                let (am, bm) = (Mat::new(&a, m, k), Mat::new(&b, n, k).t());
                gemm(Kernels::Portable, alpha, am, bm, beta, &mut got);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{m}x{k}x{n} alpha {alpha} beta {beta}"
                );
                // Both compiled copies, called directly.
                let mut copies = vec![Isa::Baseline];
                if super::super::kernels::detected_features().contains(&"avx2") {
                    copies.push(Isa::Avx2);
                }
                for copy in copies {
                    let mut got = c0.clone();
                    let cv = ArrayViewMut2::from_shape((m, n), &mut got[..]).unwrap();
                    portable_with(copy, alpha, am.view(), bm.view(), beta, cv);
                    assert_eq!(bits(&got), bits(&want), "{copy:?}");
                }
            }
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Shapes (m, n, k) of every kind the layers use, and awkward ones around the `gemm`
    /// crate's size thresholds (64, 256 values, 512 deep, single rows and columns), large
    /// enough to be cut.
    fn cut_shapes() -> Vec<(usize, usize, usize)> {
        let mut v = vec![
            // conv forward (C_out x K x N*H*W), LeNet-5 and VGG-style, batch 32 and odd
            (6, 25 * 32, 25),
            (6, 784 * 32, 25),
            (16, 100 * 32, 150),
            (32, 784 * 2, 288),
            (64, 196 * 3, 576),
            (128, 49 * 7, 576),
            // conv weight gradients (C_out x K, inner N*H*W)
            (16, 150, 3200),
            (32, 288, 1600),
            (128, 576, 343),
            (6, 25, 25088),
            // conv input gradients (K x N*H*W, inner C_out)
            (150, 3200, 16),
            (576, 600, 64),
            // dense (out x N, inner in), weight gradients, input gradients
            (256, 32, 1152),
            (120, 32, 400),
            (256, 1152, 32),
            (1152, 32, 256),
            // single rows and columns (batch 1), one-deep, just over the thresholds
            (4000, 1, 1000),
            (1, 3000, 700),
            (2, 70000, 17),
            (3000, 3, 130),
            (65, 9000, 2),
            (64, 1000, 513),
            (65, 64, 600),
            (64, 65, 1100),
            (17, 20000, 1),
            (300, 300, 33),
        ];
        // A deterministic scatter of others.
        let dims = [1usize, 2, 16, 33, 64, 65, 130, 257, 700, 1500, 5000];
        let deep = [1usize, 3, 9, 64, 513, 777, 1300];
        for (i, &m) in dims.iter().enumerate() {
            for (j, &n) in dims.iter().enumerate() {
                let k = deep[(i * 3 + j * 5) % deep.len()];
                let work = m * n * k;
                if (2 << 20..=12 << 20).contains(&work) {
                    v.push((m, n, k));
                }
            }
        }
        v
    }

    /// Every layout the layers use: `a` and `b` plain or transposed, `beta` 0 and 1.
    fn each_layout(m: usize, n: usize, k: usize, mut check: impl FnMut(Mat, Mat, f32, &[f32])) {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1009) as f32 / 511.0 - 0.9)
            .collect();
        let b: Vec<f32> = (0..n * k)
            .map(|i| ((i * 104_729) % 997) as f32 / 499.0 - 1.1)
            .collect();
        let c0: Vec<f32> = (0..m * n)
            .map(|i| ((i * 31) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let layouts = [
            (Mat::new(&a, m, k), Mat::new(&b, k, n)),
            (Mat::new(&a, m, k), Mat::new(&b, n, k).t()),
            (Mat::new(&a, k, m).t(), Mat::new(&b, k, n)),
        ];
        for (am, bm) in layouts {
            for beta in [0.0, 1.0] {
                check(am, bm, beta, &c0);
            }
        }
    }

    /// A cut product gives the bits of the whole one, for both kernel sets (the `native` one
    /// only because every block stays on the `gemm` crate's path of the whole product), and
    /// the same bits on 1, 2 and 3 threads.
    #[test]
    fn cut_products_are_the_whole_product_bit_for_bit() {
        let pools = crate::nn::kernels::test_pools();
        let mut cut = 0;
        for (m, n, k) in cut_shapes() {
            if gemm_blocks(m, n, k).1 > 1 {
                cut += 1;
            }
            each_layout(m, n, k, |am, bm, beta, c0| {
                for kern in [Kernels::Native, Kernels::Portable] {
                    let mut whole = c0.to_vec();
                    gemm_cut(kern, 1.0, am, bm, beta, &mut whole, false);
                    for pool in &pools {
                        let mut got = c0.to_vec();
                        pool.install(|| gemm(kern, 1.0, am, bm, beta, &mut got));
                        assert!(
                            bits(&got) == bits(&whole),
                            "{kern:?} {m}x{n}x{k} (a strides {},{}; b strides {},{}) beta {beta}, {} threads, cut {:?}",
                            am.rs,
                            am.cs,
                            bm.rs,
                            bm.cs,
                            pool.current_num_threads(),
                            gemm_blocks(m, n, k)
                        );
                    }
                }
            });
        }
        assert!(cut > 20, "only {cut} shapes were cut");
    }

    /// The cut keeps every block on the whole product's side of the `gemm` crate's thresholds.
    #[test]
    fn blocks_stay_on_the_whole_products_path() {
        for m in (1..300).step_by(7).chain([64, 65, 256, 257, 1000]) {
            for n in (1..300).step_by(11).chain([64, 65, 256, 257, 4000]) {
                for k in [1, 2, 100, 513, 5000, 40000] {
                    let (axis, parts) = gemm_blocks(m, n, k);
                    let len = if axis == Axis(0) { m } else { n };
                    for i in 0..parts {
                        let l = block(len, parts, i).len();
                        let (bm, bn) = if axis == Axis(0) { (l, n) } else { (m, l) };
                        let small = |m: usize, n: usize| m <= 64 && n <= 64;
                        assert_eq!(small(bm, bn), small(m, n), "{m}x{n}x{k}");
                        assert_eq!(bm * bn <= 256, m * n <= 256, "{m}x{n}x{k}");
                        assert_eq!((bm == 1, bn == 1), (m == 1, n == 1), "{m}x{n}x{k}");
                        assert!(bm * bn * k >= BLOCK_MACS || parts == 1);
                    }
                }
            }
        }
    }
}
