//! Softmax cross-entropy, averaged over the batch.

use super::tensor::Act;

/// Loss and accuracy of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchScore {
    /// Sum over the batch of the per-sample cross-entropy (nats).
    pub loss_sum: f64,
    /// Samples whose highest score is their label.
    pub correct: usize,
}

/// Scores `logits` (classes x N) against `labels`; when `grad` is given, writes
/// d(mean loss)/d(logits) into it.
pub fn softmax_cross_entropy(logits: &Act, labels: &[u8], grad: Option<&mut Act>) -> BatchScore {
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
        let sum: f32 = (0..k).map(|c| (z[c * n + b] - max).exp()).sum();
        let log_sum = sum.ln();
        score.loss_sum += (log_sum - (z[label * n + b] - max)) as f64;
        if arg == label {
            score.correct += 1;
        }
        if let Some(g) = grad.as_deref_mut() {
            for c in 0..k {
                let p = (z[c * n + b] - max - log_sum).exp();
                let t = if c == label { 1.0 } else { 0.0 };
                g.data[c * n + b] = (p - t) * inv_n;
            }
        }
    }
    score
}
