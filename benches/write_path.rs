//! The cost of device variation on the write path: one update of a LeNet-5-sized tensor
//! (61,706 8-bit codes in 8-MTJ strings, every string rewritten, 1 ns pulses at 120 µA)
//! with nominal MTJs, with device-to-device spreads (each MTJ its own switching
//! probability, switching time and pulse energy), and with a cycle-to-cycle spread of the
//! program current on top; and the one-off draw of the devices.
//!
//! `cargo bench --bench write_path`; compare the medians of the three `write/` lines.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use nandspin::config::ArchConfig;
use nandspin::config::device::PulseWidths;
use nandspin::config::variation::VariationConfig;
use nandspin::device::{StringWriter, WriteCounts};

const CODES: usize = 61_706;

fn arch(v: VariationConfig) -> ArchConfig {
    let mut a = ArchConfig {
        variation: v,
        ..ArchConfig::default()
    };
    a.update.program_pulse_ns = PulseWidths::One(1.0);
    a
}

fn cases() -> Vec<(&'static str, ArchConfig)> {
    let d2d = VariationConfig {
        ic0: 0.05,
        delta: 0.05,
        r_ap: 0.05,
        r_p: 0.05,
        ..VariationConfig::default()
    };
    vec![
        ("nominal", arch(VariationConfig::default())),
        ("device_to_device", arch(d2d.clone())),
        (
            "with_cycle_to_cycle",
            arch(VariationConfig {
                program_current: 0.03,
                ..d2d
            }),
        ),
    ]
}

fn write_path(c: &mut Criterion) {
    // Two code sets that differ in every code, so that every string is rewritten.
    let a: Vec<u32> = (0..CODES as u32).map(|i| (i * 37 + 11) & 0xFF).collect();
    let b: Vec<u32> = a.iter().map(|x| x ^ 0x5A).collect();
    for (name, arch) in cases() {
        let w = StringWriter::new(&arch, 1).with_devices(&arch, 1, &[Some(CODES)]);
        let mut stored = vec![0u32; CODES];
        let mut step = 0u64;
        let mut log = Vec::new();
        c.bench_function(&format!("write/{name}"), |bench| {
            bench.iter(|| {
                step += 1;
                let new = if step.is_multiple_of(2) { &a } else { &b };
                let mut counts = WriteCounts::default();
                log.clear();
                w.write(0, step, 0, &mut stored, new, &mut counts, &mut log);
                black_box(counts.program_energy_pj)
            })
        });
    }
    let (_, arch) = cases().remove(2);
    c.bench_function("draw/with_cycle_to_cycle", |bench| {
        bench.iter(|| {
            let w = StringWriter::new(&arch, 1).with_devices(&arch, 1, &[Some(CODES)]);
            black_box(w.worst_fail_p())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = write_path
}
criterion_main!(benches);
