//! Modules to build small CNNs, with initialisers, losses, optimizers and checkpoints.
//!
//! A [`Module`] records its forward pass on the tape of its input [`Var`] and lists its
//! parts (parameters named PyTorch style, buffers, children) in one line of [`parts!`] or
//! [`children!`]; fusion ([`Fuse`]) and the derivation's matrices ([`MatrixForm`]) are faces
//! it may show, and its description is its `Debug` text. [`Conv2d`] is the derivation's im2col → matmul →
//! bias, with weights in PyTorch's `[out, in, kh, kw]` layout; [`MaxPool2d`] takes any
//! kernel and stride (overlapping windows too); [`Linear`] keeps PyTorch's `[out, in]`
//! weight. [`BatchNorm`] (PyTorch's `BatchNorm1d`/`BatchNorm2d`, with running statistics as
//! [`Buffer`]s), [`Dropout`] (masks from the step's random stream), [`AvgPool2d`], [`GlobalAvgPool2d`], [`Tanh`],
//! [`Sigmoid`] and [`LeakyReLU`] behave as PyTorch's in training and evaluation mode
//! ([`Module::set_training`]). Nothing assumes LeNet-5's sizes: every module checks its input shape and
//! returns [`LayerError::InputShape`] naming itself and the shape.
//!
//! Optimizers ([`optim`]) follow PyTorch's update rules, so the same hyper-parameters
//! give the same trajectory; [`checkpoint`] reads and writes safetensors files that
//! PyTorch loads as a `state_dict`.
//!
//! A network is described from the shape of one sample, each layer sized by the one before
//! ([`Sequential::input`], [`LazyConv2d`], [`LazyLinear`]), weights drawn from a seed; or
//! built layer by layer from a generator of your own (`Conv2d::new(config, &mut rng)`).
//!
//! ```
//! use layers::prelude::*;
//!
//! let net = Sequential::<f32>::input([3, 8, 8])
//!     .with(LazyConv2d::new(8, 3).padding(1))
//!     .with(ReLU)
//!     .with(MaxPool2d::new(2, 2)?)
//!     .with(Flatten)
//!     .with(LazyLinear::new(10))
//!     .build(0)?;
//! assert_eq!(net.output_shape(&[5, 3, 8, 8])?, vec![5, 10]);
//! let tape = Tape::new();
//! let x = tape.constant(Tensor::zeros(&[5, 3, 8, 8])?);
//! let loss = cross_entropy(net.forward(x)?, &[0, 1, 2, 3, 4])?;
//! let grads = tape.backward(loss)?;
//! assert!(net.parameters().iter().all(|p| grads.param(p).is_some()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod activation;
mod avg_pool2d;
mod batch_norm;
mod buffer;
pub mod build;
pub mod checkpoint;
mod conv2d;
mod conv2d_dense;
mod conv2d_pair;
mod dropout;
mod error;
mod faces;
mod fold_cache;
mod global_avg_pool2d;
pub mod gradcheck;
pub mod init;
mod leaky_relu;
mod linear;
mod loss;
mod max_pool2d;
mod module;
pub mod optim;
mod parts;
mod pool2d;
mod pool_window;
pub mod prelude;
mod residual;
mod sequential;
mod sigmoid;
mod state;
mod tanh;
mod with_path;

pub use autograd::{Param, Tape, Var};

pub use activation::{Flatten, ReLU};
pub use avg_pool2d::{Avg, AvgPool2d};
pub use batch_norm::{BatchNorm, BatchNormKind};
pub use buffer::Buffer;
pub use build::{Blueprint, Built, Lazy, LazyBatchNorm, LazyConv2d, LazyDropout, LazyLinear, SequentialBuilder};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use dropout::Dropout;
pub use error::{CheckpointError, CheckpointFault, LayerError, Result};
pub use faces::{
    AffineMap, ChannelAffine, FoldAffine, FullyConnected, Fuse, FusePool, MatrixForm, SecondWeights, TakeConv,
    TakeDense,
};
pub use global_avg_pool2d::GlobalAvgPool2d;
pub use init::Init;
pub use leaky_relu::LeakyReLU;
pub use linear::Linear;
pub use loss::{cross_entropy, cross_entropy_smoothed, l2_penalty};
pub use max_pool2d::{Max, MaxPool2d};
pub use module::{Module, output_shape_by_forward};
pub use optim::{Adam, AdamConfig, DecayFilter, Optimizer, OptimizerState, Sgd, SgdConfig};
#[doc(hidden)]
pub use parts::ParamField;
pub use parts::{Part, PartMut};
pub use pool2d::{Pool2d, PoolKind};
pub use residual::Residual;
pub use sequential::{Sequential, forward_chain};
pub use sigmoid::Sigmoid;
pub use state::{copy_state, parameter_bits};
pub use tanh::Tanh;
pub use with_path::{AtPath, WithPath};
