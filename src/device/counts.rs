//! What weight-update writes did: action counts, energy and time.

/// Activity of the string writes of some parameters over some updates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteCounts {
    /// Strings erased and programmed.
    pub strings_written: u64,
    /// Strings left alone because they already held the intended bits.
    pub strings_skipped: u64,
    /// SOT erase pulses (one per string write, more when verify re-erases).
    pub erase_pulses: u64,
    /// String writes that needed no erase (`update.erase = "when_needed"`).
    pub erases_skipped: u64,
    /// MTJs an erase left at 1.
    pub erase_failures: u64,
    /// STT program pulses.
    pub program_pulses: u64,
    /// Program pulses that switched their MTJ.
    pub switches: u64,
    /// Program pulses that left their MTJ at 0.
    pub program_failures: u64,
    /// Verify reads of a whole string.
    pub verify_reads: u64,
    /// MTJs sensed by verify reads.
    pub bits_read: u64,
    /// Bits (MTJs, inversion flags included) in the strings written.
    pub bits_written: u64,
    /// Bits (MTJs) that hold the wrong value once their string's write is over.
    pub bit_errors: u64,
    /// Random bits consumed by stochastic rounding (`weights.random_bits` per code
    /// rounded).
    pub random_bits: u64,
    /// Energy of the erase pulses, in pJ.
    pub erase_energy_pj: f64,
    /// Energy of the program pulses, in pJ.
    pub program_energy_pj: f64,
    /// Energy of the verify reads, in pJ.
    pub read_energy_pj: f64,
    /// Sum of the durations of the string writes (erase, program pulses, verify), in ps.
    pub write_time_ps: u64,
    /// The part of `write_time_ps` spent in program pulses, in ps.
    pub program_time_ps: u64,
}

impl WriteCounts {
    /// Adds `o` to `self`.
    pub fn add(&mut self, o: &WriteCounts) {
        self.strings_written += o.strings_written;
        self.strings_skipped += o.strings_skipped;
        self.erase_pulses += o.erase_pulses;
        self.erases_skipped += o.erases_skipped;
        self.erase_failures += o.erase_failures;
        self.program_pulses += o.program_pulses;
        self.switches += o.switches;
        self.program_failures += o.program_failures;
        self.verify_reads += o.verify_reads;
        self.bits_read += o.bits_read;
        self.bits_written += o.bits_written;
        self.bit_errors += o.bit_errors;
        self.random_bits += o.random_bits;
        self.erase_energy_pj += o.erase_energy_pj;
        self.program_energy_pj += o.program_energy_pj;
        self.read_energy_pj += o.read_energy_pj;
        self.write_time_ps = self.write_time_ps.saturating_add(o.write_time_ps);
        self.program_time_ps = self.program_time_ps.saturating_add(o.program_time_ps);
    }

    /// The sum of a sequence.
    pub fn sum<'a>(items: impl IntoIterator<Item = &'a WriteCounts>) -> WriteCounts {
        let mut s = WriteCounts::default();
        for c in items {
            s.add(c);
        }
        s
    }

    /// Erase, program and verify-read energy, in pJ.
    pub fn write_energy_pj(&self) -> f64 {
        self.erase_energy_pj + self.program_energy_pj + self.read_energy_pj
    }

    /// Wrong bits over data bits written (0 when nothing was written).
    pub fn bit_error_rate(&self) -> f64 {
        if self.bits_written == 0 {
            0.0
        } else {
            self.bit_errors as f64 / self.bits_written as f64
        }
    }
}
