//! Words of one-bit cells, written bit by bit in both directions: the write of STT-MRAM,
//! SOT-MRAM and SRAM. Each code is a word of its own cells (the unit the chip model
//! schedules). A word whose code changed is written: with read-before-write, its cells are
//! sensed first and only the differing ones get a pulse; otherwise every cell gets one. A
//! pulse switches its cell with the probability of its direction (set: 0 -> 1, reset:
//! 1 -> 0) at its bit's width; a failed pulse leaves the old bit, so errors go both ways.
//! The cells of a word are pulsed in parallel: a word's write lasts its read, if any, and
//! its longest pulse.

use std::sync::Arc;

use super::{BitWrite, CellWriter, Technology, UnitFill};
use crate::device::string::{SwitchTimes, differs, draw_index};
use crate::device::variation::percentile;
use crate::device::{Layout, StringWrite, WriteCounts};
use crate::rng::{Purpose, key, keyed_u53};
use crate::store::format::Format;

/// A memory of words of one-bit cells (STT-MRAM, SOT-MRAM, SRAM): what its module builds
/// from the arch.
#[derive(Debug, Clone)]
pub struct WordTech {
    /// The `weights.store` name.
    pub(crate) name: &'static str,
    /// One code per word.
    pub(crate) layout: Layout,
    /// Duration of one read, in ns.
    pub(crate) read_ns: f64,
    /// Area of one cell, in F².
    pub(crate) cell_area_f2: f64,
    /// Leakage of one cell, in nW.
    pub(crate) leakage_nw_per_cell: f64,
    /// The writer, with seed 0 (each run's takes its seed).
    pub(crate) writer: WordWriter,
}

impl Technology for WordTech {
    fn name(&self) -> &'static str {
        self.name
    }
    fn layout(&self) -> Layout {
        self.layout
    }
    fn read_bit_pj(&self) -> f64 {
        self.writer.read_bit_pj
    }
    fn cell_area_f2(&self) -> f64 {
        self.cell_area_f2
    }
    fn read_ns(&self) -> f64 {
        self.read_ns
    }
    fn leakage_nw_per_cell(&self) -> f64 {
        self.leakage_nw_per_cell
    }
    fn fill_unit(&self, _ones: u64, bits: u64) -> UnitFill {
        self.writer.fill(bits)
    }
    fn writer(&self, seed: u64, _lens: &[Option<usize>]) -> Arc<dyn CellWriter> {
        Arc::new(WordWriter {
            seed,
            ..self.writer.clone()
        })
    }
}

/// One direction of every bit position's pulse (index 0 = LSB, the flag last).
#[derive(Debug, Clone)]
pub(crate) struct Direction {
    /// Per bit position.
    pub bits: Vec<BitWrite>,
    /// Switching-time tables per bit position, when a switched pulse's energy depends on
    /// when it switched (`None`: it does not).
    pub times: Option<Vec<SwitchTimes>>,
    /// P(switch) per bit position.
    pub p_switch: Vec<f64>,
}

/// Writes words of one-bit cells.
#[derive(Debug, Clone)]
pub(crate) struct WordWriter {
    pub format: Format,
    /// `update.write_threshold_lsb`.
    pub threshold: u32,
    /// `update.skip_unchanged`.
    pub skip_unchanged: bool,
    /// Sense the word and pulse only the differing cells.
    pub read_before_write: bool,
    pub read_bit_pj: f64,
    pub read_ps: u64,
    /// 0 -> 1 pulses.
    pub set: Direction,
    /// 1 -> 0 pulses.
    pub reset: Direction,
    pub seed: u64,
}

impl WordWriter {
    /// Swapping a word in over content the chip does not know: with read-before-write,
    /// a read of the word and a pulse on half its cells (taken to differ); otherwise a
    /// pulse on each. A pulse costs the mean of both directions' expected energies.
    pub fn fill(&self, bits: u64) -> UnitFill {
        let n = self.set.bits.len();
        let pj: f64 = self
            .set
            .bits
            .iter()
            .zip(&self.set.p_switch)
            .chain(self.reset.bits.iter().zip(&self.reset.p_switch))
            .map(|(b, &p)| p * b.base_pj + (1.0 - p) * b.fail_pj)
            .sum::<f64>()
            / (2 * n) as f64;
        let longest = self.set.bits.iter().map(|b| b.pulse_ps).max().unwrap_or(0);
        let (pulses, bits_read, read_ps) = if self.read_before_write {
            (bits.div_ceil(2), bits, self.read_ps)
        } else {
            (bits, 0, 0)
        };
        UnitFill {
            erase_pj: None,
            pulses,
            pulse_pj: pj,
            bits_read,
            duration_ps: read_ps + longest,
        }
    }
}

impl CellWriter for WordWriter {
    fn layout(&self) -> Layout {
        let w = self.format.width();
        Layout { bits: w, mtjs: w }
    }

    fn write(
        &self,
        param: usize,
        step: u64,
        base: usize,
        stored: &mut [u32],
        new: &[u32],
        counts: &mut WriteCounts,
        log: &mut Vec<StringWrite>,
    ) {
        let width = self.format.width();
        // At most 17 cells (16 bits and the inversion flag).
        let mask = (1u32 << width) - 1;
        let threshold = if step == 0 { 1 } else { self.threshold };
        let draw_key = key(&[self.seed, Purpose::Program as u64, param as u64, step]);
        let (mut program_pj, mut reads) = (0.0, 0u64);
        for e in 0..stored.len() {
            let (old, want) = (stored[e], new[e]);
            if self.skip_unchanged && !differs(&self.format, threshold, old, want, mask) {
                counts.strings_skipped += 1;
                continue;
            }
            counts.strings_written += 1;
            counts.bits_written += u64::from(width);
            let mut time_ps = 0;
            let mut todo = if self.read_before_write {
                reads += u64::from(width);
                time_ps += self.read_ps;
                (old ^ want) & mask
            } else {
                mask
            };
            let mut longest = 0;
            while todo != 0 {
                let b = todo.trailing_zeros();
                todo &= todo - 1;
                let to_one = want >> b & 1 == 1;
                let dir = if to_one { &self.set } else { &self.reset };
                let bw = &dir.bits[b as usize];
                counts.program_pulses += 1;
                longest = longest.max(bw.pulse_ps);
                if (old >> b & 1 == 1) == to_one {
                    // Already in the target state: the pulse only costs energy.
                    program_pj += bw.base_pj;
                    continue;
                }
                let n = keyed_u53(draw_key, draw_index(base + e, b, 0));
                if n < bw.threshold {
                    stored[e] ^= 1 << b;
                    counts.switches += 1;
                    program_pj += bw.base_pj;
                    if let Some(t) = &dir.times {
                        program_pj +=
                            bw.slope_pj_per_ns * t[b as usize].sample(n as f64 * bw.inv_threshold);
                    }
                } else {
                    counts.program_failures += 1;
                    program_pj += bw.fail_pj;
                }
            }
            time_ps += longest;
            counts.program_time_ps += longest;
            counts.write_time_ps += time_ps;
            counts.bit_errors += u64::from(((stored[e] ^ want) & mask).count_ones());
            log.push(StringWrite {
                string: (base + e) as u32,
                duration_ps: time_ps,
            });
        }
        counts.bits_read += reads;
        counts.read_energy_pj += reads as f64 * self.read_bit_pj;
        counts.program_energy_pj += program_pj;
    }

    fn worst_fail_p(&self) -> f64 {
        let mut fails: Vec<f64> = self
            .set
            .p_switch
            .iter()
            .chain(&self.reset.p_switch)
            .map(|p| 1.0 - p)
            .collect();
        percentile(&mut fails, 0.99)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::arch::{ArchConfig, StoreKind};
    use crate::config::device::{PulseWidths, SwitchingModel};
    use crate::tech::WritePolicy;

    /// An STT arch with `fixed` switching: P(switch) = `p` for every pulse.
    fn stt(p: f64, write: WritePolicy) -> ArchConfig {
        let mut a = ArchConfig::default();
        a.weights.store = StoreKind::Stt;
        a.device.switching = SwitchingModel::Fixed;
        a.device.fixed_pulse_ns = vec![1.0];
        a.device.fixed_p_switch = vec![p];
        a.update.program_pulse_ns = PulseWidths::One(1.0);
        a.stt.write = write;
        a
    }

    fn write(w: &dyn CellWriter, stored: &mut [u32], new: &[u32], step: u64) -> WriteCounts {
        let mut c = WriteCounts::default();
        let mut log = Vec::new();
        w.write(0, step, 0, stored, new, &mut c, &mut log);
        assert_eq!(log.len() as u64, c.strings_written);
        c
    }

    #[test]
    fn a_failed_write_leaves_the_previous_bit_in_both_directions() {
        let a = stt(0.0, WritePolicy::Differing);
        let w = crate::tech::of(&a).unwrap().writer(1, &[Some(4)]);
        // 0 -> 1 (set) and 1 -> 0 (reset) on every bit: nothing switches.
        let mut stored = vec![0x00, 0xFF, 0x0F, 0xF0];
        let before = stored.clone();
        let new = [0xFF, 0x00, 0xF0, 0x0F];
        let c = write(&*w, &mut stored, &new, 1);
        assert_eq!(stored, before);
        assert_eq!(c.program_pulses, 32);
        assert_eq!(c.program_failures, 32);
        assert_eq!(c.switches, 0);
        assert_eq!(c.bit_errors, 32);
        // Certain switching: every differing bit lands, in both directions.
        let a = stt(1.0, WritePolicy::Differing);
        let w = crate::tech::of(&a).unwrap().writer(1, &[Some(4)]);
        let c = write(&*w, &mut stored, &new, 1);
        assert_eq!(stored, new);
        assert_eq!((c.switches, c.program_failures, c.bit_errors), (32, 0, 0));
    }

    #[test]
    fn each_direction_fails_on_its_own() {
        // Directions built by hand: sets always switch, resets never.
        let a = stt(1.0, WritePolicy::Differing);
        let base = crate::tech::stt::new(&a);
        let mut w = base.writer.clone();
        for b in &mut w.reset.bits {
            *b = BitWrite::new(b.pulse_ps, 0.0, (b.fail_pj, b.base_pj, b.slope_pj_per_ns));
        }
        let mut stored = vec![0b1010_1010];
        write(&w, &mut stored, &[0b0101_0101], 1);
        // The four 0 -> 1 bits switched; the four 1 -> 0 bits kept their 1.
        assert_eq!(stored, [0b1111_1111]);
        let mut w = base.writer.clone();
        for b in &mut w.set.bits {
            *b = BitWrite::new(b.pulse_ps, 0.0, (b.fail_pj, b.base_pj, b.slope_pj_per_ns));
        }
        let mut stored = vec![0b1010_1010];
        write(&w, &mut stored, &[0b0101_0101], 1);
        assert_eq!(stored, [0b0000_0000]);
    }

    #[test]
    fn differing_reads_the_word_and_pulses_only_the_changed_bits() {
        let a = stt(1.0, WritePolicy::Differing);
        let tech = crate::tech::of(&a).unwrap();
        let w = tech.writer(3, &[Some(2)]);
        // One changed bit in the first word, none in the second (skipped: no read).
        let mut stored = vec![0b0000_0001, 0b0110_0000];
        let c = write(&*w, &mut stored, &[0b0000_0011, 0b0110_0000], 1);
        assert_eq!(c.strings_written, 1);
        assert_eq!(c.strings_skipped, 1);
        assert_eq!(c.bits_read, 8);
        assert_eq!(c.program_pulses, 1);
        assert!((c.read_energy_pj - 8.0 * tech.read_bit_pj()).abs() < 1e-12);
        // The word's write lasts its read and its one pulse.
        assert_eq!(c.write_time_ps, 1000 + 1000);
        assert_eq!(c.program_time_ps, 1000);
        // "all": no read, a pulse on every cell of the changed word, the unchanged ones
        // costing the energy of a pulse on a cell already in its state.
        let a = stt(1.0, WritePolicy::All);
        let w = crate::tech::of(&a).unwrap().writer(3, &[Some(2)]);
        let mut stored = vec![0b0000_0001, 0b0110_0000];
        let c = write(&*w, &mut stored, &[0b0000_0011, 0b0110_0000], 1);
        assert_eq!((c.bits_read, c.read_energy_pj), (0, 0.0));
        assert_eq!((c.program_pulses, c.switches), (8, 1));
        assert_eq!(c.write_time_ps, 1000);
        assert!(c.program_energy_pj > 0.0);
    }

    #[test]
    fn draws_do_not_depend_on_how_a_tensor_is_sliced() {
        let a = stt(0.5, WritePolicy::Differing);
        let w = crate::tech::of(&a).unwrap().writer(7, &[Some(64)]);
        let new: Vec<u32> = (0..64).map(|i| (i * 37 + 11) % 256).collect();
        let mut whole = vec![0u32; 64];
        let cw = write(&*w, &mut whole, &new, 2);
        let (mut lo, mut hi) = (vec![0u32; 40], vec![0u32; 24]);
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 2, 0, &mut lo, &new[..40], &mut c, &mut log);
        w.write(0, 2, 40, &mut hi, &new[40..], &mut c, &mut log);
        lo.extend(hi);
        assert_eq!(lo, whole);
        assert_eq!(c.switches, cw.switches);
        assert!(cw.switches > 0 && cw.program_failures > 0);
        assert_eq!(log.last().unwrap().string, 63);
    }

    #[test]
    fn a_swapped_in_word_costs_a_read_and_half_its_cells_or_every_cell() {
        // Fixed table P = 0.5 at 1 ns: each pulse costs half a switched and half a failed
        // pulse's energy, averaged over the bit positions and both directions.
        let a = stt(0.5, WritePolicy::Differing);
        let t = crate::tech::stt::new(&a);
        let w = &t.writer;
        let want: f64 = w
            .set
            .bits
            .iter()
            .chain(&w.reset.bits)
            .map(|b| 0.5 * b.base_pj + 0.5 * b.fail_pj)
            .sum::<f64>()
            / 16.0;
        let f = t.fill_unit(3, 8);
        assert_eq!((f.erase_pj, f.pulses, f.bits_read), (None, 4, 8));
        assert!(
            (f.pulse_pj - want).abs() < 1e-12 && want > 0.0,
            "{} {want}",
            f.pulse_pj
        );
        // The word's read (1 ns) and its longest pulse (1 ns).
        assert_eq!(f.duration_ps, 2000);
        let t = crate::tech::stt::new(&stt(0.5, WritePolicy::All));
        let f = t.fill_unit(3, 8);
        assert_eq!((f.pulses, f.bits_read, f.duration_ps), (8, 0, 1000));
        // SRAM: exact, one access per word, the write energy per bit.
        let mut s = ArchConfig::default();
        s.weights.store = StoreKind::Sram;
        let t = crate::tech::sram::new(&s);
        let f = t.fill_unit(0, 8);
        assert_eq!((f.pulses, f.bits_read, f.duration_ps), (8, 0, 1000));
        assert!((f.pulse_pj - 0.156).abs() < 1e-12);
    }

    #[test]
    fn reads_take_the_technology_s_own_time() {
        let mut a = stt(1.0, WritePolicy::Differing);
        a.device.read_ns = 2.5;
        assert_eq!(crate::tech::stt::new(&a).read_ns(), 2.5);
        let mut s = ArchConfig::default();
        s.weights.store = StoreKind::Sram;
        s.sram.access_ns = 0.7;
        assert_eq!(crate::tech::sram::new(&s).read_ns(), 0.7);
    }

    #[test]
    fn each_run_s_seed_keys_its_own_draws() {
        let t = crate::tech::stt::new(&stt(0.5, WritePolicy::Differing));
        let new: Vec<u32> = (0..256).map(|i| (i * 91 + 7) % 256).collect();
        let held = |seed| {
            let mut stored = vec![0u32; 256];
            write(&*t.writer(seed, &[Some(256)]), &mut stored, &new, 1);
            stored
        };
        assert_eq!(held(1), held(1));
        assert_ne!(held(1), held(2));
    }

    #[test]
    fn the_write_threshold_spares_near_codes_but_not_the_initial_write() {
        let mut a = stt(1.0, WritePolicy::Differing);
        a.update.write_threshold_lsb = 4;
        let w = crate::tech::of(&a).unwrap().writer(0, &[Some(2)]);
        // Two's complement codes 1 and 2 are 1 LSB apart.
        let mut stored = vec![1u32, 1];
        let c = write(&*w, &mut stored, &[2, 9], 0);
        assert_eq!(stored, [2, 9], "step 0 writes every differing code");
        assert_eq!((c.strings_written, c.bits_written), (2, 16));
        let c = write(&*w, &mut stored, &[3, 1], 1);
        // 1 LSB away: left alone; 8 LSBs away: rewritten.
        assert_eq!(stored, [2, 1]);
        assert_eq!(
            (c.strings_written, c.strings_skipped, c.bits_written),
            (1, 1, 8)
        );
    }
}
