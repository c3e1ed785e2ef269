//! The workload file (`workloads/*.toml`): the network graph, the data set and the training.
//!
//! Every key is documented in `docs/config.md`; defaults live here, in one place.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::source::{KeyPath, Seg, parse_dotted};

/// A whole workload description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Version of the file format; must be [`super::arch::SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// A short name for reports (defaults to the file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// Where the images come from.
    pub data: DataConfig,
    /// The optimisation.
    #[serde(default)]
    pub training: TrainingConfig,
    /// The network: named layers, each naming its input(s).
    pub layers: Vec<LayerSpec>,
}

fn schema_version() -> u32 {
    super::arch::SCHEMA_VERSION
}

/// Top-level keys of the workload file (used to route `--set` overrides).
pub const WORKLOAD_KEYS: &[&str] = &["schema_version", "name", "data", "training", "layers"];

/// The name by which layers refer to the data set's images.
pub const INPUT_NAME: &str = "input";

/// Data set file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// The MNIST IDX format (unsigned bytes), gzipped or raw.
    Idx,
}

/// The `[data]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// File format (only `idx`).
    #[serde(default = "idx")]
    pub format: DataFormat,
    /// Folder holding the four files; relative paths are relative to the workload file.
    pub dir: PathBuf,
    /// Training images file name.
    #[serde(default = "train_images")]
    pub train_images: String,
    /// Training labels file name.
    #[serde(default = "train_labels")]
    pub train_labels: String,
    /// Test images file name.
    #[serde(default = "test_images")]
    pub test_images: String,
    /// Test labels file name.
    #[serde(default = "test_labels")]
    pub test_labels: String,
    /// The size of every image as `[rows, columns]` in pixels, checked against the image
    /// files when given (so that a workload written for 28x28 images refuses others).
    /// Left out of the serialised config when absent, so that configs (and run ids)
    /// written before the key existed stay the same.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rows_cols"
    )]
    pub image_size: Option<[u32; 2]>,
}

/// Reads `[rows, columns]`: exactly two numbers (a fixed-size array alone would let the
/// TOML reader drop a third).
fn rows_cols<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<[u32; 2]>, D::Error> {
    let v: Vec<u32> = Vec::deserialize(d)?;
    match v[..] {
        [rows, cols] => Ok(Some([rows, cols])),
        _ => Err(serde::de::Error::custom(format!(
            "expected [rows, columns], got {} number{}",
            v.len(),
            if v.len() == 1 { "" } else { "s" }
        ))),
    }
}

impl DataConfig {
    /// Checks values that the types alone do not; the key path is below `data`.
    pub fn validate(&self) -> Result<(), (KeyPath, String)> {
        if let Some(size) = self.image_size
            && size.contains(&0)
        {
            return Err((
                parse_dotted("data.image_size"),
                format!(
                    "rows and columns must be at least 1, got [{}, {}]",
                    size[0], size[1]
                ),
            ));
        }
        Ok(())
    }
}

fn idx() -> DataFormat {
    DataFormat::Idx
}
fn train_images() -> String {
    "train-images-idx3-ubyte.gz".into()
}
fn train_labels() -> String {
    "train-labels-idx1-ubyte.gz".into()
}
fn test_images() -> String {
    "t10k-images-idx3-ubyte.gz".into()
}
fn test_labels() -> String {
    "t10k-labels-idx1-ubyte.gz".into()
}

/// The `[training]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Passes over the training set.
    pub epochs: u32,
    /// Images per SGD step.
    pub batch_size: u32,
    /// SGD learning rate (for a batch of `learning_rate_batch` images, when that is set).
    pub learning_rate: f64,
    /// When set, `learning_rate` is meant for batches of this many images, and a batch of
    /// `batch_size` trains with `learning_rate * batch_size / learning_rate_batch` (the
    /// linear scaling rule); absent, `learning_rate` is used as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate_batch: Option<u32>,
    /// SGD momentum (PyTorch convention: v = m v + g; w -= lr v); 0 disables it.
    pub momentum: f64,
    /// L2 weight decay added to the gradient of weights (not biases); 0 disables it.
    pub weight_decay: f64,
    /// Seed of every random stream of the run (init, shuffling, rounding).
    pub seed: u64,
    /// Reshuffle the training images every epoch.
    pub shuffle: bool,
    /// Use only the first N training images (all when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_train_images: Option<u64>,
    /// Use only the first N test images (all when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_test_images: Option<u64>,
    /// The arithmetic kernels: the fastest for this CPU, or one that gives the same bits on
    /// every CPU. Left out of the serialised config when `native`, so that configs (and
    /// sweep point ids) written before the key existed stay the same.
    #[serde(skip_serializing_if = "Kernels::is_native")]
    pub kernels: Kernels,
}

/// `training.kernels`: which arithmetic kernels a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kernels {
    /// Chosen from the CPU's features at run time (fastest; the last bits of the results
    /// may differ between CPUs).
    #[default]
    Native,
    /// One fixed order of IEEE operations, whatever the CPU: the same bits everywhere.
    Portable,
}

impl Kernels {
    /// Whether this is the default, `native`.
    pub fn is_native(&self) -> bool {
        *self == Kernels::Native
    }
}

impl TrainingConfig {
    /// The learning rate a batch of `batch_size` images trains with: `learning_rate`,
    /// scaled by `batch_size / learning_rate_batch` when that is set.
    pub fn effective_learning_rate(&self) -> f64 {
        match self.learning_rate_batch {
            Some(b) => self.learning_rate * f64::from(self.batch_size) / f64::from(b),
            None => self.learning_rate,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            learning_rate: 0.01,
            learning_rate_batch: None,
            momentum: 0.9,
            weight_decay: 0.0,
            seed: 0,
            shuffle: true,
            max_train_images: None,
            max_test_images: None,
            kernels: Kernels::Native,
        }
    }
}

/// Layer types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// 2-D convolution with bias.
    Conv2d,
    /// Max pooling.
    MaxPool,
    /// Average pooling.
    AvgPool,
    /// Rectified linear unit.
    Relu,
    /// (C, H, W) -> C*H*W features.
    Flatten,
    /// Fully connected layer with bias.
    Dense,
    /// Element-wise sum of two or more inputs of one shape (residual connections).
    Add,
    /// Batch normalisation: per channel after a convolution, per feature after a dense
    /// layer, with a learned scale (gamma) and shift (beta).
    BatchNorm,
}

impl LayerKind {
    /// The name used in TOML.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Conv2d => "conv2d",
            LayerKind::MaxPool => "max_pool",
            LayerKind::AvgPool => "avg_pool",
            LayerKind::Relu => "relu",
            LayerKind::Flatten => "flatten",
            LayerKind::Dense => "dense",
            LayerKind::Add => "add",
            LayerKind::BatchNorm => "batch_norm",
        }
    }
}

/// One `[[layers]]` table. Which keys apply depends on `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Unique name, used by other layers' `input`/`inputs` and in reports.
    pub name: String,
    /// Layer type.
    #[serde(rename = "type")]
    pub kind: LayerKind,
    /// The one input: another layer's name or `input` (the images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Several inputs (type `add`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// conv2d: output channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_channels: Option<u32>,
    /// conv2d: expected input channels (checked against the inferred shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_channels: Option<u32>,
    /// conv2d, pools: square kernel size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<u32>,
    /// conv2d (default 1), pools (default `kernel`): stride.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<u32>,
    /// conv2d, pools: zero padding on each side (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<u32>,
    /// dense: output features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_features: Option<u32>,
    /// dense: expected input features (checked against the inferred shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_features: Option<u32>,
    /// batch_norm: weight of the newest batch in the running statistics, in [0, 1]
    /// (PyTorch's convention: `running = (1 - momentum) * running + momentum * batch`;
    /// default [`BN_MOMENTUM`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// batch_norm: added to the variance before its square root (default [`BN_EPSILON`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
}

/// Default `momentum` of a batch_norm layer (PyTorch's).
pub const BN_MOMENTUM: f64 = 0.1;
/// Default `epsilon` of a batch_norm layer (PyTorch's).
pub const BN_EPSILON: f64 = 1e-5;

impl LayerSpec {
    /// The names of this layer's inputs, whichever key gave them.
    pub fn input_names(&self) -> Vec<&str> {
        match (&self.input, &self.inputs) {
            (Some(i), None) => vec![i.as_str()],
            (None, Some(v)) => v.iter().map(String::as_str).collect(),
            _ => vec![],
        }
    }
}

/// A key path into layer `index`.
pub fn layer_key(index: usize, key: &str) -> KeyPath {
    vec![
        Seg::Key("layers".into()),
        Seg::Index(index),
        Seg::Key(key.into()),
    ]
}

impl WorkloadConfig {
    /// Checks values that the types alone do not (the graph is checked by `nn::graph`).
    pub fn validate(&self) -> Result<(), (KeyPath, String)> {
        if self.schema_version != super::arch::SCHEMA_VERSION {
            return Err((
                parse_dotted("schema_version"),
                format!(
                    "schema_version {} is not supported (this build reads {})",
                    self.schema_version,
                    super::arch::SCHEMA_VERSION
                ),
            ));
        }
        self.data.validate()?;
        let t = &self.training;
        let positive = |key: &str, v: u64| -> Result<(), (KeyPath, String)> {
            if v == 0 {
                Err((parse_dotted(key), "must be at least 1, got 0".into()))
            } else {
                Ok(())
            }
        };
        positive("training.epochs", t.epochs as u64)?;
        positive("training.batch_size", t.batch_size as u64)?;
        if let Some(n) = t.learning_rate_batch {
            positive("training.learning_rate_batch", n as u64)?;
        }
        if let Some(n) = t.max_train_images {
            positive("training.max_train_images", n)?;
        }
        if let Some(n) = t.max_test_images {
            positive("training.max_test_images", n)?;
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return Err((
                parse_dotted("training.learning_rate"),
                format!("must be a positive number, got {}", t.learning_rate),
            ));
        }
        if !(t.momentum.is_finite() && (0.0..1.0).contains(&t.momentum)) {
            return Err((
                parse_dotted("training.momentum"),
                format!("must be in [0, 1), got {}", t.momentum),
            ));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err((
                parse_dotted("training.weight_decay"),
                format!("must be zero or positive, got {}", t.weight_decay),
            ));
        }
        if self.layers.is_empty() {
            return Err((parse_dotted("layers"), "the network has no layers".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_follows_the_batch_only_when_asked() {
        let mut t = TrainingConfig {
            batch_size: 4,
            ..TrainingConfig::default()
        };
        assert_eq!(t.effective_learning_rate(), 0.01);
        t.learning_rate_batch = Some(32);
        assert_eq!(t.effective_learning_rate(), 0.01 * 4.0 / 32.0);
        t.batch_size = 32;
        assert_eq!(t.effective_learning_rate(), 0.01);
        // Left out of the serialised config when absent, so existing run ids stay.
        let text = toml::to_string(&TrainingConfig::default()).unwrap();
        assert!(!text.contains("learning_rate_batch"), "{text}");
    }
}
