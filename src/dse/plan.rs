//! A sweep's plan: every point resolved and checked, with its stable id, the training it
//! shares, and its shard.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::spec::{Sweep, cell};
use crate::config::{ArchConfig, WorkloadConfig};
use crate::error::{InputError, clip};
use crate::run::{self, DataCache, Prepared, RunRequest};

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointPlan {
    /// Position in the sweep's order (row-major over the axes, 0-based).
    pub index: usize,
    /// Stable id: a hash of the point's resolved arch and workload configs.
    pub id: String,
    /// Id of the point whose training this point shares (its own id when it trains).
    pub training: String,
    /// The axis values, one per axis.
    pub values: Vec<toml::Value>,
}

impl PointPlan {
    /// Whether the point's chip model replays another point's training.
    pub fn replayed(&self) -> bool {
        self.training != self.id
    }

    /// `chip.tiles=4, update.program_pulse_ns=1.0`.
    pub fn label(&self, axes: &[String]) -> String {
        axes.iter()
            .zip(&self.values)
            .map(|(k, v)| format!("{k}={}", cell(v)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A sweep with every point resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The sweep file, read.
    pub sweep: Sweep,
    /// The points, in order.
    pub points: Vec<PointPlan>,
    /// The trainings: for each, the indices of the points sharing it (the first trains).
    pub groups: Vec<Vec<usize>>,
    /// The distinct warnings of the points ([`Prepared::warnings`]), in order, for the
    /// command to print once.
    pub warnings: Vec<String>,
}

/// Hex digits of a point id (48 bits: collisions are negligible for any sweep).
const ID_HEX: usize = 12;

/// The first [`ID_HEX`] hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..ID_HEX]
        .to_string()
}

#[derive(Serialize)]
struct Resolved<'a> {
    arch: &'a ArchConfig,
    workload: &'a WorkloadConfig,
}

fn canonical(arch: &ArchConfig, workload: &WorkloadConfig) -> String {
    toml::to_string(&Resolved { arch, workload }).expect("configs serialise")
}

/// A point's id: the hash of its resolved configs, names included. The data folder enters
/// as the workload file writes it, so ids do not depend on where the project is checked
/// out.
pub fn point_id(p: &Prepared) -> String {
    let (arch, workload) = p.named_configs();
    short_hash(&canonical(&arch, &workload))
}

/// A run's configuration id: like [`point_id`], but of the configs as `run.toml` records
/// them (the data folder made absolute); so a run and a rerun of its record
/// (`run --from`) have the same id, and runs on different data folders do not.
pub fn run_id(p: &Prepared) -> String {
    let (arch, workload) = p.recorded_configs();
    short_hash(&canonical(&arch, &workload))
}

/// What decides a point's numerics: its configs without the keys that only the timing and
/// energy model reads (`[chip]`, `[tile]` but `tile.compute`, `[subarray]`, `[noc]`,
/// `[dram]`, `[tech]`, the cell areas, the energy table's non-device entries, `[pim]`
/// under digital compute and its periphery keys under PIM) and without names. Points with the same key train to
/// bit-identical weights, losses and device activity, so one training serves them all.
/// The device-action energies (`energy.hm_erase_pulse_pj`, `mtj_program_pulse_pj`,
/// `mtj_read_pj`) stay in the key: the device model books them per pulse.
pub fn training_key(arch: &ArchConfig, workload: &WorkloadConfig) -> String {
    let mut a = arch.clone();
    a.name = None;
    a.chip = Default::default();
    // Where the MACs run decides their numerics (in memory, operands are quantised and
    // written through the device); so do the `[pim]` keys, which digital compute ignores.
    a.tile = crate::config::hw::TileConfig {
        compute: arch.tile.compute,
        ..Default::default()
    };
    let p = &arch.pim;
    a.pim = if a.tile.compute == crate::config::hw::Compute::Digital {
        Default::default()
    } else {
        // Only what the operands are and how they are written; the periphery is cost.
        crate::pim::PimConfig {
            phases: p.phases.clone(),
            activation_bits: p.activation_bits,
            gradient_bits: p.gradient_bits,
            write_pulse_ns: p.write_pulse_ns.clone(),
            exact_operands: p.exact_operands,
            ..Default::default()
        }
    };
    a.subarray = Default::default();
    a.noc = Default::default();
    a.dram = Default::default();
    // Area is cost only: the node and every cell area.
    a.tech = Default::default();
    a.string.cell_area_f2 = Default::default();
    a.stt.cell_area_f2 = Default::default();
    a.sot.cell_area_f2 = Default::default();
    a.sram.cell_area_f2 = Default::default();
    let device_energy = (
        a.energy.hm_erase_pulse_pj,
        a.energy.mtj_program_pulse_pj,
        a.energy.mtj_read_pj,
    );
    a.energy = Default::default();
    (
        a.energy.hm_erase_pulse_pj,
        a.energy.mtj_program_pulse_pj,
        a.energy.mtj_read_pj,
    ) = device_energy;
    let mut w = workload.clone();
    w.name = None;
    canonical(&a, &w)
}

impl Plan {
    /// Resolves and checks every point (configs, data, network, placement): any bad value
    /// fails here, naming its axis, before anything runs.
    pub fn new(sweep: Sweep, cache: &DataCache) -> Result<Self, InputError> {
        let n = sweep.points();
        let axes = axis_keys(&sweep);
        let mut points: Vec<PointPlan> = Vec::with_capacity(n);
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut keys: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut warnings: Vec<String> = Vec::new();
        for index in 0..n {
            let p = prepare(&sweep, index, cache)?;
            for w in &p.warnings {
                if !warnings.contains(w) {
                    warnings.push(w.clone());
                }
            }
            let id = point_id(&p);
            let point = PointPlan {
                index,
                id: id.clone(),
                training: id.clone(),
                values: sweep.coords(index).into_iter().cloned().collect(),
            };
            if let Some(&q) = ids.get(&id) {
                // Blame the first axis whose values differ between the two points.
                let at = sweep
                    .axes
                    .iter()
                    .zip(points[q].values.iter().zip(&point.values))
                    .find(|(_, (a, b))| a != b)
                    .map_or_else(|| sweep.file.display().to_string(), |(a, _)| a.at.clone());
                return Err(InputError::new(format!(
                    "{at}: points {q} ({}) and {index} ({}) resolve to the same configuration; drop one of the values",
                    clip(&points[q].label(&axes)),
                    clip(&point.label(&axes))
                )));
            }
            ids.insert(id, index);
            let key = training_key(&p.arch.config, &p.workload.config);
            let g = *keys.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(index);
            let training = points
                .get(groups[g][0])
                .map_or_else(|| point.id.clone(), |lead| lead.id.clone());
            points.push(PointPlan { training, ..point });
        }
        Ok(Self {
            sweep,
            points,
            groups,
            warnings,
        })
    }

    /// The axis keys, in order.
    pub fn axes(&self) -> Vec<String> {
        axis_keys(&self.sweep)
    }

    /// Loads and checks point `index` for running.
    pub fn prepare(&self, index: usize, cache: &DataCache) -> Result<Prepared, InputError> {
        prepare(&self.sweep, index, cache)
    }

    /// A fingerprint of the plan: the hash of its axes and points. Shards of one sweep
    /// share it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.axes(), &self.points)
    }

    /// The shard of every point when the sweep is split into `count` shards. A training
    /// and the points that replay it stay in one shard; trainings go, largest first, to the
    /// least loaded shard (a training counts 1, each replay 0.1).
    pub fn shards(&self, count: usize) -> Vec<usize> {
        let count = count.max(1);
        let mut order: Vec<usize> = (0..self.groups.len()).collect();
        order.sort_by_key(|&g| std::cmp::Reverse(self.groups[g].len()));
        let mut load = vec![0u64; count];
        let mut shard = vec![0usize; self.points.len()];
        for g in order {
            let s = (0..count)
                .min_by_key(|&s| (load[s], s))
                .expect("at least one shard");
            load[s] += 10 + self.groups[g].len() as u64 - 1;
            for &i in &self.groups[g] {
                shard[i] = s;
            }
        }
        shard
    }
}

/// The hash of a plan's axes and of every point (index, id, training, values), in order:
/// any edit to a manifest's plan changes it.
pub fn fingerprint(axes: &[String], points: &[PointPlan]) -> String {
    let mut text = axes.join("\n");
    for p in points {
        let values: Vec<String> = p.values.iter().map(ToString::to_string).collect();
        text.push_str(&format!(
            "\n{} {} {} [{}]",
            p.index,
            p.id,
            p.training,
            values.join(", ")
        ));
    }
    short_hash(&text)
}

fn axis_keys(sweep: &Sweep) -> Vec<String> {
    sweep.axes.iter().map(|a| a.key.clone()).collect()
}

fn prepare(sweep: &Sweep, index: usize, cache: &DataCache) -> Result<Prepared, InputError> {
    let req = RunRequest {
        arch: sweep.arch.clone(),
        workload: sweep.workload.clone(),
        ..RunRequest::default()
    };
    run::prepare_with(&req, &sweep.overrides(index), cache)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hw::Compute;

    #[test]
    fn the_training_key_keeps_where_macs_run_and_the_pim_numerics() {
        let w: WorkloadConfig = toml::from_str("layers = []\n[data]\ndir = \"d\"").unwrap();
        let base = ArchConfig::default();
        let key = |a: &ArchConfig| training_key(a, &w);
        let mut lanes = base.clone();
        lanes.tile.mac_lanes = 7;
        assert_eq!(key(&lanes), key(&base), "cost only");
        let mut bits = base.clone();
        bits.pim.activation_bits = 4;
        assert_eq!(
            key(&bits),
            key(&base),
            "[pim] is ignored by digital compute"
        );
        let mut pim = base.clone();
        pim.tile.compute = Compute::Pim;
        assert_ne!(key(&pim), key(&base));
        let mut pim_bits = pim.clone();
        pim_bits.pim.activation_bits = 4;
        assert_ne!(key(&pim_bits), key(&pim));
        let mut pim_lanes = pim.clone();
        pim_lanes.tile.mac_lanes = 7;
        pim_lanes.pim.counters = 4;
        pim_lanes.pim.and_ns = Some(2.0);
        assert_eq!(key(&pim_lanes), key(&pim), "the periphery is cost only");
    }
}
