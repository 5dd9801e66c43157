//! An IDX folder with MNIST's four file names — MNIST itself, Fashion-MNIST, KMNIST, … —
//! read and checked: images of any size (the same in both splits), one byte per pixel,
//! labels of one byte; the classes are `0 … max label`.
//!
//! The preprocessing LeNet-5 takes (pad to 32×32, normalise) is [`Preprocess`](crate::data::Preprocess).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::data::{ImageSet, TrainTest};
use crate::idx::{Idx, IdxError, read_idx};

/// MNIST's image side.
pub const MNIST_SIDE: usize = 28;

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
    /// Test images whose size differs from the training images'.
    #[error("{path}: images are {rows}×{cols}, but the training images are {expected_rows}×{expected_cols}")]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
        /// Rows of a training image.
        expected_rows: usize,
        /// Columns of a training image.
        expected_cols: usize,
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
    /// A split whose images have no pixel (0 rows or columns).
    #[error("{path}: images of {rows}×{cols} pixels")]
    NoPixels {
        /// The file.
        path: PathBuf,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
    },
}

/// One split: images as bytes with their labels.
pub type Split = ImageSet;

/// The training and test splits of an IDX folder.
pub type Mnist = TrainTest<ImageSet>;

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
    let mut train = load_split(&path(tri)?, &path(trl)?)?;
    let mut test = load_split(&path(tei)?, &path(tel)?)?;
    if test.shape != train.shape {
        let [_, expected_rows, expected_cols] = train.shape;
        let [_, rows, cols] = test.shape;
        return Err(MnistError::ImageSize { path: path(tei)?, rows, cols, expected_rows, expected_cols });
    }
    let classes = train.class_names.len().max(test.class_names.len());
    train.class_names = ImageSet::numbered_classes(classes);
    test.class_names = train.class_names.clone();
    Ok(Mnist { train, test })
}

/// Loads one split from its image and label files, checking sizes, counts and labels.
pub fn load_split(images: &Path, labels: &Path) -> Result<Split, MnistError> {
    let img = read_idx(images, 3)?;
    let lab = read_idx(labels, 1)?;
    split_from_idx(img, lab, images, labels)
}

/// Checks a split read as IDX arrays (`images` of rank 3, `labels` of rank 1): at least
/// one image of at least one pixel, as many labels as images. The classes are `0 … max
/// label`. The paths name the files in errors.
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
    if rows == 0 || cols == 0 {
        return Err(MnistError::NoPixels { path: images.to_path_buf(), rows, cols });
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
    let classes = lab.data.iter().map(|&l| usize::from(l) + 1).max().unwrap_or(1);
    Ok(ImageSet {
        shape: [1, rows, cols],
        images: img.data,
        labels: lab.data.into_iter().map(u16::from).collect(),
        class_names: ImageSet::numbered_classes(classes),
    })
}
