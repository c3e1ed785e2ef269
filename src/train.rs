//! The training loop: batches through the network, SGD updates through the weight store.

use std::sync::{Arc, mpsc};
use std::time::Instant;

use rand::seq::SliceRandom;

use crate::config::workload::TrainingConfig;
use crate::data::{Dataset, Splits};
use crate::device::WriteCounts;
use crate::nn::loss::BatchScore;
use crate::nn::network::{Mode, Network};
use crate::nn::tensor::Act;
use crate::pim::operands::Pass;
use crate::rng::{Purpose, keyed_rng};
use crate::sched::{ChipEpoch, Scheduler};
use crate::store::{ParamKind, ParamSpec, RecordedLog, WeightStore};

/// Images per forward pass when scoring the test set (does not change results); small
/// enough that the unfolded conv inputs stay in cache (500 was 25 % slower on conv1).
const EVAL_BATCH: usize = 64;

/// Stochastic gradient descent with momentum and weight decay, PyTorch's convention:
/// `g += wd * w` (weights only), `v = m * v + g`, `w_intended = w - lr * v`, where `w` is
/// the held value, or the f32 master copy with `update.master = "digital"`
/// ([`WeightStore::base_values`]). The optimiser state is digital (f32); only the weights
/// go to the store.
#[derive(Debug, Clone)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    velocity: Vec<Vec<f32>>,
    /// Intended values of every parameter at the current step.
    intended: Vec<Vec<f32>>,
}

impl Sgd {
    /// An optimiser for `params`.
    pub fn new(cfg: &TrainingConfig, params: &[ParamSpec]) -> Self {
        Self {
            lr: cfg.effective_learning_rate() as f32,
            momentum: cfg.momentum as f32,
            weight_decay: cfg.weight_decay as f32,
            velocity: params.iter().map(|p| vec![0.0; p.len]).collect(),
            intended: Vec::new(),
        }
    }

    /// Computes every parameter's intended value and writes them all to the store as
    /// update number `step` (1-based; step 0 is the initial write).
    pub fn step(
        &mut self,
        store: &mut dyn WeightStore,
        params: &[ParamSpec],
        grads: &[Vec<f32>],
        step: u64,
    ) {
        self.intended.resize(params.len(), Vec::new());
        for (id, spec) in params.iter().enumerate() {
            let base = store.base_values(id);
            let wd = if spec.kind == ParamKind::Weight {
                self.weight_decay
            } else {
                0.0
            };
            let v = &mut self.velocity[id];
            let out = &mut self.intended[id];
            out.clear();
            out.extend(
                base.iter()
                    .zip(&grads[id])
                    .zip(v.iter_mut())
                    .map(|((&w, &g), v)| {
                        let g = g + wd * w;
                        *v = self.momentum * *v + g;
                        w - self.lr * *v
                    }),
            );
        }
        let updates: Vec<(usize, &[f32])> = self
            .intended
            .iter()
            .enumerate()
            .map(|(id, v)| (id, v.as_slice()))
            .collect();
        store.write_many(&updates, step);
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Mean cross-entropy over the epoch's training batches (nats).
    pub train_loss: f64,
    /// Fraction of training images classified right during the epoch (as trained).
    pub train_accuracy: f64,
    /// Mean cross-entropy on the test set after the epoch (nats).
    pub test_loss: f64,
    /// Fraction of test images classified right after the epoch.
    pub test_accuracy: f64,
    /// Wall-clock seconds spent training in this epoch (excludes testing).
    pub train_s: f64,
    /// Wall-clock seconds of the whole epoch, training and testing.
    pub wall_s: f64,
    /// Device activity of the epoch's weight updates, per parameter tensor (`None` for
    /// stores without a device model).
    pub device: Option<Vec<WriteCounts>>,
    /// The failure probability of one program pulse that the worst 1 % of the MTJs reach
    /// (`None` for stores without a device model).
    pub p_fail_worst1pct: Option<f64>,
    /// Simulated time and chip energy of the epoch's batches (`None` when the chip is not
    /// simulated).
    pub chip: Option<ChipEpoch>,
}

impl EpochStats {
    /// The epoch's device activity summed over all parameters.
    pub fn device_total(&self) -> Option<WriteCounts> {
        self.device.as_ref().map(WriteCounts::sum)
    }
}

/// Progress events for a front end (progress bar, log).
pub trait Observer {
    /// One training batch done (`done` of `total` in the whole run).
    fn batch(&mut self, _done: u64, _total: u64, _loss: f64) {}
    /// One epoch done.
    fn epoch(&mut self, _stats: &EpochStats) {}
}

/// What the training sends each chip model's thread.
enum ChipMsg {
    /// A batch of this many images, with the device log of its update (shared by every
    /// chip model).
    Batch(u64, Arc<RecordedLog>),
    /// The epoch is over: reply with its totals.
    EndEpoch,
}

/// The chip models, each on its own thread, fed a copy of each update's device log through
/// a bounded channel: the training waits for them only at the end of an epoch. Every chip
/// model sees the batches in order, so its results are those of running it inline, alone.
struct ChipLink {
    links: Vec<(mpsc::SyncSender<ChipMsg>, mpsc::Receiver<ChipEpoch>)>,
    params: usize,
    with_codes: bool,
}

impl ChipLink {
    fn spawn<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        chips: Vec<&'scope mut Scheduler>,
        params: usize,
    ) -> Self {
        let with_codes = chips.iter().any(|c| c.map.folds > 1);
        let links = chips
            .into_iter()
            .map(|chip| {
                let (tx, rx) = mpsc::sync_channel::<ChipMsg>(16);
                let (done_tx, done) = mpsc::channel();
                scope.spawn(move || {
                    for msg in rx {
                        match msg {
                            ChipMsg::Batch(n, log) => chip.batch(n, &*log),
                            ChipMsg::EndEpoch => {
                                if done_tx.send(chip.end_epoch()).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
                (tx, done)
            })
            .collect();
        Self {
            links,
            params,
            with_codes,
        }
    }

    fn batch(&self, n: u64, store: &dyn WeightStore, net: &Network) {
        let log = Arc::new(
            RecordedLog::capture(store, self.params, self.with_codes).with_operands(net.pim()),
        );
        for (tx, _) in &self.links {
            tx.send(ChipMsg::Batch(n, Arc::clone(&log)))
                .expect("a chip model's thread ended early");
        }
    }

    /// Every chip model's totals of the epoch, in the order they were given.
    fn end_epoch(&self) -> Vec<ChipEpoch> {
        for (tx, _) in &self.links {
            tx.send(ChipMsg::EndEpoch)
                .expect("a chip model's thread ended early");
        }
        self.links
            .iter()
            .map(|(_, done)| done.recv().expect("a chip model's thread ended early"))
            .collect()
    }
}

/// Trains `net` on `data` with weights held in `store`; returns one record per epoch and,
/// per chip model in `chips`, its totals of each epoch. Every batch's device log goes to
/// every chip model, each on a thread of its own (timing and energy only: they read what
/// the store did and never change it); the epochs' `chip` is the first model's, or `None`
/// without chips. The chip models must differ only in what cannot change the numerics
/// (tiles, drivers, clock, network, energy table): they all read the one training.
pub fn train_shared(
    net: &mut Network,
    store: &mut dyn WeightStore,
    data: &Splits,
    cfg: &TrainingConfig,
    chips: Vec<&mut Scheduler>,
    observer: &mut dyn Observer,
) -> (Vec<EpochStats>, Vec<Vec<ChipEpoch>>) {
    let params = net.params().len();
    let n_chips = chips.len();
    std::thread::scope(|scope| {
        let link = (n_chips > 0).then(|| ChipLink::spawn(scope, chips, params));
        let mut per_chip: Vec<Vec<ChipEpoch>> = vec![Vec::new(); n_chips];
        let epochs = train_with(net, store, data, cfg, link.as_ref(), observer, |all| {
            let first = all.first().cloned();
            for (acc, c) in per_chip.iter_mut().zip(all) {
                acc.push(c);
            }
            first
        });
        (epochs, per_chip)
    })
}

/// Puts `order` (a permutation of the training images' indices) in the order epoch `epoch`
/// (from 1) trains them: ascending, then shuffled by the stream keyed on (seed, epoch) when
/// `training.shuffle` is set. The same for any earlier content of `order`.
pub fn epoch_order(order: &mut [usize], cfg: &TrainingConfig, epoch: u32) {
    order.sort_unstable();
    if cfg.shuffle {
        order.shuffle(&mut keyed_rng(
            cfg.seed,
            Purpose::Shuffle,
            &[u64::from(epoch)],
        ));
    }
}

fn train_with(
    net: &mut Network,
    store: &mut dyn WeightStore,
    data: &Splits,
    cfg: &TrainingConfig,
    chip: Option<&ChipLink>,
    observer: &mut dyn Observer,
    mut keep: impl FnMut(Vec<ChipEpoch>) -> Option<ChipEpoch>,
) -> Vec<EpochStats> {
    let params = net.params().to_vec();
    let mut sgd = Sgd::new(cfg, &params);
    let n = data.train.len();
    let bs = cfg.batch_size as usize;
    let batches = n.div_ceil(bs) as u64;
    let total = batches * cfg.epochs as u64;
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = Act::default();
    let mut labels = Vec::with_capacity(bs.min(n));
    let mut step = 0u64;
    let mut out = Vec::new();
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        epoch_order(&mut order, cfg, epoch);
        let mut score = BatchScore::default();
        for chunk in order.chunks(bs) {
            data.train.gather(chunk, &mut x, &mut labels);
            net.set_pass(Pass::Train { step: step + 1 });
            net.forward(&*store, &x, Mode::Train);
            let s = net.score(&labels, true);
            net.backward(&*store, &x);
            step += 1;
            sgd.step(store, &params, &net.param_grads, step);
            if let Some(c) = chip {
                c.batch(chunk.len() as u64, &*store, net);
            }
            score.loss_sum += s.loss_sum;
            score.correct += s.correct;
            observer.batch(step, total, s.loss_sum / chunk.len() as f64);
        }
        let chip_epoch = chip.map(ChipLink::end_epoch).and_then(&mut keep);
        let train_s = t0.elapsed().as_secs_f64();
        let device = store.take_counts();
        let test = evaluate(net, &*store, &data.test, epoch);
        let stats = EpochStats {
            epoch,
            train_loss: score.loss_sum / n as f64,
            train_accuracy: score.correct as f64 / n as f64,
            test_loss: test.loss_sum / data.test.len() as f64,
            test_accuracy: test.correct as f64 / data.test.len() as f64,
            train_s,
            wall_s: t0.elapsed().as_secs_f64(),
            device,
            p_fail_worst1pct: store.worst_fail_p(),
            chip: chip_epoch,
        };
        observer.epoch(&stats);
        out.push(stats);
    }
    out
}

/// Loss and accuracy of the weights the store holds now, over a whole data set, after
/// training epoch `epoch` (which keys the draws of in-memory operand writes).
pub fn evaluate(
    net: &mut Network,
    store: &dyn WeightStore,
    set: &Dataset,
    epoch: u32,
) -> BatchScore {
    let mut x = Act::default();
    let mut labels = Vec::new();
    let mut score = BatchScore::default();
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(EVAL_BATCH) {
        set.gather(chunk, &mut x, &mut labels);
        net.set_pass(Pass::Eval {
            epoch,
            first_image: chunk[0] as u64,
        });
        net.forward(store, &x, Mode::Eval);
        let s = net.score(&labels, false);
        score.loss_sum += s.loss_sum;
        score.correct += s.correct;
    }
    score
}
