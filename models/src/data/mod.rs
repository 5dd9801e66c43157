//! Data sets behind one small trait, and the preprocessing that turns their images into a
//! batch tensor.
//!
//! A [`Dataset`] is images of one shape `C×H×W` with class labels, read by index. Two
//! in-memory kinds implement it: [`ImageSet`] (bytes, as IDX files and image folders hold
//! them; a byte `b` reads as `b/255`, as torchvision's `ToTensor`) and [`TensorSet`] (any
//! `f32` values, e.g. synthetic data). [`Preprocess`] pads and normalises per channel, and
//! fills a reused batch buffer from a list of indices; [`Augment`] crops and flips training
//! images in it, each drawn from `(seed, epoch, index)`. Loaders: [`crate::mnist::load`] (any folder
//! with MNIST's four IDX file names: MNIST, Fashion-MNIST, KMNIST, …),
//! [`crate::cifar::load`] (CIFAR-10's binary version) and, with the `images` feature,
//! [`image_folder`] (torchvision's `ImageFolder` layout).

mod augment;
#[cfg(feature = "images")]
pub mod image_folder;
mod preprocess;
mod sets;

pub use augment::{Augment, Draw};
pub use preprocess::{Preprocess, PreprocessError, parse_list};
pub use sets::{ImageSet, TensorSet};

/// Why a data folder could not be read, as the format [`load_folder`] found it in.
#[cfg(feature = "images")]
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// An image folder (`DIR/train/<class>/…`) that does not read.
    #[error(transparent)]
    ImageFolder(#[from] image_folder::ImageFolderError),
    /// A CIFAR-10 folder that does not read.
    #[error(transparent)]
    Cifar(#[from] crate::cifar::CifarError),
    /// An IDX folder that does not read.
    #[error(transparent)]
    Idx(#[from] crate::mnist::MnistError),
}

/// Both splits of the data folder `dir`, whichever format it holds: an image folder when it
/// has a `train` subfolder (its decoded pixels at most `max_bytes`, checked from the
/// headers), a CIFAR-10 folder when it holds CIFAR-10's files or its name says cifar
/// ([`crate::cifar::is_cifar_folder`]; its size at most `max_bytes` too), else an IDX folder
/// with MNIST's four file names.
#[cfg(feature = "images")]
pub fn load_folder(dir: &std::path::Path, max_bytes: u64) -> Result<TrainTest<ImageSet>, FolderError> {
    if image_folder::is_image_folder(dir) {
        return Ok(image_folder::load_limited(dir, max_bytes)?);
    }
    if crate::cifar::is_cifar_folder(dir) {
        return Ok(crate::cifar::load_limited(dir, max_bytes)?);
    }
    Ok(crate::mnist::load(dir)?)
}

/// The pixels of one image, channel after channel, row-major.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pixels<'a> {
    /// Bytes; `b` reads as `b/255`.
    U8(&'a [u8]),
    /// Values used as they are.
    F32(&'a [f32]),
}

/// Images of one shape with class labels, read by index. `Sync`, so a training step may
/// read it from several threads.
pub trait Dataset: Sync {
    /// The number of images.
    fn len(&self) -> usize;

    /// Whether there is no image.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of one image, `[C, H, W]`.
    fn image_shape(&self) -> [usize; 3];

    /// The number of classes (labels are below it).
    fn classes(&self) -> usize;

    /// The label of image `index`.
    fn label(&self, index: usize) -> usize;

    /// The pixels of image `index` (`C·H·W` of them).
    fn pixels(&self, index: usize) -> Pixels<'_>;

    /// The name of class `class` (by default its number).
    fn class_name(&self, class: usize) -> String {
        class.to_string()
    }
}

/// A training split and a test split.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainTest<D> {
    /// The images to train on.
    pub train: D,
    /// The images to evaluate on.
    pub test: D,
}
