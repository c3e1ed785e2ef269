//! Deterministic random streams keyed on what they describe.
//!
//! A run is a pure function of its configs and seed: every random outcome is drawn from a
//! stream whose key names the thing it decides (seed, purpose, parameter, step, element, ...),
//! never from a shared generator whose state depends on the order in which work happens.
//!
//! Two kinds of stream:
//! - [`keyed_rng`]: a portable Xoshiro256++ generator seeded from a key, for sequential draws
//!   (weight initialisation, data shuffling);
//! - [`keyed_uniform`]: a counter-based draw, element `index` of the SplitMix64 sequence
//!   seeded with the key, for one independent uniform number per (key, index), e.g. the
//!   stochastic rounding of one weight at one step.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Purposes of random streams; part of every key so that streams never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Initial values of a parameter tensor.
    Init = 1,
    /// Order of the training images in one epoch.
    Shuffle = 2,
    /// Stochastic rounding of an intended weight update.
    Rounding = 3,
    /// Outcome (and switching time) of one STT program pulse.
    Program = 4,
    /// Whether an SOT erase leaves one MTJ unerased.
    Erase = 5,
    /// The parameters of one device (an MTJ, or a string's erase threshold), drawn once.
    Device = 6,
    /// The program current of one pulse (cycle-to-cycle variation).
    PulseCurrent = 7,
}

/// The SplitMix64 finaliser: a bijective 64-bit mixer with full avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a key made of several words into one 64-bit value.
#[inline]
pub fn key(parts: &[u64]) -> u64 {
    let mut h = 0x6E61_6E64_7370_696E; // "nandspin"
    for &p in parts {
        h = mix64(h ^ p);
    }
    h
}

/// A portable seeded generator for the stream named by `parts`.
pub fn keyed_rng(seed: u64, purpose: Purpose, parts: &[u64]) -> Xoshiro256PlusPlus {
    let mut k = vec![seed, purpose as u64];
    k.extend_from_slice(parts);
    Xoshiro256PlusPlus::seed_from_u64(key(&k))
}

/// A uniform number in [0, 1) for element `index` of the stream keyed by `stream_key`
/// (itself from [`key`]). Independent of the order in which elements are drawn.
#[inline]
pub fn keyed_uniform(stream_key: u64, index: u64) -> f32 {
    // SplitMix64 at position `index`: the state advances by the golden gamma per draw.
    let z = mix64(stream_key.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    // 24 high bits -> exactly representable f32 in [0, 1).
    (z >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

/// A uniform integer in [0, 2^53) for element `index` of the stream keyed by `stream_key`:
/// `u = n / 2^53` is a uniform f64 in [0, 1) with full double resolution, for events as
/// rare as 1e-6 per draw.
#[inline]
pub fn keyed_u53(stream_key: u64, index: u64) -> u64 {
    mix64(stream_key.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))) >> 11
}

/// 2^53 as f64: divides a [`keyed_u53`] draw into [0, 1).
pub const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// The draws below which an event of probability `p` happens: `n < threshold(p)` has
/// probability p for `n` from [`keyed_u53`] (exactly 0 and 1 at the ends).
#[inline]
pub fn threshold_u53(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * TWO_POW_53).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_in_range_and_roughly_uniform() {
        let k = key(&[7, Purpose::Rounding as u64, 3]);
        let n = 100_000;
        let mut sum = 0.0f64;
        let mut below_quarter = 0;
        for i in 0..n {
            let u = keyed_uniform(k, i);
            assert!((0.0..1.0).contains(&u));
            sum += u as f64;
            if u < 0.25 {
                below_quarter += 1;
            }
        }
        let mean = sum / n as f64;
        // Standard error of the mean is ~0.0009; 5 sigma.
        assert!((mean - 0.5).abs() < 0.0046, "mean {mean}");
        let frac = below_quarter as f64 / n as f64;
        assert!((frac - 0.25).abs() < 0.007, "fraction below 1/4: {frac}");
    }

    #[test]
    fn streams_differ_by_key_and_repeat_by_key() {
        let a = key(&[1, 2, 3]);
        let b = key(&[1, 2, 4]);
        assert_ne!(a, b);
        assert_eq!(keyed_uniform(a, 5), keyed_uniform(a, 5));
        assert_ne!(keyed_uniform(a, 5), keyed_uniform(b, 5));
        use rand::Rng;
        let mut r1 = keyed_rng(0, Purpose::Init, &[1]);
        let mut r2 = keyed_rng(0, Purpose::Init, &[1]);
        let mut r3 = keyed_rng(0, Purpose::Shuffle, &[1]);
        let x1 = r1.next_u64();
        assert_eq!(x1, r2.next_u64());
        assert_ne!(x1, r3.next_u64());
    }
}
