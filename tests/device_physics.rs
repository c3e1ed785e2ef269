//! Device physics, checked through the public API and the real write path.
//!
//! - Monte Carlo against closed form: the fraction of program pulses that switch in
//!   `StringWriter::write` matches `Switching::p_switch` (at the ps-rounded width) for the
//!   precessional, thermal and fixed-table laws over a grid of widths and currents.
//! - Switching times and energy: the `SwitchTimes` table samples the conditional switching
//!   time with the mean `Switching::mean_switch_ns` gives; the program energy the writer
//!   adds up matches `ProgramPulse::expected_energy_pj` per pulse and the switching-time
//!   mean per switched pulse, under current and voltage drive.
//! - Properties: P(switch) never falls with width or current; the mean pulse energy rises
//!   strictly with width; a failed pulse never turns a 0 into a 1, skipped strings keep
//!   their bits, and `bit_errors` counts exactly the wrong bits.
//! - Certainty: p = 1 stores every code exactly, p = 0 leaves every written string at 0.
//! - Determinism: writing a tensor in slices gives the bits and counts of writing it whole.

use nandspin::config::arch::{ArchConfig, Encoding};
use nandspin::config::device::{DeviceConfig, Drive, PulseWidths, SwitchingModel};
use nandspin::device::circuit::ProgramPulse;
use nandspin::device::string::{SwitchTimes, ns_to_ps};
use nandspin::device::{Layout, StringWrite, StringWriter, Switching, WriteCounts};
use nandspin::rng::{TWO_POW_53, key, keyed_u53};
use nandspin::store::format::Format;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const ENCODINGS: [Encoding; 3] = [
    Encoding::TwosComplement,
    Encoding::SignMagnitude,
    Encoding::OffsetBinary,
];

/// Code widths that fit 8-MTJ strings (divide 8 or are a multiple of it).
const BITS: [u32; 4] = [2, 4, 8, 16];

/// The default MTJ: precessional, Δ 40, I_c0 30 µA, τ_D ~ 0.95 ns.
fn precessional() -> DeviceConfig {
    DeviceConfig::default()
}

/// A thermally activated MTJ with a low barrier (Δ 10, τ0 1 ns), so that currents of
/// 0.7-0.9 I_c0 switch ns pulses with probabilities between a few % and most.
fn thermal() -> DeviceConfig {
    DeviceConfig {
        switching: SwitchingModel::Thermal,
        delta: 10.0,
        tau0_ns: 1.0,
        ..DeviceConfig::default()
    }
}

/// A fixed switching-probability table.
fn fixed(pulse_ns: &[f64], p: &[f64]) -> DeviceConfig {
    DeviceConfig {
        switching: SwitchingModel::Fixed,
        fixed_pulse_ns: pulse_ns.to_vec(),
        fixed_p_switch: p.to_vec(),
        ..DeviceConfig::default()
    }
}

/// A `bits`-bit nandspin arch on 8-MTJ strings whose program pulses are `pulse_ns` wide at
/// `current_ua`.
fn arch(device: DeviceConfig, bits: u32, pulse_ns: f64, current_ua: f64) -> ArchConfig {
    let mut a = ArchConfig {
        device,
        ..ArchConfig::default()
    };
    a.weights.bits = bits;
    a.string.mtjs = 8;
    a.update.program_pulse_ns = PulseWidths::One(pulse_ns);
    a.update.program_current_ua = current_ua;
    a
}

/// One write of `new` over `stored` (param 0, step 1, the whole tensor).
fn write(w: &StringWriter, stored: &mut [u32], new: &[u32]) -> (WriteCounts, Vec<StringWrite>) {
    let (mut c, mut log) = (WriteCounts::default(), Vec::new());
    w.write(0, 1, 0, stored, new, &mut c, &mut log);
    (c, log)
}

/// Writes `n` all-ones 8-bit codes into erased strings: 8 n program pulses.
fn write_all_ones(a: &ArchConfig, seed: u64, n: usize) -> (StringWriter, WriteCounts) {
    let w = StringWriter::new(a, seed);
    let mut stored = vec![0u32; n];
    let (c, _) = write(&w, &mut stored, &vec![0xFF; n]);
    assert_eq!(c.program_pulses, 8 * n as u64);
    assert_eq!(c.switches + c.program_failures, c.program_pulses);
    (w, c)
}

/// A seed of its own for each Monte Carlo grid point, so that points are independent.
fn grid_seed(parts: &[u64]) -> u64 {
    key(parts)
}

/// Width as the writer sees it: rounded to the 1 ps grid.
fn on_grid(pulse_ns: f64) -> f64 {
    ns_to_ps(pulse_ns) as f64 / 1000.0
}

/// Whether `hits` of `n` Bernoulli(p) trials is within 5 standard deviations of n p (plus
/// two counts, for p within ~1e-5 of 0 or 1).
fn binomial_ok(hits: u64, n: u64, p: f64) -> bool {
    let (n, hits) = (n as f64, hits as f64);
    let sd = (n * p * (1.0 - p)).sqrt();
    (hits - n * p).abs() <= 5.0 * sd + 2.0
}

/// Mean and variance of the switching time given T <= `pulse_ns`, by midpoint quadrature
/// of the exact quantile over v in [0, 1): T | switched = Q(v p).
fn conditional_time_moments(sw: &Switching, pulse_ns: f64, current_ua: f64) -> (f64, f64) {
    let n = 1 << 16;
    let p = sw.p_switch(pulse_ns, current_ua);
    let (mut s1, mut s2) = (0.0, 0.0);
    for j in 0..n {
        let v = (j as f64 + 0.5) / n as f64;
        let t = sw.quantile(v * p, current_ua).clamp(0.0, pulse_ns);
        s1 += t;
        s2 += t * t;
    }
    let mean = s1 / n as f64;
    (mean, (s2 / n as f64 - mean * mean).max(0.0))
}

/// `n` pseudo-random words (stream `stream`), for test inputs outside proptest.
fn words(stream: u64, n: usize) -> Vec<u64> {
    let k = key(&[0xD3_1CE, stream]);
    (0..n as u64).map(|i| keyed_u53(k, i)).collect()
}

/// The grid of the Monte Carlo tests: a device and the currents to drive it with.
fn mc_grid() -> Vec<(&'static str, DeviceConfig, Vec<f64>)> {
    vec![
        (
            "precessional",
            precessional(),
            vec![60.0, 90.0, 120.0, 150.0],
        ),
        // 0.7, 0.8, 0.9 I_c0: tau = e^3, e^2, e^1 ns.
        ("thermal", thermal(), vec![21.0, 24.0, 27.0]),
        (
            "fixed",
            fixed(&[0.5, 1.0, 3.0], &[0.2, 0.8, 0.99]),
            vec![100.0],
        ),
    ]
}

const MC_WIDTHS_NS: [f64; 5] = [0.5, 1.0, 1.5, 2.0, 3.0];

// ---------------------------------------------------------------------------------------
// 1. Monte Carlo vs closed form
// ---------------------------------------------------------------------------------------

#[test]
fn switched_fraction_matches_closed_form() {
    let n = 20_000;
    for (name, device, currents) in mc_grid() {
        let sw = Switching::new(&device);
        let mut informative = 0;
        for &i in &currents {
            for &t in &MC_WIDTHS_NS {
                let a = arch(device.clone(), 8, t, i);
                let seed = grid_seed(&[1, i.to_bits(), t.to_bits()]);
                let (w, c) = write_all_ones(&a, seed, n);
                let p = w.p_switch(0);
                // Whole-ps widths reach the physics unchanged.
                assert_eq!(p, sw.p_switch(t, i), "{name} {t} ns {i} µA");
                for b in 1..8 {
                    assert_eq!(w.p_switch(b), p);
                }
                assert!(
                    binomial_ok(c.switches, c.program_pulses, p),
                    "{name} {t} ns {i} µA: {} of {} switched, p = {p}",
                    c.switches,
                    c.program_pulses
                );
                assert_eq!(c.bit_errors, c.program_failures);
                if (0.05..=0.95).contains(&p) {
                    informative += 1;
                }
            }
        }
        // The grid must probe the steep part of each law, not only 0 and 1.
        assert!(
            informative >= 3,
            "{name}: only {informative} points in 5-95 %"
        );
    }
}

#[test]
fn writer_rounds_widths_to_the_ps_grid() {
    // 0.7004 ns is 700 ps on the grid: the writer's probability is F(0.700 ns).
    let sw = Switching::new(&precessional());
    let w = StringWriter::new(&arch(precessional(), 8, 0.7004, 120.0), 0);
    assert_eq!(ns_to_ps(0.7004), 700);
    assert_eq!(w.p_switch(3), sw.p_switch(0.7, 120.0));
    assert_ne!(w.p_switch(3), sw.p_switch(0.7004, 120.0));
    // And the Monte Carlo follows the rounded width.
    let (w, c) = write_all_ones(&arch(precessional(), 8, 0.7004, 120.0), 9, 20_000);
    assert!(binomial_ok(c.switches, c.program_pulses, w.p_switch(0)));
    // Below 1 ps the grid holds 1 ps.
    assert_eq!(ns_to_ps(1e-5), 1);
    assert_eq!(on_grid(1e-5), 0.001);
}

// ---------------------------------------------------------------------------------------
// 2. Switching times and energy
// ---------------------------------------------------------------------------------------

#[test]
fn switch_time_table_mean_matches_closed_form() {
    let n = 1 << 16;
    for (name, device, currents) in mc_grid() {
        let sw = Switching::new(&device);
        for &i in &currents {
            for &t in &MC_WIDTHS_NS {
                let p = sw.p_switch(t, i);
                // The table holds times of pulses that switch: none to compare at p = 0.
                if p <= 0.0 {
                    continue;
                }
                let exact = sw.mean_switch_ns(t, i).unwrap();
                let table = SwitchTimes::new(&sw, t, i);
                // Stratified v: one draw per 1/n of [0, 1).
                let mean = (0..n)
                    .map(|j| table.sample((j as f64 + 0.5) / n as f64))
                    .sum::<f64>()
                    / n as f64;
                assert!(
                    (mean - exact).abs() <= 0.01 * exact,
                    "{name} {t} ns {i} µA (p {p}): table mean {mean} vs {exact}"
                );
                // Every sample lies within the pulse.
                for v in [0.0, 1e-9, 0.5, 1.0 - 1e-12] {
                    let s = table.sample(v);
                    assert!((0.0..=t).contains(&s), "{name} {t} ns {i} µA: {s} at {v}");
                }
                // The quantile's own moments agree with the closed form too.
                let (q_mean, _) = conditional_time_moments(&sw, t, i);
                assert!(
                    (q_mean - exact).abs() <= 1e-3 * exact,
                    "{name} {t} ns {i} µA: quantile mean {q_mean} vs {exact}"
                );
            }
        }
    }
}

#[test]
fn switch_time_table_mean_under_keyed_draws() {
    // The writer maps a switching draw n < threshold to v = n / threshold: uniform.
    let sw = Switching::new(&precessional());
    let (t, i) = (1.0, 120.0);
    let table = SwitchTimes::new(&sw, t, i);
    let k = key(&[77]);
    let n = 200_000;
    let mean = (0..n)
        .map(|j| table.sample(keyed_u53(k, j) as f64 / TWO_POW_53))
        .sum::<f64>()
        / n as f64;
    let exact = sw.mean_switch_ns(t, i).unwrap();
    let (_, var) = conditional_time_moments(&sw, t, i);
    let tol = 0.005 * exact + 5.0 * (var / n as f64).sqrt();
    assert!((mean - exact).abs() <= tol, "{mean} vs {exact} (tol {tol})");
}

#[test]
fn program_energy_matches_closed_form() {
    let n = 20_000;
    for drive in [Drive::Current, Drive::Voltage] {
        for (name, device, currents) in mc_grid() {
            let device = DeviceConfig { drive, ..device };
            let sw = Switching::new(&device);
            for &i in &currents {
                for &t in &MC_WIDTHS_NS {
                    let a = arch(device.clone(), 8, t, i);
                    let pulse = ProgramPulse::new(&a.device, &a.energy);
                    assert!(pulse.depends_on_switch_time());
                    let seed = grid_seed(&[2, drive as u64, i.to_bits(), t.to_bits()]);
                    let (_, c) = write_all_ones(&a, seed, n);
                    let here = format!("{name} {drive:?} {t} ns {i} µA");

                    // Mean energy per pulse, over outcomes and switching times.
                    let mc = c.program_energy_pj / c.program_pulses as f64;
                    let exact = pulse.expected_energy_pj(&sw, i, on_grid(t));
                    assert!(
                        (mc - exact).abs() <= 0.01 * exact,
                        "{here}: {mc} pJ per pulse vs {exact}"
                    );

                    // Failed pulses cost a fixed amount; what the switched ones cost beyond
                    // `base` is `slope` times their switching time.
                    if c.switches < 1000 {
                        continue;
                    }
                    let (fail, base, slope) = pulse.linear_pj(i, t);
                    let switched_pj = c.program_energy_pj - c.program_failures as f64 * fail;
                    let t_mc = (switched_pj / c.switches as f64 - base) / slope;
                    let t_exact = sw.mean_switch_ns(t, i).unwrap();
                    let (_, var) = conditional_time_moments(&sw, t, i);
                    let tol = 0.005 * t_exact + 5.0 * (var / c.switches as f64).sqrt() + 1e-6;
                    assert!(
                        (t_mc - t_exact).abs() <= tol,
                        "{here}: mean switching time {t_mc} ns vs {t_exact} (tol {tol})"
                    );
                }
            }
        }
    }
}

#[test]
fn fixed_pulse_energy_override_is_per_pulse() {
    let mut a = arch(fixed(&[1.0], &[0.5]), 8, 1.0, 100.0);
    a.energy.mtj_program_pulse_pj = Some(0.25);
    let (_, c) = write_all_ones(&a, 5, 1000);
    assert!((c.program_energy_pj - 0.25 * c.program_pulses as f64).abs() < 1e-9);
}

/// `Switching::mean_switch_ns` stays exact when p is tiny (no cancellation): precessional,
/// default device, 60 µA, 0.5 ns: p = 1.24e-15; the mean is ~0.487 ns (quadrature of the
/// exact quantile, and the law's exponential tail: t_p - 1/(k ln(1/F)) = 0.486).
#[test]
fn mean_switch_time_at_tiny_probability() {
    let sw = Switching::new(&precessional());
    let (t, i) = (0.5, 60.0);
    let p = sw.p_switch(t, i);
    assert!(p > 0.0 && p < 1e-12, "{p}");
    let (q_mean, _) = conditional_time_moments(&sw, t, i);
    let closed = sw.mean_switch_ns(t, i).unwrap();
    assert!(
        (closed - q_mean).abs() <= 0.01 * q_mean,
        "p {p}: mean_switch_ns {closed} vs quantile mean {q_mean}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. Properties
// ---------------------------------------------------------------------------------------

/// A random device of the given law (parameters in the validated ranges).
fn device_strategy(model: SwitchingModel) -> impl Strategy<Value = DeviceConfig> {
    (
        5.0f64..80.0,
        0.005f64..0.2,
        0.05f64..1.0,
        5.0f64..100.0,
        0.1f64..10.0,
        prop::collection::vec((0.01f64..10.0, 0.0f64..1.0), 1..5),
    )
        .prop_map(move |(delta, damping, mu0_hk_t, ic0_ua, tau0_ns, table)| {
            let mut w: Vec<f64> = table.iter().map(|x| x.0).collect();
            let mut p: Vec<f64> = table.iter().map(|x| x.1).collect();
            w.sort_by(f64::total_cmp);
            w.dedup();
            p.truncate(w.len());
            p.sort_by(f64::total_cmp);
            DeviceConfig {
                switching: model,
                delta,
                damping,
                mu0_hk_t,
                ic0_ua,
                tau0_ns,
                fixed_pulse_ns: w,
                fixed_p_switch: p,
                ..DeviceConfig::default()
            }
        })
}

fn any_model() -> impl Strategy<Value = SwitchingModel> {
    prop_oneof![
        Just(SwitchingModel::Precessional),
        Just(SwitchingModel::Thermal),
        Just(SwitchingModel::Fixed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn p_switch_rises_with_width(
        d in any_model().prop_flat_map(device_strategy),
        t1 in 0.001f64..30.0,
        dt in 0.0f64..30.0,
        ratio in 0.0f64..6.0,
    ) {
        let sw = Switching::new(&d);
        let i = ratio * d.ic0_ua;
        let (p1, p2) = (sw.p_switch(t1, i), sw.p_switch(t1 + dt, i));
        prop_assert!((0.0..=1.0).contains(&p1));
        prop_assert!(p2 >= p1, "{:?} i {}: P({}) = {} > P({}) = {}", d.switching, i, t1, p1, t1 + dt, p2);
    }

    #[test]
    fn p_switch_rises_with_current(
        d in prop_oneof![Just(SwitchingModel::Precessional), Just(SwitchingModel::Thermal)]
            .prop_flat_map(device_strategy),
        t in 0.001f64..30.0,
        r1 in 1.0f64..6.0,
        dr in 0.0f64..3.0,
    ) {
        // Precessional switching only above I_c0; thermal from any current.
        let r1 = if d.switching == SwitchingModel::Thermal { r1 - 1.0 } else { r1 };
        let sw = Switching::new(&d);
        let (i1, i2) = (r1 * d.ic0_ua, (r1 + dr) * d.ic0_ua);
        let (p1, p2) = (sw.p_switch(t, i1), sw.p_switch(t, i2));
        prop_assert!(p2 >= p1, "{:?} t {}: P({} µA) = {} > P({} µA) = {}", d.switching, t, i1, p1, i2, p2);
    }

    #[test]
    fn mean_pulse_energy_rises_strictly_with_width(
        d in any_model().prop_flat_map(device_strategy),
        voltage in any::<bool>(),
        t1 in 0.001f64..50.0,
        dt in 0.001f64..50.0,
        ratio in 1.01f64..6.0,
    ) {
        let d = DeviceConfig {
            drive: if voltage { Drive::Voltage } else { Drive::Current },
            ..d
        };
        let a = ArchConfig::default();
        let pulse = ProgramPulse::new(&d, &a.energy);
        let sw = Switching::new(&d);
        let i = ratio * d.ic0_ua;
        let (e1, e2) = (
            pulse.expected_energy_pj(&sw, i, t1),
            pulse.expected_energy_pj(&sw, i, t1 + dt),
        );
        prop_assert!(e2 > e1, "{:?} {:?} i {}: E({}) = {} >= E({}) = {}",
            d.switching, d.drive, i, t1, e1, t1 + dt, e2);
        // Between the energies of a pulse that switches at once and one that never does.
        let lo = pulse.energy_pj(i, t1, Some(0.0)).min(pulse.energy_pj(i, t1, None));
        let hi = pulse.energy_pj(i, t1, Some(0.0)).max(pulse.energy_pj(i, t1, None));
        prop_assert!(e1 >= lo * (1.0 - 1e-12) && e1 <= hi * (1.0 + 1e-12),
            "{} not in [{}, {}]", e1, lo, hi);
    }

    #[test]
    fn failures_never_set_bits_and_errors_are_counted(
        bits_ix in 0usize..4,
        enc_ix in 0usize..3,
        p in 0.0f64..=1.0,
        seed in any::<u64>(),
        skip_unchanged in any::<bool>(),
        elems in prop::collection::vec((any::<u32>(), any::<u32>(), 0u8..3), 0..48),
    ) {
        let bits = BITS[bits_ix];
        let format = Format::plain(bits, ENCODINGS[enc_ix]);
        let full = (1u32 << bits) - 1;
        let span = (format.q_max() - format.q_min() + 1) as u32;
        let new: Vec<u32> = elems
            .iter()
            .map(|&(q, _, _)| format.encode(format.q_min() + (q % span) as i32))
            .collect();
        // A third of the old codes equal the new ones, so strings get skipped.
        let old: Vec<u32> = elems
            .iter()
            .zip(&new)
            .map(|(&(_, o, keep), &n)| if keep == 0 { n } else { o & full })
            .collect();

        let mut a = arch(fixed(&[1.0], &[p]), bits, 1.0, 100.0);
        a.update.skip_unchanged = skip_unchanged;
        a.string.erase_failure_p = 0.0;
        let w = StringWriter::new(&a, seed);
        prop_assert_eq!(w.p_switch(0), p);
        let mut stored = old.clone();
        let (c, log) = write(&w, &mut stored, &new);

        let layout = w.layout();
        prop_assert_eq!(layout, Layout { bits, mtjs: 8 });
        let len = new.len();
        let strings = layout.strings_for(len);
        let mut written = vec![false; strings];
        for s in &log {
            prop_assert!(!written[s.string as usize], "string {} written twice", s.string);
            written[s.string as usize] = true;
        }
        prop_assert_eq!(c.strings_written as usize, log.len());
        prop_assert_eq!(c.strings_written + c.strings_skipped, strings as u64);

        let (mut errors, mut ones) = (0u64, 0u64);
        for (s, &was_written) in written.iter().enumerate() {
            let (first, end, mask) = layout.string(s, len);
            for e in first..end {
                if was_written {
                    prop_assert_eq!(stored[e] & !new[e] & mask, 0,
                        "string {} code {}: stored {:#x} has a 1 where {:#x} has a 0",
                        s, e, stored[e], new[e]);
                    errors += u64::from(((stored[e] ^ new[e]) & mask).count_ones());
                    ones += u64::from((new[e] & mask).count_ones());
                } else {
                    prop_assert!(skip_unchanged);
                    prop_assert_eq!(stored[e] & mask, old[e] & mask);
                    prop_assert_eq!(old[e] & mask, new[e] & mask);
                }
            }
        }
        prop_assert!(stored.iter().all(|&x| x & !full == 0));
        prop_assert_eq!(c.bit_errors, errors);
        // Every intended 1 of a written string got one pulse; each failure is one error.
        prop_assert_eq!(c.program_pulses, ones);
        prop_assert_eq!(c.switches + c.program_failures, ones);
        prop_assert_eq!(c.program_failures, errors);
        prop_assert_eq!(c.erase_failures, 0);
    }
}

// ---------------------------------------------------------------------------------------
// 4. Forced certainty
// ---------------------------------------------------------------------------------------

/// Devices and pulses whose switching probability is exactly `p`.
fn certain(p: f64) -> Vec<(&'static str, DeviceConfig, f64, f64)> {
    if p == 1.0 {
        vec![
            ("fixed p 1", fixed(&[1.0], &[1.0]), 1.0, 100.0),
            // i = 5, 10 ns: exp(-98.7 e^-84) rounds to 1.
            ("precessional 10 ns 150 µA", precessional(), 10.0, 150.0),
        ]
    } else {
        vec![
            ("fixed p 0", fixed(&[1.0], &[0.0]), 1.0, 100.0),
            ("precessional below I_c0", precessional(), 3.0, 25.0),
        ]
    }
}

#[test]
fn certain_outcomes_are_exact() {
    for p in [1.0, 0.0] {
        for (name, device, t, i) in certain(p) {
            for (stream, &bits) in BITS.iter().enumerate() {
                for skip_unchanged in [false, true] {
                    let mut a = arch(device.clone(), bits, t, i);
                    a.update.skip_unchanged = skip_unchanged;
                    let w = StringWriter::new(&a, 3);
                    assert_eq!(w.p_switch(0), p, "{name}");
                    let full = (1u64 << bits) - 1;
                    let r = words(stream as u64, 600);
                    let new: Vec<u32> = r[..300].iter().map(|x| (x & full) as u32).collect();
                    // The first 40 old codes (whole strings in every layout) equal the new.
                    let old: Vec<u32> = r[300..]
                        .iter()
                        .zip(&new)
                        .enumerate()
                        .map(|(e, (x, &n))| if e < 40 { n } else { (x & full) as u32 })
                        .collect();
                    let mut stored = old.clone();
                    let (c, log) = write(&w, &mut stored, &new);
                    let here = format!("{name}, {bits} bits, skip {skip_unchanged}");
                    let layout = w.layout();
                    let mut written = vec![false; layout.strings_for(new.len())];
                    for s in &log {
                        written[s.string as usize] = true;
                    }
                    if !skip_unchanged {
                        assert!(written.iter().all(|&x| x), "{here}");
                    } else {
                        assert!(written.iter().any(|&x| !x), "{here}: nothing skipped");
                    }
                    for (s, &was_written) in written.iter().enumerate() {
                        let (first, end, mask) = layout.string(s, new.len());
                        for e in first..end {
                            let want = if was_written && p == 0.0 {
                                0
                            } else {
                                new[e] & mask
                            };
                            assert_eq!(stored[e] & mask, want, "{here}: string {s} code {e}");
                        }
                    }
                    if p == 1.0 {
                        assert_eq!(stored, new, "{here}");
                        assert_eq!((c.bit_errors, c.program_failures), (0, 0), "{here}");
                        assert_eq!(c.switches, c.program_pulses, "{here}");
                    } else {
                        assert_eq!(c.switches, 0, "{here}");
                        assert_eq!(c.bit_errors, c.program_pulses, "{here}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 5. Determinism of keyed draws
// ---------------------------------------------------------------------------------------

/// The integer fields of a count record.
fn integer_counts(c: &WriteCounts) -> [u64; 12] {
    [
        c.strings_written,
        c.strings_skipped,
        c.erase_pulses,
        c.erase_failures,
        c.program_pulses,
        c.switches,
        c.program_failures,
        c.verify_reads,
        c.bits_read,
        c.bits_written,
        c.bit_errors,
        c.write_time_ps,
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn slices_write_the_same_bits_as_the_whole(
        bits_ix in 0usize..4,
        model in any_model(),
        seed in any::<u64>(),
        step in any::<u64>(),
        param in 0usize..8,
        verify in any::<bool>(),
        erase_failure_p in prop_oneof![Just(0.0), 0.0f64..0.5],
        parallelism in 1u32..=8,
        codes in prop::collection::vec((any::<u32>(), any::<u32>()), 1..200),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let bits = BITS[bits_ix];
        let full = (1u64 << bits) - 1;
        let device = match model {
            SwitchingModel::Fixed => fixed(&[0.5, 2.0], &[0.3, 0.9]),
            SwitchingModel::Thermal => thermal(),
            SwitchingModel::Precessional => precessional(),
            SwitchingModel::Measured => unreachable!("any_model draws the three model laws"),
        };
        // 1 ns pulses: p = 0.84 (precessional), 0.31 (thermal), 0.5 (fixed).
        let i = if model == SwitchingModel::Thermal { 27.0 } else { 120.0 };
        let mut a = arch(device, bits, 1.0, i);
        a.update.verify_bits = if verify { bits } else { 0 };
        a.string.erase_failure_p = erase_failure_p;
        a.string.program_parallelism = parallelism;
        let w = StringWriter::new(&a, seed);
        let k = w.layout().weights_per_string();

        let new: Vec<u32> = codes.iter().map(|c| (u64::from(c.0) & full) as u32).collect();
        let old: Vec<u32> = codes.iter().map(|c| (u64::from(c.1) & full) as u32).collect();
        let len = new.len();

        let mut whole = old.clone();
        let (mut cw, mut lw) = (WriteCounts::default(), Vec::new());
        w.write(param, step, 0, &mut whole, &new, &mut cw, &mut lw);

        // Cut points on string boundaries.
        let mut bounds: Vec<usize> = cuts.iter().map(|x| x.index(len + 1) / k * k).collect();
        bounds.push(0);
        bounds.push(len);
        bounds.sort_unstable();
        bounds.dedup();
        let mut sliced = old.clone();
        let (mut cs, mut ls) = (WriteCounts::default(), Vec::new());
        for win in bounds.windows(2) {
            let (b0, b1) = (win[0], win[1]);
            w.write(param, step, b0, &mut sliced[b0..b1], &new[b0..b1], &mut cs, &mut ls);
        }

        prop_assert_eq!(&sliced, &whole);
        prop_assert_eq!(integer_counts(&cs), integer_counts(&cw));
        prop_assert_eq!(&ls, &lw);
        prop_assert!(close(cs.program_energy_pj, cw.program_energy_pj));
        prop_assert!(close(cs.erase_energy_pj, cw.erase_energy_pj));
        prop_assert!(close(cs.read_energy_pj, cw.read_energy_pj));

        // And the same again from a fresh writer with the same seed.
        let again = StringWriter::new(&a, seed);
        let mut stored = old.clone();
        let (mut c2, mut l2) = (WriteCounts::default(), Vec::new());
        again.write(param, step, 0, &mut stored, &new, &mut c2, &mut l2);
        prop_assert_eq!(&stored, &whole);
        prop_assert_eq!(c2, cw);
    }
}

#[test]
fn draws_depend_on_seed_param_and_step() {
    // p = 1/2: two independent writes of 400 all-ones codes agree on about half of their
    // 3200 bits.
    let a = arch(fixed(&[1.0], &[0.5]), 8, 1.0, 100.0);
    let new = vec![0xFFu32; 400];
    let run = |seed: u64, param: usize, step: u64| {
        let w = StringWriter::new(&a, seed);
        let mut stored = vec![0u32; new.len()];
        let (mut c, mut log) = (WriteCounts::default(), Vec::new());
        w.write(param, step, 0, &mut stored, &new, &mut c, &mut log);
        stored
    };
    let base = run(1, 0, 1);
    assert_eq!(run(1, 0, 1), base);
    for other in [run(2, 0, 1), run(1, 1, 1), run(1, 0, 2)] {
        let same: u32 = base
            .iter()
            .zip(&other)
            .map(|(x, y)| (!(x ^ y) & 0xFF).count_ones())
            .sum();
        // 3200 bits, each agreeing with probability 1/2: 1600 ± 5 * 28.
        assert!((1460..=1740).contains(&same), "{same} of 3200 bits agree");
    }
}

/// Long pulses and strong currents, where a naive closed form underflows: the mean switching
/// time stays finite and right, and the sampling table keeps it within 1 % even when the
/// pulse is far longer than the switching time (a heavy tail near v = 1).
#[test]
fn long_pulses_and_strong_currents() {
    let sw = Switching::new(&precessional());
    // At 120 µA switching is over by ~3 ns: the conditional mean stops moving.
    let m3 = sw.mean_switch_ns(3.0, 120.0).unwrap();
    for t in [30.0, 100.0, 118.0, 200.0] {
        let m = sw.mean_switch_ns(t, 120.0).unwrap();
        assert!((m - m3).abs() < 1e-5 * m3, "{t} ns: {m} vs {m3}");
    }
    // 5 mA: the quadrature of the exact quantile agrees.
    let (q, _) = conditional_time_moments(&sw, 3.0, 5000.0);
    let m = sw.mean_switch_ns(3.0, 5000.0).unwrap();
    assert!(m > 0.0 && (m - q).abs() < 1e-3 * q, "{m} vs {q}");
    // Thermal far above I_c0: switches at once (not NaN).
    let thermal = Switching::new(&DeviceConfig {
        switching: SwitchingModel::Thermal,
        ..precessional()
    });
    assert_eq!(thermal.mean_switch_ns(1.0, 1000.0), Some(0.0));
    // The table's mean at long pulses.
    for t in [10.0, 30.0, 100.0] {
        let table = SwitchTimes::new(&sw, t, 120.0);
        let n = 1 << 16;
        let mean: f64 = (0..n)
            .map(|j| table.sample((j as f64 + 0.5) / n as f64))
            .sum::<f64>()
            / n as f64;
        let exact = sw.mean_switch_ns(t, 120.0).unwrap();
        assert!(
            (mean - exact).abs() < 0.01 * exact,
            "{t} ns: table {mean} vs {exact}"
        );
    }
}
