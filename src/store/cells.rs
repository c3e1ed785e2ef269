//! The stores of the memory technologies (`nandspin`, `stt`, `sot`, `sram`): every
//! quantised parameter is a B-bit code held bit by bit in simulated cells and written
//! through the technology's device model ([`crate::tech`]); forward and backward use the
//! values decoded from the bits the cells actually hold.
//!
//! A tensor is written in chunks of whole write units (strings or words), in parallel
//! (rayon). Every random draw is keyed on the weight, never on the chunk or the thread, and
//! the chunks' counts are summed in chunk order, so results do not depend on the thread
//! count.

use rayon::prelude::*;

use super::format::Format;
use super::quantise::Quantiser;
use super::{ParamId, ParamSpec, WeightStore};
use crate::config::arch::{ArchConfig, Rounding};
use crate::device::{StringWrite, WriteCounts};
use crate::tech::CellWriter;
use std::sync::Arc;

/// Strings per chunk of parallel work (a chunk is `CHUNK_STRINGS` strings' worth of codes).
const CHUNK_STRINGS: usize = 8192;

/// One chunk's scratch: intended codes, activity and written strings of the last update.
#[derive(Debug, Clone, Default)]
struct Chunk {
    ints: Vec<i32>,
    new: Vec<u32>,
    counts: WriteCounts,
    log: Vec<StringWrite>,
}

#[derive(Debug, Clone)]
struct Slot {
    /// The bits the strings hold, one code per value; empty for digital slots.
    stored: Vec<u32>,
    /// Decoded values (exact f32 for digital slots).
    values: Vec<f32>,
    /// Activity since the last [`WeightStore::take_counts`].
    counts: WriteCounts,
    /// The strings written by the last update.
    log: Vec<StringWrite>,
    chunks: Vec<Chunk>,
}

/// Weights in the simulated cells of a memory technology.
#[derive(Debug, Clone)]
pub struct CellStore {
    /// The technology's `weights.store` name.
    name: &'static str,
    quantiser: Quantiser,
    writer: Arc<dyn CellWriter>,
    slots: Vec<Slot>,
    /// Codes per chunk: whole strings, the same for every tensor and thread count.
    chunk_len: usize,
    /// Random bits one rounding consumes (0 with rounding to nearest).
    random_bits: u64,
    /// See [`WeightStore::worst_fail_p`].
    worst_fail_p: f64,
}

impl CellStore {
    /// A store for `params` as the arch describes it (its `weights.store` must name a
    /// memory technology); every cell starts at 0.
    pub fn new(arch: &ArchConfig, params: &[ParamSpec], seed: u64) -> Self {
        let tech = crate::tech::of(arch).expect("weights.store names a memory technology");
        let quantiser = Quantiser::new(&arch.weights, params, seed);
        let lens: Vec<Option<usize>> = params
            .iter()
            .enumerate()
            .map(|(id, p)| quantiser.step(id).map(|_| p.len))
            .collect();
        let writer = tech.writer(seed, &lens);
        let layout = writer.layout();
        let chunk_len = (CHUNK_STRINGS / layout.strings_per_weight()) * layout.weights_per_string();
        let slots = params
            .iter()
            .enumerate()
            .map(|(id, p)| {
                let quantised = quantiser.step(id).is_some();
                // Strings start erased: all bits 0, whatever value that decodes to.
                let erased = quantiser
                    .step(id)
                    .map_or(0.0, |step| quantiser.format.decode(0) as f32 * step);
                Slot {
                    stored: if quantised { vec![0; p.len] } else { vec![] },
                    values: vec![erased; p.len],
                    counts: WriteCounts::default(),
                    log: Vec::new(),
                    chunks: if quantised {
                        vec![Chunk::default(); p.len.div_ceil(chunk_len)]
                    } else {
                        vec![]
                    },
                }
            })
            .collect();
        let random_bits = match arch.weights.rounding {
            Rounding::Stochastic => u64::from(arch.weights.random_bits),
            Rounding::Nearest => 0,
        };
        Self {
            name: tech.name(),
            quantiser,
            worst_fail_p: writer.worst_fail_p(),
            writer,
            slots,
            chunk_len,
            random_bits,
        }
    }

    /// The bits the strings of parameter `id` hold, one code per value (empty when the
    /// parameter is held digitally).
    pub fn codes(&self, id: ParamId) -> &[u32] {
        &self.slots[id].stored
    }
}

/// Quantises, writes and decodes one chunk of codes starting at code `base`.
#[allow(clippy::too_many_arguments)]
fn write_chunk(
    quantiser: &Quantiser,
    writer: &dyn CellWriter,
    format: Format,
    step_value: f32,
    (id, step, base, random_bits): (ParamId, u64, usize, u64),
    stored: &mut [u32],
    values: &mut [f32],
    intended: &[f32],
    chunk: &mut Chunk,
) {
    chunk.ints.resize(intended.len(), 0);
    chunk.new.resize(intended.len(), 0);
    quantiser.quantise(id, intended, step, base, &mut chunk.ints);
    for (c, &n) in chunk.new.iter_mut().zip(&chunk.ints) {
        *c = format.encode(n);
    }
    chunk.counts = WriteCounts {
        random_bits: intended.len() as u64 * random_bits,
        ..WriteCounts::default()
    };
    chunk.log.clear();
    writer.write(
        id,
        step,
        base,
        stored,
        &chunk.new,
        &mut chunk.counts,
        &mut chunk.log,
    );
    // Decode what the written strings hold; the others hold what they held.
    let layout = writer.layout();
    let first_string = base / layout.weights_per_string() * layout.strings_per_weight();
    let len = stored.len();
    for w in &chunk.log {
        let (first, end, _) = layout.string(w.string as usize - first_string, len);
        for e in first..end {
            values[e] = format.decode(stored[e]) as f32 * step_value;
        }
    }
}

impl WeightStore for CellStore {
    fn set_kernels(&mut self, kernels: crate::config::workload::Kernels) {
        self.quantiser.set_kernels(kernels);
    }
    fn values(&self, id: ParamId) -> &[f32] {
        &self.slots[id].values
    }

    fn write(&mut self, id: ParamId, intended: &[f32], step: u64) {
        self.write_many(&[(id, intended)], step);
    }

    fn write_many(&mut self, updates: &[(ParamId, &[f32])], step: u64) {
        let (q, w, n, rb) = (
            &self.quantiser,
            &*self.writer,
            self.chunk_len,
            self.random_bits,
        );
        let format = q.format;
        // Every chunk of every tensor is one independent task.
        let mut tasks = Vec::new();
        let mut written = Vec::new();
        let mut slots: Vec<Option<&mut Slot>> = self.slots.iter_mut().map(Some).collect();
        for &(id, intended) in updates {
            let slot = slots[id]
                .take()
                .expect("each parameter written once per call");
            let Some(step_value) = q.step(id) else {
                slot.values.copy_from_slice(intended);
                continue;
            };
            written.push(id);
            let chunks = slot
                .stored
                .chunks_mut(n)
                .zip(slot.values.chunks_mut(n))
                .zip(intended.chunks(n))
                .zip(slot.chunks.iter_mut())
                .enumerate();
            for (c, (((stored, values), intended), chunk)) in chunks {
                tasks.push((id, step_value, c * n, stored, values, intended, chunk));
            }
        }
        let one = |(id, step_value, base, stored, values, intended, chunk): (
            ParamId,
            f32,
            usize,
            &mut [u32],
            &mut [f32],
            &[f32],
            &mut Chunk,
        )| {
            write_chunk(
                q,
                w,
                format,
                step_value,
                (id, step, base, rb),
                stored,
                values,
                intended,
                chunk,
            )
        };
        if tasks.len() > 1 {
            tasks.into_par_iter().for_each(one);
        } else {
            tasks.into_iter().for_each(one);
        }
        // Merge in chunk order: the sums do not depend on which thread ran what.
        for id in written {
            let slot = &mut self.slots[id];
            slot.log.clear();
            for c in &slot.chunks {
                slot.counts.add(&c.counts);
                slot.log.extend_from_slice(&c.log);
            }
        }
    }

    fn describe(&self) -> String {
        let l = self.writer.layout();
        if self.name == "nandspin" {
            format!(
                "nandspin {} in {}-MTJ strings",
                self.quantiser.describe(),
                l.mtjs
            )
        } else {
            format!(
                "{} {} in {}-bit words",
                self.name,
                self.quantiser.describe(),
                l.mtjs
            )
        }
    }

    fn worst_fail_p(&self) -> Option<f64> {
        Some(self.worst_fail_p)
    }

    fn take_counts(&mut self) -> Option<Vec<WriteCounts>> {
        Some(
            self.slots
                .iter_mut()
                .map(|s| std::mem::take(&mut s.counts))
                .collect(),
        )
    }
}

impl super::DeviceLog for CellStore {
    fn last_writes(&self, id: ParamId) -> Option<&[StringWrite]> {
        let s = &self.slots[id];
        (!s.stored.is_empty() || s.values.is_empty()).then_some(s.log.as_slice())
    }
    fn held_codes(&self, id: ParamId) -> Option<&[u32]> {
        let s = &self.slots[id];
        (!s.stored.is_empty() || s.values.is_empty()).then_some(s.stored.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::arch::{Encoding, RangeSpec};
    use crate::config::device::{PulseWidths, SwitchingModel};
    use crate::store::{DeviceLog, FixedStore, ParamKind};

    fn arch(encoding: Encoding, p: f64) -> ArchConfig {
        let mut a = ArchConfig::default();
        a.weights.encoding = encoding;
        a.weights.range = RangeSpec::Fixed(1.0);
        a.device.switching = SwitchingModel::Fixed;
        a.device.fixed_pulse_ns = vec![1.0];
        a.device.fixed_p_switch = vec![p];
        a.update.program_pulse_ns = PulseWidths::One(1.0);
        a
    }

    fn params(len: usize) -> Vec<ParamSpec> {
        vec![ParamSpec {
            name: "l.weight".into(),
            layer: "l".into(),
            kind: ParamKind::Weight,
            len,
            fan_in: 1,
        }]
    }

    /// Intended values: a third at the minimum code (which equals erased bits in offset
    /// binary), the rest spread over the range.
    fn intended(len: usize, shift: f32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                if i % 3 == 0 {
                    -1.0
                } else {
                    ((i as f32 * 0.37 + shift).sin()) * 0.9
                }
            })
            .collect()
    }

    const ENCODINGS: [Encoding; 3] = [
        Encoding::TwosComplement,
        Encoding::SignMagnitude,
        Encoding::OffsetBinary,
    ];

    #[test]
    fn values_are_what_the_strings_hold() {
        let len = 20_000; // several chunks
        use crate::config::arch::StoreKind;
        for (enc, store) in ENCODINGS
            .iter()
            .flat_map(|&e| [StoreKind::Nandspin, StoreKind::Stt].map(|s| (e, s)))
        {
            let mut a = arch(enc, 0.7);
            a.weights.store = store;
            let mut s = CellStore::new(&a, &params(len), 5);
            let step = s.quantiser.step(0).unwrap();
            let format = s.quantiser.format;
            for t in 0..4u64 {
                s.write(0, &intended(len, t as f32), t);
                for (v, &c) in s.values(0).iter().zip(s.codes(0)) {
                    assert_eq!(
                        *v,
                        format.decode(c) as f32 * step,
                        "{store:?} {enc:?} step {t}"
                    );
                }
                // The log of the step's string writes matches its counts, in string order.
                let c = s.take_counts().unwrap().remove(0);
                let log = s.last_writes(0).expect("a quantised tensor");
                assert_eq!(log.len() as u64, c.strings_written);
                assert_eq!(
                    log.iter().map(|w| w.duration_ps).sum::<u64>(),
                    c.write_time_ps
                );
                assert!(log.windows(2).all(|w| w[0].string < w[1].string));
            }
        }
    }

    #[test]
    fn certain_switching_matches_the_fixed_store_from_the_first_write() {
        let len = 10_000;
        use crate::config::arch::StoreKind;
        let stores = [
            StoreKind::Nandspin,
            StoreKind::Stt,
            StoreKind::Sot,
            StoreKind::Sram,
        ];
        for (enc, store) in ENCODINGS.iter().flat_map(|&e| stores.map(|s| (e, s))) {
            // P(switch) = 1 for NAND-SPIN and STT (the table), and SOT's default table is
            // certain at 1 ns; SRAM is always exact.
            let mut a = arch(enc, 1.0);
            a.weights.store = store;
            let p = params(len);
            let mut dev = CellStore::new(&a, &p, 9);
            let mut fixed = FixedStore::new(&a.weights, &p, 9);
            for t in 0..3u64 {
                let x = intended(len, t as f32);
                dev.write(0, &x, t);
                fixed.write(0, &x, t);
                assert_eq!(dev.values(0), fixed.values(0), "{store:?} {enc:?} step {t}");
                assert_eq!(dev.codes(0), fixed.codes(0), "{store:?} {enc:?} step {t}");
            }
        }
    }
}
