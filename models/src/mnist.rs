//! MNIST: the four IDX files, checked, and the fixed preprocessing LeNet-5 takes.
//!
//! Preprocessing (what torchvision's `Pad(2) → ToTensor → Normalize((0.1307,), (0.3081,))`
//! does): pad each 28×28 image with 2 background (0) pixels on every side to 32×32, divide
//! by 255, subtract 0.1307 and divide by 0.3081. So the padding reads −0.4242, not 0.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::idx::{Idx, IdxError, read_idx};

/// MNIST's image side.
pub const MNIST_SIDE: usize = 28;
/// LeNet-5's input side after padding.
pub const INPUT_SIDE: usize = 32;
/// Pixels of one preprocessed image.
pub const INPUT_PIXELS: usize = INPUT_SIDE * INPUT_SIDE;
/// The normalisation constants (mean, std) of MNIST's training pixels in [0, 1].
pub const NORMALIZE: (f32, f32) = (0.1307, 0.3081);

/// The four files, by their original names; each may also be present without `.gz`.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// What is wrong with the MNIST data.
#[derive(Debug, Error)]
pub enum MnistError {
    /// A file is not a valid IDX file.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// A file is missing from the data folder.
    #[error("{dir}: {file} is missing (neither it nor its uncompressed form is there)")]
    Missing {
        /// The data folder.
        dir: PathBuf,
        /// The file's name.
        file: String,
    },
    /// Images that are not 28×28.
    #[error("{path}: images are {rows}×{cols}, expected 28×28")]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
    },
    /// Image and label files of one split disagree on the count.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Its count.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Its count.
        label_count: usize,
    },
    /// An IDX array that is not laid out as the file should be: the wrong number of
    /// dimensions, or data that does not fill them.
    #[error("{path}: {reason}")]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A split without a single image.
    #[error("{path}: the file holds no image")]
    Empty {
        /// The image file.
        path: PathBuf,
    },
    /// A label above 9.
    #[error("{path}: label {label} at index {index} is not a digit 0–9")]
    Label {
        /// The file.
        path: PathBuf,
        /// The label's index.
        index: usize,
        /// The label.
        label: u8,
    },
}

/// One split: images as raw 28×28 bytes and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// `len() · 784` pixels, image after image, row-major.
    pub images: Vec<u8>,
    /// One digit per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The raw pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * MNIST_SIDE * MNIST_SIDE..(i + 1) * MNIST_SIDE * MNIST_SIDE]
    }

    /// Writes the preprocessed images `indices` into `out` (N×1×32×32, row-major) and their
    /// labels into `labels`, reusing both buffers.
    pub fn fill_batch(&self, indices: &[usize], out: &mut Vec<f32>, labels: &mut Vec<usize>) {
        let lut = pixel_lut();
        out.clear();
        out.resize(indices.len() * INPUT_PIXELS, lut[0]);
        labels.clear();
        for (k, &i) in indices.iter().enumerate() {
            preprocess_into(self.image(i), &lut, &mut out[k * INPUT_PIXELS..(k + 1) * INPUT_PIXELS]);
            labels.push(usize::from(self.labels[i]));
        }
    }
}

/// The training and test splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// 60,000 training images.
    pub train: Split,
    /// 10,000 test images.
    pub test: Split,
}

/// The normalised value of each byte: `(b/255 − 0.1307) / 0.3081`.
pub fn pixel_lut() -> [f32; 256] {
    let (mean, std) = NORMALIZE;
    std::array::from_fn(|b| (b as f32 / 255.0 - mean) / std)
}

/// Preprocesses one 28×28 image into a 32×32 slice (padding 2, normalised).
pub fn preprocess_into(image: &[u8], lut: &[f32; 256], out: &mut [f32]) {
    let pad = (INPUT_SIDE - MNIST_SIDE) / 2;
    out.fill(lut[0]);
    for (r, row) in image.chunks_exact(MNIST_SIDE).enumerate() {
        let dst = &mut out[(r + pad) * INPUT_SIDE + pad..(r + pad) * INPUT_SIDE + pad + MNIST_SIDE];
        for (d, &b) in dst.iter_mut().zip(row) {
            *d = lut[usize::from(b)];
        }
    }
}

/// The path of one of the four files in `dir`: the `.gz` name, else the uncompressed one.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let gz = dir.join(name);
    let plain = dir.join(name.trim_end_matches(".gz"));
    [gz, plain].into_iter().find(|p| p.is_file())
}

/// Loads and checks both splits from `dir`.
pub fn load(dir: &Path) -> Result<Mnist, MnistError> {
    let path = |name: &str| {
        find_file(dir, name).ok_or_else(|| MnistError::Missing { dir: dir.to_path_buf(), file: name.to_string() })
    };
    let [tri, trl, tei, tel] = FILES;
    Ok(Mnist { train: load_split(&path(tri)?, &path(trl)?)?, test: load_split(&path(tei)?, &path(tel)?)? })
}

/// Loads one split from its image and label files, checking sizes, counts and labels.
pub fn load_split(images: &Path, labels: &Path) -> Result<Split, MnistError> {
    let img = read_idx(images, 3)?;
    let lab = read_idx(labels, 1)?;
    split_from_idx(img, lab, images, labels)
}

/// Checks a split read as IDX arrays (`images` of rank 3, `labels` of rank 1): 28×28
/// images, at least one, as many labels as images, every label a digit. The paths name
/// the files in errors.
pub fn split_from_idx(img: Idx, lab: Idx, images: &Path, labels: &Path) -> Result<Split, MnistError> {
    let layout = |path: &Path, arr: &Idx, rank: usize| -> Result<(), MnistError> {
        let reason = if arr.dims.len() != rank {
            format!("expected {rank} dimension(s), got {}", arr.dims.len())
        } else if arr.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(arr.data.len()) {
            format!("dimensions {:?} do not match the {} data bytes", arr.dims, arr.data.len())
        } else {
            return Ok(());
        };
        Err(MnistError::Layout { path: path.to_path_buf(), reason })
    };
    layout(images, &img, 3)?;
    layout(labels, &lab, 1)?;
    let (count, rows, cols, label_count) = (img.dims[0], img.dims[1], img.dims[2], lab.dims[0]);
    if rows != MNIST_SIDE || cols != MNIST_SIDE {
        return Err(MnistError::ImageSize { path: images.to_path_buf(), rows, cols });
    }
    if count != label_count {
        return Err(MnistError::CountMismatch {
            images: images.to_path_buf(),
            image_count: count,
            labels: labels.to_path_buf(),
            label_count,
        });
    }
    if count == 0 {
        return Err(MnistError::Empty { path: images.to_path_buf() });
    }
    if let Some((index, &label)) = lab.data.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(MnistError::Label { path: labels.to_path_buf(), index, label });
    }
    Ok(Split { images: img.data, labels: lab.data })
}
