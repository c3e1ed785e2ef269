//! NAND-SPIN string semantics: where the bits of a weight tensor sit in strings, and how a
//! string is written (one SOT erase of the whole string, then one STT program pulse per bit
//! that must hold a 1, optionally verified).
//!
//! A failed program pulse leaves its bit at 0: errors only ever turn an intended 1 into a 0
//! (unless erases may fail, `string.erase_failure_p`), and they persist until the string
//! is written again.

use super::circuit::{ProgramPulse, erase_energy_pj, read_energy_pj};
use super::counts::WriteCounts;
use super::switching::Switching;
use super::variation::{Population, TensorDevices, bit_pulses_ns};
use crate::config::arch::ArchConfig;
use crate::config::device::EraseMode;
use crate::rng::{Purpose, TWO_POW_53, key, keyed_u53, threshold_u53};
use crate::store::format::Format;
use std::sync::Arc;

/// How B-bit codes are packed into N-MTJ strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Bits per code, B.
    pub bits: u32,
    /// MTJs per string, N. Either B divides N or N divides B.
    pub mtjs: u32,
}

impl Layout {
    /// The layout the arch describes: [`crate::config::arch::WeightsConfig::cell_bits`]
    /// MTJs per code (the inversion flag included) in `string.mtjs`-MTJ strings.
    ///
    /// With a memory technology of one-bit cells (`stt`, `sot`, `sram`), its word layout
    /// instead: one code per word ([`crate::tech::word_layout`]).
    pub fn of(arch: &ArchConfig) -> Self {
        crate::tech::registration(arch.weights.store)
            .map_or_else(|| Self::strings(arch), |r| (r.layout)(arch))
    }

    /// The NAND-SPIN string layout of the arch: `cell_bits` MTJs per code in
    /// `string.mtjs`-MTJ strings.
    pub fn strings(arch: &ArchConfig) -> Self {
        Self {
            bits: arch.weights.cell_bits(),
            mtjs: arch.string.mtjs,
        }
    }

    /// Codes held by one string (N / B when B <= N, else 1).
    pub fn weights_per_string(&self) -> usize {
        if self.bits <= self.mtjs {
            (self.mtjs / self.bits) as usize
        } else {
            1
        }
    }

    /// Strings one code spans (B / N when B > N, else 1).
    pub fn strings_per_weight(&self) -> usize {
        if self.bits > self.mtjs {
            (self.bits / self.mtjs) as usize
        } else {
            1
        }
    }

    /// Strings needed for `len` codes.
    pub fn strings_for(&self, len: usize) -> usize {
        len.div_ceil(self.weights_per_string()) * self.strings_per_weight()
    }

    /// String `s` of a tensor of `len` codes: the codes it holds (`first..end`) and which
    /// of their bits (a mask). With several strings per code, string 0 holds the MSBs.
    pub fn string(&self, s: usize, len: usize) -> (usize, usize, u32) {
        let all = (1u32 << self.bits) - 1;
        if self.bits <= self.mtjs {
            let k = self.weights_per_string();
            (s * k, ((s + 1) * k).min(len), all)
        } else {
            let m = self.strings_per_weight();
            let (e, j) = (s / m, (s % m) as u32);
            let lo = self.bits - (j + 1) * self.mtjs;
            let mask = (((1u64 << self.mtjs) - 1) as u32) << lo;
            (e, e + 1, mask)
        }
    }
}

/// One string written by an update: its index in the tensor and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringWrite {
    /// The string's index within its tensor (see [`Layout::string`]).
    pub string: u32,
    /// Erase, program pulses and verify reads, end to end, in ps.
    pub duration_ps: u64,
}

/// Per bit position: what a program pulse of that bit costs and how likely it switches.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BitPulse {
    /// Pulse width in ps (the time grid) ...
    pulse_ps: u64,
    /// ... and in ns, as the physics sees it (`pulse_ps / 1000`).
    pulse_ns: f64,
    /// A draw below this switches (see [`threshold_u53`]).
    threshold: u64,
    /// 1 / threshold: maps a switching draw to [0, 1).
    inv_threshold: f64,
    /// Energy of a pulse that fails, in pJ.
    fail_pj: f64,
    /// Energy of a pulse that switches at t: `base_pj + slope_pj_per_ns * t`.
    base_pj: f64,
    slope_pj_per_ns: f64,
}

/// Knots of the switching-time tables: the conditional quantile of T given T <= t_p at
/// `v = j / QUANTILE_KNOTS`, linear in between.
/// 256 knots of f32 keep all eight tables of an 8-bit code in 8 KiB (L1-resident).
pub const QUANTILE_KNOTS: usize = 256;

/// The switching time of a pulse that switched, sampled by inverse transform from a table
/// of the exact quantile (so no logarithms per pulse).
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchTimes {
    /// `QUANTILE_KNOTS + 1` times in ns.
    knots: Vec<f32>,
    /// The law, for the exact quantile in the first and last intervals, where it is steep.
    sw: Switching,
    /// P_sw of the pulse.
    p: f64,
    pulse_ns: f64,
    current_ua: f64,
    /// Every switched pulse's switching time, when the law gives only its mean (a measured
    /// surface with `mean_switch_ns`), in ns.
    constant_ns: Option<f64>,
}

impl SwitchTimes {
    /// The table for pulses of `pulse_ns` at `current_ua`: the law's quantile, or, for a
    /// measured surface with mean switching times, that mean for every switched pulse (so
    /// the energy of switched pulses matches the measured mean).
    pub fn new(sw: &Switching, pulse_ns: f64, current_ua: f64) -> Self {
        let p = sw.p_switch(pulse_ns, current_ua);
        let constant_ns = sw.measured_mean_ns(pulse_ns, current_ua);
        let knots = (0..=QUANTILE_KNOTS)
            .map(|j| {
                let v = j as f64 / QUANTILE_KNOTS as f64;
                let t = if let Some(t) = constant_ns {
                    t
                } else if p <= 0.0 {
                    0.0
                } else if j == QUANTILE_KNOTS {
                    pulse_ns
                } else {
                    sw.quantile(v * p, current_ua).clamp(0.0, pulse_ns)
                };
                t as f32
            })
            .collect();
        Self {
            knots,
            sw: sw.clone(),
            p,
            pulse_ns,
            current_ua,
            constant_ns,
        }
    }

    /// The switching time (ns) for `v` uniform in [0, 1): the draw of a switched pulse
    /// divided by its threshold. Linear between knots; the exact quantile in the first and
    /// last intervals (2 draws in 256), where the law's tails make the quantile steep.
    #[inline]
    pub fn sample(&self, v: f64) -> f64 {
        if let Some(t) = self.constant_ns {
            return t;
        }
        let x = v * QUANTILE_KNOTS as f64;
        let j = (x as usize).min(QUANTILE_KNOTS - 1);
        if j == 0 || j == QUANTILE_KNOTS - 1 {
            return self
                .sw
                .quantile(v.min(1.0) * self.p, self.current_ua)
                .clamp(0.0, self.pulse_ns);
        }
        let f = x - j as f64;
        let (a, b) = (f64::from(self.knots[j]), f64::from(self.knots[j + 1]));
        a + (b - a) * f
    }
}

/// Writes codes into strings through the device model.
#[derive(Debug, Clone)]
pub struct StringWriter {
    layout: Layout,
    parallelism: usize,
    skip_unchanged: bool,
    /// How codes decode (for `write_threshold_lsb`).
    format: Format,
    /// `update.write_threshold_lsb`.
    threshold: u32,
    /// `update.erase = "when_needed"`.
    erase_when_needed: bool,
    /// The bits of a code that verify reads check and re-pulses (0: no verify).
    verify_mask: u32,
    max_retries: u32,
    switching: Switching,
    current_ua: f64,
    /// Whether pulse energy depends on the sampled switching time.
    timed_energy: bool,
    /// Indexed by bit position (0 = LSB).
    bits: Vec<BitPulse>,
    /// Switching-time tables, indexed by bit position.
    times: Vec<SwitchTimes>,
    erase_pj: f64,
    erase_ps: u64,
    erase_fail_threshold: u64,
    read_bit_pj: f64,
    read_ps: u64,
    seed: u64,
    /// The drawn devices under `[variation]` (`None`: every MTJ is the nominal one).
    population: Option<Arc<Population>>,
    /// The nominal MTJ's program pulse.
    pulse: ProgramPulse,
}

/// One tensor's write in progress.
struct Write<'a> {
    /// Index in the tensor of the first code of `stored`.
    base: usize,
    /// Index in the tensor of the first string of `stored`.
    string_base: usize,
    program_key: u64,
    erase_key: u64,
    /// Key of the pulses' currents under cycle-to-cycle variation.
    current_key: u64,
    /// The tensor's drawn devices (`None`: nominal ones).
    devices: Option<&'a TensorDevices>,
    /// The write threshold of this update (1 for the initial write, step 0).
    threshold: u32,
    stored: &'a mut [u32],
    new: &'a [u32],
    counts: &'a mut WriteCounts,
    log: &'a mut Vec<StringWrite>,
    tally: Tally,
}

/// Most MTJs one code takes: 16 bits and the inversion flag.
const MAX_CELL_BITS: usize = 17;

/// Program-pulse outcomes per bit position, turned into counts and energy once per call.
#[derive(Default)]
struct Tally {
    /// Pulses that switched their MTJ.
    switched: [u64; MAX_CELL_BITS],
    /// Sum of their switching times, in ns.
    switch_ns: [f64; MAX_CELL_BITS],
    /// Pulses that failed.
    failed: [u64; MAX_CELL_BITS],
    /// Pulses on MTJs already at 1.
    idle: [u64; MAX_CELL_BITS],
    /// Energy of the pulses on drawn devices (which is not per bit position), in pJ.
    devices_pj: f64,
}

/// Converts ns to the ps grid (at least 1 ps).
pub fn ns_to_ps(ns: f64) -> u64 {
    ((ns * 1000.0).round() as u64).max(1)
}

/// Groups pulses into rounds of `k` parallel pulses; a round lasts its longest pulse.
struct Rounds {
    k: usize,
    in_round: usize,
    longest_ps: u64,
    total_ps: u64,
}

impl Rounds {
    fn new(k: usize) -> Self {
        Self {
            k,
            in_round: 0,
            longest_ps: 0,
            total_ps: 0,
        }
    }
    #[inline]
    fn pulse(&mut self, ps: u64) {
        self.longest_ps = self.longest_ps.max(ps);
        self.in_round += 1;
        if self.in_round == self.k {
            self.close();
        }
    }
    fn close(&mut self) {
        self.total_ps += self.longest_ps;
        self.in_round = 0;
        self.longest_ps = 0;
    }
    fn finish(mut self) -> u64 {
        if self.in_round > 0 {
            self.close();
        }
        self.total_ps
    }
}

/// The code bits that `verify_bits` = `n` checks: the `n` most significant data bits, and
/// the inversion flag whenever `n >= 1` (a failed flag garbles the whole code).
pub fn verify_mask(format: &Format, n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let n = n.min(format.bits);
    let data = ((1u32 << n) - 1) << (format.bits - n);
    if format.invert {
        data | (1 << format.bits)
    } else {
        data
    }
}

/// Whether a string holding bits `mask` of a code that holds `held` must be rewritten to
/// hold `new`: its bits differ, and (with a `threshold` above 1 LSB) the codes' integers
/// are at least `threshold` apart.
#[inline]
pub(crate) fn differs(format: &Format, threshold: u32, held: u32, new: u32, mask: u32) -> bool {
    (held ^ new) & mask != 0
        && (threshold <= 1 || format.decode(held).abs_diff(format.decode(new)) >= threshold)
}

/// Index of a pulse or erase draw: keyed on the weight, the bit and the attempt.
#[inline]
pub(crate) fn draw_index(elem: usize, bit: u32, attempt: u32) -> u64 {
    ((elem as u64) << 16) | (u64::from(bit) << 8) | u64::from(attempt)
}

impl StringWriter {
    /// The writer the arch's `[weights]`, `[device]`, `[string]`, `[update]` and `[energy]`
    /// sections describe; `seed` keys every pulse outcome.
    pub fn new(arch: &ArchConfig, seed: u64) -> Self {
        let (d, s, u, e) = (&arch.device, &arch.string, &arch.update, &arch.energy);
        let bits = arch.weights.bits;
        let format = crate::tech::format_of(arch);
        let switching = Switching::new(d);
        let pulse = ProgramPulse::new(d, e);
        let current_ua = u.program_current_ua;
        // The flag (bit B) is programmed like the most significant data bit.
        let per_bit = (0..format.width())
            .map(|b| {
                let pulse_ps = ns_to_ps(u.program_pulse_ns.for_bit(b.min(bits - 1), bits));
                let pulse_ns = pulse_ps as f64 / 1000.0;
                let (fail_pj, base_pj, slope_pj_per_ns) = pulse.linear_pj(current_ua, pulse_ns);
                let threshold = threshold_u53(switching.p_switch(pulse_ns, current_ua));
                BitPulse {
                    pulse_ps,
                    pulse_ns,
                    threshold,
                    inv_threshold: 1.0 / (threshold.max(1) as f64),
                    fail_pj,
                    base_pj,
                    slope_pj_per_ns,
                }
            })
            .collect::<Vec<BitPulse>>();
        let times = per_bit
            .iter()
            .map(|b| SwitchTimes::new(&switching, b.pulse_ns, current_ua))
            .collect();
        Self {
            times,
            layout: Layout::strings(arch),
            parallelism: s.program_parallelism as usize,
            skip_unchanged: u.skip_unchanged,
            format,
            threshold: u.write_threshold_lsb,
            erase_when_needed: u.erase == EraseMode::WhenNeeded,
            verify_mask: verify_mask(&format, u.verify_bits),
            max_retries: u.verify_max_retries,
            timed_energy: pulse.depends_on_switch_time(),
            switching,
            current_ua,
            bits: per_bit,
            erase_pj: erase_energy_pj(s, e),
            erase_ps: ns_to_ps(s.erase_pulse_ns),
            erase_fail_threshold: threshold_u53(s.erase_failure_p),
            read_bit_pj: read_energy_pj(d, e),
            read_ps: ns_to_ps(d.read_ns),
            seed,
            population: None,
            pulse,
        }
    }

    /// The writer with the devices of tensors of `lens` codes (`None`: held digitally)
    /// drawn from the arch's `[variation]`, when any spread is on; keyed on `seed` unless
    /// `variation.seed` is given.
    pub fn with_devices(mut self, arch: &ArchConfig, seed: u64, lens: &[Option<usize>]) -> Self {
        if arch.variation.any() {
            let pulses = bit_pulses_ns(arch);
            debug_assert!(pulses.iter().zip(&self.bits).all(|(p, b)| *p == b.pulse_ns));
            self.population = Some(Arc::new(Population::draw(arch, seed, lens, &pulses)));
        }
        self
    }

    /// The drawn devices (`None` without variation).
    pub fn population(&self) -> Option<&Population> {
        self.population.as_deref()
    }

    /// The failure probability of one program pulse that the worst 1 % of the MTJs reach
    /// (see [`Population::worst_fail_p`]); without variation, the nominal one of the worst
    /// bit position (every position holds the same share of the MTJs).
    pub fn worst_fail_p(&self) -> f64 {
        match &self.population {
            Some(p) => p.worst_fail_p(),
            None => {
                let mut fails: Vec<f64> = (0..self.bits.len())
                    .map(|b| 1.0 - self.p_switch(b as u32))
                    .collect();
                super::variation::percentile(&mut fails, 0.99)
            }
        }
    }

    /// The packing of codes into strings.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The switching probability of one pulse on bit `bit` (0 = LSB).
    pub fn p_switch(&self, bit: u32) -> f64 {
        let b = &self.bits[bit as usize];
        self.switching.p_switch(b.pulse_ns, self.current_ua)
    }

    /// Writes the codes `new` of tensor `param` at update `step` into the strings that hold
    /// `stored`, which afterwards holds what the device holds. Adds the activity to
    /// `counts` and one [`StringWrite`] per string written to `log`.
    ///
    /// `stored` and `new` may be a slice of the tensor starting at code `base`, a multiple
    /// of [`Layout::weights_per_string`]: random draws and string numbers are those of the
    /// whole tensor, so writing a tensor in slices gives the same bits as writing it whole.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        param: usize,
        step: u64,
        base: usize,
        stored: &mut [u32],
        new: &[u32],
        counts: &mut WriteCounts,
        log: &mut Vec<StringWrite>,
    ) {
        let len = stored.len();
        debug_assert_eq!(base % self.layout.weights_per_string(), 0);
        let mut w = Write {
            base,
            string_base: base / self.layout.weights_per_string() * self.layout.strings_per_weight(),
            program_key: key(&[self.seed, Purpose::Program as u64, param as u64, step]),
            erase_key: key(&[self.seed, Purpose::Erase as u64, param as u64, step]),
            current_key: key(&[self.seed, Purpose::PulseCurrent as u64, param as u64, step]),
            devices: self.population.as_ref().and_then(|p| p.tensor(param)),
            threshold: if step == 0 { 1 } else { self.threshold },
            stored,
            new,
            counts,
            log,
            tally: Tally::default(),
        };
        let (k, m) = (
            self.layout.weights_per_string(),
            self.layout.strings_per_weight(),
        );
        if m == 1 {
            let mask = (1u32 << self.layout.bits) - 1;
            if k == 1 {
                // One code per string, the common case: a tight scan for changed codes.
                let before = w.counts.strings_written;
                for e in 0..len {
                    if !self.skip_unchanged
                        || differs(&self.format, w.threshold, w.stored[e], w.new[e], mask)
                    {
                        self.rewrite(&mut w, e, e, e + 1, mask);
                    }
                }
                w.counts.strings_skipped += len as u64 - (w.counts.strings_written - before);
            } else {
                for (s, first) in (0..len).step_by(k).enumerate() {
                    self.string(&mut w, s, first, (first + k).min(len), mask);
                }
            }
        } else {
            for s in 0..len * m {
                let (first, end, mask) = self.layout.string(s, len);
                self.string(&mut w, s, first, end, mask);
            }
        }
        // Outcomes to counts and energy, bit by bit in a fixed order.
        let (t, c) = (&w.tally, &mut *w.counts);
        if w.devices.is_some() {
            // Pulses costed one by one (see `program_devices`).
            c.program_energy_pj += t.devices_pj;
        }
        let mut energy_pj = 0.0;
        for (b, bp) in self.bits.iter().enumerate() {
            c.switches += t.switched[b];
            c.program_failures += t.failed[b];
            energy_pj += (t.switched[b] + t.idle[b]) as f64 * bp.base_pj
                + t.switch_ns[b] * bp.slope_pj_per_ns
                + t.failed[b] as f64 * bp.fail_pj;
        }
        c.program_energy_pj += energy_pj;
    }

    /// Writes string `s`, which holds bits `mask` of codes `first..end`.
    #[inline]
    fn string(&self, w: &mut Write, s: usize, first: usize, end: usize, mask: u32) {
        let (stored, new) = (&mut *w.stored, w.new);
        let changed =
            (first..end).any(|e| differs(&self.format, w.threshold, stored[e], new[e], mask));
        if self.skip_unchanged && !changed {
            w.counts.strings_skipped += 1;
            return;
        }
        self.rewrite(w, s, first, end, mask);
    }

    /// Erases (unless `update.erase = "when_needed"` finds no 1 to clear) and programs
    /// string `s`, and verifies its `verify_bits`, if asked.
    fn rewrite(&self, w: &mut Write, s: usize, first: usize, end: usize, mask: u32) {
        let (stored, new, counts) = (&mut *w.stored, w.new, &mut *w.counts);
        let (program_key, erase_key, base) = (w.program_key, w.erase_key, w.base);
        let (devices, current_key) = (w.devices, w.current_key);
        // Whether the erase current reaches this string's SOT threshold.
        let erases = devices.is_none_or(|d| d.erases[w.string_base + s]);
        let tally = &mut w.tally;
        counts.strings_written += 1;
        let bits = ((end - first) as u32 * mask.count_ones()) as u64;
        counts.bits_written += bits;
        // The bits verify checks in this string, and how many MTJs one verify read senses.
        let vmask = self.verify_mask & mask;
        let sensed = ((end - first) as u32 * vmask.count_ones()) as u64;
        let mut time_ps = 0;
        // Only AP -> P (0 -> 1) programs; a 1 that must become 0 needs the erase.
        let mut erase =
            !self.erase_when_needed || (first..end).any(|e| stored[e] & !new[e] & mask != 0);
        if !erase {
            counts.erases_skipped += 1;
        }
        let (mut attempt, mut pulse_mask) = (0, mask);
        loop {
            if erase {
                time_ps += self.erase(
                    (erase_key, erases),
                    base,
                    stored,
                    first..end,
                    mask,
                    attempt,
                    counts,
                );
            }
            let program_ps = self.program(
                (program_key, devices, current_key),
                base,
                stored,
                new,
                first..end,
                pulse_mask,
                (attempt, erase),
                (counts, tally),
            );
            time_ps += program_ps;
            counts.program_time_ps = counts.program_time_ps.saturating_add(program_ps);
            if vmask == 0 {
                break;
            }
            counts.verify_reads += 1;
            counts.bits_read += sensed;
            counts.read_energy_pj += sensed as f64 * self.read_bit_pj;
            time_ps += self.read_ps;
            let wrong = (first..end).any(|e| (stored[e] ^ new[e]) & vmask != 0);
            if !wrong || attempt >= self.max_retries {
                break;
            }
            attempt += 1;
            // A checked 1 where a 0 belongs cannot be programmed away: erase again, and then
            // program every 1 afresh; otherwise re-pulse only the checked bits read as 0.
            erase = (first..end).any(|e| stored[e] & !new[e] & vmask != 0);
            pulse_mask = if erase { mask } else { vmask };
        }
        counts.bit_errors += (first..end)
            .map(|e| u64::from(((stored[e] ^ new[e]) & mask).count_ones()))
            .sum::<u64>();
        counts.write_time_ps = counts.write_time_ps.saturating_add(time_ps);
        w.log.push(StringWrite {
            string: (w.string_base + s) as u32,
            duration_ps: time_ps,
        });
    }

    /// One erase pulse on a string: its bits go to 0, except that each 1 stays with
    /// probability `erase_failure_p`, and every 1 stays when the erase current does not
    /// reach the string's threshold (`erases` false). Returns its duration in ps.
    #[allow(clippy::too_many_arguments)]
    fn erase(
        &self,
        (erase_key, erases): (u64, bool),
        base: usize,
        stored: &mut [u32],
        elems: std::ops::Range<usize>,
        mask: u32,
        attempt: u32,
        counts: &mut WriteCounts,
    ) -> u64 {
        counts.erase_pulses += 1;
        counts.erase_energy_pj += self.erase_pj;
        if !erases {
            for e in elems {
                counts.erase_failures += u64::from((stored[e] & mask).count_ones());
            }
            return self.erase_ps;
        }
        for e in elems {
            let mut keep = 0u32;
            if self.erase_fail_threshold > 0 {
                let mut ones = stored[e] & mask;
                while ones != 0 {
                    let b = ones.trailing_zeros();
                    ones &= ones - 1;
                    if keyed_u53(erase_key, draw_index(base + e, b, attempt))
                        < self.erase_fail_threshold
                    {
                        keep |= 1 << b;
                        counts.erase_failures += 1;
                    }
                }
            }
            stored[e] = (stored[e] & !mask) | keep;
        }
        self.erase_ps
    }

    /// Program pulses on the bits `mask` of codes `elems`, MSB first, code after code,
    /// `program_parallelism` at a time; returns the time taken in ps. `blind` (right after
    /// an erase): every bit that must be 1 gets a pulse, since the controller cannot know
    /// which erased bits stayed at 1 (a pulse on an MTJ already at P switches nothing and
    /// costs the post-switch energy throughout). Otherwise (after a verify read, or without
    /// an erase) only the bits that must be 1 and hold 0.
    #[allow(clippy::too_many_arguments)]
    fn program(
        &self,
        (program_key, devices, current_key): (u64, Option<&TensorDevices>, u64),
        base: usize,
        stored: &mut [u32],
        new: &[u32],
        elems: std::ops::Range<usize>,
        mask: u32,
        (attempt, blind): (u32, bool),
        (counts, tally): (&mut WriteCounts, &mut Tally),
    ) -> u64 {
        if let Some(devices) = devices {
            return self.program_devices(
                (program_key, devices, current_key),
                base,
                stored,
                new,
                elems,
                mask,
                (attempt, blind),
                (counts, tally),
            );
        }
        let mut rounds = Rounds::new(self.parallelism);
        for e in elems {
            let mut todo = new[e] & mask & if blind { u32::MAX } else { !stored[e] };
            while todo != 0 {
                let b = 31 - todo.leading_zeros();
                todo &= !(1 << b);
                let (bi, bp) = (b as usize, &self.bits[b as usize]);
                rounds.pulse(bp.pulse_ps);
                counts.program_pulses += 1;
                if stored[e] & (1 << b) != 0 {
                    // Already parallel (an erase left it at 1).
                    tally.idle[bi] += 1;
                    continue;
                }
                let n = keyed_u53(program_key, draw_index(base + e, b, attempt));
                if n < bp.threshold {
                    stored[e] |= 1 << b;
                    tally.switched[bi] += 1;
                    if self.timed_energy {
                        tally.switch_ns[bi] += self.times[bi].sample(n as f64 * bp.inv_threshold);
                    }
                } else {
                    tally.failed[bi] += 1;
                }
            }
        }
        rounds.finish()
    }

    /// [`Self::program`] on drawn devices: each MTJ switches with its own probability and
    /// its own switching time; under cycle-to-cycle variation each pulse's current is drawn;
    /// with spreads of the resistances (or of the current) each pulse's energy comes from
    /// the MTJ's own resistances and the pulse's current, else from the bit's pulse as for
    /// nominal MTJs.
    #[allow(clippy::too_many_arguments)]
    fn program_devices(
        &self,
        (program_key, devices, current_key): (u64, &TensorDevices, u64),
        base: usize,
        stored: &mut [u32],
        new: &[u32],
        elems: std::ops::Range<usize>,
        mask: u32,
        (attempt, blind): (u32, bool),
        (counts, tally): (&mut WriteCounts, &mut Tally),
    ) -> u64 {
        let pop = self
            .population
            .as_deref()
            .expect("devices come from the population");
        let (nominal, spread) = (&pop.drawer.nominal, &pop.drawer.pulse_current);
        let c2c = spread.is_on();
        let per_pulse_energy = c2c || !devices.resist.is_empty();
        let width = pop.width;
        let mut rounds = Rounds::new(self.parallelism);
        for e in elems {
            let mut todo = new[e] & mask & if blind { u32::MAX } else { !stored[e] };
            while todo != 0 {
                let b = 31 - todo.leading_zeros();
                todo &= !(1 << b);
                let (bi, bp) = (b as usize, &self.bits[b as usize]);
                rounds.pulse(bp.pulse_ps);
                counts.program_pulses += 1;
                let d = (base + e) * width + bi;
                let index = draw_index(base + e, b, attempt);
                // The pulse's current over the MTJ's own, and the MTJ's resistances.
                let c = if c2c {
                    spread.factor(keyed_u53(current_key, index) as f64 / TWO_POW_53)
                } else {
                    1.0
                };
                let energy = |t_switch: Option<f64>| {
                    let (pulse, factor) = match devices.resist.get(d) {
                        Some(&[r_before, r_after, f]) => (
                            self.pulse
                                .with_ohms(f64::from(r_before), f64::from(r_after)),
                            f64::from(f),
                        ),
                        None => (self.pulse, 1.0),
                    };
                    pulse.energy_pj(self.current_ua * factor * c, bp.pulse_ns, t_switch)
                };
                if stored[e] & (1 << b) != 0 {
                    // Already parallel: the post-switch energy throughout.
                    if per_pulse_energy {
                        tally.devices_pj += energy(Some(0.0));
                    } else {
                        tally.idle[bi] += 1;
                    }
                    continue;
                }
                let n = keyed_u53(program_key, index);
                let threshold = if !c2c {
                    devices.threshold[d]
                } else {
                    match devices.bounds.get(d) {
                        Some(&[lo, _]) if n < lo => lo,
                        Some(&[_, hi]) if n >= hi => hi,
                        _ => {
                            let i_ua = self.current_ua * devices.current_factor(d) * c;
                            threshold_u53(devices.laws[d].p_switch(nominal, bp.pulse_ns, i_ua))
                        }
                    }
                };
                let u = n as f64 / TWO_POW_53;
                if n < threshold {
                    stored[e] |= 1 << b;
                    let at = self.timed_energy.then(|| {
                        if c2c {
                            let i_ua = self.current_ua * devices.current_factor(d) * c;
                            devices.laws[d].switch_time_ns(nominal, u, bp.pulse_ns, i_ua)
                        } else {
                            pop.switch_time_ns(devices, d, u, bp.pulse_ns)
                        }
                    });
                    if per_pulse_energy {
                        counts.switches += 1;
                        tally.devices_pj += energy(at.or(Some(0.0)));
                    } else {
                        tally.switched[bi] += 1;
                        tally.switch_ns[bi] += at.unwrap_or(0.0);
                    }
                } else if per_pulse_energy {
                    counts.program_failures += 1;
                    tally.devices_pj += energy(None);
                } else {
                    tally.failed[bi] += 1;
                }
            }
        }
        rounds.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::arch::Inversion;
    use crate::config::device::{PulseWidths, SwitchingModel};

    fn arch(p: f64) -> ArchConfig {
        let mut a = ArchConfig::default();
        a.device.switching = SwitchingModel::Fixed;
        a.device.fixed_pulse_ns = vec![1.0];
        a.device.fixed_p_switch = vec![p];
        a.update.program_pulse_ns = PulseWidths::One(1.0);
        a
    }

    #[test]
    fn sixteen_bit_codes_with_their_flag_write_every_bit() {
        let mut a = ArchConfig::default();
        a.weights.bits = 16;
        a.weights.invert = Inversion::FewerOnes;
        a.string.mtjs = 17;
        a.validate().unwrap();
        let w = StringWriter::new(&a, 1);
        let mut stored = vec![0u32; 4];
        let new = vec![(1u32 << 17) - 1; 4];
        let mut counts = WriteCounts::default();
        w.write(0, 1, 0, &mut stored, &new, &mut counts, &mut Vec::new());
        assert_eq!(counts.program_pulses, 4 * 17);
        assert_eq!(counts.switches + counts.program_failures, 4 * 17);
    }

    #[test]
    fn layouts() {
        let l = Layout { bits: 8, mtjs: 8 };
        assert_eq!(l.strings_for(10), 10);
        assert_eq!(l.string(3, 10), (3, 4, 0xFF));
        let l = Layout { bits: 4, mtjs: 8 };
        assert_eq!(l.strings_for(5), 3);
        assert_eq!(l.string(2, 5), (4, 5, 0xF));
        let l = Layout { bits: 16, mtjs: 8 };
        assert_eq!(l.strings_for(3), 6);
        assert_eq!(l.string(0, 3), (0, 1, 0xFF00));
        assert_eq!(l.string(5, 3), (2, 3, 0x00FF));
    }

    /// A measured surface at 120 µA: P 0.5 at 1 ns and 0.9 at 2 ns, and, with `means`,
    /// mean switching times 0.6 and 0.8 ns.
    fn measured(means: bool) -> ArchConfig {
        use crate::device::measured::Surface;
        let m = [Some(0.6), Some(0.8)];
        let s = Surface::from_grid(&[1.0, 2.0], &[120.0], &[0.5, 0.9], means.then_some(&m[..]))
            .unwrap();
        let mut a = ArchConfig::default();
        a.device.switching = SwitchingModel::Measured;
        a.device.measured = Some(std::sync::Arc::new(s));
        a.update.program_pulse_ns = PulseWidths::One(2.0);
        a
    }

    #[test]
    fn measured_means_are_every_switched_pulses_time() {
        let a = measured(true);
        let sw = Switching::new(&a.device);
        let t = SwitchTimes::new(&sw, 2.0, 120.0);
        for v in [0.0, 0.001, 0.3, 0.999] {
            assert_eq!(t.sample(v), 0.8);
        }
        // Without means: the quantile of the interpolated law, spread over the pulse.
        let sw = Switching::new(&measured(false).device);
        let t = SwitchTimes::new(&sw, 2.0, 120.0);
        assert_eq!(t.sample(0.1), 0.0);
        let late = t.sample(0.99);
        assert!(late > 1.9 && late <= 2.0, "{late}");
        // A write's program energy averages to the measured mean's.
        let w = StringWriter::new(&a, 5);
        let new: Vec<u32> = vec![0xFF; 4000];
        let mut stored = vec![0u32; 4000];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        let pulse = ProgramPulse::new(&a.device, &a.energy);
        let (fail, base, slope) = pulse.linear_pj(120.0, 2.0);
        let want = c.switches as f64 * (base + slope * 0.8) + c.program_failures as f64 * fail;
        assert!(
            (c.program_energy_pj - want).abs() < 1e-9 * want,
            "{} vs {want}",
            c.program_energy_pj
        );
        let p = c.switches as f64 / c.program_pulses as f64;
        assert!((p - 0.9).abs() < 0.01, "{p}");
    }

    #[test]
    fn certain_switching_stores_exactly_and_counts() {
        let w = StringWriter::new(&arch(1.0), 1);
        let mut stored = vec![0u32; 3];
        let new = [0b1010_0001, 0, 0xFF];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        assert_eq!(stored, new);
        assert_eq!(c.strings_written, 2);
        assert_eq!(c.strings_skipped, 1);
        assert_eq!(c.program_pulses, 3 + 8);
        assert_eq!(c.switches, 11);
        assert_eq!(c.bit_errors, 0);
        // Each string: a 1 ns erase, then one 1 ns pulse per 1 bit.
        assert_eq!(log[0].duration_ps, 1000 + 3 * 1000);
        assert_eq!(log[1].string, 2);
        assert_eq!(log[1].duration_ps, 1000 + 8 * 1000);
        assert_eq!(c.write_time_ps, 13_000);
        assert_eq!(c.program_time_ps, 11_000);
    }

    #[test]
    fn failures_only_clear_bits_and_verify_repairs_them() {
        let mut a = arch(0.5);
        let w = StringWriter::new(&a, 3);
        let new: Vec<u32> = (0..200).map(|i| (i * 37 % 256) as u32).collect();
        let mut stored = vec![0u32; 200];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        assert!(stored.iter().zip(&new).all(|(s, n)| s & !n == 0));
        assert!(c.program_failures > 0 && c.bit_errors == c.program_failures);
        a.update.verify_bits = 8;
        a.update.verify_max_retries = 60;
        let w = StringWriter::new(&a, 3);
        let mut stored = vec![0u32; 200];
        let mut c = WriteCounts::default();
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        assert_eq!(stored, new);
        assert_eq!(c.bit_errors, 0);
        assert!(c.verify_reads > c.strings_written);
    }

    #[test]
    fn parallel_programming_takes_rounds() {
        let mut a = arch(1.0);
        a.string.program_parallelism = 4;
        a.update.program_pulse_ns =
            PulseWidths::PerBit(vec![3.0, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0]);
        let w = StringWriter::new(&a, 0);
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        let mut stored = vec![0u32; 1];
        // Five 1 bits: MSB (3 ns) and four LSBs (1 ns): rounds {7,3,2,1} -> 3 ns, {0} -> 1 ns.
        w.write(0, 1, 0, &mut stored, &[0b1000_1111], &mut c, &mut log);
        assert_eq!(log[0].duration_ps, 1000 + 3000 + 1000);
    }

    /// Energy and time of one string write of `new` over `held`, with the given erase mode;
    /// returns (held afterwards, counts, duration in ps).
    fn one(a: &ArchConfig, held: u32, new: u32) -> (u32, WriteCounts, u64) {
        let w = StringWriter::new(a, 7);
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        let mut stored = vec![held];
        w.write(0, 1, 0, &mut stored, &[new], &mut c, &mut log);
        (stored[0], c, log[0].duration_ps)
    }

    #[test]
    fn erase_when_needed_saves_exactly_the_erase_and_the_kept_pulses() {
        let always = arch(1.0);
        let mut needed = arch(1.0);
        needed.update.erase = EraseMode::WhenNeeded;
        let erase_pj = erase_energy_pj(&always.string, &always.energy);
        // From erased strings: only the erase is saved, to the bit and the picosecond.
        let (h1, c1, t1) = one(&always, 0, 0b1011_0001);
        let (h2, c2, t2) = one(&needed, 0, 0b1011_0001);
        assert_eq!((h1, h2), (0b1011_0001, 0b1011_0001));
        assert_eq!((c1.erase_pulses, c2.erase_pulses), (1, 0));
        assert_eq!((c1.erases_skipped, c2.erases_skipped), (0, 1));
        assert_eq!(c1.program_pulses, c2.program_pulses);
        assert_eq!(t1 - t2, 1000, "the 1 ns erase");
        assert_eq!(c1.write_time_ps - c2.write_time_ps, 1000);
        assert!((c1.write_energy_pj() - c2.write_energy_pj() - erase_pj).abs() < 1e-12);
        // Adding 1s to a code that has some: the kept 1s get no pulse either (a fixed pulse
        // energy, so that every pulse costs the same).
        let (mut always, mut needed) = (always, needed);
        always.energy.mtj_program_pulse_pj = Some(0.2);
        needed.energy.mtj_program_pulse_pj = Some(0.2);
        let (h1, c1, t1) = one(&always, 0b1000_0001, 0b1011_0001);
        let (h2, c2, t2) = one(&needed, 0b1000_0001, 0b1011_0001);
        assert_eq!(h1, h2);
        assert_eq!((c1.program_pulses, c2.program_pulses), (4, 2));
        assert_eq!(t1 - t2, 1000 + 2 * 1000);
        let saved = c1.write_energy_pj() - c2.write_energy_pj();
        assert!((saved - erase_pj - 2.0 * 0.2).abs() < 1e-9, "{saved}");
        // A 1 that must become 0 still needs the erase.
        let (h, c, _) = one(&needed, 0b1000_0011, 0b1011_0001);
        assert_eq!((h, c.erase_pulses, c.erases_skipped), (0b1011_0001, 1, 0));
    }

    #[test]
    fn verify_bits_check_only_the_top_bits() {
        let mut a = arch(0.3);
        a.update.verify_bits = 2;
        a.update.verify_max_retries = 200;
        let w = StringWriter::new(&a, 11);
        let new: Vec<u32> = vec![0xFF; 300];
        let mut stored = vec![0u32; 300];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        // The two MSBs always end right; the six others fail at P = 0.3 as blind writes do.
        assert!(stored.iter().all(|s| s & 0xC0 == 0xC0));
        let low_ones: u32 = stored.iter().map(|s| (s & 0x3F).count_ones()).sum();
        let p = f64::from(low_ones) / (300.0 * 6.0);
        assert!(p > 0.2 && p < 0.6, "low bits switched at {p}");
        // Each read senses the two checked MTJs of the string, and costs their energy.
        assert_eq!(c.bits_read, 2 * c.verify_reads);
        let per_bit = read_energy_pj(&a.device, &a.energy);
        assert!((c.read_energy_pj - c.bits_read as f64 * per_bit).abs() < 1e-9);
        assert!(c.read_energy_pj > 0.0);
        assert!(c.verify_reads > 300);
        // The masks: MSBs, and the flag with inversion.
        let f = Format::plain(8, crate::config::arch::Encoding::TwosComplement);
        assert_eq!(verify_mask(&f, 0), 0);
        assert_eq!(verify_mask(&f, 3), 0xE0);
        assert_eq!(verify_mask(&f, 8), 0xFF);
        let f = Format { invert: true, ..f };
        assert_eq!(verify_mask(&f, 1), 0x180);
    }

    #[test]
    fn inversion_flags_take_a_place_and_can_fail() {
        let mut a = arch(1.0);
        a.weights.bits = 7;
        a.weights.invert = Inversion::FewerOnes;
        let w = StringWriter::new(&a, 5);
        assert_eq!(w.layout(), Layout { bits: 8, mtjs: 8 });
        // -1 (seven 1s) is stored as the flag alone: one pulse, not seven.
        let f = Format {
            bits: 7,
            encoding: a.weights.encoding,
            invert: true,
        };
        let (held, c, _) = one(&a, 0, f.encode(-1));
        assert_eq!((held, c.program_pulses), (0x80, 1));
        assert_eq!(f.decode(held), -1);
        // When the flag's pulse fails, the code reads as its complement (0 here).
        let mut a = a.clone();
        a.device.fixed_p_switch = vec![0.5];
        let w = StringWriter::new(&a, 5);
        let new = vec![f.encode(-1); 400];
        let mut stored = vec![0u32; 400];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        let zeros = stored.iter().filter(|&&s| f.decode(s) == 0).count();
        assert!(zeros > 150 && zeros < 250, "{zeros}");
        assert_eq!(c.bits_written, 400 * 8);
    }

    #[test]
    fn verify_reads_once_when_the_write_is_right() {
        let mut a = arch(1.0);
        a.update.verify_bits = 8;
        let w = StringWriter::new(&a, 1);
        let new = [0b1010_0001u32, 0x0F];
        let mut stored = vec![0u32; 2];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &new, &mut c, &mut log);
        assert_eq!(stored, new);
        assert_eq!((c.verify_reads, c.bits_read), (2, 16));
        // Erase, one 1 ns pulse per 1 bit, one 1 ns read.
        assert_eq!(log[0].duration_ps, 1000 + 3 * 1000 + 1000);
        assert_eq!(log[1].duration_ps, 1000 + 4 * 1000 + 1000);
        assert_eq!(c.write_time_ps, 5000 + 6000);
        assert_eq!(c.program_time_ps, 7000);
    }

    #[test]
    fn strings_holding_the_intended_code_are_skipped() {
        let w = StringWriter::new(&arch(1.0), 1);
        let codes = [0b1010_0001, 0xFF, 0, 0x80];
        let mut stored = codes.to_vec();
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &codes, &mut c, &mut log);
        assert_eq!((c.strings_written, c.strings_skipped), (0, 4));
        assert!(log.is_empty());
        // One bit off is a rewrite, with a threshold of 1 LSB.
        stored[1] = 0xFE;
        w.write(0, 2, 0, &mut stored, &codes, &mut c, &mut log);
        assert_eq!((c.strings_written, c.strings_skipped), (1, 7));
        assert_eq!(stored, codes);
    }

    #[test]
    fn write_threshold_skips_small_differences() {
        let mut a = arch(1.0);
        a.update.write_threshold_lsb = 3;
        let w = StringWriter::new(&a, 1);
        let mut stored = vec![10u32, 10, 10];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(0, 1, 0, &mut stored, &[12, 13, 7], &mut c, &mut log);
        assert_eq!(stored, [10, 13, 7]);
        assert_eq!((c.strings_written, c.strings_skipped), (2, 1));
        // The initial write (step 0) writes every code.
        let mut stored = vec![0u32; 2];
        w.write(0, 0, 0, &mut stored, &[1, 2], &mut c, &mut log);
        assert_eq!(stored, [1, 2]);
    }
}
