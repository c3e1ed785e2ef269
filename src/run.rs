//! One run, end to end: load and check the configs and data, build the network and its
//! weight store, train.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::device::Master;
use crate::config::source::Source;
use crate::config::source::parse_dotted;
use crate::config::workload::{DataConfig, layer_key};
use crate::config::{self, ArchConfig, Loaded, Override, WorkloadConfig};
use crate::data::{self, Splits};
use crate::error::{InputError, clip};
use crate::hw::VALUE_BYTES;
use crate::nn::graph::{self, OpSpec};
use crate::nn::network::Network;
use crate::sched::{self, Map, Scheduler};
use crate::store;
use crate::train::{self, EpochStats, Observer};

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The arch file.
    pub arch: PathBuf,
    /// The workload file.
    pub workload: PathBuf,
    /// A `run.toml` to rerun instead of `arch` and `workload`.
    pub from: Option<PathBuf>,
    /// `--set KEY=VALUE` arguments.
    pub sets: Vec<String>,
    /// `--seed`: overrides `training.seed`.
    pub seed: Option<u64>,
}

/// A checked run, ready to train.
#[derive(Debug)]
pub struct Prepared {
    /// The arch config, after overrides.
    pub arch: Loaded<ArchConfig>,
    /// The workload config, after overrides (and `--seed`).
    pub workload: Loaded<WorkloadConfig>,
    /// The data folder, resolved.
    pub data_dir: PathBuf,
    /// Training and test images (shared with other runs of the process that use the same).
    pub data: Arc<Splits>,
    /// The network, with its buffers.
    pub net: Network,
    /// Short names for reports.
    pub arch_name: String,
    /// Short name of the workload.
    pub workload_name: String,
    /// The `--set` arguments, as given.
    pub sets: Vec<String>,
    /// The placement of the weights on the chip (`None` when the store has no device model,
    /// so no chip is simulated).
    pub map: Option<Map>,
    /// One-line warnings (`warning: ...`) the command should print once: see
    /// [`ArchConfig::warnings`].
    pub warnings: Vec<String>,
}

impl Prepared {
    /// The seed of every random stream of the run.
    pub fn seed(&self) -> u64 {
        self.workload.config.training.seed
    }

    /// The resolved configs with their resolved names filled in (so a rerun reports under
    /// the same names); the data folder as the workload file writes it.
    pub fn named_configs(&self) -> (ArchConfig, WorkloadConfig) {
        let mut arch = self.arch.config.clone();
        arch.name = Some(self.arch_name.clone());
        let mut workload = self.workload.config.clone();
        workload.name = Some(self.workload_name.clone());
        (arch, workload)
    }

    /// The configs as `run.toml` records them: [`Self::named_configs`] with the data folder
    /// and the measured switching data (`device.measured_csv`) made absolute, so the record
    /// reruns from anywhere.
    pub fn recorded_configs(&self) -> (ArchConfig, WorkloadConfig) {
        let (mut arch, mut workload) = self.named_configs();
        workload.data.dir =
            std::fs::canonicalize(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        if let Some(s) = &self.arch.config.device.measured {
            arch.device.measured_csv =
                Some(std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone()));
        }
        (arch, workload)
    }
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One record per epoch.
    pub epochs: Vec<EpochStats>,
    /// The store, described in words.
    pub store: String,
    /// Wall-clock seconds of the whole training (all epochs, with testing).
    pub wall_s: f64,
    /// Training images per epoch.
    pub train_images: usize,
    /// The chip simulation, with its totals (`None` when no chip is simulated).
    pub chip: Option<Scheduler>,
}

impl Outcome {
    /// Training images per second of training time (testing excluded).
    pub fn train_images_per_s(&self) -> f64 {
        let train_s: f64 = self.epochs.iter().map(|e| e.train_s).sum();
        (self.train_images * self.epochs.len()) as f64 / train_s.max(1e-9)
    }
}

/// A file's stem: the name a config without `name` reports under.
pub(crate) fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into())
}

/// The arch and workload parts of a `run.toml` (messages name its lines and keys, such as
/// `arch.weights.bits`), with the `--set` arguments it records (`[run] overrides`).
pub fn sources_from_run(path: &Path) -> Result<(Source, Source, Vec<String>), InputError> {
    let src = Source::read(path)?;
    let table = config::parse_table(&src)?;
    for key in ["arch", "workload"] {
        if !table.get(key).is_some_and(toml::Value::is_table) {
            return Err(InputError::new(format!(
                "{}: not a run record: no [{key}] table (a run record is the run.toml written by nandspin run)",
                src.at_key(&[])
            )));
        }
    }
    // The seed is the workload's `training.seed`; `[run]` only describes the run.
    let recorded: Vec<String> = table
        .get("run")
        .and_then(|r| r.get("overrides"))
        .and_then(|o| o.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        Source::part(&src, "arch"),
        Source::part(&src, "workload"),
        recorded,
    ))
}

/// Data sets loaded once and shared by the runs of a process (the points of a sweep), keyed
/// on the data folder, the data config and the image limits.
#[derive(Debug, Default)]
pub struct DataCache {
    loaded: Mutex<Vec<(String, Arc<Splits>)>>,
}

impl DataCache {
    fn get(&self, key: &str) -> Option<Arc<Splits>> {
        self.loaded
            .lock()
            .expect("data cache lock")
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| Arc::clone(d))
    }

    fn put(&self, key: String, data: Splits) -> Arc<Splits> {
        let d = Arc::new(data);
        self.loaded
            .lock()
            .expect("data cache lock")
            .push((key, Arc::clone(&d)));
        d
    }

    /// The data `cfg` describes in `dir`, limited to the first `max_train` / `max_test`
    /// images; loaded on first use, then shared.
    pub fn load(
        &self,
        cfg: &DataConfig,
        dir: &Path,
        max_train: Option<u64>,
        max_test: Option<u64>,
    ) -> Result<Arc<Splits>, InputError> {
        let full_key = format!("{}\n{cfg:?}", dir.display());
        let key = format!("{full_key}\n{max_train:?}\n{max_test:?}");
        if let Some(d) = self.get(&key) {
            return Ok(d);
        }
        let full = match self.get(&full_key) {
            Some(d) => d,
            None => self.put(full_key.clone(), data::load(cfg, dir)?),
        };
        if max_train.is_none() && max_test.is_none() {
            return Ok(full);
        }
        let mut limited = Splits::clone(&full);
        if let Some(n) = max_train {
            limited.train.truncate(n as usize);
        }
        if let Some(n) = max_test {
            limited.test.truncate(n as usize);
        }
        Ok(self.put(key, limited))
    }
}

/// Loads configs and data and checks the network; any problem is an [`InputError`].
pub fn prepare(req: &RunRequest) -> Result<Prepared, InputError> {
    let overrides: Vec<Override> = req
        .sets
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<_, _>>()?;
    prepare_with(req, &overrides, &DataCache::default())
}

/// [`prepare`] with the overrides already parsed (`req.sets` is not read), and data taken
/// from `cache`.
pub fn prepare_with(
    req: &RunRequest,
    overrides: &[Override],
    cache: &DataCache,
) -> Result<Prepared, InputError> {
    crate::nn::kernels::forced().map_err(InputError::new)?;
    let (arch_sets, work_sets) = config::route_overrides(overrides)?;
    let (arch_src, work_src, recorded) = match &req.from {
        Some(run) => sources_from_run(run)?,
        None => (
            Source::read(&req.arch)?,
            Source::read(&req.workload)?,
            Vec::new(),
        ),
    };
    let arch_name_default = stem(&req.arch);
    let work_base = match &req.from {
        Some(_) => PathBuf::new(),
        None => req
            .workload
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let work_name_default = stem(&req.workload);
    let mut arch = config::load_source(arch_src, &arch_sets, ArchConfig::validate)?;
    config::arch::load_files(&mut arch)?;
    let mut workload = config::load_source(work_src, &work_sets, WorkloadConfig::validate)?;
    if let Some(seed) = req.seed {
        workload.config.training.seed = seed;
    }
    let Checked {
        data_dir,
        data,
        net,
    } = check_workload_with(&workload, &work_base, cache)?;
    let net = with_pim(&arch, net, workload.config.training.seed)?;
    let map = if arch.config.weights.store.has_cells() {
        Some(check_chip(
            &arch,
            &net,
            u64::from(workload.config.training.batch_size),
        )?)
    } else {
        None
    };
    let arch_name = checked_name(
        &arch,
        arch.config.name.as_ref(),
        &arch_name_default,
        "arch",
        &req.arch,
    )?;
    let workload_name = checked_name(
        &workload,
        workload.config.name.as_ref(),
        &work_name_default,
        "workload",
        &req.workload,
    )?;
    let warnings = arch.config.warnings();
    Ok(Prepared {
        arch_name,
        workload_name,
        arch,
        workload,
        data_dir,
        data,
        net,
        // Relative to the original files: a record's own overrides come first.
        sets: recorded
            .into_iter()
            .chain(overrides.iter().map(|o| o.raw.clone()))
            .collect(),
        warnings,
        map,
    })
}

/// `net` with its conv and dense MACs in memory when the arch says `tile.compute = "pim"`
/// (operand writes keyed on `seed`); an activation of 1 bit for a layer whose input can
/// be negative is an error naming the layer.
pub fn with_pim(arch: &Loaded<ArchConfig>, net: Network, seed: u64) -> Result<Network, InputError> {
    let a = &arch.config;
    if a.tile.compute != crate::config::hw::Compute::Pim {
        return Ok(net);
    }
    if a.pim.activation_bits < 2 {
        let graph_signed = crate::pim::layers::signed_inputs(net.layers());
        if let Some(l) = net.layers().iter().zip(&graph_signed).find_map(|(l, &s)| {
            (s && matches!(l.op, OpSpec::Conv2d { .. } | OpSpec::Dense { .. })).then_some(l)
        }) {
            return Err(arch.error_at(
                &parse_dotted("pim.activation_bits"),
                &format!(
                    "layer `{}`: its input can be negative, and a signed activation needs 2 bits or more (a sign and a magnitude)",
                    clip(&l.name)
                ),
            ));
        }
    }
    Ok(net.with_pim(crate::pim::operands::Operands::new(a, seed)))
}

/// The name a config reports under: its `name` key, else its file's stem; either must be
/// safe as part of a folder name ([`config::name::check_path_name`]).
pub fn checked_name<T>(
    loaded: &Loaded<T>,
    name: Option<&String>,
    stem: &str,
    kind: &str,
    file: &Path,
) -> Result<String, InputError> {
    match name {
        Some(name) => {
            config::name::check_path_name(name)
                .map_err(|msg| loaded.error_at(&parse_dotted("name"), &msg))?;
            Ok(name.clone())
        }
        None => {
            config::name::check_path_name(stem).map_err(|msg| {
                InputError::new(format!(
                    "{}: the {kind} file's name stands in for `name`, but {}; set `name` in the file",
                    file.display(),
                    msg.trim_start_matches("the name ")
                ))
            })?;
            Ok(stem.to_string())
        }
    }
}

/// Checks that the network fits the chip (buffer and weights) and places it.
pub fn check_chip(arch: &Loaded<ArchConfig>, net: &Network, batch: u64) -> Result<Map, InputError> {
    let a = &arch.config;
    let buffer = a.tile.buffer_bytes();
    let value_bytes = a.tile.mac.value_bytes();
    for l in net.layers() {
        let (i, o) = (
            l.in_shape.len() as u64 * value_bytes,
            l.out_shape.len() as u64 * value_bytes,
        );
        if i + o > buffer {
            return Err(arch.error_at(
                &parse_dotted("tile.buffer_kib"),
                &format!(
                    "{} KiB cannot hold one image's activations of layer {} (input {:.1} KiB + output {:.1} KiB); raise it to at least {}",
                    a.tile.buffer_kib,
                    clip(&l.name),
                    i as f64 / 1024.0,
                    o as f64 / 1024.0,
                    (i + o).div_ceil(1024)
                ),
            ));
        }
    }
    let map =
        sched::map(a, net, batch).map_err(|(key, msg)| arch.error_at(&parse_dotted(&key), &msg))?;
    if a.update.master == Master::Digital {
        let have = (a.tile.master_kib * 1024.0).floor() as u64;
        let bytes = map.master_bytes();
        if let Some((t, &need)) = bytes.iter().enumerate().max_by_key(|&(_, b)| *b)
            && need > have
        {
            return Err(arch.error_at(
                &parse_dotted("tile.master_kib"),
                &format!(
                    "{} KiB cannot hold the f32 master weights of tile {t} ({} values, {:.1} KiB); raise it to at least {} or spread the weights over more tiles",
                    a.tile.master_kib,
                    need / VALUE_BYTES,
                    need as f64 / 1024.0,
                    need.div_ceil(1024)
                ),
            ));
        }
    }
    Ok(map)
}

/// Trains a prepared run.
pub fn execute(p: &mut Prepared, observer: &mut dyn Observer) -> Outcome {
    execute_shared(p, &[], observer)
        .pop()
        .expect("one outcome per point")
}

/// Trains `lead` once and runs, on that one training, the chip model of `lead` and of each
/// of `others` (their configs must differ from `lead`'s only in keys that cannot change the
/// numerics: see [`crate::dse::plan::training_key`]). Returns one outcome per point,
/// `lead` first; the others share `lead`'s epochs (losses, accuracies, device activity and
/// wall times) with their own chip totals.
pub fn execute_shared(
    lead: &mut Prepared,
    others: &[&Prepared],
    observer: &mut dyn Observer,
) -> Vec<Outcome> {
    let seed = lead.seed();
    let init = lead.net.init_params(seed);
    let mut store = store::build_with(
        &lead.arch.config,
        lead.net.params(),
        &init,
        seed,
        lead.net.kernels(),
    );
    let mut chips: Vec<Option<Scheduler>> = std::iter::once(&*lead)
        .chain(others.iter().copied())
        .map(|p| p.map.clone().map(|m| Scheduler::new(&p.arch.config, m)))
        .collect();
    let t0 = Instant::now();
    let (epochs, per_chip) = train::train_shared(
        &mut lead.net,
        store.as_mut(),
        &lead.data,
        &lead.workload.config.training,
        chips.iter_mut().flatten().collect(),
        observer,
    );
    let wall_s = t0.elapsed().as_secs_f64();
    let describe = store.describe();
    let mut per_chip = per_chip.into_iter();
    chips
        .into_iter()
        .map(|chip| {
            let mut epochs = epochs.clone();
            let chip_epochs = chip.as_ref().and_then(|_| per_chip.next());
            for (i, e) in epochs.iter_mut().enumerate() {
                e.chip = chip_epochs.as_ref().map(|c| c[i]);
            }
            Outcome {
                epochs,
                store: describe.clone(),
                wall_s,
                train_images: lead.data.train.len(),
                chip,
            }
        })
        .collect()
}

/// A workload's data and network, checked against each other.
#[derive(Debug)]
pub struct Checked {
    /// The data folder, resolved.
    pub data_dir: PathBuf,
    /// Training and test images, after the `max_*_images` limits.
    pub data: Arc<Splits>,
    /// The network built for the data's image shape.
    pub net: Network,
}

/// Loads a workload's data and builds its network for the data's shape; errors name the
/// file line or the `--set` at fault. `base` is the folder `data.dir` is relative to.
pub fn check_workload(w: &Loaded<WorkloadConfig>, base: &Path) -> Result<Checked, InputError> {
    check_workload_with(w, base, &DataCache::default())
}

/// [`check_workload`] with data taken from `cache`.
pub fn check_workload_with(
    w: &Loaded<WorkloadConfig>,
    base: &Path,
    cache: &DataCache,
) -> Result<Checked, InputError> {
    let data_dir = data::resolve_dir(&w.config.data, base);
    let d = &w.config.data;
    if !data_dir.is_dir() {
        return Err(w.error_at(
            &parse_dotted("data.dir"),
            &format!(
                "no such folder {} (relative paths are relative to the workload file)",
                clip(&data_dir.display().to_string())
            ),
        ));
    }
    for (key, name) in [
        ("train_images", &d.train_images),
        ("train_labels", &d.train_labels),
        ("test_images", &d.test_images),
        ("test_labels", &d.test_labels),
    ] {
        let file = data::find(&data_dir, name);
        if !file.is_file() {
            return Err(w.error_at(
                &parse_dotted(&format!("data.{key}")),
                &format!(
                    "no such file {} (nor with .gz added or removed)",
                    clip(&file.display().to_string())
                ),
            ));
        }
    }
    let t = &w.config.training;
    let data = cache.load(
        &w.config.data,
        &data_dir,
        t.max_train_images,
        t.max_test_images,
    )?;
    if let Some(msg) = data::image_size_mismatch(&w.config.data, &data) {
        return Err(w.error_at(&parse_dotted("data.image_size"), &msg));
    }
    let shape = data.train.shape;
    let graph = graph::build(&w.config.layers, shape).map_err(|(path, msg)| {
        // Blame the file only if the file alone has the same problem.
        let same = |layers: &[crate::config::workload::LayerSpec]| {
            graph::build(layers, shape).err() == Some((path.clone(), msg.clone()))
        };
        let in_file = same(&w.file_config.layers);
        match w.first_failing_override(|c| same(&c.layers)) {
            Some(o) if !in_file => w.error_by(&path, &msg, o),
            _ => w.error_across(&path, &msg, in_file),
        }
    })?;
    let classes = data.train.classes().max(data.test.classes());
    let last = graph.layers.last().expect("a checked graph has layers");
    if last.out_shape.c < classes {
        let key = match last.op {
            OpSpec::Dense { .. } => "out_features",
            OpSpec::Conv2d { .. } => "out_channels",
            _ => "type",
        };
        return Err(w.error_at(
            &layer_key(last.file_index, key),
            &format!(
                "gives {} class scores, but the data has {classes} classes (labels 0..={})",
                last.out_shape.c,
                classes - 1
            ),
        ));
    }
    // Batch statistics need two values per channel at the least.
    let batch = u64::from(t.batch_size).min(data.train.len() as u64);
    if let Some(l) = graph.layers.iter().find(|l| {
        matches!(l.op, OpSpec::BatchNorm { .. }) && batch * (l.in_shape.plane() as u64) < 2
    }) {
        return Err(w.error_at(
            &parse_dotted("training.batch_size"),
            &format!(
                "batch_norm layer `{}` would see one value per channel in a training batch ({} image(s) of {}): nothing to normalise; use a batch of 2 or more, or normalise a convolution's output",
                clip(&l.name),
                batch,
                l.in_shape
            ),
        ));
    }
    Ok(Checked {
        data_dir,
        data,
        net: Network::new(graph).with_kernels(t.kernels),
    })
}

/// The `--set`s of a command that reads one file: the arch file's (`arch`) or the workload
/// file's; a key of the other file is an error naming its `--set`.
fn overrides_of(sets: &[String], arch: bool) -> Result<Vec<Override>, InputError> {
    let overrides: Vec<Override> = sets
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<_, _>>()?;
    let (arch_sets, work_sets) = config::route_overrides(&overrides)?;
    let (mine, other, (kind, file)) = if arch {
        (arch_sets, work_sets, ("a workload", "arch"))
    } else {
        (work_sets, arch_sets, ("an arch", "workload"))
    };
    if let Some(o) = other.first() {
        return Err(InputError::new(format!(
            "{}: `{}` is {kind} key; this command reads only the {file} file",
            o.origin,
            clip(&o.path[0])
        )));
    }
    Ok(mine)
}

/// Loads an arch file with `--set` overrides (arch keys only), for commands that need no
/// workload.
pub fn load_arch(path: &Path, sets: &[String]) -> Result<Loaded<ArchConfig>, InputError> {
    let arch_sets = overrides_of(sets, true)?;
    let mut arch = config::load_source(Source::read(path)?, &arch_sets, ArchConfig::validate)?;
    config::arch::load_files(&mut arch)?;
    Ok(arch)
}

/// Loads a workload file with `--set` overrides (workload keys only) and an optional seed,
/// then its data and network, for commands that need no arch. Returns the workload, its
/// checked data and network, and its name (its `name` key, else the file's stem).
pub fn load_workload(
    path: &Path,
    sets: &[String],
    seed: Option<u64>,
) -> Result<(Loaded<WorkloadConfig>, Checked, String), InputError> {
    let work_sets = overrides_of(sets, false)?;
    let mut w = config::load_source(Source::read(path)?, &work_sets, WorkloadConfig::validate)?;
    if let Some(seed) = seed {
        w.config.training.seed = seed;
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let checked = check_workload(&w, &base)?;
    let name = checked_name(&w, w.config.name.as_ref(), &stem(path), "workload", path)?;
    Ok((w, checked, name))
}
