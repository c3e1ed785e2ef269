//! Softmax cross-entropy, averaged over the batch.

use super::tensor::Act;
use crate::config::workload::Kernels;

/// Loss and accuracy of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchScore {
    /// Sum over the batch of the per-sample cross-entropy (nats).
    pub loss_sum: f64,
    /// Samples whose highest score is their label.
    pub correct: usize,
}

/// Scores `logits` (classes x N) against `labels`; when `grad` is given, writes
/// d(mean loss)/d(logits) into it. With `portable` kernels, the exponential and logarithm
/// are the `libm` crate's (the same code on every machine) instead of the system library's,
/// whose x86-64 versions are chosen by CPU feature (FMA or not) and may round differently.
pub fn softmax_cross_entropy(
    kern: Kernels,
    logits: &Act,
    labels: &[u8],
    grad: Option<&mut Act>,
) -> BatchScore {
    type Fun = fn(f32) -> f32;
    let (exp, ln): (Fun, Fun) = match kern {
        Kernels::Native => (f32::exp, f32::ln),
        Kernels::Portable => (libm::expf, libm::logf),
    };
    let (k, n) = (logits.shape.c, logits.n);
    assert_eq!(labels.len(), n, "one label per sample");
    let z = &logits.data;
    let mut score = BatchScore::default();
    let mut grad = grad;
    if let Some(g) = grad.as_deref_mut() {
        g.reshape(logits.shape, n);
    }
    let inv_n = 1.0 / n as f32;
    for (b, &label) in labels.iter().enumerate() {
        let label = label as usize;
        let (mut max, mut arg) = (f32::NEG_INFINITY, 0);
        for c in 0..k {
            if z[c * n + b] > max {
                max = z[c * n + b];
                arg = c;
            }
        }
        let sum: f32 = (0..k).map(|c| exp(z[c * n + b] - max)).sum();
        let log_sum = ln(sum);
        score.loss_sum += (log_sum - (z[label * n + b] - max)) as f64;
        if arg == label {
            score.correct += 1;
        }
        if let Some(g) = grad.as_deref_mut() {
            for c in 0..k {
                let p = exp(z[c * n + b] - max - log_sum);
                let t = if c == label { 1.0 } else { 0.0 };
                g.data[c * n + b] = (p - t) * inv_n;
            }
        }
    }
    score
}
