//! An IDX folder with MNIST's four file names — MNIST itself, Fashion-MNIST, KMNIST, … —
//! read and checked: images of any size (the same in both splits), one byte per pixel,
//! labels of one byte; the classes are `0 … max label`, named by a `classes.txt` beside
//! the files when there is one (one name per line, in label order: Fashion-MNIST's
//! `T-shirt/top`, `Trouser`, …), else by their numbers.
//!
//! The preprocessing LeNet-5 takes (pad to 32×32, normalise) is [`Preprocess`](crate::data::Preprocess).

use std::path::{Path, PathBuf};

use layers::WithPath;
use thiserror::Error;

use crate::data::{ImageSet, TrainTest};
use crate::idx::{Idx, IdxError, IdxFault, read_idx};

/// MNIST's image side.
pub const MNIST_SIDE: usize = 28;

/// The four files, by their original names; each may also be present without `.gz`.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// The file of class names beside the IDX files: one name per line, in label order.
pub const CLASSES_FILE: &str = "classes.txt";

/// The largest `classes.txt` read (names of at most 256 classes, one byte's labels).
const CLASSES_FILE_LIMIT: u64 = 1 << 20;

/// What is wrong with the MNIST data: one of its files, a file missing from the folder, or
/// two files that disagree.
#[derive(Debug, Error)]
pub enum MnistError {
    /// A file is not a valid IDX file, or not the split it should be.
    #[error(transparent)]
    File(#[from] WithPath<MnistFault>),
    /// A file is missing from the data folder.
    #[error("{dir}: {file} is missing (neither it nor its uncompressed form is there)")]
    Missing {
        /// The data folder.
        dir: PathBuf,
        /// The file's name.
        file: String,
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
}

impl From<IdxError> for MnistError {
    fn from(e: IdxError) -> Self {
        MnistError::File(e.map(MnistFault::Idx))
    }
}

/// What is wrong with one file of the MNIST data (named by [`MnistError::File`]'s `path`).
#[derive(Debug, Error)]
pub enum MnistFault {
    /// Not a valid IDX file.
    #[error(transparent)]
    Idx(IdxFault),
    /// Test images whose size differs from the training images'.
    #[error("images are {rows}×{cols}, but the training images are {expected_rows}×{expected_cols}")]
    ImageSize {
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
        /// Rows of a training image.
        expected_rows: usize,
        /// Columns of a training image.
        expected_cols: usize,
    },
    /// An IDX array that is not laid out as the file should be: the wrong number of
    /// dimensions, or data that does not fill them.
    #[error("{0}")]
    Layout(String),
    /// A split without a single image.
    #[error("the file holds no image")]
    Empty,
    /// A `classes.txt` that cannot be read, or does not name every label once.
    #[error("{0}")]
    Classes(String),
    /// A split whose images have no pixel (0 rows or columns).
    #[error("images of {rows}×{cols} pixels")]
    NoPixels {
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
pub fn load(dir: impl AsRef<Path>) -> Result<Mnist, MnistError> {
    let dir = dir.as_ref();
    let path = |name: &str| {
        find_file(dir, name).ok_or_else(|| MnistError::Missing { dir: dir.to_path_buf(), file: name.to_string() })
    };
    let [tri, trl, tei, tel] = FILES;
    let mut train = load_split(&path(tri)?, &path(trl)?)?;
    let mut test = load_split(&path(tei)?, &path(tel)?)?;
    if test.shape != train.shape {
        let [_, expected_rows, expected_cols] = train.shape;
        let [_, rows, cols] = test.shape;
        let size = MnistFault::ImageSize { rows, cols, expected_rows, expected_cols };
        return Err(WithPath::new(path(tei)?, size).into());
    }
    let classes = train.class_names.len().max(test.class_names.len());
    train.class_names = match class_names(&dir.join(CLASSES_FILE), classes)? {
        Some(names) => names,
        None => ImageSet::numbered_classes(classes),
    };
    test.class_names = train.class_names.clone();
    Ok(Mnist { train, test })
}

/// The names in a `classes.txt` at `path` (`None` when there is no such file) for labels
/// `0 … labels−1`: at least one non-empty, distinct name per label, at most 256.
fn class_names(path: &Path, labels: usize) -> Result<Option<Vec<String>>, MnistError> {
    let bad = |reason: String| MnistError::from(WithPath::new(path, MnistFault::Classes(reason)));
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    if size > CLASSES_FILE_LIMIT {
        return Err(bad(format!("{size} bytes; a list of class names is at most {CLASSES_FILE_LIMIT}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let names: Vec<String> = text.trim_end().lines().map(|l| l.trim().to_string()).collect();
    if let Some(line) = names.iter().position(String::is_empty) {
        return Err(bad(format!("line {} is empty: one class name per line", line + 1)));
    }
    if names.len() < labels || names.len() > 256 {
        return Err(bad(format!("{} names for labels 0…{}: one name per label, at most 256", names.len(), labels - 1)));
    }
    if let Some(i) = (1..names.len()).find(|&i| names[..i].contains(&names[i])) {
        return Err(bad(format!("line {}: {:?} names two classes", i + 1, names[i])));
    }
    Ok(Some(names))
}

/// Loads one split from its image and label files, checking sizes, counts and labels.
pub fn load_split(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Split, MnistError> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
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
        Err(WithPath::new(path, MnistFault::Layout(reason)).into())
    };
    layout(images, &img, 3)?;
    layout(labels, &lab, 1)?;
    let (count, rows, cols, label_count) = (img.dims[0], img.dims[1], img.dims[2], lab.dims[0]);
    if rows == 0 || cols == 0 {
        return Err(WithPath::new(images, MnistFault::NoPixels { rows, cols }).into());
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
        return Err(WithPath::new(images, MnistFault::Empty).into());
    }
    let classes = lab.data.iter().map(|&l| usize::from(l) + 1).max().unwrap_or(1);
    Ok(ImageSet {
        shape: [1, rows, cols],
        images: img.data,
        labels: lab.data.into_iter().map(u16::from).collect(),
        class_names: ImageSet::numbered_classes(classes),
    })
}
