//! What the in-memory MACs of one layer's pass cost: AND operations between rows, each
//! sensing `pim.and_row_bits` bit products, counted by the periphery's population counters
//! and accumulated by its shift-add units. A dot product of length K between a-bit and
//! b-bit operands takes a·b·K bit products, so a pass of M MACs takes ceil(a·b·M /
//! and_row_bits) ANDs, as many population counts and as many shift-adds.

use crate::config::ArchConfig;
use crate::device::string::ns_to_ps;
use crate::engine::Ps;
use crate::sched::Phase;

/// The in-memory MACs' costs and durations, as the arch describes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PimCost {
    /// Whether FW, AG and WG run in memory.
    pub fw: bool,
    /// See `fw`.
    pub ag: bool,
    /// See `fw`.
    pub wg: bool,
    /// Bits of an activation, a gradient and a weight.
    pub bits: (u64, u64, u64),
    /// Bit products of one AND.
    pub and_row_bits: u64,
    /// One AND, in ps.
    pub and_ps: Ps,
    /// One AND, in pJ.
    pub and_pj: f64,
    /// Population counters and shift-add units per subarray.
    pub counters: u64,
    /// See `counters`.
    pub adders: u64,
    /// One clock cycle (one count, one shift-add), in ps.
    pub cycle_ps: Ps,
    /// Counting one AND row, in pJ (scaled to the node).
    pub popcount_pj: f64,
    /// One shift-add, in pJ (scaled to the node).
    pub shift_add_pj: f64,
}

impl PimCost {
    /// The costs of `arch` with `tile.compute = "pim"` (`None` otherwise).
    pub fn of(arch: &ArchConfig) -> Option<Self> {
        if arch.tile.compute != crate::config::hw::Compute::Pim {
            return None;
        }
        let p = &arch.pim;
        let and_row_bits = u64::from(p.and_row_bits.unwrap_or(arch.subarray.sense_amps));
        let read_bit_pj = crate::device::circuit::read_energy_pj(&arch.device, &arch.energy);
        let and_bit_pj = p.and_bit_pj.unwrap_or(2.0 * read_bit_pj);
        let scale = crate::hw::scaling::factor(
            (p.measured_at[0], p.measured_at[1]),
            (arch.tech.node_nm, arch.tech.vdd_v),
        );
        Some(Self {
            fw: p.runs("FW"),
            ag: p.runs("AG"),
            wg: p.runs("WG"),
            bits: (
                u64::from(p.activation_bits),
                u64::from(p.gradient_bits),
                u64::from(arch.weights.bits),
            ),
            and_row_bits,
            and_ps: ns_to_ps(p.and_ns.unwrap_or(arch.device.read_ns)),
            and_pj: and_row_bits as f64 * and_bit_pj,
            counters: u64::from(p.counters),
            adders: u64::from(p.adders),
            cycle_ps: arch.chip.cycle_ps(),
            popcount_pj: and_row_bits as f64 * p.popcount_bit_pj * scale,
            shift_add_pj: p.shift_add_pj * scale,
        })
    }

    /// Whether `phase` runs in memory.
    pub fn runs(&self, phase: Phase) -> bool {
        match phase {
            Phase::Fw => self.fw,
            Phase::Ag => self.ag,
            Phase::Wg => self.wg,
            _ => false,
        }
    }

    /// Bits of the two operands of `phase`'s MACs: activation and weight (FW), gradient
    /// and weight (AG), activation and gradient (WG).
    pub fn operand_bits(&self, phase: Phase) -> (u64, u64) {
        let (a, g, w) = self.bits;
        match phase {
            Phase::Ag => (g, w),
            Phase::Wg => (a, g),
            _ => (a, w),
        }
    }

    /// AND operations of `macs` MACs of `phase`.
    pub fn ands(&self, phase: Phase, macs: u64) -> u64 {
        let (x, y) = self.operand_bits(phase);
        let products = u128::from(x) * u128::from(y) * u128::from(macs);
        products.div_ceil(u128::from(self.and_row_bits)) as u64
    }

    /// How long one subarray takes for `ands` ANDs, counts and shift-adds, pipelined (the
    /// slowest stage sets the pace), in ps; and each stage's busy time.
    pub fn duration_ps(&self, ands: u64) -> (Ps, [Ps; 3]) {
        let and = ands.saturating_mul(self.and_ps);
        let count = ands.div_ceil(self.counters).saturating_mul(self.cycle_ps);
        let add = ands.div_ceil(self.adders).saturating_mul(self.cycle_ps);
        (and.max(count).max(add), [and, count, add])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hw::Compute;

    #[test]
    fn ands_follow_the_operand_bits_and_the_row_width() {
        let mut a = ArchConfig::default();
        assert!(PimCost::of(&a).is_none());
        a.tile.compute = Compute::Pim;
        a.pim.activation_bits = 4;
        a.pim.gradient_bits = 6;
        a.weights.bits = 8;
        a.pim.and_row_bits = Some(64);
        let c = PimCost::of(&a).unwrap();
        assert_eq!(c.ands(Phase::Fw, 1000), 4 * 8 * 1000 / 64);
        assert_eq!(c.ands(Phase::Ag, 1000), 6 * 8 * 1000 / 64);
        assert_eq!(c.ands(Phase::Wg, 1000), (4 * 6 * 1000u64).div_ceil(64));
        assert_eq!(c.ands(Phase::Fw, 1), 1, "a partial row is one AND");
        // Defaults: a row of sense_amps bits, a read's time, twice a read's energy per bit.
        let mut d = ArchConfig::default();
        d.tile.compute = Compute::Pim;
        let c = PimCost::of(&d).unwrap();
        assert_eq!(c.and_row_bits, u64::from(d.subarray.sense_amps));
        assert_eq!(c.and_ps, ns_to_ps(d.device.read_ns));
        let read = crate::device::circuit::read_energy_pj(&d.device, &d.energy);
        assert!((c.and_pj - 2.0 * read * c.and_row_bits as f64).abs() < 1e-12);
        assert!((c.popcount_pj - 0.004 * c.and_row_bits as f64).abs() < 1e-12);
        assert_eq!(c.shift_add_pj, 0.1);
        // At 32 nm the digital periphery scales by the published fits; the AND does not.
        d.tech.node_nm = 32.0;
        let s = PimCost::of(&d).unwrap();
        assert!((s.shift_add_pj / 0.1 - 0.6541).abs() < 1e-3);
        assert!((s.popcount_pj / c.popcount_pj - 0.6541).abs() < 1e-3);
        assert_eq!(s.and_pj, c.and_pj);
    }

    #[test]
    fn only_the_listed_phases_run_in_memory() {
        let mut a = ArchConfig::default();
        a.tile.compute = Compute::Pim;
        for (phases, want) in [
            (vec!["FW"], [true, false, false]),
            (vec!["AG"], [false, true, false]),
            (vec!["WG", "FW"], [true, false, true]),
        ] {
            a.pim.phases = phases.iter().map(|p| p.to_string()).collect();
            let c = PimCost::of(&a).unwrap();
            let got = [Phase::Fw, Phase::Ag, Phase::Wg].map(|p| c.runs(p));
            assert_eq!(got, want, "{phases:?}");
            assert!(!c.runs(Phase::Wu) && !c.runs(Phase::Swap));
        }
    }

    #[test]
    fn the_slowest_stage_sets_the_pace() {
        let mut a = ArchConfig::default();
        a.tile.compute = Compute::Pim;
        a.pim.and_ns = Some(2.0);
        a.chip.clock_ghz = 1.0;
        let c = PimCost::of(&a).unwrap();
        assert_eq!(c.duration_ps(10), (20_000, [20_000, 10_000, 10_000]));
        a.pim.and_ns = Some(0.5);
        a.pim.counters = 2;
        let c = PimCost::of(&a).unwrap();
        // Counting 10 rows on 2 counters takes 5 cycles; one adder takes 10.
        assert_eq!(c.duration_ps(10), (10_000, [5_000, 5_000, 10_000]));
    }
}
