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

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::kernels::{Isa, isa};
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
    fn view(&self) -> ArrayView2<'a, f32> {
        ArrayView2::from_shape(
            (self.rows, self.cols).strides((self.rs, self.cs)),
            self.data,
        )
        .expect("matrix view within its slice")
    }
}

/// `c = alpha * a * b + beta * c`, with `c` a row-major `a.rows x b.cols` matrix
/// (`beta == 0` ignores the old contents of `c`, NaNs included), with the kernels `k`.
pub fn gemm(k: Kernels, alpha: f32, a: Mat, b: Mat, beta: f32, c: &mut [f32]) {
    assert_eq!(a.cols, b.rows, "inner dimensions of a GEMM");
    let (av, bv) = (a.view(), b.view());
    let mut cv = ArrayViewMut2::from_shape((a.rows, b.cols), c).expect("output matrix size");
    if a.rows == 0 || b.cols == 0 {
        return;
    }
    if k == Kernels::Portable {
        let c = cv.as_slice_mut().expect("row-major output");
        portable_with(isa(), alpha, av, bv, beta, c);
        return;
    }
    // SAFETY: the three views were checked above to lie within their slices with these
    // shapes and strides; `c` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            a.rows,
            b.cols,
            a.cols,
            cv.as_mut_ptr(),
            1,
            b.cols as isize,
            beta != 0.0,
            av.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            bv.as_ptr(),
            b.cs as isize,
            b.rs as isize,
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
    c: &mut [f32],
) {
    match isa {
        // SAFETY: `Avx2` is asked for only when the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { portable_avx2(alpha, a, b, beta, c) },
        _ => portable_baseline(alpha, a, b, beta, c),
    }
}

fn portable_baseline(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, c: &mut [f32]) {
    blocked::<4, 8>(alpha, a, b, beta, c);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn portable_avx2(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, c: &mut [f32]) {
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
    c: &mut [f32],
) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
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
                    let at = (panel * MR + r) * n + j0 + strip * NR;
                    let out = &mut c[at..at + cols];
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
                    portable_with(copy, alpha, am.view(), bm.view(), beta, &mut got);
                    assert_eq!(bits(&got), bits(&want), "{copy:?}");
                }
            }
        }
    }
}
