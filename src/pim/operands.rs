//! The operands of in-memory MACs: quantised per image to `pim.activation_bits` or
//! `pim.gradient_bits`, written into NAND-SPIN strings through the device model (an SOT
//! erase, then STT program pulses that switch with the device's probability), and read
//! back as the device holds them. A failed program pulse leaves its bit at 0, so the MAC
//! uses a value with bits cleared, exactly as the chip would.
//!
//! Quantisation: each image's operand tensor gets its own scale, `max |x| / q_max`, held
//! digitally in the periphery; values round to the nearest integer code. An operand that
//! cannot be negative (the data, or what a ReLU, a pooling of those, or a sum of those
//! gives) is unsigned: codes 0 to 2^b - 1. Others are signed, symmetric (-(2^(b-1) - 1) to
//! 2^(b-1) - 1) in `weights.encoding`'s bit layout.
//!
//! Random keys: every write draws from the streams of (seed, operand slot and layer, pass,
//! image position), so results do not depend on the number of threads; a training pass is
//! keyed on its update step, an evaluation pass on its epoch and the image's index in the
//! test set.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::{PimConfig, Slot};
use crate::config::ArchConfig;
use crate::config::arch::{Encoding, Inversion, StoreKind};
use crate::config::device::EraseMode;
use crate::device::{StringWriter, WriteCounts};
use crate::rng::key;
use crate::store::format::Format;
use crate::tech::Technology;
use crate::tech::nandspin::Nandspin;

/// Parameter indices of operand writes start here (weights use small indices), so that
/// operand and weight writes never share a random stream.
const OPERAND_PARAM_BASE: usize = 1 << 40;

/// The bit layout of one operand's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperandFormat {
    /// Bits per code.
    pub bits: u32,
    /// Whether codes can be negative.
    pub signed: bool,
    /// Bit layout of signed codes.
    pub encoding: Encoding,
}

impl OperandFormat {
    /// Largest code magnitude.
    pub fn q_max(&self) -> i32 {
        if self.signed {
            (1 << (self.bits - 1)) - 1
        } else {
            ((1u32 << self.bits) - 1) as i32
        }
    }

    fn format(&self) -> Format {
        Format::plain(self.bits, self.encoding)
    }

    fn mask(&self) -> u32 {
        ((1u64 << self.bits) - 1) as u32
    }

    /// The bit pattern of integer `q` (clamped to +-[`OperandFormat::q_max`]).
    pub fn encode(&self, q: i32) -> u32 {
        let m = self.q_max();
        let q = q.clamp(if self.signed { -m } else { 0 }, m);
        if self.signed {
            self.format().encode(q)
        } else {
            q as u32
        }
    }

    /// The integer bit pattern `code` holds (every pattern decodes).
    pub fn decode(&self, code: u32) -> i32 {
        if self.signed {
            self.format().decode(code)
        } else {
            (code & self.mask()) as i32
        }
    }

    /// Quantises `x` into `codes`; returns the scale (value of one step).
    pub fn quantise(&self, x: &[f32], codes: &mut [u32]) -> f32 {
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = peak / self.q_max() as f32;
        if scale == 0.0 || !scale.is_finite() {
            codes.fill(self.encode(0));
            return 0.0;
        }
        for (c, &v) in codes.iter_mut().zip(x) {
            *c = self.encode((v / scale).round() as i32);
        }
        scale
    }
}

/// What one pass over the network is, for the random keys of its operand writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// A training batch, at update step `step` (from 1).
    Train { step: u64 },
    /// An evaluation batch of epoch `epoch`, whose first image is `first_image` of the set.
    Eval { epoch: u32, first_image: u64 },
}

impl Pass {
    /// The key of the write of image `n` of the batch.
    fn image_key(self, n: usize) -> u64 {
        match self {
            Pass::Train { step } => key(&[0, step, n as u64]),
            Pass::Eval { epoch, first_image } => {
                key(&[1, u64::from(epoch), first_image + n as u64])
            }
        }
    }
}

/// The operand writes of a run in PIM mode: formats, the device writers (none when the
/// writes are exact), the codes the operand strings hold, and the activity of the
/// current training batch.
#[derive(Debug, Clone)]
pub struct Operands {
    /// Whether the MACs of FW, AG and WG run in memory.
    pub fw: bool,
    /// See `fw`.
    pub ag: bool,
    /// See `fw`.
    pub wg: bool,
    activation_bits: u32,
    gradient_bits: u32,
    encoding: Encoding,
    /// Writers of activation and gradient codes (`None`: exact writes).
    writers: Option<(StringWriter, StringWriter)>,
    /// With exact writes on NAND-SPIN strings: what an exact write of an activation or
    /// gradient string costs.
    exact: Option<(Nandspin, Nandspin)>,
    pass: Pass,
    /// Per (layer, slot): the codes its strings hold, image after image.
    held: BTreeMap<(usize, Slot), Vec<u32>>,
    /// Per (layer, slot): the write activity of the current training batch.
    counts: BTreeMap<(usize, Slot), OperandBatch>,
}

/// The writes of one operand of one layer in one training batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperandBatch {
    /// Values written.
    pub values: u64,
    /// Bits per value.
    pub bits: u32,
    /// Device activity and energy.
    pub counts: WriteCounts,
    /// The same writes per channel of the operand (over the batch's images), so that the
    /// chip model can cost the copies each subarray needs ([`super::coverage`]).
    pub channels: Vec<ChannelWrites>,
}

impl OperandBatch {
    /// The writes a subarray that needs channels `ranges` copies: every string holding a
    /// code of one of those channels, including a string that starts in an earlier
    /// channel and runs on into one of them.
    pub fn copy_for(&self, ranges: &[std::ops::Range<u64>]) -> ChannelWrites {
        let n = self.channels.len() as u64;
        let mut ranges: Vec<std::ops::Range<u64>> = ranges
            .iter()
            .map(|r| r.start.min(n)..r.end.min(n))
            .filter(|r| !r.is_empty())
            .collect();
        ranges.sort_by_key(|r| r.start);
        let mut w = ChannelWrites::default();
        let mut next = 0;
        for r in &ranges {
            // Back over the strings that start before the range and run on into it (and
            // over channels whose codes all sit in such strings): their reach only grows.
            let mut lo = r.start;
            while lo > next {
                let ch = &self.channels[lo as usize - 1];
                if ch.values == 0 || ch.reach > r.start {
                    lo -= 1;
                } else {
                    break;
                }
            }
            for u in lo.max(next)..r.end {
                w.add(&self.channels[u as usize]);
            }
            next = next.max(r.end);
        }
        w
    }
}

/// The writes of one channel of an operand (every image of a batch): a string belongs to
/// the channel of its first code.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChannelWrites {
    /// One past the last channel whose codes these strings hold (a string may run on into
    /// the next channels); 0 when there are none.
    pub reach: u64,
    /// Values written.
    pub values: u64,
    /// Strings written (0 for the ideal stores, which have none).
    pub strings: u64,
    /// Sum of the strings' write durations (erase, program pulses, verify reads), in ps.
    pub busy_ps: u64,
    /// Longest string write, in ps.
    pub longest_ps: u64,
    /// Erase, program and verify energy, in pJ.
    pub energy_pj: f64,
    /// Program pulses that failed.
    pub failures: u64,
}

impl ChannelWrites {
    /// Adds `o`'s writes to these.
    pub fn add(&mut self, o: &ChannelWrites) {
        self.reach = self.reach.max(o.reach);
        self.values += o.values;
        self.strings += o.strings;
        self.busy_ps += o.busy_ps;
        self.longest_ps = self.longest_ps.max(o.longest_ps);
        self.energy_pj += o.energy_pj;
        self.failures += o.failures;
    }

    fn of(
        reach: usize,
        values: usize,
        counts: &WriteCounts,
        durations: impl Iterator<Item = u64>,
    ) -> Self {
        let mut w = Self {
            reach: reach as u64,
            values: values as u64,
            energy_pj: counts.erase_energy_pj + counts.program_energy_pj + counts.read_energy_pj,
            failures: counts.program_failures,
            ..Self::default()
        };
        for d in durations {
            w.strings += 1;
            w.busy_ps += d;
            w.longest_ps = w.longest_ps.max(d);
        }
        w
    }
}

impl Operands {
    /// The operand writes `arch` describes (`tile.compute = "pim"`), with every random
    /// outcome keyed on `seed`. With the `nandspin` store and `pim.exact_operands = false`
    /// the writes go through the device; otherwise they are exact.
    pub fn new(arch: &ArchConfig, seed: u64) -> Self {
        let p = &arch.pim;
        let strings = arch.weights.store == StoreKind::Nandspin;
        let writers = (strings && !p.exact_operands).then(|| {
            (
                writer(arch, p, p.activation_bits, seed),
                writer(arch, p, p.gradient_bits, seed),
            )
        });
        let exact = (strings && p.exact_operands).then(|| {
            (
                Nandspin::new(&operand_arch(arch, p, p.activation_bits)),
                Nandspin::new(&operand_arch(arch, p, p.gradient_bits)),
            )
        });
        Self {
            fw: p.runs("FW"),
            ag: p.runs("AG"),
            wg: p.runs("WG"),
            activation_bits: p.activation_bits,
            gradient_bits: p.gradient_bits,
            encoding: arch.weights.encoding,
            writers,
            exact,
            pass: Pass::Train { step: 1 },
            held: BTreeMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Sets what the next forward and backward pass are; a training pass starts a new
    /// batch's activity.
    pub fn set_pass(&mut self, pass: Pass) {
        if matches!(pass, Pass::Train { .. }) {
            self.counts.clear();
        }
        self.pass = pass;
    }

    /// The writes of the current training batch, per (layer, slot).
    pub fn batch_counts(&self) -> &BTreeMap<(usize, Slot), OperandBatch> {
        &self.counts
    }

    /// The format of slot `slot`'s operand; `signed` says whether an activation can be
    /// negative (gradients always can).
    pub fn format(&self, slot: Slot, signed: bool) -> OperandFormat {
        match slot {
            Slot::FwInput | Slot::WgInput => OperandFormat {
                bits: self.activation_bits,
                signed,
                encoding: self.encoding,
            },
            Slot::AgGradient | Slot::WgGradient => OperandFormat {
                bits: self.gradient_bits,
                signed: true,
                encoding: self.encoding,
            },
        }
    }

    /// Writes operand `x` (`n` images, `(C, N, plane)` layout as in [`crate::nn::tensor::Act`]
    /// data) of `layer` into slot `slot` and puts what the strings hold, dequantised, in
    /// `out` (same layout).
    pub fn write(
        &mut self,
        layer: usize,
        slot: Slot,
        signed: bool,
        (x, c, n, plane): (&[f32], usize, usize, usize),
        out: &mut Vec<f32>,
    ) {
        let f = self.format(slot, signed);
        let len = c * plane;
        let held = self.held.entry((layer, slot)).or_default();
        held.resize(held.len().max(n * len), f.encode(0));
        let pass = self.pass;
        let gradient = matches!(slot, Slot::AgGradient | Slot::WgGradient);
        let writer = self
            .writers
            .as_ref()
            .map(|(a, g)| if gradient { g } else { a });
        let exact = self
            .exact
            .as_ref()
            .map(|(a, g)| if gradient { g } else { a });
        let param = OPERAND_PARAM_BASE + layer * 4 + slot as usize;
        // Codes per string: channel `ch`'s strings are those whose first code is in it,
        // codes bounds[ch]..bounds[ch + 1] (string boundaries, so that writing channel by
        // channel draws what writing the image whole would).
        let per = match (writer, exact) {
            (Some(w), _) => w.layout().weights_per_string(),
            (None, Some(t)) => t.layout().weights_per_string(),
            (None, None) => 1,
        };
        let bounds: Vec<usize> = (0..=c)
            .map(|ch| ((ch * plane).div_ceil(per) * per).min(len))
            .collect();
        // One image at a time, in parallel: each draws from its own keyed streams.
        let per_image: Vec<(f32, WriteCounts, Vec<ChannelWrites>)> = held[..n * len]
            .par_chunks_mut(len.max(1))
            .enumerate()
            .map(|(img, stored)| {
                let mut vals = Vec::with_capacity(len);
                for ch in 0..c {
                    let at = (ch * n + img) * plane;
                    vals.extend_from_slice(&x[at..at + plane]);
                }
                let mut codes = vec![0u32; len];
                let scale = f.quantise(&vals, &mut codes);
                let mut counts = WriteCounts::default();
                let mut channels = Vec::with_capacity(c);
                let mut log = Vec::new();
                for ch in 0..c {
                    let r = bounds[ch]..bounds[ch + 1];
                    if r.is_empty() {
                        // Every code of this channel sits in strings of earlier channels.
                        channels.push(ChannelWrites::default());
                        continue;
                    }
                    let mut part = WriteCounts::default();
                    let reach = r.end.div_ceil(plane);
                    let w = match writer {
                        Some(w) => {
                            log.clear();
                            w.write(
                                param,
                                pass.image_key(img),
                                r.start,
                                &mut stored[r.clone()],
                                &codes[r.clone()],
                                &mut part,
                                &mut log,
                            );
                            let d = log.iter().map(|s| s.duration_ps);
                            ChannelWrites::of(reach, r.len(), &part, d)
                        }
                        None => {
                            stored[r.clone()].copy_from_slice(&codes[r.clone()]);
                            let d = exact_write(&f, exact, &codes[r.clone()], &mut part);
                            ChannelWrites::of(reach, r.len(), &part, d.into_iter())
                        }
                    };
                    channels.push(w);
                    counts.add(&part);
                }
                (scale, counts, channels)
            })
            .collect();
        out.resize(x.len(), 0.0);
        for (img, (scale, _, _)) in per_image.iter().enumerate() {
            let stored = &held[img * len..(img + 1) * len];
            for ch in 0..c {
                let at = (ch * n + img) * plane;
                for (o, &code) in out[at..at + plane]
                    .iter_mut()
                    .zip(&stored[ch * plane..(ch + 1) * plane])
                {
                    *o = f.decode(code) as f32 * scale;
                }
            }
        }
        if matches!(pass, Pass::Train { .. }) {
            let total = self.counts.entry((layer, slot)).or_default();
            total.values += (n * len) as u64;
            total.bits = f.bits;
            total.channels.resize(c, ChannelWrites::default());
            for (_, counts, channels) in &per_image {
                total.counts.add(counts);
                for (t, w) in total.channels.iter_mut().zip(channels) {
                    t.add(w);
                }
            }
        }
    }
}

/// Counts what an exact write of `codes` does: every string erased and each 1 programmed
/// by one pulse that switches; on NAND-SPIN strings (`tech`), with the energy and duration
/// of each string's write, which it returns.
fn exact_write(
    f: &OperandFormat,
    tech: Option<&Nandspin>,
    codes: &[u32],
    counts: &mut WriteCounts,
) -> Vec<u64> {
    let ones: u64 = codes.iter().map(|c| u64::from(c.count_ones())).sum();
    counts.bits_written += codes.len() as u64 * u64::from(f.bits);
    counts.program_pulses += ones;
    counts.switches += ones;
    let Some(t) = tech else {
        counts.strings_written += codes.len() as u64;
        counts.erase_pulses += codes.len() as u64;
        return Vec::new();
    };
    let layout = t.layout();
    let per = layout.weights_per_string().max(1);
    let m = layout.strings_per_weight();
    let mask = if m == 1 {
        u32::MAX
    } else {
        ((1u64 << layout.mtjs) - 1) as u32
    };
    let mut durations = Vec::new();
    for chunk in codes.chunks(per) {
        // A code wider than a string spans `m` strings, each holding its share of the bits.
        for s in 0..m {
            let shift = s as u32 * layout.mtjs;
            let ones: u64 = chunk
                .iter()
                .map(|c| u64::from(((c >> shift) & mask).count_ones()))
                .sum();
            let fill = t.fill_unit(ones, u64::from(layout.mtjs));
            counts.strings_written += 1;
            counts.erase_pulses += 1;
            counts.erase_energy_pj += fill.erase_pj.unwrap_or(0.0);
            counts.program_energy_pj += fill.pulses as f64 * fill.pulse_pj;
            counts.write_time_ps += fill.duration_ps;
            durations.push(fill.duration_ps);
        }
    }
    durations
}

/// The string writer of `bits`-bit operand codes: the arch's device, strings and verify
/// policy, `pim.write_pulse_ns`, every string erased and programmed whole.
fn writer(arch: &ArchConfig, p: &PimConfig, bits: u32, seed: u64) -> StringWriter {
    StringWriter::new(&operand_arch(arch, p, bits), seed)
}

/// `arch` with its weight format and write policy replaced by those of `bits`-bit operand
/// codes.
fn operand_arch(arch: &ArchConfig, p: &PimConfig, bits: u32) -> ArchConfig {
    let mut a = arch.clone();
    a.update.program_pulse_ns = p.pulse_widths(arch).clone();
    a.weights.bits = bits;
    a.weights.invert = Inversion::None;
    a.update.skip_unchanged = false;
    a.update.erase = EraseMode::Always;
    a.update.write_threshold_lsb = 1;
    a.update.verify_bits = a.update.verify_bits.min(bits);
    a
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use super::*;
    use crate::config::device::SwitchingModel;
    use crate::config::hw::Compute;
    use crate::tech::UnitFill;

    fn arch(p_switch: f64, exact: bool) -> ArchConfig {
        let mut a = ArchConfig::default();
        a.tile.compute = Compute::Pim;
        a.device.switching = SwitchingModel::Fixed;
        a.device.fixed_pulse_ns = vec![3.0];
        a.device.fixed_p_switch = vec![p_switch];
        a.pim.exact_operands = exact;
        a
    }

    #[test]
    fn quantisation_rounds_to_the_nearest_step_of_each_image_s_scale() {
        let f = OperandFormat {
            bits: 4,
            signed: false,
            encoding: Encoding::TwosComplement,
        };
        let mut codes = [0; 4];
        let s = f.quantise(&[0.0, 1.5, 0.49, 0.51], &mut codes);
        assert_eq!(s, 0.1);
        assert_eq!(codes, [0, 15, 5, 5]);
        let g = OperandFormat { signed: true, ..f };
        let s = g.quantise(&[-0.7, 0.35, 0.0, 0.05], &mut codes);
        assert_eq!(s, 0.1);
        let q: Vec<i32> = codes.iter().map(|&c| g.decode(c)).collect();
        assert_eq!(q, [-7, 4, 0, 1]);
        assert_eq!(g.quantise(&[0.0; 4], &mut codes), 0.0);
        assert!(codes.iter().all(|&c| g.decode(c) == 0));
    }

    /// `x` as one channel of `n` images of `plane` values.
    fn write(ops: &mut Operands, x: &[f32], n: usize) -> Vec<f32> {
        let mut out = Vec::new();
        ops.write(3, Slot::FwInput, false, (x, 1, n, x.len() / n), &mut out);
        out
    }

    #[test]
    fn certain_switching_and_exact_writes_hold_the_quantised_operand() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin().abs()).collect();
        let mut want = Vec::new();
        let mut exact = Operands::new(&arch(0.5, true), 1);
        exact.write(3, Slot::FwInput, false, (&x, 1, 2, 32), &mut want);
        let mut certain = Operands::new(&arch(1.0, false), 1);
        assert_eq!(write(&mut certain, &x, 2), want);
        // Each image has its own scale: its largest value comes back exactly.
        for img in want.chunks(32).zip(x.chunks(32)) {
            let peak = img.1.iter().fold(0.0f32, |m, v| m.max(*v));
            assert!(img.0.iter().any(|v| (v - peak).abs() < 1e-6));
        }
        let c = certain.batch_counts()[&(3, Slot::FwInput)].counts.clone();
        assert_eq!(c.bits_written, 64 * 8);
        assert_eq!(c.program_failures, 0);
        assert_eq!(c.strings_written, 64);
        let e = exact.batch_counts()[&(3, Slot::FwInput)].counts.clone();
        assert_eq!(
            (e.bits_written, e.program_pulses),
            (c.bits_written, c.program_pulses)
        );
    }

    #[test]
    fn exact_writes_on_strings_cost_an_erase_and_the_ones_of_each_string() {
        for (bits, codes, strings) in [
            // One 8-bit code per 8-MTJ string.
            (8u32, vec![0b1011_0001u32, 0, 0xFF], vec![4u64, 0, 8]),
            // Two 4-bit codes per string: the ones of both.
            (4, vec![0b1011, 0b0001, 0b0111], vec![4, 3]),
            // A 16-bit code over two strings: low byte, then high byte.
            (16, vec![0x0301, 0xFF00], vec![1, 2, 0, 8]),
        ] {
            let mut a = arch(1.0, true);
            a.pim.activation_bits = bits;
            let tech = Nandspin::new(&operand_arch(&a, &a.pim, bits));
            let f = OperandFormat {
                bits,
                signed: false,
                encoding: Encoding::TwosComplement,
            };
            let mut c = WriteCounts::default();
            let d = exact_write(&f, Some(&tech), &codes, &mut c);
            let fills: Vec<UnitFill> = strings.iter().map(|&o| tech.fill_unit(o, 8)).collect();
            assert_eq!(
                d,
                fills.iter().map(|u| u.duration_ps).collect::<Vec<_>>(),
                "{bits}"
            );
            let n = strings.len() as u64;
            assert_eq!((c.strings_written, c.erase_pulses), (n, n));
            assert_eq!(c.bits_written, codes.len() as u64 * u64::from(bits));
            let ones: u64 = strings.iter().sum();
            assert_eq!((c.program_pulses, c.switches), (ones, ones));
            let erase: f64 = fills.iter().map(|u| u.erase_pj.unwrap()).sum();
            let program: f64 = fills.iter().map(|u| u.pulses as f64 * u.pulse_pj).sum();
            assert!((c.erase_energy_pj - erase).abs() < 1e-12 && erase > 0.0);
            assert!((c.program_energy_pj - program).abs() < 1e-12);
            assert_eq!(c.write_time_ps, d.iter().sum::<u64>());
            // More ones take longer: the empty string is the shortest.
            assert!(d.iter().min() < d.iter().max());
        }
    }

    #[test]
    fn each_string_is_counted_in_the_channel_of_its_first_code() {
        // 2 images of 3 channels of 5 values, 4-bit codes two to a string: per image,
        // channel 0 has the strings of codes 0-1, 2-3, 4-5, channel 1 of 6-7, 8-9, channel
        // 2 of 10-11, 12-13, 14.
        let mut a = arch(0.5, false);
        a.pim.activation_bits = 4;
        // Verify reads, so that every part of the energy is there.
        a.update.verify_bits = 1;
        let x: Vec<f32> = (0..30).map(|i| ((i * 37) % 11) as f32 / 10.0).collect();
        let mut ops = Operands::new(&a, 3);
        let mut out = Vec::new();
        ops.write(1, Slot::FwInput, false, (&x, 3, 2, 5), &mut out);
        let b = &ops.batch_counts()[&(1, Slot::FwInput)];
        let ch = &b.channels;
        assert_eq!(ch.iter().map(|c| c.values).collect::<Vec<_>>(), [12, 8, 10]);
        assert_eq!(ch.iter().map(|c| c.strings).collect::<Vec<_>>(), [6, 4, 6]);
        let sum = |f: fn(&ChannelWrites) -> u64| ch.iter().map(f).sum::<u64>();
        assert_eq!(sum(|c| c.values), b.values);
        assert_eq!(sum(|c| c.strings), b.counts.strings_written);
        assert_eq!(sum(|c| c.busy_ps), b.counts.write_time_ps);
        assert_eq!(sum(|c| c.failures), b.counts.program_failures);
        assert!(sum(|c| c.failures) > 0);
        let c = &b.counts;
        assert!(c.erase_energy_pj > 0.0 && c.program_energy_pj > 0.0 && c.read_energy_pj > 0.0);
        let e = c.erase_energy_pj + c.program_energy_pj + c.read_energy_pj;
        let got: f64 = ch.iter().map(|c| c.energy_pj).sum();
        assert!((got - e).abs() < 1e-9 * e);
        assert!(
            ch.iter()
                .all(|c| c.longest_ps > 0 && c.longest_ps <= c.busy_ps)
        );
        // A second batch adds to the channels.
        ops.write(1, Slot::FwInput, false, (&x, 3, 2, 5), &mut out);
        let again = &ops.batch_counts()[&(1, Slot::FwInput)].channels;
        assert_eq!(again[1].values, 16);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // lists of channel ranges, some of one
    fn a_copy_takes_every_string_that_holds_a_needed_channel() {
        // 10 channels of one value, four codes to a string: strings of channels 0-3, 4-7
        // and 8-9, each counted in its first channel.
        let mut a = arch(1.0, false);
        a.pim.gradient_bits = 2;
        let x: Vec<f32> = (0..10).map(|i| i as f32 - 4.5).collect();
        let mut ops = Operands::new(&a, 3);
        let mut out = Vec::new();
        ops.write(2, Slot::AgGradient, true, (&x, 10, 1, 1), &mut out);
        let b = &ops.batch_counts()[&(2, Slot::AgGradient)];
        let reach: Vec<u64> = b.channels.iter().map(|c| c.reach).collect();
        assert_eq!(reach, [4, 0, 0, 0, 8, 0, 0, 0, 10, 0]);
        let copy = |r: &[Range<u64>]| {
            let w = b.copy_for(r);
            (w.values, w.strings)
        };
        assert_eq!(copy(&[3..4]), (4, 1));
        assert_eq!(copy(&[3..5]), (8, 2));
        assert_eq!(copy(&[5..7]), (4, 1));
        assert_eq!(copy(&[9..10]), (2, 1));
        assert_eq!(copy(&[0..10]), (10, 3));
        // Two ranges sharing a string count it once; empty and out-of-range ones nothing.
        assert_eq!(copy(&[8..10, 1..3]), (6, 2));
        assert_eq!(copy(&[6..7, 5..6]), (4, 1));
        assert_eq!(copy(&[4..4, 12..20]), (0, 0));
        assert_eq!(copy(&[]), (0, 0));
        let all = b.copy_for(&[0..10]);
        assert_eq!(all.busy_ps, b.counts.write_time_ps);
    }

    #[test]
    fn certain_writes_give_back_each_image_s_channels_in_place() {
        // 2 images of 3 channels of 5 values, (C, N, plane) layout: each value comes back
        // within half a step of its image's scale, in its own place.
        let x: Vec<f32> = (0..30)
            .map(|i| ((i * 37) % 23) as f32 * (1.0 + (i / 5) as f32))
            .collect();
        let mut ops = Operands::new(&arch(1.0, false), 1);
        let mut out = Vec::new();
        ops.write(1, Slot::FwInput, false, (&x, 3, 2, 5), &mut out);
        for img in 0..2 {
            let at = |ch: usize, v: usize| (ch * 2 + img) * 5 + v;
            let peak = (0..15).map(|k| x[at(k / 5, k % 5)]).fold(0.0f32, f32::max);
            let step = peak / 255.0;
            for k in 0..15 {
                let i = at(k / 5, k % 5);
                assert!((out[i] - x[i]).abs() <= step / 2.0 + 1e-4, "{img} {k}");
            }
        }
    }

    #[test]
    fn each_layer_and_slot_draws_from_its_own_streams() {
        let x: Vec<f32> = (0..128).map(|i| ((i * 7919) % 97) as f32 / 96.0).collect();
        let mut ops = Operands::new(&arch(0.5, false), 1);
        let mut seen: Vec<Vec<f32>> = Vec::new();
        for (layer, slot) in [
            (1, Slot::FwInput),
            (1, Slot::WgInput),
            (2, Slot::FwInput),
            (3, Slot::FwInput),
            (0, Slot::FwInput),
            (0, Slot::WgInput),
        ] {
            let mut out = Vec::new();
            ops.write(layer, slot, false, (&x, 1, 2, 64), &mut out);
            assert!(
                !seen.contains(&out),
                "layer {layer} {slot:?} repeats a draw"
            );
            seen.push(out);
        }
    }

    #[test]
    fn failed_pulses_only_clear_bits_and_the_draws_are_keyed() {
        let x: Vec<f32> = (0..256).map(|i| ((i * 7919) % 97) as f32 / 96.0).collect();
        let mut exact = Operands::new(&arch(0.5, true), 1);
        let want = write(&mut exact, &x, 4);
        let mut dev = Operands::new(&arch(0.5, false), 1);
        let got = write(&mut dev, &x, 4);
        assert_ne!(got, want);
        // Unsigned codes with bits cleared: never above the exact value.
        assert!(got.iter().zip(&want).all(|(g, w)| g <= w));
        let c = dev.batch_counts()[&(3, Slot::FwInput)].counts.clone();
        let failed = c.program_failures as f64 / c.program_pulses as f64;
        assert!((0.4..0.6).contains(&failed), "{failed}");
        // The same pass draws the same; another step draws anew; a different image
        // position draws its own.
        let mut again = Operands::new(&arch(0.5, false), 1);
        assert_eq!(write(&mut again, &x, 4), got);
        again.set_pass(Pass::Train { step: 2 });
        assert_ne!(write(&mut again, &x, 4), got);
        let mut one = Operands::new(&arch(0.5, false), 1);
        assert_eq!(write(&mut one, &x[..64], 1), got[..64]);
    }
}
