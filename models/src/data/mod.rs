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
