//! Small CNNs on image data sets: LeNet-5 and networks from a spec, the data sets, the
//! training stack, checkpoints, and the `lenet5` command.
//!
//! [`LeNet5`] is built from the `layers` crate exactly as the batched-matrix derivation
//! computes it (im2col convolutions, window-max pooling, ReLU, softmax cross-entropy), with
//! PyTorch's parameter names and layouts; [`arch`] builds any small CNN from a line of text.
//! [`data`] holds the [`Dataset`](data::Dataset) trait, the in-memory sets and the
//! preprocessing; [`mnist`] reads any IDX folder with MNIST's four file names, [`cifar`]
//! CIFAR-10's binary version (unpacked or its tarball), and `data::image_folder` (feature
//! `images`) torchvision's `ImageFolder` layout. [`train`]
//! runs seeded, reproducible, data-parallel training of any model on any data set;
//! [`resume`] saves and restores a run bit for bit; [`network`] reads a trained network
//! back with its preprocessing.
//!
//! Features: `images` (PNG/JPEG input: image folders and `predict`), `download` (fetch
//! missing MNIST files and CIFAR-10's tarball), `plot` (metrics and confusion pictures), `serve` (the explorer
//! page), `cli` (the `lenet5` command's own dependencies, `serve` included). With
//! `default-features = false` the library builds with none of them.

pub mod arch;
pub mod bench;
pub mod cifar;
pub mod data;
#[cfg(feature = "download")]
pub mod download;
#[cfg(feature = "serve")]
pub mod explorer;
pub mod idx;
pub mod lenet5;
pub mod memory;
pub mod mnist;
pub mod network;
pub mod notation;
pub mod outputs;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(feature = "images")]
pub mod predict;
pub mod prelude;
pub mod resume;
pub mod shapes;
pub mod train;

pub use lenet5::{CLASSES, LeNet5};
pub use mnist::{Mnist, MnistError, Split};
pub use train::{EpochMetrics, Evaluation, TrainConfig, TrainError, Trainer};
