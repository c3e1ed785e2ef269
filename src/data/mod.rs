//! Data sets: labelled images read from disk, and batches cut from them.

pub mod checksums;
pub mod idx;

use std::path::{Path, PathBuf};

use crate::config::workload::DataConfig;
use crate::error::{InputError, clip};
use crate::nn::tensor::{Act, Shape};
use checksums::Checksums;

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

fn load_set(
    dir: &Path,
    images: &str,
    labels: &str,
    sums: Option<&Checksums>,
) -> Result<Dataset, InputError> {
    let set = idx::read_image_set_verified(&find(dir, images), &find(dir, labels), |p, a| {
        sums.map_or(Ok(()), |s| s.verify(p, a))
    })
    .map_err(|e| InputError::new(e.to_string()))?;
    Ok(Dataset {
        shape: Shape::new(1, set.rows, set.cols),
        pixels: set.images.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels: set.labels,
    })
}

/// Reads the four files of `cfg` from `dir` (see [`resolve_dir`]) and checks that both sets
/// have images of one shape. When `dir` has a `SHA256SUMS` file ([`checksums`]), every
/// file it names is checked against it as it is read.
///
/// # Errors
///
/// A one-line input error naming the file: unreadable, not valid IDX, images and labels
/// of different counts, a checksum that does not match (or a malformed `SHA256SUMS`), or
/// test and training images of different shapes.
pub fn load(cfg: &DataConfig, dir: &Path) -> Result<Splits, InputError> {
    let sums = Checksums::read(dir)?;
    let train = load_set(dir, &cfg.train_images, &cfg.train_labels, sums.as_ref())?;
    let test = load_set(dir, &cfg.test_images, &cfg.test_labels, sums.as_ref())?;
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

/// Checks `data.image_size` ([`DataConfig::image_size`]) against the images loaded: `None`
/// when it is absent or matches, else the message for the key (the caller names the file
/// and line).
pub fn image_size_mismatch(cfg: &DataConfig, data: &Splits) -> Option<String> {
    let [rows, cols] = cfg.image_size?;
    let shape = data.train.shape;
    if (shape.h, shape.w) == (rows as usize, cols as usize) {
        return None;
    }
    Some(format!(
        "is [{rows}, {cols}] (rows, columns), but the images in {} and {} are {}x{}",
        clip(&cfg.train_images),
        clip(&cfg.test_images),
        shape.h,
        shape.w
    ))
}

/// The data folder: `cfg.dir`, relative to `base` unless absolute.
pub fn resolve_dir(cfg: &DataConfig, base: &Path) -> PathBuf {
    if cfg.dir.is_absolute() {
        cfg.dir.clone()
    } else {
        base.join(&cfg.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_config(extra: &str) -> Result<DataConfig, toml::de::Error> {
        toml::from_str(&format!("dir = \"d\"\n{extra}"))
    }

    #[test]
    fn image_size_is_serialised_only_when_set() {
        let plain = data_config("").unwrap();
        assert_eq!(plain.image_size, None);
        let text = toml::to_string(&plain).unwrap();
        assert!(!text.contains("image_size"), "{text}");
        let sized = data_config("image_size = [28, 27]").unwrap();
        assert_eq!(sized.image_size, Some([28, 27]));
        let text = toml::to_string(&sized).unwrap();
        assert!(text.contains("image_size = [28, 27]"), "{text}");
        assert_eq!(toml::from_str::<DataConfig>(&text).unwrap(), sized);
    }

    #[test]
    fn image_size_takes_exactly_two_positive_numbers() {
        for bad in ["[28]", "[28, 28, 1]", "[]", "28", "[-1, 28]"] {
            assert!(
                data_config(&format!("image_size = {bad}")).is_err(),
                "{bad} accepted"
            );
        }
        let e = data_config("image_size = [1, 2, 3]").unwrap_err();
        assert!(
            e.to_string()
                .contains("expected [rows, columns], got 3 numbers"),
            "{e}"
        );
        let zero = data_config("image_size = [0, 28]").unwrap();
        let (key, msg) = zero.validate().unwrap_err();
        assert_eq!(crate::config::source::path_string(&key), "data.image_size");
        assert_eq!(msg, "rows and columns must be at least 1, got [0, 28]");
        data_config("image_size = [1, 1]")
            .unwrap()
            .validate()
            .unwrap();
    }

    #[test]
    fn image_size_is_checked_against_the_images() {
        let set = |rows, cols| Dataset {
            shape: Shape::new(1, rows, cols),
            pixels: vec![0.0; rows * cols],
            labels: vec![0],
        };
        let splits = Splits {
            train: set(28, 27),
            test: set(28, 27),
        };
        let mut cfg = data_config("").unwrap();
        assert_eq!(image_size_mismatch(&cfg, &splits), None);
        cfg.image_size = Some([28, 27]);
        assert_eq!(image_size_mismatch(&cfg, &splits), None);
        // Rows and columns the other way round.
        cfg.image_size = Some([27, 28]);
        assert_eq!(
            image_size_mismatch(&cfg, &splits).unwrap(),
            "is [27, 28] (rows, columns), but the images in train-images-idx3-ubyte.gz and \
             t10k-images-idx3-ubyte.gz are 28x27"
        );
    }
}
