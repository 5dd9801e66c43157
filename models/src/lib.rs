//! LeNet-5 on MNIST: the network, the data, the training loop, and the `lenet5` command.
//!
//! [`LeNet5`] is built from the `layers` crate exactly as the batched-matrix derivation
//! computes it (im2col convolutions, window-max pooling, ReLU, softmax cross-entropy), with
//! PyTorch's parameter names and layouts. [`mnist`] reads the four IDX files (plain or
//! gzip) with every size checked, and preprocesses as torchvision's
//! `Pad(2) → ToTensor → Normalize` does. [`train`] runs seeded, reproducible,
//! data-parallel training; the `lenet5` binary wraps it with a progress bar, evaluation,
//! prediction from image files and the table of the derivation's matrix shapes.

pub mod bench;
#[cfg(feature = "download")]
pub mod download;
#[cfg(feature = "serve")]
pub mod explorer;
pub mod idx;
pub mod lenet5;
pub mod mnist;
#[cfg(feature = "plot")]
pub mod plot;
pub mod predict;
pub mod resume;
pub mod shapes;
pub mod train;

pub use lenet5::{CLASSES, LeNet5};
pub use mnist::{Mnist, MnistError, Split};
pub use train::{EpochMetrics, Evaluation, TrainConfig, TrainError, Trainer};
