//! Which operand values a subarray needs. An in-memory AND takes both operands from rows of
//! the same subarray, so every subarray holding a part of a layer's weights gets its own
//! copy of the operand values those weights meet: the input channels of its weights for
//! the activations (FW, WG), the outputs they feed for the output gradients (AG, WG). A
//! subarray that holds a few kernel positions of one output channel of a convolution still
//! needs that input channel's whole plane, for every image of the batch.
//!
//! A layer's weight tensor is held row by row (`outputs` rows of `fan_in` codes, the
//! layout of [`crate::nn`]: out x in for dense layers, out x C x k x k for convolutions),
//! and each subarray holds a contiguous range of its codes ([`crate::sched::map`]).

use std::ops::Range;

/// A layer's weights as its strings hold them: `outputs` rows of `fan_in` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightRows {
    /// Rows: output channels of a convolution, output features of a dense layer.
    pub outputs: u64,
    /// Codes per row: C x k x k for a convolution, the input length of a dense layer.
    pub fan_in: u64,
}

/// Channel ranges of an operand (at most two: a range of codes that wraps from the end of
/// one row to the start of the next).
pub type Channels = [Range<u64>; 2];

impl WeightRows {
    /// The rows that codes `codes` belong to: the output channels whose gradient a
    /// subarray holding those codes needs.
    pub fn outputs_of(&self, codes: Range<u64>) -> Range<u64> {
        if codes.is_empty() || self.fan_in == 0 {
            return 0..0;
        }
        let last = (codes.end - 1).min(self.outputs * self.fan_in - 1);
        codes.start / self.fan_in..last / self.fan_in + 1
    }

    /// The input channels, of an operand with `channels` channels, that codes `codes`
    /// meet: each row holds `fan_in / channels` consecutive codes per input channel. Every
    /// channel when that does not divide (a layout this model does not know), or when the
    /// codes cover a whole row.
    pub fn inputs_of(&self, codes: Range<u64>, channels: u64) -> Channels {
        let all = [0..channels, 0..0];
        if codes.is_empty() || channels == 0 {
            return [0..0, 0..0];
        }
        if self.fan_in == 0
            || !self.fan_in.is_multiple_of(channels)
            || codes.end - codes.start >= self.fan_in
        {
            return all;
        }
        let per = self.fan_in / channels;
        let first = (codes.start % self.fan_in) / per;
        let last = ((codes.end - 1) % self.fan_in) / per;
        if codes.start / self.fan_in == (codes.end - 1) / self.fan_in {
            [first..last + 1, 0..0]
        } else if last + 1 >= first {
            all
        } else {
            [first..channels, 0..last + 1]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // conv2 of LeNet-5: 16 rows of 6 channels x 25 kernel positions.
    const CONV: WeightRows = WeightRows {
        outputs: 16,
        fan_in: 150,
    };

    #[test]
    fn codes_within_a_row_meet_the_channels_of_their_kernel_positions() {
        // Codes 0-37: channel 0 (0-24) and channel 1 (25-37) of output 0.
        assert_eq!(CONV.inputs_of(0..38, 6), [0..2, 0..0]);
        assert_eq!(CONV.outputs_of(0..38), 0..1);
        // Codes 50-74: channel 2 alone.
        assert_eq!(CONV.inputs_of(50..75, 6), [2..3, 0..0]);
        assert_eq!(CONV.inputs_of(50..76, 6), [2..4, 0..0]);
        // A single code.
        assert_eq!(CONV.inputs_of(149..150, 6), [5..6, 0..0]);
        assert_eq!(CONV.outputs_of(149..150), 0..1);
    }

    #[test]
    fn codes_across_a_row_end_meet_the_end_and_the_start_of_the_row() {
        // Codes 140-159: channel 5 of output 0, channel 0 of output 1.
        assert_eq!(CONV.inputs_of(140..160, 6), [5..6, 0..1]);
        assert_eq!(CONV.outputs_of(140..160), 0..2);
        // 125-175: channel 5, then channels 0 and 1 (150-174): still not all.
        assert_eq!(CONV.inputs_of(125..175, 6), [5..6, 0..1]);
        assert_eq!(CONV.inputs_of(125..176, 6), [5..6, 0..2]);
        // The two ends meet: every channel.
        assert_eq!(CONV.inputs_of(60..210, 6), [0..6, 0..0]);
        assert_eq!(CONV.inputs_of(75..200, 6), [3..6, 0..2]);
        assert_eq!(CONV.inputs_of(75..225, 6), [0..6, 0..0]);
    }

    #[test]
    fn a_whole_row_or_an_unknown_layout_meets_every_channel() {
        assert_eq!(CONV.inputs_of(0..150, 6), [0..6, 0..0]);
        assert_eq!(CONV.inputs_of(7..157, 6), [0..6, 0..0]);
        assert_eq!(CONV.outputs_of(0..150), 0..1);
        assert_eq!(CONV.outputs_of(0..151), 0..2);
        assert_eq!(CONV.inputs_of(0..10, 7), [0..7, 0..0]);
        // A dense layer whose input is one channel of 784 values, or 784 channels of one.
        let dense = WeightRows {
            outputs: 10,
            fan_in: 784,
        };
        assert_eq!(dense.inputs_of(0..10, 1), [0..1, 0..0]);
        assert_eq!(dense.inputs_of(780..790, 784), [780..784, 0..6]);
        // Codes past the tensor (biases held after it) add no row.
        assert_eq!(dense.outputs_of(7830..7850), 9..10);
        assert_eq!(dense.outputs_of(5..5), 0..0);
        assert_eq!(dense.inputs_of(5..5, 784), [0..0, 0..0]);
    }
}
