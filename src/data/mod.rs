//! Data sets: labelled images read from disk, and batches cut from them.

pub mod idx;

use std::path::{Path, PathBuf};

use crate::config::workload::DataConfig;
use crate::error::InputError;
use crate::nn::tensor::{Act, Shape};

/// A labelled image set in memory, pixels scaled to [0, 1].
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Shape of one image (channels, rows, columns).
    pub shape: Shape,
    /// `len * shape.len()` pixels, image after image.
    pub pixels: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Keeps only the first `n` images, and frees the memory of the rest.
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * self.shape.len());
        self.labels.shrink_to_fit();
        self.pixels.shrink_to_fit();
    }

    /// Copies the images `indices` into `x` (a (C, N, H, W) batch) and their labels into
    /// `labels`.
    pub fn gather(&self, indices: &[usize], x: &mut Act, labels: &mut Vec<u8>) {
        let n = indices.len();
        let (c, plane) = (self.shape.c, self.shape.plane());
        x.reshape(self.shape, n);
        labels.clear();
        for (b, &i) in indices.iter().enumerate() {
            let img = &self.pixels[i * self.shape.len()..(i + 1) * self.shape.len()];
            for ch in 0..c {
                let dst = (ch * n + b) * plane;
                x.data[dst..dst + plane].copy_from_slice(&img[ch * plane..(ch + 1) * plane]);
            }
            labels.push(self.labels[i]);
        }
    }

    /// The number of classes: the largest label plus one.
    pub fn classes(&self) -> usize {
        self.labels
            .iter()
            .copied()
            .max()
            .map_or(0, |m| m as usize + 1)
    }
}

/// The training and test sets of a workload.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training images.
    pub train: Dataset,
    /// Test images.
    pub test: Dataset,
}

/// Finds `name` in `dir`, also trying it with `.gz` added or removed, so that gzipped and
/// raw copies of the standard files both work.
pub fn find(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    if p.exists() {
        return p;
    }
    let alt = match name.strip_suffix(".gz") {
        Some(raw) => dir.join(raw),
        None => dir.join(format!("{name}.gz")),
    };
    if alt.exists() { alt } else { p }
}

fn load_set(dir: &Path, images: &str, labels: &str) -> Result<Dataset, InputError> {
    let set = idx::read_image_set(&find(dir, images), &find(dir, labels))
        .map_err(|e| InputError::new(e.to_string()))?;
    Ok(Dataset {
        shape: Shape::new(1, set.rows, set.cols),
        pixels: set.images.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels: set.labels,
    })
}

/// Reads the four files of `cfg` from `dir` (see [`resolve_dir`]) and checks that both sets
/// have images of one shape.
pub fn load(cfg: &DataConfig, dir: &Path) -> Result<Splits, InputError> {
    let train = load_set(dir, &cfg.train_images, &cfg.train_labels)?;
    let test = load_set(dir, &cfg.test_images, &cfg.test_labels)?;
    if train.shape != test.shape {
        return Err(InputError::new(format!(
            "{}: test images are {}, training images are {}",
            dir.display(),
            test.shape,
            train.shape
        )));
    }
    Ok(Splits { train, test })
}

/// The data folder: `cfg.dir`, relative to `base` unless absolute.
pub fn resolve_dir(cfg: &DataConfig, base: &Path) -> PathBuf {
    if cfg.dir.is_absolute() {
        cfg.dir.clone()
    } else {
        base.join(&cfg.dir)
    }
}
