//! Analytic cross-checks of the timing model through the library: a layer's weight update
//! through K write drivers takes exactly the list-scheduling time of its string writes, a
//! MAC-bound pass takes ceil(MACs / lanes) cycles, and the placement puts every string in
//! exactly one place. A layer cut into parts (one fold each) writes each part's own strings,
//! and its input and gradient cross the network once per batch.

use std::collections::{BTreeMap, HashSet};

use nandspin::config::ArchConfig;
use nandspin::config::arch::{RangeSpec, Rounding};
use nandspin::config::device::{PulseWidths, SwitchingModel};
use nandspin::config::hw::Mapping;
use nandspin::config::workload::LayerSpec;
use nandspin::engine::list_schedule_ps;
use nandspin::hw::{Mesh, PIXEL_BYTES};
use nandspin::nn::graph;
use nandspin::nn::network::Network;
use nandspin::nn::tensor::Shape;
use nandspin::sched::{self, Phase, Scheduler};
use nandspin::store::{self, ParamId, RecordedLog};

/// A network of dense layers `sizes[0] -> sizes[1] -> ...` fed by flat inputs.
fn dense_net(sizes: &[usize]) -> Network {
    #[derive(serde::Deserialize)]
    struct W {
        layers: Vec<LayerSpec>,
    }
    let mut text = String::new();
    for i in 1..sizes.len() {
        let input = if i == 1 {
            "input".to_string()
        } else {
            format!("fc{}", i - 1)
        };
        text.push_str(&format!(
            "[[layers]]\nname = \"fc{i}\"\ntype = \"dense\"\ninput = \"{input}\"\nin_features = {}\nout_features = {}\n\n",
            sizes[i - 1],
            sizes[i]
        ));
    }
    let w: W = toml::from_str(&text).unwrap();
    Network::new(graph::build(&w.layers, Shape::new(sizes[0], 1, 1)).unwrap())
}

/// Deterministic pseudo-random values in [-0.9, 0.9).
fn values(n: usize, salt: u64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = (i as u64 ^ salt)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17);
            ((x >> 11) as f64 / (1u64 << 53) as f64 * 1.8 - 0.9) as f32
        })
        .collect()
}

/// The store of `net`'s parameters on `arch` (seed 7) after one update of every tensor
/// from one set of values to another.
fn updated_store(arch: &ArchConfig, net: &Network) -> Box<dyn store::WeightStore> {
    let params = net.params().to_vec();
    let init: Vec<Vec<f32>> = params
        .iter()
        .enumerate()
        .map(|(i, p)| values(p.len, i as u64))
        .collect();
    let mut st = store::build(arch, &params, &init, 7);
    let next: Vec<Vec<f32>> = params
        .iter()
        .enumerate()
        .map(|(i, p)| values(p.len, 100 + i as u64))
        .collect();
    let updates: Vec<(ParamId, &[f32])> = next
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.as_slice()))
        .collect();
    st.write_many(&updates, 1);
    st
}

/// One tile with one subarray, exact writes: 3 ns program pulses that always switch.
fn one_subarray_arch(drivers: u32) -> ArchConfig {
    let mut a = ArchConfig::default();
    a.chip.tiles = 1;
    a.chip.mapping = Mapping::Pack;
    a.tile.subarrays = 1;
    a.subarray.rows = 64;
    a.subarray.columns = 64;
    a.subarray.write_drivers = drivers;
    a.weights.range = RangeSpec::Fixed(1.0);
    a.weights.rounding = Rounding::Nearest;
    a.device.switching = SwitchingModel::Fixed;
    a.device.fixed_pulse_ns = vec![3.0];
    a.device.fixed_p_switch = vec![1.0];
    a.update.program_pulse_ns = PulseWidths::One(3.0);
    a.update.skip_unchanged = false;
    a.validate().unwrap();
    a
}

#[test]
fn weight_update_takes_the_list_scheduling_time() {
    for drivers in [1, 3, 8, 64] {
        let arch = one_subarray_arch(drivers);
        let net = dense_net(&[32, 16]);
        let st = updated_store(&arch, &net);

        // The device: every string written, one erase then one 3 ns pulse per 1 bit.
        let log = st.last_writes(0).expect("weights live in strings").to_vec();
        let codes = st.held_codes(0).unwrap();
        assert_eq!(log.len(), 32 * 16, "skip_unchanged is off");
        let mut ones_seen = 0;
        for w in &log {
            let ones = u64::from(codes[w.string as usize].count_ones());
            ones_seen += ones;
            assert_eq!(w.duration_ps, 1000 + 3000 * ones, "string {}", w.string);
        }
        assert!(ones_seen > 0);
        assert!(st.last_writes(1).is_none(), "biases are digital");

        let map = sched::map(&arch, &net, 1).unwrap();
        assert_eq!(map.places[0].subarrays.len(), 1);
        let mut chip = Scheduler::new(&arch, map.clone());
        chip.batch(1, &*st);
        // A copy of the log (what the chip's thread gets) gives the same schedule.
        let mut copy = Scheduler::new(&arch, map);
        copy.batch(1, &RecordedLog::capture(&*st, net.params().len(), true));
        assert_eq!(copy.rows(), chip.rows());
        let durations: Vec<u64> = log.iter().map(|w| w.duration_ps).collect();
        let expect = list_schedule_ps(&durations, drivers as usize);
        let rows = chip.rows();
        let write = rows[&(0, Phase::Wu, "subarray", "write")];
        assert_eq!(write.count, log.len() as u64);
        assert_eq!(write.busy_ps, expect, "{drivers} drivers");
        // With one driver it is the sum; with as many drivers as strings, the longest.
        if drivers == 1 {
            assert_eq!(expect, durations.iter().sum::<u64>());
        }
        // The WU phase is the optimiser step (2 MACs per value on 128 lanes) then the writes.
        let step_ps = (2 * (32 * 16 + 16) as u64).div_ceil(128) * 1000;
        assert_eq!(chip.phase_ps(Phase::Wu), step_ps + expect);
    }
}

#[test]
fn fewer_drivers_never_write_faster() {
    let mut last = 0;
    for drivers in [64, 16, 8, 4, 2, 1] {
        let arch = one_subarray_arch(drivers);
        let net = dense_net(&[32, 16]);
        let params = net.params().to_vec();
        let init: Vec<Vec<f32>> = params.iter().map(|p| values(p.len, 1)).collect();
        let st = store::build(&arch, &params, &init, 3);
        let mut chip = Scheduler::new(&arch, sched::map(&arch, &net, 1).unwrap());
        // Step 0's log is the initial programming: every string written.
        chip.batch(1, &*st);
        let wu = chip.rows()[&(0, Phase::Wu, "subarray", "write")].busy_ps;
        assert!(wu >= last, "{drivers} drivers: {wu} ps < {last} ps");
        last = wu;
    }
}

#[test]
fn mac_bound_pass_takes_ceil_macs_over_lanes_cycles() {
    for (lanes, n) in [(100u32, 3u64), (128, 1), (7, 5), (1, 2)] {
        let mut arch = one_subarray_arch(8);
        arch.tile.mac_lanes = lanes;
        arch.subarray.sense_amps = 1 << 16;
        let net = dense_net(&[64, 32]);
        let params = net.params().to_vec();
        let init: Vec<Vec<f32>> = params.iter().map(|p| values(p.len, 5)).collect();
        let st = store::build(&arch, &params, &init, 1);
        let mut chip = Scheduler::new(&arch, sched::map(&arch, &net, n).unwrap());
        chip.batch(n, &*st);
        let rows = chip.rows();
        let macs = 64 * 32 * n;
        let cycles = macs.div_ceil(u64::from(lanes));
        for phase in [Phase::Fw, Phase::Wg] {
            let r = rows[&(0, phase, "compute", "mac")];
            assert_eq!(r.count, macs, "{phase}");
            assert_eq!(
                r.busy_ps,
                cycles * 1000,
                "{phase}, {lanes} lanes, {n} images"
            );
            assert_eq!(chip.cycles(r.busy_ps), cycles);
        }
        // Fed by the data set: no activation gradient to compute.
        assert!(!rows.contains_key(&(0, Phase::Ag, "compute", "mac")));
        // Sensing the weights is far quicker here, so the FW pass is MAC-bound.
        let read = rows[&(0, Phase::Fw, "mtj", "read")];
        assert_eq!(read.count, 64 * 32 * 8);
        assert!(read.busy_ps < cycles * 1000);
        assert!(chip.phase_ps(Phase::Fw) >= cycles * 1000);
    }
}

#[test]
fn every_string_has_one_place() {
    for (mapping, tiles) in [
        (Mapping::Pack, 4),
        (Mapping::Spread, 2),
        (Mapping::Spread, 4),
        (Mapping::Spread, 9),
        (Mapping::Spread, 64),
    ] {
        let mut arch = ArchConfig::default();
        arch.chip.tiles = tiles;
        arch.chip.mapping = mapping;
        arch.tile.subarrays = 8;
        arch.subarray.rows = 32;
        arch.subarray.columns = 32;
        let net = dense_net(&[100, 60, 40, 10]);
        let map = sched::map(&arch, &net, 8).unwrap();
        let chip = Scheduler::new(&arch, map.clone());
        let mut seen = HashSet::new();
        let mut tiles_of: Vec<HashSet<u32>> = Vec::new();
        for (l, info) in map.layers.iter().enumerate() {
            let mut mine = HashSet::new();
            for g in 0..info.strings {
                let (t, s, row, col) = chip.locate(l, g);
                assert!(t < tiles && s < 8 && row < 32 && col < 32);
                assert!(
                    seen.insert((t, s, row, col)),
                    "{mapping:?}: two strings at one place"
                );
                mine.insert(t);
            }
            let place = &map.places[l];
            let placed: u64 = place.subarrays.iter().map(|s| s.strings).sum();
            assert_eq!(placed, info.strings);
            // Even: every subarray and tile given to the layer holds strings, and the
            // subarrays differ by at most one string.
            let most = place.subarrays.iter().map(|s| s.strings).max().unwrap();
            let least = place.subarrays.iter().map(|s| s.strings).min().unwrap();
            assert!(
                least >= 1 && most - least <= 1,
                "{mapping:?}: {least}..{most}"
            );
            assert_eq!(most, place.per_subarray);
            assert!(place.tiles.iter().all(|&(_, n)| n > 0));
            assert_eq!(place.tiles.len(), mine.len());
            tiles_of.push(mine);
        }
        assert_eq!(seen.len() as u64, 100 * 60 + 60 * 40 + 40 * 10);
        if map.mapping == Mapping::Spread {
            for a in 0..tiles_of.len() {
                for b in a + 1..tiles_of.len() {
                    assert!(
                        tiles_of[a].is_disjoint(&tiles_of[b]),
                        "spread shares a tile"
                    );
                }
            }
        }
    }
}

#[test]
fn a_chip_too_small_names_chip_tiles() {
    let mut arch = ArchConfig::default();
    arch.chip.tiles = 1;
    arch.tile.subarrays = 1;
    arch.subarray.rows = 8;
    arch.subarray.columns = 8;
    let net = dense_net(&[100, 60, 10]);
    let (key, msg) = sched::map(&arch, &net, 1).unwrap_err();
    assert_eq!(key, "chip.tiles");
    assert!(msg.contains("at least"), "{msg}");
    // Swapping: fc1 needs 94 subarrays of 64 strings. On 94 tiles it fits whole, with fc2
    // in a second fold; on one tile (one subarray) it is cut into 94 parts, a fold each.
    arch.chip.on_overflow = nandspin::config::hw::Overflow::Swap;
    arch.chip.tiles = 94;
    let map = sched::map(&arch, &net, 1).unwrap();
    assert_eq!(map.folds, 2);
    assert_eq!(map.places[0].parts.len(), 1);
    arch.chip.tiles = 1;
    let map = sched::map(&arch, &net, 1).unwrap();
    assert_eq!(map.places[0].parts.len(), 94);
    assert_eq!(map.places[0].fold_label(), "0-93");
    assert_eq!(map.places[1].fold_label(), "94-103");
    assert_eq!(map.folds, 104);
}

#[test]
fn parts_of_a_layer_larger_than_the_chip_hold_every_string_once_per_fold() {
    for (mapping, tiles, subarrays) in [
        (Mapping::Pack, 1, 8),
        (Mapping::Spread, 1, 8),
        (Mapping::Spread, 3, 2),
        (Mapping::Pack, 2, 3),
    ] {
        let mut arch = ArchConfig::default();
        arch.chip.tiles = tiles;
        arch.chip.mapping = mapping;
        arch.chip.on_overflow = nandspin::config::hw::Overflow::Swap;
        arch.tile.subarrays = subarrays;
        arch.subarray.rows = 16;
        arch.subarray.columns = 16;
        // fc1: 6,000 strings in 24 subarrays of 256, more than any of these chips holds.
        let net = dense_net(&[100, 60, 40, 10]);
        let map = sched::map(&arch, &net, 8).unwrap();
        let chip = Scheduler::new(&arch, map.clone());
        let cap = 16 * 16;
        let chip_subarrays = u64::from(tiles * subarrays);
        // Per fold, no two strings share a place and the fold fits the chip.
        let mut seen: HashSet<(usize, u32, u32, u64, u64)> = HashSet::new();
        let mut per_fold = vec![HashSet::new(); map.folds];
        for (l, info) in map.layers.iter().enumerate() {
            let place = &map.places[l];
            let mut next = 0;
            for (k, part) in place.parts.iter().enumerate() {
                // Parts are contiguous, in fold order, and equal to within one string.
                assert_eq!(part.first, next, "{mapping:?} {l}/{k}");
                next += part.strings;
                assert!(k == 0 || part.fold == place.parts[k - 1].fold + 1);
                let held: u64 = place.subarrays[part.subarrays.clone()]
                    .iter()
                    .map(|s| s.strings)
                    .sum();
                assert_eq!(held, part.strings);
                for g in part.first..part.first + part.strings {
                    let (t, s, row, col) = chip.locate(l, g);
                    assert!(t < tiles && s < subarrays && row < 16 && col < 16);
                    assert!(seen.insert((part.fold, t, s, row, col)), "{mapping:?}");
                    per_fold[part.fold].insert((t, s));
                }
            }
            assert_eq!(next, info.strings);
            let most = place.parts.iter().map(|p| p.strings).max().unwrap();
            let least = place.parts.iter().map(|p| p.strings).min().unwrap();
            assert!(most - least <= 1, "{mapping:?}: parts {least}..{most}");
            if place.parts.len() > 1 {
                // As few parts as fit: one fewer would not.
                let fewer = info.strings.div_ceil(place.parts.len() as u64 - 1);
                assert!(
                    fewer.div_ceil(cap) > chip_subarrays,
                    "{mapping:?}: too many parts"
                );
            }
        }
        assert!(map.places[0].parts.len() > 1, "fc1 is cut");
        for f in &per_fold {
            assert!(!f.is_empty() && f.len() as u64 <= chip_subarrays);
        }
    }
}

#[test]
fn each_part_of_a_layer_writes_its_own_strings() {
    // One subarray of 256 strings: the layer's 512 weight strings are cut into two parts, a
    // fold each, and each part's update writes the strings it holds through the drivers.
    for drivers in [2, 3, 16] {
        let mut arch = one_subarray_arch(drivers);
        arch.subarray.rows = 16;
        arch.subarray.columns = 16;
        arch.chip.on_overflow = nandspin::config::hw::Overflow::Swap;
        arch.validate().unwrap();
        let net = dense_net(&[32, 16]);
        let st = updated_store(&arch, &net);
        let log = st.last_writes(0).expect("weights live in strings").to_vec();
        assert_eq!(log.len(), 512, "skip_unchanged is off");

        let map = sched::map(&arch, &net, 1).unwrap();
        let parts = map.places[0].parts.clone();
        assert_eq!((map.folds, parts.len()), (2, 2));
        let mut chip = Scheduler::new(&arch, map);
        chip.batch(1, &*st);
        let write = chip.rows()[&(0, Phase::Wu, "subarray", "write")];
        assert_eq!(write.count, 512);
        // Each part's writes take the list-scheduling time of its own strings.
        let expect: u64 = parts
            .iter()
            .map(|p| {
                let mine: Vec<u64> = log
                    .iter()
                    .filter(|w| (p.first..p.first + p.strings).contains(&u64::from(w.string)))
                    .map(|w| w.duration_ps)
                    .collect();
                assert_eq!(mine.len() as u64, p.strings);
                list_schedule_ps(&mine, drivers as usize)
            })
            .sum();
        assert_eq!(write.busy_ps, expect, "{drivers} drivers");
    }
}

/// Network hops from tile `src` to the other tiles of `place`, summed.
fn hops_to(src: u32, place: &sched::Placement) -> u64 {
    place
        .tiles
        .iter()
        .filter(|&&(t, _)| t != src)
        .map(|&(t, _)| Mesh::hops(src, t))
        .sum()
}

#[test]
fn every_layer_gets_its_input_and_its_gradient_once_per_batch() {
    // Whole layers on many tiles, and layers cut into parts on small chips: however many
    // parts, a layer's input crosses the network once per batch (forward) and so does its
    // output gradient (backward), from the first tile of the layer that sends it.
    for (mapping, tiles, subarrays) in [
        (Mapping::Spread, 16, 8),
        (Mapping::Spread, 3, 2),
        (Mapping::Pack, 2, 3),
    ] {
        let mut arch = ArchConfig::default();
        arch.chip.tiles = tiles;
        arch.chip.mapping = mapping;
        arch.chip.on_overflow = nandspin::config::hw::Overflow::Swap;
        arch.tile.subarrays = subarrays;
        arch.subarray.rows = 16;
        arch.subarray.columns = 16;
        let net = dense_net(&[100, 60, 40, 10]);
        let params = net.params().to_vec();
        let init: Vec<Vec<f32>> = params.iter().map(|p| values(p.len, 2)).collect();
        let st = store::build(&arch, &params, &init, 1);
        let n = 4;
        let map = sched::map(&arch, &net, n).unwrap();
        let mut chip = Scheduler::new(&arch, map.clone());
        chip.batch(n, &*st);
        let rows = chip.rows();
        let mut expect: BTreeMap<(usize, Phase), u64> = BTreeMap::new();
        for (l, info) in map.layers.iter().enumerate() {
            let place = &map.places[l];
            if info.from_data {
                *expect.entry((l, Phase::Fw)).or_default() +=
                    n * info.in_values * PIXEL_BYTES * hops_to(0, place);
            }
            for &s in &info.sources {
                // Activations and gradients move at tile.mac's width.
                let bytes = n * info.in_values * arch.tile.mac.value_bytes();
                let (from_s, from_l) = (map.places[s].tiles[0].0, place.tiles[0].0);
                *expect.entry((l, Phase::Fw)).or_default() += bytes * hops_to(from_s, place);
                *expect.entry((l, Phase::Ag)).or_default() +=
                    bytes * hops_to(from_l, &map.places[s]);
            }
        }
        assert!(
            expect.values().filter(|&&b| b > 0).count() >= 2,
            "{mapping:?} {tiles}: nothing crosses the network"
        );
        for (&(l, phase), &byte_hops) in &expect {
            let got = rows
                .get(&(l, phase, "noc", "byte_hop"))
                .map_or(0, |r| r.count);
            assert_eq!(
                got, byte_hops,
                "{mapping:?} {tiles} tiles: layer {l} {phase}"
            );
        }
    }
}
