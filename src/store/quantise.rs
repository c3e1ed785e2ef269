//! From intended real values to B-bit codes: the per-layer step and the rounding, shared by
//! every store that holds codes.

use super::format::{Format, round};
use super::{ParamId, ParamKind, ParamSpec};
use crate::config::arch::{BiasPlacement, Encoding, Inversion, RangeSpec, Rounding, WeightsConfig};
use crate::config::workload::Kernels;
use crate::nn::kernels::{Isa, isa};
use crate::rng::{Purpose, key, keyed_uniform};

/// The range r of a parameter (values in [-r, r)): the configured number, or the smallest
/// power of two at least `headroom / sqrt(fan_in)`.
pub fn layer_range(range: RangeSpec, headroom: f64, fan_in: usize) -> f64 {
    match range {
        RangeSpec::Fixed(r) => r,
        RangeSpec::Auto => {
            let need = headroom / (fan_in.max(1) as f64).sqrt();
            2f64.powi(need.log2().ceil() as i32)
        }
    }
}

/// Arguments of [`stochastic`].
struct Stochastic<'a> {
    stream: u64,
    inv: f32,
    lo: f32,
    hi: f32,
    base: u64,
    xs: &'a [f32],
}

/// Stochastic rounding of `x * inv`, clamped to [lo, hi], with draw `base + i` of `stream`
/// for element i. Compiled for AVX2 as well: `native` kernels run that copy when the CPU
/// has AVX2, `portable` ones always the baseline copy (integer and IEEE f32 operations
/// without FMA give the same bits on both).
fn stochastic(kern: Kernels, s: &Stochastic, out: &mut [i32]) {
    match (kern, isa()) {
        // SAFETY: `isa()` is `Avx2` only when the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        (Kernels::Native, Isa::Avx2) => unsafe { stochastic_avx2(s, out) },
        _ => stochastic_baseline(s, out),
    }
}

fn stochastic_baseline(s: &Stochastic, out: &mut [i32]) {
    stochastic_body(s, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn stochastic_avx2(s: &Stochastic, out: &mut [i32]) {
    stochastic_body(s, out);
}

#[inline(always)]
fn stochastic_body(s: &Stochastic, out: &mut [i32]) {
    for (i, (o, &x)) in out.iter_mut().zip(s.xs).enumerate() {
        let u = keyed_uniform(s.stream, s.base + i as u64);
        *o = round(x * s.inv, Rounding::Stochastic, u).clamp(s.lo, s.hi) as i32;
    }
}

/// Rounds intended values to code integers, per parameter tensor.
#[derive(Debug, Clone)]
pub struct Quantiser {
    /// The code format.
    pub format: Format,
    /// Nearest or stochastic.
    pub rounding: Rounding,
    seed: u64,
    /// Which compiled copy of the stochastic rounding runs.
    kernels: Kernels,
    /// Value of one code step per parameter; `None` for parameters held digitally.
    steps: Vec<Option<f32>>,
}

impl Quantiser {
    /// The quantiser `[weights]` describes for `params`.
    pub fn new(cfg: &WeightsConfig, params: &[ParamSpec], seed: u64) -> Self {
        let steps = params
            .iter()
            .map(|p| {
                let quantised = p.kind == ParamKind::Weight || cfg.biases == BiasPlacement::Store;
                quantised.then(|| {
                    let r = layer_range(cfg.range, cfg.auto_range_headroom, p.fan_in);
                    (r / f64::from(1u32 << (cfg.bits - 1))) as f32
                })
            })
            .collect();
        Self {
            format: Format {
                bits: cfg.bits,
                encoding: cfg.encoding,
                invert: cfg.invert == Inversion::FewerOnes,
            },
            rounding: cfg.rounding,
            seed,
            kernels: Kernels::Native,
            steps,
        }
    }

    /// Runs the `kernels` copies of the rounding (`native` by default).
    pub fn set_kernels(&mut self, kernels: Kernels) {
        self.kernels = kernels;
    }

    /// The value of one code step of parameter `id` (`None` when held digitally).
    pub fn step(&self, id: ParamId) -> Option<f32> {
        self.steps[id]
    }

    /// Rounds `intended` (values of parameter `id`, update `step`) to code integers,
    /// clamped to the format's range, into `out`. `intended` may be a slice of the tensor
    /// starting at element `base`: stochastic draws come from the stream (seed, rounding,
    /// id, step), element `base + i`. Panics if `id` is digital.
    pub fn quantise(&self, id: ParamId, intended: &[f32], step: u64, base: usize, out: &mut [i32]) {
        let inv = 1.0 / self.steps[id].expect("quantise needs a quantised parameter");
        let (lo, hi) = (self.format.q_min() as f32, self.format.q_max() as f32);
        match self.rounding {
            Rounding::Nearest => {
                for (o, &x) in out.iter_mut().zip(intended) {
                    *o = (x * inv).round().clamp(lo, hi) as i32;
                }
            }
            Rounding::Stochastic => {
                let stream = key(&[self.seed, Purpose::Rounding as u64, id as u64, step]);
                let s = Stochastic {
                    stream,
                    inv,
                    lo,
                    hi,
                    base: base as u64,
                    xs: intended,
                };
                stochastic(self.kernels, &s, out);
            }
        }
    }

    /// "8-bit two's complement, stochastic rounding".
    pub fn describe(&self) -> String {
        let enc = match self.format.encoding {
            Encoding::TwosComplement => "two's complement",
            Encoding::SignMagnitude => "sign-magnitude",
            Encoding::OffsetBinary => "offset binary",
        };
        let rnd = match self.rounding {
            Rounding::Nearest => "round to nearest",
            Rounding::Stochastic => "stochastic rounding",
        };
        let flag = if self.format.invert {
            " with an inversion flag"
        } else {
            ""
        };
        format!("{}-bit {enc}{flag}, {rnd}", self.format.bits)
    }
}
