//! Which compiled kernels run: the CPU features the dispatch sees, and the name of the
//! kernel set a run used (`training.kernels`, recorded in `run.toml` and `summary.csv`).
//!
//! `native` uses the `gemm` crate, which picks its kernels from the CPU (x86-64: AVX2 with
//! fused multiply-add when the CPU has FMA, else scalar; AArch64: NEON), so the last bits
//! of a result may depend on the node a run lands on. `portable` runs one fixed sequence of
//! IEEE-754 operations per value (see [`super::gemm`]): the compiled copy may use wider
//! vectors where the CPU has them, but every copy gives the same bits.
//!
//! The environment variable [`FORCE_ENV`] (`scalar` or `avx2`) narrows the features our
//! own dispatch sees, so that tests can run the other compiled copies on one machine; it
//! never widens them (the CPU must have what runs), and it cannot change the `gemm`
//! crate's choice.
//!
//! **Threads.** The kernels of a batch (matrix products, im2col and col2im, pooling,
//! element-wise layers) cut their work into blocks and run them on rayon's current thread
//! pool (the one they are called from: `nandspin run --threads`, or a sweep worker's).
//! The cut is a function of the problem's shape only ([`blocks`]): the same blocks are
//! computed, with the same operations, whatever the number of threads, and no value is ever
//! summed across blocks (a matrix product is cut along its output rows or columns, never
//! along its inner dimension). So results are the same bits for any thread count. Problems
//! too small to be worth a thread hand-off (batch 1, small layers) run whole on the calling
//! thread.

use std::ops::Range;
use std::sync::OnceLock;

use ndarray::{ArrayViewMut, Axis, Dimension};
use rayon::prelude::*;

use crate::config::workload::Kernels;

/// The environment variable that narrows the features our dispatch sees.
pub const FORCE_ENV: &str = "NANDSPIN_FORCE_ISA";

/// The compiled copies our own dispatch chooses between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// The build's baseline (x86-64: SSE2; AArch64: NEON).
    Baseline,
    /// x86-64 with AVX2 (no FMA: the bits are those of the baseline copy).
    Avx2,
}

/// The CPU features the kernel choice depends on, as detected.
pub fn detected_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut f: Vec<&'static str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            f.push("avx");
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            f.push("avx2");
        }
        if std::arch::is_x86_feature_detected!("fma") {
            f.push("fma");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            f.push("avx512f");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            f.push("neon");
        }
    }
    f
}

/// The value of [`FORCE_ENV`] when it is set and known (`scalar`, `avx2`); an unknown
/// value is an error.
pub fn forced() -> Result<Option<&'static str>, String> {
    match std::env::var(FORCE_ENV) {
        Err(_) => Ok(None),
        Ok(v) => match v.as_str() {
            "scalar" => Ok(Some("scalar")),
            "avx2" => Ok(Some("avx2")),
            _ => Err(format!(
                "environment variable {FORCE_ENV}: unknown value `{v}` (expected `scalar` or `avx2`)"
            )),
        },
    }
}

/// What the dispatch sees: the detected features, narrowed by [`FORCE_ENV`] (`scalar`:
/// none; `avx2`: at most `avx` and `avx2`). Read once per process.
pub fn seen_features() -> &'static [&'static str] {
    static SEEN: OnceLock<Vec<&'static str>> = OnceLock::new();
    SEEN.get_or_init(|| narrow(detected_features(), forced().ok().flatten()))
}

fn narrow(detected: Vec<&'static str>, forced: Option<&str>) -> Vec<&'static str> {
    match forced {
        None => detected,
        Some("avx2") => detected
            .into_iter()
            .filter(|f| matches!(*f, "avx" | "avx2"))
            .collect(),
        Some(_) => Vec::new(),
    }
}

/// The copy our dispatch runs, from [`seen_features`].
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| isa_of(seen_features()))
}

fn isa_of(seen: &[&str]) -> Isa {
    if cfg!(target_arch = "x86_64") && seen.contains(&"avx2") {
        Isa::Avx2
    } else {
        Isa::Baseline
    }
}

/// The GEMM kernels the `gemm` crate chooses on this CPU (its own rule: FMA on x86-64,
/// NEON on AArch64), as a name: `avx2`, `neon` or `scalar`.
fn gemm_crate_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            return "avx2";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return "neon";
        }
    }
    "scalar"
}

/// The name of the kernels a run with `k` uses on this machine: `portable`, or `native-`
/// and the `gemm` crate's choice (`native-avx2`, `native-neon`, `native-scalar`).
pub fn kernel_name(k: Kernels) -> String {
    match k {
        Kernels::Portable => "portable".into(),
        Kernels::Native => format!("native-{}", gemm_crate_level()),
    }
}

/// The fewest multiply-adds a block of a matrix product gets.
pub const BLOCK_MACS: usize = 1 << 20;
/// The fewest values a block of a memory-bound kernel (copies, ReLU, pooling) handles.
pub const BLOCK_VALUES: usize = 1 << 15;
/// The most blocks one kernel call is cut into.
pub const MAX_BLOCKS: usize = 64;

/// How many blocks to cut `units` units (rows, columns, images, planes) of `work_per_unit`
/// work each into: the largest power of two that is at most [`MAX_BLOCKS`], leaves every
/// block (the smallest has `units / blocks` units, rounded down) at least `min_units` units
/// and `min_work` work. 1 when the problem is too small to split. A function of the shape alone, never of
/// the thread count; powers of two share out evenly over 2, 4, 8... threads.
pub fn blocks(units: usize, work_per_unit: usize, min_work: usize, min_units: usize) -> usize {
    let mut p = 1;
    while p * 2 <= MAX_BLOCKS
        && units / (p * 2) >= min_units.max(1)
        && (units / (p * 2)).saturating_mul(work_per_unit) >= min_work
    {
        p *= 2;
    }
    p
}

/// Block `i` of `parts` balanced blocks of `0..len`: the first `len % parts` blocks have one
/// unit more than the others.
pub fn block(len: usize, parts: usize, i: usize) -> Range<usize> {
    let (q, r) = (len / parts, len % parts);
    let start = i * q + i.min(r);
    start..start + q + usize::from(i < r)
}

/// `v` cut along `axis`, which holds `len_of(axis) / unit` units of `unit` indices each,
/// into the `parts` balanced blocks of units of [`block`], in order.
pub fn split_view<'a, D: Dimension>(
    v: ArrayViewMut<'a, f32, D>,
    axis: Axis,
    unit: usize,
    parts: usize,
) -> Vec<ArrayViewMut<'a, f32, D>> {
    let len = v.len_of(axis);
    assert!(
        unit > 0 && len.is_multiple_of(unit),
        "an axis of whole units"
    );
    let mut out = Vec::with_capacity(parts);
    let mut rest = v;
    for i in 0..parts - 1 {
        let (head, tail) = rest.split_at(axis, block(len / unit, parts, i).len() * unit);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// `s` cut into the `parts` balanced blocks of `units` units of `unit` values each.
pub fn split_slice<T>(s: &mut [T], units: usize, unit: usize, parts: usize) -> Vec<&mut [T]> {
    assert_eq!(s.len(), units * unit, "a slice of whole units");
    let mut out = Vec::with_capacity(parts);
    let mut rest = s;
    for i in 0..parts {
        let (head, tail) = rest.split_at_mut(block(units, parts, i).len() * unit);
        out.push(head);
        rest = tail;
    }
    out
}

/// Runs `f(i, item)` for every item: on the calling thread when there is one, else as tasks
/// of rayon's current pool (each item's work is the same whichever thread runs it).
pub fn run_blocks<T: Send>(items: Vec<T>, f: impl Fn(usize, T) + Sync + Send) {
    if items.len() == 1 {
        let item = items.into_iter().next().expect("one item");
        f(0, item);
    } else {
        items
            .into_par_iter()
            .enumerate()
            .for_each(|(i, item)| f(i, item));
    }
}

/// A thread pool of `threads` threads (`None`: rayon's default, `RAYON_NUM_THREADS` when
/// set, else one per CPU) for a training to run in.
pub fn thread_pool(
    threads: Option<usize>,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let mut b = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("nandspin-{i}"));
    if let Some(n) = threads {
        b = b.num_threads(n);
    }
    b.build()
}

/// Pools of 1, 2 and 3 threads, for tests that a kernel gives the same bits on each.
#[cfg(test)]
pub(crate) fn test_pools() -> Vec<rayon::ThreadPool> {
    [1, 2, 3]
        .into_iter()
        .map(|t| thread_pool(Some(t)).expect("a test thread pool"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_depend_on_the_shape_only_and_cover_it() {
        assert_eq!(blocks(1000, 1, 1 << 20, 1), 1);
        assert_eq!(blocks(64, 1 << 20, 1 << 20, 1), 64);
        assert_eq!(blocks(1000, 1 << 20, 1 << 20, 1), MAX_BLOCKS);
        assert_eq!(blocks(32, 1 << 20, 1 << 20, 3), 8);
        assert_eq!(blocks(32, 1 << 18, 1 << 20, 1), 8);
        for len in [0usize, 1, 5, 64, 129, 1000] {
            for parts in [1usize, 2, 3, 8] {
                let r: Vec<Range<usize>> = (0..parts).map(|i| block(len, parts, i)).collect();
                assert_eq!(r[0].start, 0);
                assert_eq!(r[parts - 1].end, len);
                for w in r.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                    assert!(w[0].len() >= w[1].len() && w[0].len() <= w[1].len() + 1);
                }
            }
        }
    }

    #[test]
    fn the_override_only_narrows() {
        let all = vec!["avx", "avx2", "fma", "avx512f"];
        assert_eq!(narrow(all.clone(), None), all);
        assert_eq!(narrow(all.clone(), Some("avx2")), ["avx", "avx2"]);
        assert!(narrow(all, Some("scalar")).is_empty());
        // Never more than the CPU has.
        assert!(narrow(vec!["avx"], Some("avx2")) == ["avx"]);
        assert_eq!(isa_of(&[]), Isa::Baseline);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(isa_of(&["avx", "avx2"]), Isa::Avx2);
        }
    }

    #[test]
    fn names() {
        assert_eq!(kernel_name(Kernels::Portable), "portable");
        let native = kernel_name(Kernels::Native);
        assert!(
            ["native-avx2", "native-neon", "native-scalar"].contains(&native.as_str()),
            "{native}"
        );
    }
}
