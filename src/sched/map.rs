//! Placement: which tile, subarray, row and column holds every string of every layer.
//!
//! Weight layers (convolutions and dense layers) are placed in the layer graph's
//! topological order. `pack` fills subarrays one layer after another (layers share tiles);
//! `spread` gives every weight layer tiles of its own and hands the spare tiles, one at a
//! time, to the layer with the largest estimated cost per batch (MACs over lanes, strings
//! per subarray), as long as one more tile lowers that cost; the others stay idle. When the
//! weights do not fit, the layers are split into folds that each fit and are swapped through
//! DRAM (`chip.on_overflow = "swap"`), or the run is refused. A layer larger than the whole
//! chip is cut into equal parts, one per fold of its own.

use crate::config::ArchConfig;
use crate::config::arch::BiasPlacement;
use crate::config::hw::{Mapping, Overflow};
use crate::device::Layout;
use crate::nn::graph::OpSpec;
use crate::nn::network::Network;
use crate::pim::coverage::WeightRows;
use crate::store::{ParamId, ParamKind};

/// A parameter tensor held in strings: its id, first string within its layer, strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamStrings {
    /// The tensor.
    pub id: ParamId,
    /// Index of its first string among the layer's strings.
    pub offset: u64,
    /// Strings it needs.
    pub strings: u64,
    /// Codes (values) it holds.
    pub len: u64,
}

/// What the scheduler needs to know about one weight layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer's name.
    pub name: String,
    /// Its index in the network's layer list.
    pub node: usize,
    /// Its tensors held in strings.
    pub params: Vec<ParamStrings>,
    /// Strings of all its tensors.
    pub strings: u64,
    /// Trainable values (weights and biases, wherever held).
    pub values: u64,
    /// The values held in strings (with an f32 master copy each under
    /// `update.master = "digital"`).
    pub stored_values: u64,
    /// Multiply-accumulates of the forward pass, per image.
    pub macs_per_image: u64,
    /// Input values per image.
    pub in_values: u64,
    /// Output values per image.
    pub out_values: u64,
    /// Its weight tensor as rows of codes (for which operand values each subarray needs
    /// when the MACs run in memory).
    pub weight_rows: WeightRows,
    /// Whether the data set feeds it.
    pub from_data: bool,
    /// Weight layers whose outputs reach it (through activations, pooling, flattening).
    pub sources: Vec<usize>,
    /// Weight layers its output reaches.
    pub consumers: Vec<usize>,
}

/// One subarray's share of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubarrayPlace {
    /// The tile.
    pub tile: u32,
    /// The subarray within the tile.
    pub index: u32,
    /// The layer's first string held here.
    pub first: u64,
    /// Strings held here.
    pub strings: u64,
}

/// The strings of a layer resident in one fold: the whole layer, or, for a layer larger
/// than the chip, one of its equal parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The fold.
    pub fold: usize,
    /// Its subarrays: these positions in [`Placement::subarrays`].
    pub subarrays: std::ops::Range<usize>,
    /// Index of its first string among the layer's strings.
    pub first: u64,
    /// Strings it holds.
    pub strings: u64,
    /// Its tiles with the strings each holds, in order of first use.
    pub tiles: Vec<(u32, u64)>,
}

impl Part {
    /// This part's share of `total` (MACs, values, bytes) of a layer of `strings` strings,
    /// in proportion to its strings (see [`range_share`]).
    pub fn share(&self, total: u64, strings: u64) -> u64 {
        range_share(total, self.first, self.strings, strings)
    }
}

/// The share of `total` that strings `first..first + len` of `strings` take, in proportion:
/// the shares of adjacent ranges add up exactly, so a layer's parts share out all of
/// `total`.
pub fn range_share(total: u64, first: u64, len: u64, strings: u64) -> u64 {
    let upto = |g: u64| {
        if g >= strings {
            total
        } else {
            (u128::from(total) * u128::from(g) / u128::from(strings.max(1))) as u64
        }
    };
    upto(first + len) - upto(first)
}

/// Where one weight layer lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index into [`Map::layers`].
    pub layer: usize,
    /// The fold it belongs to (0 when everything fits); its first for a layer in parts.
    pub fold: usize,
    /// Its parts, one per fold it spans, in string (and fold) order: one part holding every
    /// string unless the layer alone is larger than the chip.
    pub parts: Vec<Part>,
    /// Its subarrays, in string order; within a part, the first `strings mod n` hold one
    /// string more than the others.
    pub subarrays: Vec<SubarrayPlace>,
    /// Its tiles with the strings each holds (over every part), in order of first use.
    pub tiles: Vec<(u32, u64)>,
    /// Most strings held by one of its subarrays.
    pub per_subarray: u64,
}

impl Placement {
    /// Position in [`Placement::subarrays`] of the subarray holding string `g`.
    pub fn subarray_of(&self, g: u64) -> usize {
        self.subarrays
            .partition_point(|s| s.first + s.strings <= g)
            .min(self.subarrays.len().saturating_sub(1))
    }

    /// The folds it spans, as the report prints them: `3`, or `2-6` for a layer in parts.
    pub fn fold_label(&self) -> String {
        match self.parts.last() {
            Some(last) if last.fold != self.fold => format!("{}-{}", self.fold, last.fold),
            _ => self.fold.to_string(),
        }
    }

    /// Where string `g` of the layer sits: (subarray position in
    /// [`Placement::subarrays`], row, column).
    pub fn locate(&self, g: u64, columns: u32) -> (usize, u64, u64) {
        let j = self.subarray_of(g);
        let local = g - self.subarrays[j].first;
        (j, local / u64::from(columns), local % u64::from(columns))
    }
}

/// The whole placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    /// The weight layers, in topological order.
    pub layers: Vec<LayerInfo>,
    /// Their placements (same order).
    pub places: Vec<Placement>,
    /// Number of folds (1 when everything fits on the chip at once).
    pub folds: usize,
    /// Tiles on the chip.
    pub tiles: u32,
    /// Tiles holding weights.
    pub tiles_used: u32,
    /// Strings one subarray holds.
    pub subarray_strings: u64,
    /// The policy actually used (`spread` falls back to `pack` on a small chip).
    pub mapping: Mapping,
}

/// Splits `total` over the tiles of a placement in proportion to their strings (of
/// `strings` in all); the last tile takes the rest, so the shares add up.
pub fn shares(total: u64, tiles: &[(u32, u64)], strings: u64) -> Vec<u64> {
    let mut given = 0;
    tiles
        .iter()
        .enumerate()
        .map(|(i, &(_, s))| {
            let share = if i + 1 == tiles.len() {
                total - given
            } else {
                (u128::from(total) * u128::from(s) / u128::from(strings.max(1))) as u64
            };
            given += share;
            share
        })
        .collect()
}

impl Map {
    /// Per tile, the bytes of f32 master weights it keeps (`update.master = "digital"`):
    /// 4 per value held in its strings, over every fold (the copies stay on the tile while
    /// the codes are swapped).
    pub fn master_bytes(&self) -> Vec<u64> {
        let mut per_tile = vec![0u64; self.tiles as usize];
        for (info, place) in self.layers.iter().zip(&self.places) {
            let split = shares(info.stored_values, &place.tiles, info.strings);
            for (&(t, _), v) in place.tiles.iter().zip(split) {
                per_tile[t as usize] += v * crate::hw::VALUE_BYTES;
            }
        }
        per_tile
    }
}

/// A mapping error: the arch key at fault and the message.
pub type MapError = (String, String);

/// The weight layers of `net` as the arch stores them.
pub fn layer_infos(arch: &ArchConfig, net: &Network) -> Vec<LayerInfo> {
    let layout = Layout::of(arch);
    let nodes = net.layers();
    let mut index_of = vec![None; nodes.len()];
    let mut out: Vec<LayerInfo> = Vec::new();
    for (i, l) in nodes.iter().enumerate() {
        let weight_rows = match l.op {
            OpSpec::Conv2d {
                out_channels,
                kernel,
                ..
            } => WeightRows {
                outputs: out_channels as u64,
                fan_in: (l.in_shape.c * kernel * kernel) as u64,
            },
            OpSpec::Dense { out_features } => WeightRows {
                outputs: out_features as u64,
                fan_in: l.in_shape.len() as u64,
            },
            _ => continue,
        };
        let macs_per_image = match l.op {
            OpSpec::Conv2d { .. } => {
                l.out_shape.plane() as u64 * weight_rows.outputs * weight_rows.fan_in
            }
            _ => weight_rows.outputs * weight_rows.fan_in,
        };
        let mut params = Vec::new();
        let mut strings = 0;
        let mut values = 0;
        for (id, p) in net.params().iter().enumerate() {
            if p.layer != l.name {
                continue;
            }
            values += p.len as u64;
            if p.kind == ParamKind::Weight || arch.weights.biases == BiasPlacement::Store {
                let s = layout.strings_for(p.len) as u64;
                params.push(ParamStrings {
                    id,
                    offset: strings,
                    strings: s,
                    len: p.len as u64,
                });
                strings += s;
            }
        }
        index_of[i] = Some(out.len());
        let stored_values = params.iter().map(|p| p.len).sum();
        out.push(LayerInfo {
            name: l.name.clone(),
            node: i,
            params,
            strings,
            values,
            stored_values,
            macs_per_image,
            in_values: l.in_shape.len() as u64,
            out_values: l.out_shape.len() as u64,
            weight_rows,
            from_data: false,
            sources: Vec::new(),
            consumers: Vec::new(),
        });
    }
    // Sources: walk each weight layer's inputs back through layers without weights.
    for w in 0..out.len() {
        let mut stack: Vec<Option<usize>> = nodes[out[w].node].inputs.clone();
        let mut seen = vec![false; nodes.len()];
        while let Some(input) = stack.pop() {
            match input {
                None => out[w].from_data = true,
                Some(j) if seen[j] => {}
                Some(j) => {
                    seen[j] = true;
                    match index_of[j] {
                        Some(src) => {
                            if !out[w].sources.contains(&src) {
                                out[w].sources.push(src);
                            }
                        }
                        None => stack.extend(nodes[j].inputs.iter().copied()),
                    }
                }
            }
        }
        out[w].sources.sort_unstable();
    }
    for w in 0..out.len() {
        for s in out[w].sources.clone() {
            out[s].consumers.push(w);
        }
    }
    out
}

/// Subarrays a layer needs at the least.
fn min_subarrays(strings: u64, cap: u64) -> u64 {
    strings.div_ceil(cap).max(1)
}

/// The strings of one layer a fold holds: all of them, or one part of a layer larger than
/// the chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    /// Index into the layers.
    layer: usize,
    /// Its first string among the layer's strings.
    first: u64,
    /// Strings.
    strings: u64,
    /// Its share of the layer's MACs per image (for ranking layers only).
    macs_per_image: u64,
}

/// A member's strings spread evenly over `n` subarrays (fewer if there are fewer strings:
/// every subarray holds at least one), the `j`-th going to `slot(j)`: its subarrays and
/// its tiles with their strings.
fn spread_strings(
    m: &Member,
    n: u64,
    slot: impl Fn(u64) -> (u32, u32),
) -> (Vec<SubarrayPlace>, Vec<(u32, u64)>) {
    let n = n.clamp(1, m.strings.max(1));
    let (base, extra) = (m.strings / n, m.strings % n);
    let mut subarrays = Vec::with_capacity(n as usize);
    let mut tiles: Vec<(u32, u64)> = Vec::new();
    let mut tile_pos = std::collections::HashMap::new();
    let mut first = m.first;
    for j in 0..n {
        let (tile, index) = slot(j);
        let s = base + u64::from(j < extra);
        subarrays.push(SubarrayPlace {
            tile,
            index,
            first,
            strings: s,
        });
        first += s;
        let pos = *tile_pos.entry(tile).or_insert_with(|| {
            tiles.push((tile, 0));
            tiles.len() - 1
        });
        tiles[pos].1 += s;
    }
    (subarrays, tiles)
}

/// Tiles a member can use at most: one string per subarray, at least one per tile.
fn useful_tiles(m: &Member) -> u64 {
    m.strings.max(1)
}

/// Estimated cost of one batch of a member on `t` tiles, in ps, used only to rank layers
/// when handing out spare tiles: three passes of MACs, plus one cycle per string held by
/// each subarray as a proxy for write bandwidth. It depends on the organisation and the
/// network only, not on write drivers, pulse widths or energies, so that those can be
/// varied on a fixed placement.
fn estimate_ps(arch: &ArchConfig, m: &Member, batch: u64, t: u64) -> u64 {
    let t = t.min(useful_tiles(m));
    let lanes = u64::from(arch.tile.mac_lanes) * t;
    let cycle = arch.chip.cycle_ps();
    let compute = 3 * (m.macs_per_image * batch).div_ceil(lanes);
    let sa = (t * u64::from(arch.tile.subarrays)).min(m.strings.max(1));
    (compute + m.strings.div_ceil(sa)) * cycle
}

/// Places the members of one fold on the whole chip: per member, its subarrays and tiles
/// (in member order), and the mapping used.
#[allow(clippy::type_complexity)]
fn place_fold(
    arch: &ArchConfig,
    members: &[Member],
    batch: u64,
) -> (Vec<(Vec<SubarrayPlace>, Vec<(u32, u64)>)>, Mapping) {
    let cap = arch.subarray.strings();
    let per_tile = u64::from(arch.tile.subarrays);
    let tiles = u64::from(arch.chip.tiles);
    let min_tiles: Vec<u64> = members
        .iter()
        .map(|m| min_subarrays(m.strings, cap).div_ceil(per_tile))
        .collect();
    let exclusive: u64 = min_tiles.iter().sum();
    if arch.chip.mapping == Mapping::Spread && exclusive <= tiles {
        let mut given = min_tiles.clone();
        let mut saturated = vec![false; members.len()];
        let mut spare = tiles - exclusive;
        while spare > 0 {
            let best = (0..members.len())
                .filter(|&i| !saturated[i])
                .max_by_key(|&i| {
                    let gain = estimate_ps(arch, &members[i], batch, given[i]);
                    (gain, std::cmp::Reverse(i))
                });
            let Some(i) = best else { break };
            let m = &members[i];
            if given[i] >= useful_tiles(m)
                || estimate_ps(arch, m, batch, given[i] + 1)
                    >= estimate_ps(arch, m, batch, given[i])
            {
                saturated[i] = true;
                continue;
            }
            given[i] += 1;
            spare -= 1;
        }
        let mut start = 0u64;
        let mut places = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let t = given[i];
            let first_tile = start;
            places.push(spread_strings(m, t * per_tile, |j| {
                ((first_tile + j % t) as u32, (j / t) as u32)
            }));
            start += t;
        }
        return (places, Mapping::Spread);
    }
    let mut cursor = 0u64;
    let mut places = Vec::new();
    for m in members {
        let n = min_subarrays(m.strings, cap);
        let base = cursor;
        places.push(spread_strings(m, n, |j| {
            let g = base + j;
            ((g / per_tile) as u32, (g % per_tile) as u32)
        }));
        cursor += n;
    }
    (places, Mapping::Pack)
}

/// Splits the layers into folds that each fit a chip of `chip` subarrays: whole layers in
/// topological order, a new fold when the next would not fit; a layer larger than the chip
/// gets folds of its own, its strings cut into the fewest equal parts that each fit.
fn folds_of(layers: &[LayerInfo], cap: u64, chip: u64) -> Vec<Vec<Member>> {
    let whole = |l: usize, info: &LayerInfo| Member {
        layer: l,
        first: 0,
        strings: info.strings,
        macs_per_image: info.macs_per_image,
    };
    let mut folds: Vec<Vec<Member>> = vec![Vec::new()];
    let mut used = 0;
    for (l, info) in layers.iter().enumerate() {
        let n = min_subarrays(info.strings, cap);
        if n <= chip {
            if used + n > chip {
                folds.push(Vec::new());
                used = 0;
            }
            used += n;
            folds.last_mut().expect("one fold").push(whole(l, info));
            continue;
        }
        // Equal parts (differing by at most one string), as few as fit the chip.
        // ceil(strings / k) <= strings * chip / n <= cap * chip, as n >= strings / cap.
        let k = n.div_ceil(chip);
        debug_assert!(min_subarrays(info.strings.div_ceil(k), cap) <= chip);
        if used > 0 {
            folds.push(Vec::new());
        }
        let (base, extra) = (info.strings / k, info.strings % k);
        let mut first = 0;
        for p in 0..k {
            let strings = base + u64::from(p < extra);
            let part = Member {
                layer: l,
                first,
                strings,
                macs_per_image: range_share(info.macs_per_image, first, strings, info.strings),
            };
            first += strings;
            if p > 0 {
                folds.push(Vec::new());
            }
            folds.last_mut().expect("one fold").push(part);
        }
        // The next layer starts a fresh fold.
        folds.push(Vec::new());
        used = 0;
    }
    if folds.len() > 1 && folds.last().is_some_and(Vec::is_empty) {
        folds.pop();
    }
    folds
}

/// Places `net`'s weight layers on the chip `arch` describes; `batch` images per batch
/// (used to rank layers for spare tiles).
pub fn map(arch: &ArchConfig, net: &Network, batch: u64) -> Result<Map, MapError> {
    let layers = layer_infos(arch, net);
    let cap = arch.subarray.strings();
    let per_tile = u64::from(arch.tile.subarrays);
    let chip = u64::from(arch.chip.tiles) * per_tile;
    let total: u64 = layers.iter().map(|l| min_subarrays(l.strings, cap)).sum();
    let folds = if total > chip {
        if arch.chip.on_overflow == Overflow::Error {
            let tiles_needed = total.div_ceil(per_tile);
            return Err((
                "chip.tiles".into(),
                format!(
                    "{} tile{} of {per_tile} subarrays ({cap} strings each) cannot hold the weights: they need {total} subarrays, so at least {tiles_needed} tiles; raise chip.tiles or set chip.on_overflow = \"swap\"",
                    arch.chip.tiles,
                    if arch.chip.tiles == 1 { "" } else { "s" },
                ),
            ));
        }
        folds_of(&layers, cap, chip)
    } else {
        vec![
            layers
                .iter()
                .enumerate()
                .map(|(l, info)| Member {
                    layer: l,
                    first: 0,
                    strings: info.strings,
                    macs_per_image: info.macs_per_image,
                })
                .collect(),
        ]
    };
    let mut places: Vec<Placement> = (0..layers.len())
        .map(|l| Placement {
            layer: l,
            fold: 0,
            parts: Vec::new(),
            subarrays: Vec::new(),
            tiles: Vec::new(),
            per_subarray: 0,
        })
        .collect();
    let mut mapping = arch.chip.mapping;
    for (f, members) in folds.iter().enumerate() {
        let (placed, m) = place_fold(arch, members, batch);
        if m == Mapping::Pack {
            mapping = Mapping::Pack;
        }
        for (member, (subarrays, tiles)) in members.iter().zip(placed) {
            let place = &mut places[member.layer];
            if place.parts.is_empty() {
                place.fold = f;
            }
            let start = place.subarrays.len();
            place.subarrays.extend(subarrays);
            place.parts.push(Part {
                fold: f,
                subarrays: start..place.subarrays.len(),
                first: member.first,
                strings: member.strings,
                tiles: tiles.clone(),
            });
            for (t, s) in tiles {
                match place.tiles.iter_mut().find(|(u, _)| *u == t) {
                    Some(e) => e.1 += s,
                    None => place.tiles.push((t, s)),
                }
            }
        }
    }
    for p in &mut places {
        p.per_subarray = p.subarrays.iter().map(|s| s.strings).max().unwrap_or(0);
    }
    let mut used_tiles = vec![false; arch.chip.tiles as usize];
    for p in &places {
        for &(t, _) in &p.tiles {
            used_tiles[t as usize] = true;
        }
    }
    Ok(Map {
        layers,
        places,
        folds: folds.len(),
        tiles: arch.chip.tiles,
        tiles_used: used_tiles.iter().filter(|&&u| u).count() as u32,
        subarray_strings: cap,
        mapping,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_shares_add_up_and_follow_the_strings() {
        for (total, strings) in [(0u64, 5u64), (7, 3), (1000, 7), (u64::MAX / 4, 9), (10, 1)] {
            for parts in 1..=strings {
                let (base, extra) = (strings / parts, strings % parts);
                let (mut first, mut sum) = (0, 0);
                for p in 0..parts {
                    let len = base + u64::from(p < extra);
                    let s = range_share(total, first, len, strings);
                    let exact = u128::from(total) * u128::from(len) / u128::from(strings);
                    assert!(u128::from(s).abs_diff(exact) <= 1, "{total} {strings} {p}");
                    sum += u128::from(s);
                    first += len;
                }
                assert_eq!(sum, u128::from(total), "{total} over {parts} parts");
            }
        }
    }

    /// A layer of `strings` strings and `macs` MACs per image (the rest unused here).
    fn info(strings: u64, macs: u64) -> LayerInfo {
        LayerInfo {
            name: String::new(),
            node: 0,
            params: Vec::new(),
            strings,
            values: strings,
            stored_values: strings,
            macs_per_image: macs,
            in_values: 1,
            out_values: 1,
            weight_rows: WeightRows {
                outputs: 1,
                fan_in: strings,
            },
            from_data: false,
            sources: Vec::new(),
            consumers: Vec::new(),
        }
    }

    /// The folds of layers of `strings`, as (layer, first string, strings) per member.
    fn folds_for(strings: &[u64], cap: u64, chip: u64) -> Vec<Vec<(usize, u64, u64)>> {
        let layers: Vec<LayerInfo> = strings.iter().map(|&s| info(s, 10 * s)).collect();
        let folds = folds_of(&layers, cap, chip);
        for f in &folds {
            // No fold is empty and each fits the chip.
            let used: u64 = f.iter().map(|m| min_subarrays(m.strings, cap)).sum();
            assert!(!f.is_empty() && used <= chip, "{strings:?}: {folds:?}");
        }
        folds
            .iter()
            .map(|f| f.iter().map(|m| (m.layer, m.first, m.strings)).collect())
            .collect()
    }

    #[test]
    fn folds_fill_the_chip_in_order_and_cut_only_layers_larger_than_it() {
        // Subarrays of 4 strings, a chip of 3 subarrays. The layers need 1, 3, 1, 2, 8 and
        // 1 subarrays.
        let (cap, chip) = (4, 3);
        let strings = [4, 12, 1, 8, 29, 2];
        assert_eq!(
            folds_for(&strings, cap, chip),
            vec![
                vec![(0, 0, 4)],
                // 1 + 3 subarrays would not fit: a new fold.
                vec![(1, 0, 12)],
                // 1 + 2 fill the chip exactly.
                vec![(2, 0, 1), (3, 0, 8)],
                // 29 strings in 3 equal parts (as few as fit), the longer ones first.
                vec![(4, 0, 10)],
                vec![(4, 10, 10)],
                vec![(4, 20, 9)],
                // The next layer starts a fresh fold.
                vec![(5, 0, 2)],
            ]
        );
        // The parts' MACs follow their strings and add up to the layer's 290.
        let layers: Vec<LayerInfo> = strings.iter().map(|&s| info(s, 10 * s)).collect();
        let macs: Vec<u64> = folds_of(&layers, cap, chip)[3..6]
            .iter()
            .map(|f| f[0].macs_per_image)
            .collect();
        assert_eq!(macs, [100, 100, 90]);
        // A cut layer first or last leaves no empty fold; after a part-filled fold, a cut
        // layer starts a new one.
        let cut = |l| vec![vec![(l, 0, 10)], vec![(l, 10, 10)], vec![(l, 20, 9)]];
        let mut first_last = cut(0);
        first_last.push(vec![(1, 0, 1)]);
        assert_eq!(folds_for(&[29, 1], cap, chip), first_last);
        let mut last = vec![vec![(0, 0, 1)]];
        last.extend(cut(1));
        assert_eq!(folds_for(&[1, 29], cap, chip), last);
        let mut both = cut(0);
        both.extend(cut(1));
        assert_eq!(folds_for(&[29, 29], cap, chip), both);
        // A layer of exactly the chip is not cut.
        assert_eq!(
            folds_for(&[12, 12], cap, chip),
            vec![vec![(0, 0, 12)], vec![(1, 0, 12)]]
        );
    }

    #[test]
    fn subarray_of_finds_uneven_subarrays() {
        let sizes = [3u64, 2, 4, 1];
        let mut first = 0;
        let subarrays: Vec<SubarrayPlace> = sizes
            .iter()
            .enumerate()
            .map(|(i, &strings)| {
                let s = SubarrayPlace {
                    tile: 0,
                    index: i as u32,
                    first,
                    strings,
                };
                first += strings;
                s
            })
            .collect();
        let part = |fold, subarrays, first, strings| Part {
            fold,
            subarrays,
            first,
            strings,
            tiles: vec![(0, strings)],
        };
        let place = Placement {
            layer: 0,
            fold: 3,
            parts: vec![part(3, 0..2, 0, 5), part(4, 2..4, 5, 5)],
            subarrays: subarrays.clone(),
            tiles: vec![(0, 10)],
            per_subarray: 4,
        };
        for g in 0..10 {
            let j = place.subarray_of(g);
            assert!(subarrays[j].first <= g && g < subarrays[j].first + subarrays[j].strings);
        }
        assert_eq!(place.fold_label(), "3-4");
        let whole = Placement {
            parts: vec![part(3, 0..4, 0, 10)],
            ..place
        };
        assert_eq!(whole.fold_label(), "3");
    }
}
