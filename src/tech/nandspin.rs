//! NAND-SPIN (Wang et al., IEEE EDL 39(3), 2018): `string.mtjs` MTJs on one heavy-metal
//! strip; a write is one SOT erase of the whole string, then one STT program pulse per bit
//! that must hold a 1 (the device model is [`crate::device::string`]). A failed program
//! pulse leaves its bit at 0: errors only ever clear bits. Keys: `[device]`, `[string]`,
//! `[update]`, `[variation]`.

use std::sync::Arc;

use super::{CellWriter, Registration, Technology, UnitFill};
use crate::config::arch::{ArchConfig, StoreKind};
use crate::device::circuit::{ProgramPulse, erase_energy_pj, read_energy_pj};
use crate::device::string::ns_to_ps;
use crate::device::{Layout, StringWrite, StringWriter, Switching, WriteCounts};

/// The registry's entry.
pub const REGISTRATION: Registration = Registration {
    store: StoreKind::Nandspin,
    section: Some("string"),
    build: |arch| Box::new(Nandspin::new(arch)),
    layout: |arch| crate::device::Layout::strings(arch),
    validate: |arch| arch.validate_device_store(),
    section_set: |arch| arch.string != Default::default(),
};

/// NAND-SPIN strings as the arch describes them.
#[derive(Debug, Clone)]
pub struct Nandspin {
    arch: ArchConfig,
    layout: Layout,
    read_bit_pj: f64,
    erase_pj: f64,
    erase_ps: u64,
    /// The longest program pulse, on the ps grid.
    round_ps: u64,
    parallelism: u64,
    /// Expected energy of one program pulse, averaged over the bit positions, in pJ.
    pulse_pj: f64,
}

impl Nandspin {
    /// The technology of `arch`.
    pub fn new(arch: &ArchConfig) -> Self {
        let bits = arch.weights.bits;
        // The inversion flag is programmed like the most significant bit.
        let widths: Vec<f64> = (0..arch.weights.cell_bits())
            .map(|b| arch.update.program_pulse_ns.for_bit(b.min(bits - 1), bits))
            .collect();
        let longest = widths.iter().copied().fold(0.0, f64::max);
        let pulse = ProgramPulse::new(&arch.device, &arch.energy);
        let sw = Switching::new(&arch.device);
        let pulse_pj = widths
            .iter()
            .map(|&w| pulse.expected_energy_pj(&sw, arch.update.program_current_ua, w))
            .sum::<f64>()
            / widths.len() as f64;
        Self {
            layout: Layout::strings(arch),
            read_bit_pj: read_energy_pj(&arch.device, &arch.energy),
            erase_pj: erase_energy_pj(&arch.string, &arch.energy),
            erase_ps: ns_to_ps(arch.string.erase_pulse_ns),
            round_ps: ns_to_ps(longest),
            parallelism: u64::from(arch.string.program_parallelism.max(1)),
            pulse_pj,
            arch: arch.clone(),
        }
    }
}

impl Technology for Nandspin {
    fn name(&self) -> &'static str {
        "nandspin"
    }
    fn layout(&self) -> Layout {
        self.layout
    }
    fn read_bit_pj(&self) -> f64 {
        self.read_bit_pj
    }
    fn cell_area_f2(&self) -> f64 {
        self.arch.string.cell_area_f2
    }
    fn read_ns(&self) -> f64 {
        self.arch.device.read_ns
    }
    /// An erase, then a pulse per 1 in rounds of `string.program_parallelism` pulses,
    /// each round as long as the longest program pulse (an exact write).
    fn fill_unit(&self, ones: u64, _bits: u64) -> UnitFill {
        UnitFill {
            erase_pj: Some(self.erase_pj),
            pulses: ones,
            pulse_pj: self.pulse_pj,
            bits_read: 0,
            duration_ps: self.erase_ps + ones.div_ceil(self.parallelism) * self.round_ps,
        }
    }
    fn writer(&self, seed: u64, lens: &[Option<usize>]) -> Arc<dyn CellWriter> {
        Arc::new(StringWriter::new(&self.arch, seed).with_devices(&self.arch, seed, lens))
    }
}

impl CellWriter for StringWriter {
    fn layout(&self) -> Layout {
        StringWriter::layout(self)
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
        StringWriter::write(self, param, step, base, stored, new, counts, log);
    }
    fn worst_fail_p(&self) -> f64 {
        StringWriter::worst_fail_p(self)
    }
}
