//! Placement: which tile, subarray, row and column holds every string of every layer.
//!
//! Weight layers (convolutions and dense layers) are placed in the layer graph's
//! topological order. `pack` fills subarrays one layer after another (layers share tiles);
//! `spread` gives every weight layer tiles of its own and hands the spare tiles, one at a
//! time, to the layer with the largest estimated cost per batch (MACs over lanes, strings
//! per subarray), as long as one more tile lowers that cost; the others stay idle. When the weights do not fit, the layers are split
//! into folds that each fit and are swapped through DRAM (`chip.on_overflow = "swap"`),
//! or the run is refused.

use crate::config::ArchConfig;
use crate::config::arch::BiasPlacement;
use crate::config::hw::{Mapping, Overflow};
use crate::device::Layout;
use crate::nn::graph::OpSpec;
use crate::nn::network::Network;
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

/// Where one weight layer lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index into [`Map::layers`].
    pub layer: usize,
    /// The fold it belongs to (0 when everything fits).
    pub fold: usize,
    /// Its subarrays, in string order; the first `strings mod n` hold one string more
    /// than the others.
    pub subarrays: Vec<SubarrayPlace>,
    /// Its tiles with the strings each holds, in order of first use.
    pub tiles: Vec<(u32, u64)>,
    /// Most strings held by one of its subarrays.
    pub per_subarray: u64,
}

impl Placement {
    /// Position in [`Placement::subarrays`] of the subarray holding string `g`.
    pub fn subarray_of(&self, g: u64) -> usize {
        let n = self.subarrays.len() as u64;
        let total: u64 = self.subarrays.last().map_or(0, |s| s.first + s.strings);
        let (base, extra) = (total / n, total % n);
        let big = extra * (base + 1);
        if g < big {
            (g / (base + 1)) as usize
        } else {
            (extra + (g - big) / base.max(1)) as usize
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
        let macs_per_image = match l.op {
            OpSpec::Conv2d {
                out_channels,
                kernel,
                ..
            } => (l.out_shape.plane() * out_channels * l.in_shape.c * kernel * kernel) as u64,
            OpSpec::Dense { out_features } => (l.in_shape.len() * out_features) as u64,
            _ => continue,
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

/// A layer's strings spread evenly over `n` subarrays (fewer if there are fewer strings:
/// every subarray holds at least one), the `j`-th going to `slot(j)`.
fn spread_strings(
    layer: usize,
    fold: usize,
    strings: u64,
    n: u64,
    slot: impl Fn(u64) -> (u32, u32),
) -> Placement {
    let n = n.clamp(1, strings.max(1));
    let (base, extra) = (strings / n, strings % n);
    let mut subarrays = Vec::with_capacity(n as usize);
    let mut tiles: Vec<(u32, u64)> = Vec::new();
    let mut tile_pos = std::collections::HashMap::new();
    let mut first = 0;
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
    Placement {
        layer,
        fold,
        subarrays,
        tiles,
        per_subarray: base + u64::from(extra > 0),
    }
}

/// Tiles a layer can use at most: one string per subarray, at least one per tile.
fn useful_tiles(info: &LayerInfo) -> u64 {
    info.strings.max(1)
}

/// Estimated cost of one batch of a layer on `t` tiles, in ps, used only to rank layers
/// when handing out spare tiles: three passes of MACs, plus one cycle per string held by
/// each subarray as a proxy for write bandwidth. It depends on the organisation and the
/// network only, not on write drivers, pulse widths or energies, so that those can be
/// varied on a fixed placement.
fn estimate_ps(arch: &ArchConfig, info: &LayerInfo, batch: u64, t: u64) -> u64 {
    let t = t.min(useful_tiles(info));
    let lanes = u64::from(arch.tile.mac_lanes) * t;
    let cycle = arch.chip.cycle_ps();
    let compute = 3 * (info.macs_per_image * batch).div_ceil(lanes);
    let sa = (t * u64::from(arch.tile.subarrays)).min(info.strings.max(1));
    (compute + info.strings.div_ceil(sa)) * cycle
}

/// Places the layers `members` (indices into `infos`) on the whole chip as fold `fold`.
fn place_fold(
    arch: &ArchConfig,
    infos: &[LayerInfo],
    members: &[usize],
    fold: usize,
    batch: u64,
) -> (Vec<Placement>, Mapping) {
    let cap = arch.subarray.strings();
    let per_tile = u64::from(arch.tile.subarrays);
    let tiles = u64::from(arch.chip.tiles);
    let min_tiles: Vec<u64> = members
        .iter()
        .map(|&l| min_subarrays(infos[l].strings, cap).div_ceil(per_tile))
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
                    let gain = estimate_ps(arch, &infos[members[i]], batch, given[i]);
                    (gain, std::cmp::Reverse(i))
                });
            let Some(i) = best else { break };
            let info = &infos[members[i]];
            if given[i] >= useful_tiles(info)
                || estimate_ps(arch, info, batch, given[i] + 1)
                    >= estimate_ps(arch, info, batch, given[i])
            {
                saturated[i] = true;
                continue;
            }
            given[i] += 1;
            spare -= 1;
        }
        let mut start = 0u64;
        let mut places = Vec::new();
        for (i, &l) in members.iter().enumerate() {
            let t = given[i];
            let first_tile = start;
            places.push(spread_strings(
                l,
                fold,
                infos[l].strings,
                t * per_tile,
                |j| ((first_tile + j % t) as u32, (j / t) as u32),
            ));
            start += t;
        }
        return (places, Mapping::Spread);
    }
    let mut cursor = 0u64;
    let mut places = Vec::new();
    for &l in members {
        let m = min_subarrays(infos[l].strings, cap);
        let base = cursor;
        places.push(spread_strings(l, fold, infos[l].strings, m, |j| {
            let g = base + j;
            ((g / per_tile) as u32, (g % per_tile) as u32)
        }));
        cursor += m;
    }
    (places, Mapping::Pack)
}

/// Places `net`'s weight layers on the chip `arch` describes; `batch` images per batch
/// (used to rank layers for spare tiles).
pub fn map(arch: &ArchConfig, net: &Network, batch: u64) -> Result<Map, MapError> {
    let layers = layer_infos(arch, net);
    let cap = arch.subarray.strings();
    let per_tile = u64::from(arch.tile.subarrays);
    let chip = u64::from(arch.chip.tiles) * per_tile;
    let need: Vec<u64> = layers
        .iter()
        .map(|l| min_subarrays(l.strings, cap))
        .collect();
    let total: u64 = need.iter().sum();
    let mut folds: Vec<Vec<usize>> = vec![Vec::new()];
    if total > chip {
        let tiles_needed = total.div_ceil(per_tile);
        if arch.chip.on_overflow == Overflow::Error {
            return Err((
                "chip.tiles".into(),
                format!(
                    "{} tile{} of {per_tile} subarrays ({cap} strings each) cannot hold the weights: they need {total} subarrays, so at least {tiles_needed} tiles; raise chip.tiles or set chip.on_overflow = \"swap\"",
                    arch.chip.tiles,
                    if arch.chip.tiles == 1 { "" } else { "s" },
                ),
            ));
        }
        let mut used = 0;
        for (l, &n) in need.iter().enumerate() {
            if n > chip {
                return Err((
                    "chip.tiles".into(),
                    format!(
                        "layer {} alone needs {n} subarrays and the chip has {chip}: even swapping needs every layer to fit; raise chip.tiles to at least {}",
                        layers[l].name,
                        n.div_ceil(per_tile)
                    ),
                ));
            }
            if used + n > chip {
                folds.push(Vec::new());
                used = 0;
            }
            used += n;
            folds.last_mut().expect("one fold").push(l);
        }
    } else {
        folds[0] = (0..layers.len()).collect();
    }
    let mut places = Vec::new();
    let mut mapping = arch.chip.mapping;
    for (f, members) in folds.iter().enumerate() {
        let (p, m) = place_fold(arch, &layers, members, f, batch);
        if m == Mapping::Pack {
            mapping = Mapping::Pack;
        }
        places.extend(p);
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
