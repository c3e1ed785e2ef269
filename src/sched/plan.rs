//! Per-batch operations: for every training batch the scheduler emits, per weight layer and
//! tile, the operations of the forward (FW), activation-gradient (AG), weight-gradient (WG)
//! and weight-update (WU) phases with their dependencies, plus the transfers between tiles
//! and from DRAM, and runs them through the event engine. It counts every action and turns
//! the counts into energy with the arch's energy table.
//!
//! The model, per batch of `n` images and weight layer L on tiles T_L:
//! - FW: the input comes from DRAM (the first layer, `n` x pixels) or from the tile of each
//!   producing layer over the network (`n` x input values x 4 bytes); then on each tile of
//!   L the compute unit does its share of L's MACs (shares follow the strings each tile
//!   holds) while the subarrays sense the tile's weights once; the operation lasts the
//!   longer of the two.
//! - AG (not for layers fed only by the data): once the output gradient has arrived from
//!   the consumers' AG (or from the loss, on the last layer), the same MACs and weight reads.
//! - WG: the same MACs, no weight reads.
//! - WU: the optimiser step on the tile (2 MACs per value), then each subarray writes its
//!   strings that the update changed through its write drivers (list scheduling over
//!   `subarray.write_drivers`; each string's duration comes from the device model: erase,
//!   program rounds and verify).
//! - The next batch's FW of L waits for L's WU.
//!
//! Activations, pooling and flattening are fused into the producing layer's operations and
//! not costed. Time spent on the test set is not simulated (it measures the training).
//! Timing never feeds back into the numerics.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use super::Phase;
use super::map::{Map, Placement, shares};
use crate::config::ArchConfig;
use crate::config::device::Master;
use crate::device::Layout;
use crate::engine::{Engine, OpId, Ps, ResourceId, Span, Work};
use crate::hw::rng::RngCost;
use crate::hw::{EnergyTable, Mesh, PIXEL_BYTES, Timing, VALUE_BYTES};
use crate::pim::Slot;
use crate::pim::cost::PimCost;
use crate::pim::coverage::Channels;
use crate::pim::operands::ChannelWrites;
use crate::store::DeviceLog;
use crate::tech::Technology;

/// Counts, busy time and energy of one (layer, phase, component, action).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Row {
    /// How many times the action happened (its unit depends on the action).
    pub count: u64,
    /// Time the component spent on it, in ps (summed over components of that kind).
    pub busy_ps: u64,
    /// Energy, in pJ.
    pub energy_pj: f64,
}

impl Row {
    fn add(&mut self, count: u64, busy_ps: u64, energy_pj: f64) {
        self.count += count;
        self.busy_ps += busy_ps;
        self.energy_pj += energy_pj;
    }
}

/// Row key: (layer index or [`CHIP`], phase, component, action).
pub type RowKey = (usize, Phase, &'static str, &'static str);

/// The layer index of chip-wide rows (leakage).
pub const CHIP: usize = usize::MAX;

/// Time and chip energy of one epoch's batches.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChipEpoch {
    /// Cycles from the end of the previous epoch's last operation to the end of this one's.
    pub cycles: u64,
    /// The same, in ps.
    pub time_ps: u64,
    /// Energy of everything but the device's string writes (MACs, reads, buffers,
    /// network, DRAM, swapping, leakage), in pJ.
    pub energy_pj: f64,
}

/// What an operation was, for the statistics.
#[derive(Debug, Clone, Copy)]
struct Tag {
    layer: usize,
    phase: Phase,
    component: &'static str,
    action: &'static str,
    /// Busy time to book, when not the span (compute: the MAC part only).
    busy_ps: Option<Ps>,
}

/// One pass of a layer over its tiles: phase, MACs, whether weights are sensed, and the
/// buffer traffic in bytes.
#[derive(Debug, Clone, Copy)]
struct Pass {
    phase: Phase,
    macs: u64,
    read: bool,
    buffer_bytes: u64,
}

/// Runs every training batch's operations on the modelled chip.
#[derive(Debug, Clone)]
pub struct Scheduler {
    /// The placement.
    pub map: Map,
    timing: Timing,
    energy: EnergyTable,
    engine: Engine,
    mtjs: u64,
    layout: Layout,
    columns: u32,
    compute: Vec<ResourceId>,
    /// Per layer, the resource of each of its subarrays (folds share physical subarrays).
    subarray_res: Vec<Vec<ResourceId>>,
    /// Physical subarrays with a resource: (tile, index, resource, layers held).
    physical: Vec<(u32, u32, ResourceId, Vec<usize>)>,
    /// Per layer, part and tile (in [`Part::tiles`] order), the most strings one subarray
    /// of that tile holds: its weights are sensed in parallel across subarrays.
    tile_max_strings: Vec<Vec<Vec<u64>>>,
    noc: ResourceId,
    dram: ResourceId,
    /// Per layer, when its last weight update ended.
    wu_end_ps: Vec<Ps>,
    tags: Vec<Tag>,
    rows: BTreeMap<RowKey, Row>,
    buckets: Vec<Vec<Ps>>,
    /// Per phase: time covered so far by its operations, and the watermark of that union.
    phase_ps: BTreeMap<Phase, (Ps, Ps)>,
    epoch_start_ps: Ps,
    epoch_energy_pj: f64,
    /// Wall-clock time spent in [`Scheduler::batch`].
    wall: std::time::Duration,
    /// The memory technology: what writing a swapped-in unit costs.
    tech: Arc<dyn Technology>,
    /// Bytes of one activation or gradient value (`tile.mac`).
    value_bytes: u64,
    /// The master-weight SRAM of each tile, with `update.master = "digital"`.
    master: Option<MasterSram>,
    /// What the random bits of stochastic rounding cost.
    rng: RngCost,
    /// Random bits per code rounded.
    random_bits: u64,
    /// Per layer and subarray, the codes it holds (each rounded at every update).
    codes: Vec<Vec<u64>>,
    /// In-memory MACs (`tile.compute = "pim"`).
    pim: Option<PimCost>,
}

/// The tiles' master-weight SRAMs.
#[derive(Debug, Clone)]
struct MasterSram {
    /// One resource per tile.
    res: Vec<ResourceId>,
    bytes_per_cycle: f64,
    byte_pj: f64,
}

/// Codes of a `len`-code tensor whose strings `a..b` (of the tensor) hold, counting a code
/// that spans several strings once, at its first (most significant) string.
fn codes_in(layout: Layout, len: u64, a: u64, b: u64) -> u64 {
    let m = layout.strings_per_weight() as u64;
    if m == 1 {
        let r = codes_touched(layout, len, a, b);
        r.end - r.start
    } else {
        b.div_ceil(m) - a.div_ceil(m)
    }
}

/// The codes of a `len`-code tensor that its strings `a..b` (of the tensor) hold a part
/// of: a code that spans several strings is touched by each of them.
fn codes_touched(layout: Layout, len: u64, a: u64, b: u64) -> Range<u64> {
    let k = layout.weights_per_string() as u64;
    let m = layout.strings_per_weight() as u64;
    if m > 1 {
        (a / m).min(len)..b.div_ceil(m).min(len)
    } else {
        (a * k).min(len)..(b * k).min(len)
    }
}

impl Scheduler {
    /// A scheduler for `map` on the chip `arch` describes.
    pub fn new(arch: &ArchConfig, map: Map) -> Self {
        let mut engine = Engine::new();
        let compute = (0..map.tiles).map(|_| engine.add_resource()).collect();
        let mut physical: Vec<(u32, u32, ResourceId, Vec<usize>)> = Vec::new();
        let mut by_place = std::collections::HashMap::new();
        let mut subarray_res = Vec::with_capacity(map.places.len());
        let mut tile_max_strings = Vec::with_capacity(map.places.len());
        for (l, p) in map.places.iter().enumerate() {
            let mut res = Vec::with_capacity(p.subarrays.len());
            let mut most_of_parts = Vec::with_capacity(p.parts.len());
            for part in &p.parts {
                let pos: std::collections::HashMap<u32, usize> = part
                    .tiles
                    .iter()
                    .enumerate()
                    .map(|(i, &(t, _))| (t, i))
                    .collect();
                let mut most = vec![0u64; part.tiles.len()];
                for sa in &p.subarrays[part.subarrays.clone()] {
                    let k = *by_place.entry((sa.tile, sa.index)).or_insert_with(|| {
                        let r = engine.add_pool(arch.subarray.write_drivers);
                        physical.push((sa.tile, sa.index, r, Vec::new()));
                        physical.len() - 1
                    });
                    if physical[k].3.last() != Some(&l) {
                        physical[k].3.push(l);
                    }
                    res.push(physical[k].2);
                    let m = &mut most[pos[&sa.tile]];
                    *m = (*m).max(sa.strings);
                }
                most_of_parts.push(most);
            }
            subarray_res.push(res);
            tile_max_strings.push(most_of_parts);
        }
        let noc = engine.add_resource();
        let dram = engine.add_resource();
        // The chip model runs only for the stores of a memory technology.
        let tech: Arc<dyn Technology> = match crate::tech::of(arch) {
            Some(t) => Arc::from(t),
            None => Arc::new(crate::tech::nandspin::Nandspin::new(arch)),
        };
        let n_layers = map.layers.len();
        let layout = Layout::of(arch);
        let codes = map
            .places
            .iter()
            .zip(&map.layers)
            .map(|(place, info)| {
                place
                    .subarrays
                    .iter()
                    .map(|sa| {
                        let (lo, hi) = (sa.first, sa.first + sa.strings);
                        info.params
                            .iter()
                            .map(|p| {
                                let a = lo.clamp(p.offset, p.offset + p.strings) - p.offset;
                                let b = hi.clamp(p.offset, p.offset + p.strings) - p.offset;
                                codes_in(layout, p.len, a, b)
                            })
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let master = (arch.update.master == Master::Digital).then(|| MasterSram {
            res: (0..map.tiles).map(|_| engine.add_resource()).collect(),
            bytes_per_cycle: arch.tile.master_bytes_per_cycle,
            byte_pj: crate::hw::scaling::scaled_pj(arch, "energy.master_byte_pj"),
        });
        Self {
            timing: Timing::new(arch),
            energy: EnergyTable::new(arch),
            engine,
            mtjs: u64::from(layout.mtjs),
            layout,
            columns: arch.subarray.columns,
            compute,
            subarray_res,
            physical,
            tile_max_strings,
            noc,
            dram,
            wu_end_ps: vec![0; n_layers],
            tags: Vec::new(),
            rows: BTreeMap::new(),
            buckets: Vec::new(),
            phase_ps: BTreeMap::new(),
            epoch_start_ps: 0,
            epoch_energy_pj: 0.0,
            wall: std::time::Duration::ZERO,
            tech,
            value_bytes: arch.tile.mac.value_bytes(),
            master,
            rng: RngCost::new(arch),
            random_bits: u64::from(arch.weights.random_bits),
            codes,
            pim: PimCost::of(arch),
            map,
        }
    }

    fn book(&mut self, key: RowKey, count: u64, busy_ps: u64, energy_pj: f64) {
        self.rows
            .entry(key)
            .or_default()
            .add(count, busy_ps, energy_pj);
        self.epoch_energy_pj += energy_pj;
    }

    /// The codes of layer `l`'s weight tensor held in its strings `strings` (none for the
    /// strings of its other tensors, such as biases held in the store).
    fn weight_codes(&self, l: usize, strings: Range<u64>) -> Range<u64> {
        let info = &self.map.layers[l];
        let len = info.weight_rows.outputs * info.weight_rows.fan_in;
        let Some(p) = info.params.iter().find(|p| p.len == len) else {
            return 0..0;
        };
        let a = strings.start.max(p.offset) - p.offset;
        let b = strings
            .end
            .min(p.offset + p.strings)
            .saturating_sub(p.offset);
        if a >= b {
            return 0..0;
        }
        codes_touched(self.layout, len, a, b)
    }

    fn op(&mut self, r: ResourceId, work: Work, ready: Ps, tag: Tag) -> OpId {
        let id = self.engine.add(r, work, ready);
        debug_assert_eq!(id as usize, self.tags.len());
        self.tags.push(tag);
        id
    }

    /// A transfer over the network from tile `src` to the tiles of `place` (but `src`);
    /// `None` when there is nowhere to send.
    fn transfer(
        &mut self,
        src: u32,
        place: usize,
        bytes: u64,
        (layer, phase): (usize, Phase),
        deps: &[OpId],
    ) -> Option<OpId> {
        let dests: Vec<u32> = self.map.places[place]
            .tiles
            .iter()
            .map(|&(t, _)| t)
            .filter(|&t| t != src)
            .collect();
        if dests.is_empty() {
            return None;
        }
        let hops: Vec<u64> = dests.iter().map(|&t| Mesh::hops(src, t)).collect();
        let max_hops = hops.iter().copied().max().unwrap_or(0);
        let byte_hops = bytes * hops.iter().sum::<u64>();
        let d = self.timing.noc_ps(bytes, max_hops);
        let op = self.op(
            self.noc,
            Work::Fixed(d),
            0,
            Tag {
                layer,
                phase,
                component: "noc",
                action: "byte_hop",
                busy_ps: None,
            },
        );
        for &p in deps {
            self.engine.depend(p, op);
        }
        let e = byte_hops as f64 * self.energy.noc_byte_hop_pj;
        self.book((layer, phase, "noc", "byte_hop"), byte_hops, 0, e);
        Some(op)
    }

    /// One compute operation per tile of part `k` of layer `l`: `macs` (the part's share)
    /// split by the tiles' strings, weights sensed when `read`; returns the operations in
    /// tile order.
    fn compute_ops(
        &mut self,
        (l, k): (usize, usize),
        pass: Pass,
        ready: Ps,
        deps: &[OpId],
    ) -> Vec<OpId> {
        let Pass {
            phase,
            macs,
            read,
            buffer_bytes,
        } = pass;
        let part = &self.map.places[l].parts[k];
        let total = part.strings.max(1);
        let tiles = part.tiles.clone();
        let mut given = 0u64;
        let mut ops = Vec::with_capacity(tiles.len());
        for (i, &(t, strings)) in tiles.iter().enumerate() {
            let share = if i + 1 == tiles.len() {
                macs - given
            } else {
                (u128::from(macs) * u128::from(strings) / u128::from(total)) as u64
            };
            given += share;
            let mac_ps = self.timing.mac_ps(share);
            let (bits, read_ps) = if read {
                let slowest = self
                    .timing
                    .read_ps(self.tile_max_strings[l][k][i] * self.mtjs);
                (strings * self.mtjs, slowest)
            } else {
                (0, 0)
            };
            let op = self.op(
                self.compute[t as usize],
                Work::Fixed(mac_ps.max(read_ps)),
                ready,
                Tag {
                    layer: l,
                    phase,
                    component: "compute",
                    action: "mac",
                    busy_ps: Some(mac_ps),
                },
            );
            for &p in deps {
                self.engine.depend(p, op);
            }
            ops.push(op);
            let e = share as f64 * self.energy.mac_pj;
            self.book((l, phase, "compute", "mac"), share, mac_ps, e);
            if read {
                let e = bits as f64 * self.energy.read_bit_pj;
                self.book((l, phase, "mtj", "read"), bits, read_ps, e);
            }
        }
        let e = buffer_bytes as f64 * self.energy.buffer_byte_pj;
        self.book((l, phase, "buffer", "byte"), buffer_bytes, 0, e);
        ops
    }

    /// The MAC operations of `pass` of part `k` of layer `l`: in the tiles' compute units
    /// ([`Scheduler::compute_ops`]), or, when the pass runs in memory, in the part's
    /// subarrays ([`Scheduler::pim_ops`]).
    fn mac_ops(
        &mut self,
        (l, k): (usize, usize),
        pass: Pass,
        (ready, deps): (Ps, &[OpId]),
        store: &dyn DeviceLog,
    ) -> Vec<OpId> {
        match &self.pim {
            Some(p) if p.runs(pass.phase) => self.pim_ops((l, k), pass, (ready, deps), store),
            _ => self.compute_ops((l, k), pass, ready, deps),
        }
    }

    /// In-memory MACs of `pass` of part `k` of layer `l`, per subarray of the part: the
    /// operand writes of the pass (the subarray's own copy of the operand values its
    /// weights meet, [`crate::pim::coverage`], through its write drivers), then the
    /// subarray's share of the ANDs (by weights held), counted and shift-added in its
    /// periphery. Returns the AND operations.
    fn pim_ops(
        &mut self,
        (l, k): (usize, usize),
        pass: Pass,
        (ready, deps): (Ps, &[OpId]),
        store: &dyn DeviceLog,
    ) -> Vec<OpId> {
        let cost = self.pim.expect("PIM costs");
        let phase = pass.phase;
        let node = self.map.layers[l].node;
        let slots: &[Slot] = match phase {
            Phase::Fw => &[Slot::FwInput],
            Phase::Ag => &[Slot::AgGradient],
            _ => &[Slot::WgInput, Slot::WgGradient],
        };
        let writes: Vec<(Slot, &crate::pim::operands::OperandBatch)> = store
            .operand_writes()
            .iter()
            .filter(|(nd, s, _)| *nd == node && slots.contains(s))
            .map(|(_, s, b)| (*s, b))
            .collect();
        let part = self.map.places[l].parts[k].clone();
        let range = part.subarrays.clone();
        let ands = cost.ands(phase, pass.macs);
        let rows = self.map.layers[l].weight_rows;
        // The weights each subarray holds (not its bias strings, which do no AND).
        let held: Vec<Range<u64>> = range
            .clone()
            .map(|j| {
                let place = self.map.places[l].subarrays[j];
                self.weight_codes(l, place.first..place.first + place.strings)
            })
            .collect();
        let total = held.iter().map(|c| c.end - c.start).sum::<u64>().max(1);
        let last = held.iter().rposition(|c| !c.is_empty()).unwrap_or(0);
        let mut given = 0u64;
        let mut ops = Vec::with_capacity(range.len());
        for (idx, j) in range.clone().enumerate() {
            let codes = held[idx].clone();
            let share = if idx == last {
                ands - given
            } else {
                (u128::from(ands) * u128::from(codes.end - codes.start) / u128::from(total)) as u64
            };
            given += share;
            let res = self.subarray_res[l][j];
            // This subarray's copy of the operand values its weights meet.
            let mut copy = ChannelWrites::default();
            for (slot, b) in &writes {
                let channels: Channels = match slot {
                    Slot::AgGradient | Slot::WgGradient => [rows.outputs_of(codes.clone()), 0..0],
                    _ => rows.inputs_of(codes.clone(), b.channels.len() as u64),
                };
                let w = b.copy_for(&channels);
                self.book(
                    (l, phase, "subarray", "operand_write"),
                    w.values * u64::from(b.bits),
                    0,
                    w.energy_pj,
                );
                self.book((l, phase, "mtj", "operand_failure"), w.failures, 0, 0.0);
                copy.add(&w);
            }
            let mut after: Vec<OpId> = deps.to_vec();
            if copy.strings > 0 {
                let tag = Tag {
                    layer: l,
                    phase,
                    component: "subarray",
                    action: "operand_write",
                    busy_ps: None,
                };
                let work = Work::Shared {
                    busy_ps: copy.busy_ps,
                    longest_ps: copy.longest_ps,
                };
                let w = self.op(res, work, ready, tag);
                for &p in deps {
                    self.engine.depend(p, w);
                }
                after = vec![w];
            }
            let (d, [and_ps, count_ps, add_ps]) = cost.duration_ps(share);
            let tag = Tag {
                layer: l,
                phase,
                component: "subarray",
                action: "and_row",
                busy_ps: Some(and_ps),
            };
            let op = self.op(res, Work::Fixed(d), ready, tag);
            for &p in &after {
                self.engine.depend(p, op);
            }
            self.book(
                (l, phase, "subarray", "and_row"),
                share,
                and_ps,
                share as f64 * cost.and_pj,
            );
            self.book(
                (l, phase, "periphery", "popcount"),
                share,
                count_ps,
                share as f64 * cost.popcount_pj,
            );
            self.book(
                (l, phase, "periphery", "shift_add"),
                share,
                add_ps,
                share as f64 * cost.shift_add_pj,
            );
            ops.push(op);
        }
        let e = pass.buffer_bytes as f64 * self.energy.buffer_byte_pj;
        self.book((l, phase, "buffer", "byte"), pass.buffer_bytes, 0, e);
        ops
    }

    /// Emits and runs the operations of one training batch of `n` images whose weight
    /// update `store` has just written.
    pub fn batch(&mut self, n: u64, store: &dyn DeviceLog) {
        let t0 = std::time::Instant::now();
        self.emit_and_run(n, store);
        self.wall += t0.elapsed();
    }

    /// Wall-clock seconds spent simulating the chip so far.
    pub fn wall_s(&self) -> f64 {
        self.wall.as_secs_f64()
    }

    /// The pass `phase` of part `k` of layer `l` over `n` images: the part's share of the
    /// layer's MACs and of its output values (by strings); every part reads the whole input.
    fn part_pass(&self, (l, k): (usize, usize), n: u64, phase: Phase, read: bool) -> Pass {
        let info = &self.map.layers[l];
        let part = &self.map.places[l].parts[k];
        let out_values = part.share(info.out_values, info.strings);
        Pass {
            phase,
            macs: part.share(info.macs_per_image * n, info.strings),
            read,
            buffer_bytes: n * (info.in_values + out_values) * self.value_bytes,
        }
    }

    /// The operations bringing layer `l`'s input of `n` images to its tiles: from DRAM for
    /// a layer the data feeds, over the network from each source layer (whose forward
    /// operations are `fw`). Returns what its forward pass waits for.
    fn input_ops(&mut self, l: usize, n: u64, fw: &[Vec<OpId>]) -> Vec<OpId> {
        let info = self.map.layers[l].clone();
        let mut deps = Vec::new();
        if info.from_data {
            let bytes = n * info.in_values * PIXEL_BYTES;
            let d = self.timing.dram_ps(bytes);
            let load = self.op(
                self.dram,
                Work::Fixed(d),
                0,
                Tag {
                    layer: l,
                    phase: Phase::Fw,
                    component: "dram",
                    action: "byte",
                    busy_ps: None,
                },
            );
            let e = bytes as f64 * self.energy.dram_byte_pj;
            self.book((l, Phase::Fw, "dram", "byte"), bytes, 0, e);
            match self.transfer(0, l, bytes, (l, Phase::Fw), &[load]) {
                Some(t) => deps.push(t),
                None => deps.push(load),
            }
        }
        for &s in &info.sources {
            let src = self.map.places[s].tiles[0].0;
            let bytes = n * info.in_values * self.value_bytes;
            match self.transfer(src, l, bytes, (l, Phase::Fw), &fw[s]) {
                Some(t) => deps.push(t),
                None => deps.extend(&fw[s]),
            }
        }
        deps
    }

    /// The operations bringing layer `l`'s output gradient of `n` images to its tiles: the
    /// loss (after every output layer's forward pass, `fw`) for an output layer, else over
    /// the network from each consumer's AG (`ag`). Returns what its backward pass waits for.
    fn gradient_ops(&mut self, l: usize, n: u64, fw: &[Vec<OpId>], ag: &[Vec<OpId>]) -> Vec<OpId> {
        let info = self.map.layers[l].clone();
        let mut grad = Vec::new();
        if info.consumers.is_empty() {
            // The loss needs every output of the network.
            for (o, out) in self.map.layers.iter().enumerate() {
                if out.consumers.is_empty() {
                    grad.extend(&fw[o]);
                }
            }
        }
        for &c in &info.consumers {
            let src = self.map.places[c].tiles[0].0;
            let bytes = n * self.map.layers[c].in_values * self.value_bytes;
            match self.transfer(src, l, bytes, (c, Phase::Ag), &ag[c]) {
                Some(t) => grad.push(t),
                None => grad.extend(&ag[c]),
            }
        }
        grad
    }

    fn emit_and_run(&mut self, n: u64, store: &dyn DeviceLog) {
        self.engine.clear_round();
        self.tags.clear();
        let layers = self.map.layers.len();
        let folds = self.map.folds;
        // The (layer, part) pairs each fold holds, in layer order.
        let mut in_fold: Vec<Vec<(usize, usize)>> = vec![Vec::new(); folds];
        for (l, place) in self.map.places.iter().enumerate() {
            for (k, part) in place.parts.iter().enumerate() {
                in_fold[part.fold].push((l, k));
            }
        }
        let mut fw: Vec<Vec<OpId>> = vec![Vec::new(); layers];
        let mut ag: Vec<Vec<OpId>> = vec![Vec::new(); layers];
        let mut wu: Vec<Vec<OpId>> = vec![Vec::new(); layers];
        // Per layer, what every part's pass waits for: its input (forward), its output
        // gradient (backward).
        let mut arrived: Vec<Vec<OpId>> = vec![Vec::new(); layers];
        // The work of the fold just run, which a fold switch waits for.
        let mut done: Vec<OpId> = Vec::new();
        let mut swap_in: Vec<OpId> = Vec::new();
        // Forward, fold by fold.
        for (f, parts) in in_fold.iter().enumerate() {
            if f > 0 {
                swap_in = self.swap(f - 1, f, &done, store);
                done.clear();
            }
            for &(l, k) in parts {
                if k == 0 {
                    arrived[l] = self.input_ops(l, n, &fw);
                }
                let mut deps: Vec<OpId> = swap_in.clone();
                deps.extend(&arrived[l]);
                let pass = self.part_pass((l, k), n, Phase::Fw, true);
                let ops = self.mac_ops((l, k), pass, (self.wu_end_ps[l], &deps), store);
                fw[l].extend(&ops);
                done.extend(ops);
            }
        }
        // Backward, fold by fold in reverse, layers (and parts) in reverse order.
        for f in (0..folds).rev() {
            if f + 1 < folds {
                swap_in = self.swap(f + 1, f, &done, store);
            } else {
                swap_in.clear();
            }
            done.clear();
            for &(l, k) in in_fold[f].iter().rev() {
                let info = self.map.layers[l].clone();
                if k + 1 == self.map.places[l].parts.len() {
                    arrived[l] = self.gradient_ops(l, n, &fw, &ag);
                }
                let mut grad: Vec<OpId> = swap_in.clone();
                grad.extend(&arrived[l]);
                if !info.sources.is_empty() {
                    let pass = self.part_pass((l, k), n, Phase::Ag, true);
                    let ops = self.mac_ops((l, k), pass, (0, &grad), store);
                    ag[l].extend(&ops);
                    done.extend(ops);
                }
                let pass = self.part_pass((l, k), n, Phase::Wg, false);
                let wg = self.mac_ops((l, k), pass, (0, &grad), store);
                done.extend(&wg);
                // The optimiser step per tile, then the string writes of its subarrays.
                let mut step_ops = Vec::new();
                // The tiles' shares of the part's values follow their strings.
                let part = self.map.places[l].parts[k].clone();
                let values = shares(
                    part.share(info.values, info.strings),
                    &part.tiles,
                    part.strings,
                );
                let stored = shares(
                    part.share(info.stored_values, info.strings),
                    &part.tiles,
                    part.strings,
                );
                // Digital WG has one operation per tile; in memory, one per subarray, all
                // of which the tiles' steps wait for.
                let wg_in_memory = self.pim.as_ref().is_some_and(|p| p.wg);
                for (i, &(tile, _)) in part.tiles.iter().enumerate() {
                    let wg_deps: Vec<OpId> = if wg_in_memory {
                        wg.clone()
                    } else {
                        vec![wg[i]]
                    };
                    let macs = 2 * values[i];
                    let mac_ps = self.timing.mac_ps(macs);
                    let op = self.op(
                        self.compute[tile as usize],
                        Work::Fixed(mac_ps),
                        0,
                        Tag {
                            layer: l,
                            phase: Phase::Wu,
                            component: "compute",
                            action: "mac",
                            busy_ps: Some(mac_ps),
                        },
                    );
                    for &w in &wg_deps {
                        self.engine.depend(w, op);
                    }
                    let e = macs as f64 * self.energy.mac_pj;
                    self.book((l, Phase::Wu, "compute", "mac"), macs, mac_ps, e);
                    step_ops.push((tile, op));
                    // The optimiser reads and writes each value's f32 master copy.
                    if let Some(m) = &self.master
                        && stored[i] > 0
                    {
                        let bytes = 2 * VALUE_BYTES * stored[i];
                        let cycles = (bytes as f64 / m.bytes_per_cycle).ceil() as u64;
                        let (r, e) = (m.res[tile as usize], bytes as f64 * m.byte_pj);
                        let tag = Tag {
                            layer: l,
                            phase: Phase::Wu,
                            component: "master",
                            action: "byte",
                            busy_ps: None,
                        };
                        let ps = cycles.saturating_mul(self.timing.cycle_ps);
                        let op = self.op(r, Work::Fixed(ps), 0, tag);
                        for &w in &wg_deps {
                            self.engine.depend(w, op);
                        }
                        self.book((l, Phase::Wu, "master", "byte"), bytes, 0, e);
                        step_ops.push((tile, op));
                    }
                }
                let writes = self.write_ops((l, k), store, &step_ops);
                let ops: Vec<OpId> = step_ops.iter().map(|&(_, o)| o).chain(writes).collect();
                done.extend(&ops);
                wu[l].extend(ops);
            }
        }
        self.engine.run();
        // Book busy times and phase coverage.
        let mut by_phase: BTreeMap<Phase, Vec<Span>> = BTreeMap::new();
        for (i, tag) in self.tags.iter().enumerate() {
            let span = self.engine.span(i as OpId);
            by_phase.entry(tag.phase).or_default().push(span);
            if tag.busy_ps.is_none() {
                self.rows
                    .entry((tag.layer, tag.phase, tag.component, tag.action))
                    .or_default()
                    .busy_ps += span.len_ps();
            }
        }
        for (phase, mut spans) in by_phase {
            spans.sort_unstable_by_key(|s| (s.start_ps, s.end_ps));
            let (covered, mark) = self.phase_ps.entry(phase).or_default();
            for s in spans {
                if s.end_ps <= *mark {
                    continue;
                }
                *covered += s.end_ps - s.start_ps.max(*mark);
                *mark = s.end_ps;
            }
        }
        for (l, ops) in wu.iter().enumerate() {
            if let Some(end) = ops.iter().map(|&o| self.engine.span(o).end_ps).max() {
                self.wu_end_ps[l] = end;
            }
        }
    }

    /// The string-write operations of part `k` of layer `l`'s update: one per subarray
    /// with strings written, after the optimiser step on its tile.
    fn write_ops(
        &mut self,
        (l, k): (usize, usize),
        store: &dyn DeviceLog,
        step_ops: &[(u32, OpId)],
    ) -> Vec<OpId> {
        let range = self.map.places[l].parts[k].subarrays.clone();
        let n_sub = range.len();
        self.buckets
            .resize(n_sub.max(self.buckets.len()), Vec::new());
        for b in &mut self.buckets[..n_sub] {
            b.clear();
        }
        let place = &self.map.places[l];
        for p in &self.map.layers[l].params {
            let Some(log) = store.last_writes(p.id) else {
                continue;
            };
            for w in log {
                let j = place.subarray_of(p.offset + u64::from(w.string));
                if range.contains(&j) {
                    self.buckets[j - range.start].push(w.duration_ps);
                }
            }
        }
        let mut ops = Vec::new();
        let mut lfsr_bits = 0;
        for j in range.clone() {
            let tile = self.map.places[l].subarrays[j].tile;
            // The tile's optimiser step (and master copy) come before its subarrays' work.
            let steps = step_ops
                .iter()
                .filter(|&&(t, _)| t == tile)
                .map(|&(_, o)| o);
            // The random bits of the subarray's codes' rounding come first.
            let bits = self.codes[l][j] * self.random_bits;
            let mut rng_op = None;
            match self.rng {
                RngCost::None => {}
                RngCost::Lfsr { .. } => lfsr_bits += bits,
                RngCost::Mtj {
                    bits_per_string,
                    string_ps,
                    string_pj,
                    ..
                } if bits > 0 => {
                    let strings = bits.div_ceil(bits_per_string);
                    let first = self.engine.strings_len();
                    for _ in 0..strings {
                        self.engine.push_string(string_ps);
                    }
                    let end = self.engine.strings_len();
                    let tag = Tag {
                        layer: l,
                        phase: Phase::Wu,
                        component: "rng",
                        action: "mtj_bit",
                        busy_ps: None,
                    };
                    let op = self.op(
                        self.subarray_res[l][j],
                        Work::Strings { first, end },
                        0,
                        tag,
                    );
                    for st in steps.clone() {
                        self.engine.depend(st, op);
                    }
                    let e = strings as f64 * string_pj;
                    self.book((l, Phase::Wu, "rng", "mtj_bit"), bits, 0, e);
                    rng_op = Some(op);
                    ops.push(op);
                }
                RngCost::Mtj { .. } => {}
            }
            let b = j - range.start;
            if self.buckets[b].is_empty() {
                continue;
            }
            let first = self.engine.strings_len();
            for i in 0..self.buckets[b].len() {
                let d = self.buckets[b][i];
                self.engine.push_string(d);
            }
            let end = self.engine.strings_len();
            let strings = u64::from(end - first);
            let op = self.op(
                self.subarray_res[l][j],
                Work::Strings { first, end },
                0,
                Tag {
                    layer: l,
                    phase: Phase::Wu,
                    component: "subarray",
                    action: "write",
                    busy_ps: None,
                },
            );
            for st in steps {
                self.engine.depend(st, op);
            }
            if let Some(r) = rng_op {
                self.engine.depend(r, op);
            }
            self.book((l, Phase::Wu, "subarray", "write"), strings, 0, 0.0);
            ops.push(op);
        }
        if let RngCost::Lfsr { bit_pj } = self.rng
            && lfsr_bits > 0
        {
            let e = lfsr_bits as f64 * bit_pj;
            self.book((l, Phase::Wu, "rng", "lfsr_bit"), lfsr_bits, 0, e);
        }
        ops
    }

    /// Swaps fold `out` for fold `into`: reads out and stores the resident strings in
    /// DRAM, loads the next fold's codes and writes them into the strings (charged as exact
    /// writes: one erase, then ceil(ones / parallelism) rounds of the longest program
    /// pulse). Returns the operations the next fold's work must wait for.
    fn swap(
        &mut self,
        out: usize,
        into: usize,
        after: &[OpId],
        store: &dyn DeviceLog,
    ) -> Vec<OpId> {
        let in_fold = |f: usize| -> Vec<(usize, usize)> {
            let mut v = Vec::new();
            for (l, place) in self.map.places.iter().enumerate() {
                for (k, part) in place.parts.iter().enumerate() {
                    if part.fold == f {
                        v.push((l, k));
                    }
                }
            }
            v
        };
        let (outgoing, incoming) = (in_fold(out), in_fold(into));
        let tag = |layer| Tag {
            layer,
            phase: Phase::Swap,
            component: "dram",
            action: "byte",
            busy_ps: None,
        };
        // Each outgoing layer (part) is sensed and stored to DRAM (the longer of the two).
        let mut stores = Vec::new();
        for &(l, k) in &outgoing {
            let part = &self.map.places[l].parts[k];
            let bits = part.strings * self.mtjs;
            let bytes = bits.div_ceil(8);
            let read_ps = self.map.places[l].subarrays[part.subarrays.clone()]
                .iter()
                .map(|sa| self.timing.read_ps(sa.strings * self.mtjs))
                .max()
                .unwrap_or(0);
            let e = bits as f64 * self.energy.read_bit_pj;
            self.book((l, Phase::Swap, "mtj", "read"), bits, read_ps, e);
            let d = self.timing.dram_ps(bytes).max(read_ps);
            let op = self.op(self.dram, Work::Fixed(d), 0, tag(l));
            for &a in after {
                self.engine.depend(a, op);
            }
            let e = bytes as f64 * self.energy.dram_byte_pj;
            self.book((l, Phase::Swap, "dram", "byte"), bytes, 0, e);
            stores.push(op);
        }
        let mut ops = Vec::new();
        for &(l, k) in &incoming {
            let part = self.map.places[l].parts[k].clone();
            let strings = part.strings;
            let bytes = (strings * self.mtjs).div_ceil(8);
            let d = self.timing.dram_ps(bytes);
            let load = self.op(self.dram, Work::Fixed(d), 0, tag(l));
            for &st in &stores {
                self.engine.depend(st, load);
            }
            let e = bytes as f64 * self.energy.dram_byte_pj;
            self.book((l, Phase::Swap, "dram", "byte"), bytes, 0, e);
            let fill = self.tech.fill_unit(0, self.mtjs);
            if let Some(erase_pj) = fill.erase_pj {
                let e = strings as f64 * erase_pj;
                self.book((l, Phase::Swap, "hm_strip", "erase_pulse"), strings, 0, e);
            }
            let (mut pulses, mut bits_read) = (0, 0);
            for j in part.subarrays.clone() {
                let sa = self.map.places[l].subarrays[j];
                let s0 = self.engine.strings_len();
                for g in sa.first..sa.first + sa.strings {
                    let ones = self.string_ones(l, g, store);
                    let f = self.tech.fill_unit(ones, self.mtjs);
                    pulses += f.pulses;
                    bits_read += f.bits_read;
                    self.engine.push_string(f.duration_ps);
                }
                let op = self.op(
                    self.subarray_res[l][j],
                    Work::Strings {
                        first: s0,
                        end: self.engine.strings_len(),
                    },
                    0,
                    Tag {
                        layer: l,
                        phase: Phase::Swap,
                        component: "subarray",
                        action: "write",
                        busy_ps: None,
                    },
                );
                self.engine.depend(load, op);
                self.book((l, Phase::Swap, "subarray", "write"), sa.strings, 0, 0.0);
                ops.push(op);
            }
            let e = pulses as f64 * fill.pulse_pj;
            self.book((l, Phase::Swap, "mtj", "program_pulse"), pulses, 0, e);
            if bits_read > 0 {
                let e = bits_read as f64 * self.energy.read_bit_pj;
                self.book((l, Phase::Swap, "mtj", "read"), bits_read, 0, e);
            }
        }
        ops
    }

    /// The 1 bits string `g` of layer `l` holds now.
    fn string_ones(&self, l: usize, g: u64, store: &dyn DeviceLog) -> u64 {
        let info = &self.map.layers[l];
        let Some(p) = info
            .params
            .iter()
            .find(|p| g >= p.offset && g < p.offset + p.strings)
        else {
            return 0;
        };
        let Some(codes) = store.held_codes(p.id) else {
            return 0;
        };
        let (first, end, mask) = self.layout.string((g - p.offset) as usize, codes.len());
        codes[first..end]
            .iter()
            .map(|&c| u64::from((c & mask).count_ones()))
            .sum()
    }

    /// Closes an epoch: its cycles and chip energy (leakage included).
    pub fn end_epoch(&mut self) -> ChipEpoch {
        let end = self.engine.end_ps();
        let time_ps = end - self.epoch_start_ps.min(end);
        let leak = self.energy.leakage_pj(self.map.tiles, time_ps)
            + self.energy.master_leakage_pj(self.map.tiles, time_ps)
            + self.energy.weights_leakage_pj(self.map.tiles, time_ps);
        let e = ChipEpoch {
            cycles: self.timing.cycles(time_ps),
            time_ps,
            energy_pj: self.epoch_energy_pj + leak,
        };
        self.epoch_start_ps = end;
        self.epoch_energy_pj = 0.0;
        e
    }

    /// Whether simulated time reached the end of the u64 ps range (about 213 days), where
    /// it stops: times and cycles are then lower bounds.
    pub fn saturated(&self) -> bool {
        self.engine.end_ps() == Ps::MAX
    }

    /// Total simulated time so far, in ps.
    pub fn time_ps(&self) -> Ps {
        self.engine.end_ps()
    }

    /// Whole cycles covering `ps`.
    pub fn cycles(&self, ps: Ps) -> u64 {
        self.timing.cycles(ps)
    }

    /// Engine events processed so far.
    pub fn events(&self) -> u64 {
        self.engine.events()
    }

    /// Every (layer, phase, component, action) row so far, leakage included as a chip row.
    pub fn rows(&self) -> BTreeMap<RowKey, Row> {
        let mut rows = self.rows.clone();
        let t = self.engine.end_ps();
        rows.insert(
            (CHIP, Phase::All, "tile", "leakage"),
            Row {
                count: u64::from(self.map.tiles),
                busy_ps: t,
                energy_pj: self.energy.leakage_pj(self.map.tiles, t),
            },
        );
        if self.master.is_some() {
            rows.insert(
                (CHIP, Phase::All, "master", "leakage"),
                Row {
                    count: u64::from(self.map.tiles),
                    busy_ps: t,
                    energy_pj: self.energy.master_leakage_pj(self.map.tiles, t),
                },
            );
        }
        if self.energy.weights_leakage_mw > 0.0 {
            rows.insert(
                (CHIP, Phase::All, "weights", "leakage"),
                Row {
                    count: u64::from(self.map.tiles),
                    busy_ps: t,
                    energy_pj: self.energy.weights_leakage_pj(self.map.tiles, t),
                },
            );
        }
        rows
    }

    /// Time covered by each phase's operations (at least one running), in ps.
    pub fn phase_ps(&self, phase: Phase) -> Ps {
        self.phase_ps.get(&phase).map_or(0, |&(c, _)| c)
    }

    /// Busy time of every component: (component, tile, subarray, busy ps, capacity ps
    /// factor). Compute units per tile, subarrays and their driver pools per placed
    /// subarray, the network and DRAM.
    pub fn components(&self) -> Vec<Component> {
        let mut out = Vec::new();
        for (t, &r) in self.compute.iter().enumerate() {
            out.push(Component {
                kind: "compute",
                tile: Some(t as u32),
                subarray: None,
                layer: None,
                busy_ps: self.engine.usage(r).busy_ps,
                servers: 1,
                bytes: None,
            });
        }
        for (tile, index, r, layers) in &self.physical {
            let u = self.engine.usage(*r);
            let names: Vec<&str> = layers
                .iter()
                .map(|&l| self.map.layers[l].name.as_str())
                .collect();
            let name = Some(names.join("+"));
            out.push(Component {
                kind: "subarray",
                tile: Some(*tile),
                subarray: Some(*index),
                layer: name.clone(),
                busy_ps: u.busy_ps,
                servers: 1,
                bytes: None,
            });
            out.push(Component {
                kind: "write_drivers",
                tile: Some(*tile),
                subarray: Some(*index),
                layer: name,
                busy_ps: u.driver_busy_ps,
                servers: u64::from(u.drivers),
                bytes: None,
            });
        }
        if let Some(m) = &self.master {
            let held = self.map.master_bytes();
            for (t, &r) in m.res.iter().enumerate() {
                out.push(Component {
                    kind: "master",
                    tile: Some(t as u32),
                    subarray: None,
                    layer: None,
                    busy_ps: self.engine.usage(r).busy_ps,
                    servers: 1,
                    bytes: Some(held[t]),
                });
            }
        }
        for (kind, r) in [("noc", self.noc), ("dram", self.dram)] {
            out.push(Component {
                kind,
                tile: None,
                subarray: None,
                layer: None,
                busy_ps: self.engine.usage(r).busy_ps,
                servers: 1,
                bytes: None,
            });
        }
        out
    }

    /// Where string `g` of layer `l` sits: (tile, subarray, row, column).
    pub fn locate(&self, l: usize, g: u64) -> (u32, u32, u64, u64) {
        let p: &Placement = &self.map.places[l];
        let (j, row, col) = p.locate(g, self.columns);
        (p.subarrays[j].tile, p.subarrays[j].index, row, col)
    }
}

/// One component's busy time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `compute`, `subarray`, `write_drivers`, `master`, `noc` or `dram`.
    pub kind: &'static str,
    /// Its tile, if it belongs to one.
    pub tile: Option<u32>,
    /// Its subarray within the tile, if it is one (or its driver pool).
    pub subarray: Option<u32>,
    /// The layer whose strings the subarray holds.
    pub layer: Option<String>,
    /// Busy time, in ps (for driver pools: summed over the drivers).
    pub busy_ps: Ps,
    /// Servers (drivers in a pool, else 1): utilisation is busy / (servers x time).
    pub servers: u64,
    /// Bytes it holds, for the master-weight SRAMs (`None` for the others).
    pub bytes: Option<u64>,
}
