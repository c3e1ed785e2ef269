//! Fixed-point weight codes: B-bit integers, their bit layouts (encodings), the optional
//! inversion flag, and rounding.

use crate::config::arch::{Encoding, Rounding};

/// A B-bit signed code format, optionally with an inversion flag in bit B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// Bits per code, 2..=16.
    pub bits: u32,
    /// Bit layout.
    pub encoding: Encoding,
    /// Whether bit B is an inversion flag: a code is stored complemented (flag 1) when that
    /// takes fewer 1s in all, and decoded by what the flag holds.
    pub invert: bool,
}

impl Format {
    /// A format without the inversion flag.
    pub fn plain(bits: u32, encoding: Encoding) -> Self {
        Self {
            bits,
            encoding,
            invert: false,
        }
    }

    /// MTJs one code takes: `bits`, plus one for the flag.
    pub fn width(&self) -> u32 {
        self.bits + u32::from(self.invert)
    }

    /// Smallest representable integer.
    pub fn q_min(&self) -> i32 {
        match self.encoding {
            Encoding::SignMagnitude => -((1 << (self.bits - 1)) - 1),
            Encoding::TwosComplement | Encoding::OffsetBinary => -(1 << (self.bits - 1)),
        }
    }

    /// Largest representable integer.
    pub fn q_max(&self) -> i32 {
        (1 << (self.bits - 1)) - 1
    }

    fn mask(&self) -> u32 {
        (1u32 << self.bits) - 1
    }

    /// The bit pattern (in the low [`Format::width`] bits) that stores integer `q` (clamped
    /// to range). With the flag, the complement of the B data bits plus the flag when that
    /// has fewer 1s than the plain code (ties stay plain).
    pub fn encode(&self, q: i32) -> u32 {
        let code = self.encode_data(q);
        if self.invert {
            let ones = code.count_ones();
            if self.bits - ones + 1 < ones {
                return (!code & self.mask()) | (1 << self.bits);
            }
        }
        code
    }

    fn encode_data(&self, q: i32) -> u32 {
        let q = q.clamp(self.q_min(), self.q_max());
        match self.encoding {
            Encoding::TwosComplement => (q as u32) & self.mask(),
            Encoding::SignMagnitude => {
                let sign = if q < 0 { 1u32 << (self.bits - 1) } else { 0 };
                sign | q.unsigned_abs()
            }
            Encoding::OffsetBinary => (q + (1 << (self.bits - 1))) as u32,
        }
    }

    /// The integer stored by bit pattern `code` (bits above [`Format::width`] are
    /// ignored): with the flag at 1, the data bits are complemented first. Every pattern
    /// decodes, so a device that flips bits (the flag included) still yields a valid
    /// integer.
    pub fn decode(&self, code: u32) -> i32 {
        let code = if self.invert && code & (1 << self.bits) != 0 {
            !code & self.mask()
        } else {
            code & self.mask()
        };
        let top = 1u32 << (self.bits - 1);
        match self.encoding {
            Encoding::TwosComplement => {
                if code & top != 0 {
                    code as i32 - (1i32 << self.bits)
                } else {
                    code as i32
                }
            }
            Encoding::SignMagnitude => {
                let mag = (code & (top - 1)) as i32;
                if code & top != 0 { -mag } else { mag }
            }
            Encoding::OffsetBinary => code as i32 - top as i32,
        }
    }
}

/// Rounds `x` (in units of the step) to an integer: to nearest (ties away from zero), or
/// stochastically, up with probability equal to the fractional part, using `u` in [0, 1).
#[inline]
pub fn round(x: f32, rounding: Rounding, u: f32) -> f32 {
    match rounding {
        Rounding::Nearest => x.round(),
        Rounding::Stochastic => {
            let f = floor(x);
            if u < x - f { f + 1.0 } else { f }
        }
    }
}

/// `x.floor()` for |x| < 2^31 without a call into libm (the default x86-64 target has no
/// rounding instruction). Beyond that range (and for NaN) it saturates or gives 0; callers
/// clamp to a code range far inside it, so the clamped result is the same.
#[inline]
fn floor(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x { t - 1.0 } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ENCODINGS: [Encoding; 3] = [
        Encoding::TwosComplement,
        Encoding::SignMagnitude,
        Encoding::OffsetBinary,
    ];

    #[test]
    fn ranges_and_known_patterns() {
        let f = |encoding| Format::plain(8, encoding);
        assert_eq!(
            (
                f(Encoding::TwosComplement).q_min(),
                f(Encoding::TwosComplement).q_max()
            ),
            (-128, 127)
        );
        assert_eq!(f(Encoding::SignMagnitude).q_min(), -127);
        assert_eq!(f(Encoding::TwosComplement).encode(-1), 0xFF);
        assert_eq!(f(Encoding::SignMagnitude).encode(-1), 0x81);
        assert_eq!(f(Encoding::OffsetBinary).encode(-1), 0x7F);
        assert_eq!(f(Encoding::OffsetBinary).encode(0), 0x80);
        // Sign-magnitude has two zeros.
        assert_eq!(f(Encoding::SignMagnitude).decode(0x80), 0);
    }

    #[test]
    fn inversion_flag() {
        let f = Format {
            bits: 8,
            encoding: Encoding::TwosComplement,
            invert: true,
        };
        assert_eq!(f.width(), 9);
        // -1 is 0xFF (8 ones): stored as the flag alone.
        assert_eq!(f.encode(-1), 0x100);
        assert_eq!(f.decode(0x100), -1);
        // 0x0F has 4 ones; its complement 0xF0 plus the flag has 5: stays plain.
        assert_eq!(f.encode(15), 0x0F);
        // 0x1F (5 ones) -> 0xE0 + flag (4 ones).
        assert_eq!(f.encode(31), 0x1E0);
        // A failed flag (left at 0) decodes the complemented bits as they are.
        assert_eq!(f.decode(0x0E0), -32);
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(bits in 2u32..=16, q in any::<i32>(), e in 0usize..3, invert: bool) {
            let f = Format { bits, encoding: ENCODINGS[e], invert };
            let clamped = q.clamp(f.q_min(), f.q_max());
            let code = f.encode(q);
            prop_assert!(code < (1 << f.width()));
            prop_assert_eq!(f.decode(code), clamped);
            // Inversion never stores more 1s than the plain code, and stores fewer when it
            // complements.
            let plain = Format::plain(bits, ENCODINGS[e]).encode(q);
            prop_assert!(code.count_ones() <= plain.count_ones());
            prop_assert_eq!(code != plain, code.count_ones() < plain.count_ones());
        }

        #[test]
        fn every_pattern_decodes_in_range(bits in 2u32..=16, code in any::<u32>(), e in 0usize..3, invert: bool) {
            let f = Format { bits, encoding: ENCODINGS[e], invert };
            let q = f.decode(code);
            prop_assert!(q >= f.q_min() && q <= f.q_max());
        }

        #[test]
        fn stochastic_rounding_brackets(x in -1000.0f32..1000.0, u in 0.0f32..1.0) {
            let r = round(x, Rounding::Stochastic, u);
            prop_assert!(r == x.floor() || r == x.floor() + 1.0);
        }

        #[test]
        fn fast_floor_is_floor(x in -2.0e9f32..2.0e9) {
            prop_assert_eq!(floor(x), x.floor());
            prop_assert_eq!(floor(x / 1e7), (x / 1e7).floor());
        }
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        let x = 2.3f32;
        let n = 100_000;
        let mean: f64 = (0..n)
            .map(|i| round(x, Rounding::Stochastic, crate::rng::keyed_uniform(42, i)) as f64)
            .sum::<f64>()
            / n as f64;
        // Standard error ~0.0015; 5 sigma.
        assert!((mean - 2.3).abs() < 0.008, "{mean}");
    }
}
