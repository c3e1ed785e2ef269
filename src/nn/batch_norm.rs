//! Batch normalisation (Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network
//! Training by Reducing Internal Covariate Shift", ICML 2015), per channel of a (C, N, H, W)
//! batch: the statistics of a channel run over its N x H x W values, which the layout keeps
//! contiguous (a dense layer's output is (features, N, 1, 1), so each feature is a channel).
//!
//! Training uses the batch's mean and (biased) variance and folds them into the running
//! statistics (PyTorch's convention: `running = (1 - momentum) * running + momentum * batch`,
//! with the unbiased variance); evaluation uses the running statistics. Each channel is
//! summed in one fixed order (in f64), and channels are independent, so spreading them over
//! threads never changes a bit.

use rayon::prelude::*;

use super::tensor::Act;

/// Values below which a pass runs on the calling thread (dispatch would cost more).
const PAR_MIN_VALUES: usize = 1 << 15;

/// The running statistics of one batch-norm layer, and what its backward pass needs.
#[derive(Debug, Clone, Default)]
pub struct BnState {
    /// Running mean per channel.
    pub running_mean: Vec<f32>,
    /// Running (unbiased) variance per channel.
    pub running_var: Vec<f32>,
    /// 1 / sqrt(var + epsilon) of the last training batch, per channel.
    inv_std: Vec<f32>,
    /// The normalised input of the last training batch, (C, N, H, W).
    xhat: Vec<f32>,
}

impl BnState {
    /// Fresh statistics for `channels` channels: mean 0, variance 1.
    pub fn new(channels: usize) -> Self {
        Self {
            running_mean: vec![0.0; channels],
            running_var: vec![1.0; channels],
            inv_std: vec![0.0; channels],
            xhat: Vec::new(),
        }
    }
}

/// Hyper-parameters of one batch-norm layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BnGeom {
    /// Channels (features).
    pub channels: usize,
    /// Weight of the newest batch in the running statistics.
    pub momentum: f32,
    /// Added to the variance before its square root.
    pub epsilon: f32,
}

/// Runs `f(channel, chunk of a, chunk of b)` over the channels, in parallel when the work is
/// large enough; every channel's result is the same either way.
fn per_channel<A: Send, B: Send>(
    a: &mut [A],
    a_len: usize,
    b: &mut [B],
    b_len: usize,
    values: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    if values < PAR_MIN_VALUES {
        for (c, (x, y)) in a.chunks_mut(a_len).zip(b.chunks_mut(b_len)).enumerate() {
            f(c, x, y);
        }
    } else {
        a.par_chunks_mut(a_len)
            .zip(b.par_chunks_mut(b_len))
            .enumerate()
            .for_each(|(c, (x, y))| f(c, x, y));
    }
}

/// The sum over `i` of `f(a[i], b[i])` in f64, with four independent accumulators (element
/// `i` goes to accumulator `i % 4`, the rest of the last group of four goes last): a fixed
/// order, so the same bits on every run, and four times the throughput of one chain.
#[inline]
fn sum4(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..4 {
            acc[j] += f(x[j], y[j]);
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (&x, &y) in ra.iter().zip(rb) {
        s += f(x, y);
    }
    s
}

/// Training forward: normalises each channel of `x` with the batch's statistics, scales by
/// `gamma` and shifts by `beta` into `y`, and updates the running statistics in `state`.
pub fn forward_train(
    g: &BnGeom,
    x: &Act,
    gamma: &[f32],
    beta: &[f32],
    state: &mut BnState,
    y: &mut Act,
) {
    y.reshape(x.shape, x.n);
    let m = x.n * x.shape.plane();
    state.xhat.resize(x.data.len(), 0.0);
    // Per channel: (mean, biased variance, 1 / sqrt(variance + epsilon)).
    let mut stats = vec![(0.0f32, 0.0f64, 0.0f32); g.channels];
    {
        let xd = &x.data;
        per_channel(
            &mut state.xhat,
            m,
            &mut stats,
            1,
            x.data.len(),
            |c, xhat, st| {
                let xs = &xd[c * m..(c + 1) * m];
                let mean = sum4(xs, xs, |v, _| f64::from(v)) / m as f64;
                let var = sum4(xs, xs, |v, _| {
                    let d = f64::from(v) - mean;
                    d * d
                }) / m as f64;
                let inv = (1.0 / (var + f64::from(g.epsilon)).sqrt()) as f32;
                let mean32 = mean as f32;
                for (h, &v) in xhat.iter_mut().zip(xs) {
                    *h = (v - mean32) * inv;
                }
                st[0] = (mean32, var, inv);
            },
        );
    }
    for (c, &(mean, var, inv)) in stats.iter().enumerate() {
        state.inv_std[c] = inv;
        let unbiased = if m > 1 {
            (var * m as f64 / (m - 1) as f64) as f32
        } else {
            var as f32
        };
        let k = g.momentum;
        state.running_mean[c] = (1.0 - k) * state.running_mean[c] + k * mean;
        state.running_var[c] = (1.0 - k) * state.running_var[c] + k * unbiased;
    }
    let xhat = &state.xhat;
    scale_shift(&mut y.data, m, |c, out| {
        let (gm, bt) = (gamma[c], beta[c]);
        for (o, &h) in out.iter_mut().zip(&xhat[c * m..(c + 1) * m]) {
            *o = gm * h + bt;
        }
    });
}

/// Runs `f(channel, output chunk)` over the channels of `out` (chunks of `m`), in parallel
/// when large.
fn scale_shift(out: &mut [f32], m: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if out.len() < PAR_MIN_VALUES {
        for (c, o) in out.chunks_mut(m).enumerate() {
            f(c, o);
        }
    } else {
        out.par_chunks_mut(m).enumerate().for_each(|(c, o)| f(c, o));
    }
}

/// Evaluation forward: normalises with the running statistics.
pub fn forward_eval(
    g: &BnGeom,
    x: &Act,
    gamma: &[f32],
    beta: &[f32],
    state: &BnState,
    y: &mut Act,
) {
    y.reshape(x.shape, x.n);
    let m = x.n * x.shape.plane();
    let xd = &x.data;
    scale_shift(&mut y.data, m, |c, out| {
        let inv = (1.0 / (f64::from(state.running_var[c]) + f64::from(g.epsilon)).sqrt()) as f32;
        let (scale, mean) = (gamma[c] * inv, state.running_mean[c]);
        for (o, &v) in out.iter_mut().zip(&xd[c * m..(c + 1) * m]) {
            *o = (v - mean) * scale + beta[c];
        }
    });
}

/// Backward of the training forward: gamma and beta gradients into `dgamma`, `dbeta`
/// (overwritten); the input gradient into `dx` when given (added to it when its flag says
/// so).
pub fn backward(
    g: &BnGeom,
    dy: &Act,
    gamma: &[f32],
    state: &BnState,
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    dx: Option<(&mut Act, bool)>,
) {
    let m = dy.n * dy.shape.plane();
    let dyd = &dy.data;
    let xhat = &state.xhat;
    // Per channel: (sum dy, sum dy * xhat).
    let mut sums = vec![(0.0f64, 0.0f64); g.channels];
    let mut none: Vec<()> = vec![(); g.channels];
    per_channel(&mut sums, 1, &mut none, 1, dy.data.len(), |c, s, _| {
        let (d, h) = (&dyd[c * m..(c + 1) * m], &xhat[c * m..(c + 1) * m]);
        let sd = sum4(d, d, |a, _| f64::from(a));
        let sdh = sum4(d, h, |a, b| f64::from(a) * f64::from(b));
        s[0] = (sd, sdh);
    });
    for (c, &(sd, sdh)) in sums.iter().enumerate() {
        dbeta[c] = sd as f32;
        dgamma[c] = sdh as f32;
    }
    if let Some((dx, acc)) = dx {
        dx.reshape(dy.shape, dy.n);
        let inv_m = 1.0 / m as f32;
        scale_shift(&mut dx.data, m, |c, out| {
            let k = gamma[c] * state.inv_std[c];
            let (mean_d, mean_dh) = (sums[c].0 as f32 * inv_m, sums[c].1 as f32 * inv_m);
            let (d, h) = (&dyd[c * m..(c + 1) * m], &xhat[c * m..(c + 1) * m]);
            for ((o, &a), &b) in out.iter_mut().zip(d).zip(h) {
                let v = k * (a - mean_d - b * mean_dh);
                *o = if acc { *o + v } else { v };
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::tensor::Shape;

    fn batch(c: usize, n: usize, h: usize) -> Act {
        let mut x = Act::zeros(Shape::new(c, h, h), n);
        for (i, v) in x.data.iter_mut().enumerate() {
            *v = ((i * 7919) % 31) as f32 / 7.0 - 1.0 + (i / (n * h * h)) as f32;
        }
        x
    }

    #[test]
    fn normalises_each_channel_and_tracks_running_stats() {
        let g = BnGeom {
            channels: 3,
            momentum: 0.1,
            epsilon: 1e-5,
        };
        let x = batch(3, 4, 5);
        let mut st = BnState::new(3);
        let mut y = Act::default();
        forward_train(&g, &x, &[2.0, 1.0, 0.5], &[0.0, 1.0, -1.0], &mut st, &mut y);
        let m = 4 * 25;
        for c in 0..3 {
            let ys = &y.data[c * m..(c + 1) * m];
            let mean: f64 = ys.iter().map(|&v| f64::from(v)).sum::<f64>() / m as f64;
            let var: f64 = ys
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / m as f64;
            let (gm, bt) = ([2.0, 1.0, 0.5][c], [0.0, 1.0, -1.0][c]);
            assert!((mean - bt).abs() < 1e-5, "channel {c}: mean {mean}");
            assert!(
                (var.sqrt() - gm).abs() < 1e-3,
                "channel {c}: std {}",
                var.sqrt()
            );
            // Running statistics moved 10 % of the way from (0, 1) to the batch's.
            let xs = &x.data[c * m..(c + 1) * m];
            let bm: f64 = xs.iter().map(|&v| f64::from(v)).sum::<f64>() / m as f64;
            let bv: f64 =
                xs.iter().map(|&v| (f64::from(v) - bm).powi(2)).sum::<f64>() / (m - 1) as f64;
            assert!((f64::from(st.running_mean[c]) - 0.1 * bm).abs() < 1e-6);
            assert!((f64::from(st.running_var[c]) - (0.9 + 0.1 * bv)).abs() < 1e-5);
        }
        // Evaluation with running stats equal to the batch's (biased) stats reproduces the
        // training output.
        let mut st2 = st.clone();
        for c in 0..3 {
            let xs = &x.data[c * m..(c + 1) * m];
            let bm: f64 = xs.iter().map(|&v| f64::from(v)).sum::<f64>() / m as f64;
            let bv: f64 = xs.iter().map(|&v| (f64::from(v) - bm).powi(2)).sum::<f64>() / m as f64;
            st2.running_mean[c] = bm as f32;
            st2.running_var[c] = bv as f32;
        }
        let mut ye = Act::default();
        forward_eval(&g, &x, &[2.0, 1.0, 0.5], &[0.0, 1.0, -1.0], &st2, &mut ye);
        for (a, b) in ye.data.iter().zip(&y.data) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn large_batches_give_the_bits_of_small_ones() {
        // Above the parallel threshold, every channel still gets the serial result.
        let g = BnGeom {
            channels: 8,
            momentum: 0.1,
            epsilon: 1e-5,
        };
        let x = batch(8, 64, 12);
        assert!(x.data.len() >= PAR_MIN_VALUES);
        let gamma: Vec<f32> = (0..8).map(|c| 1.0 + c as f32 * 0.1).collect();
        let beta: Vec<f32> = (0..8).map(|c| c as f32 * 0.01).collect();
        let mut st = BnState::new(8);
        let mut y = Act::default();
        forward_train(&g, &x, &gamma, &beta, &mut st, &mut y);
        let m = 64 * 144;
        for c in [0, 5] {
            let mut xc = Act::zeros(Shape::new(1, 12, 12), 64);
            xc.data.copy_from_slice(&x.data[c * m..(c + 1) * m]);
            let gc = BnGeom { channels: 1, ..g };
            let mut s1 = BnState::new(1);
            let mut y1 = Act::default();
            forward_train(&gc, &xc, &gamma[c..=c], &beta[c..=c], &mut s1, &mut y1);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y1.data), bits(&y.data[c * m..(c + 1) * m]));
            assert_eq!(s1.running_var[0].to_bits(), st.running_var[c].to_bits());
        }
    }
}
