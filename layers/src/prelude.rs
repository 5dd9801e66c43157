//! What a program that builds and trains a small CNN needs, in one `use`:
//! `use layers::prelude::*;`.

pub use autograd::{Param, StepContext, Tape, Var};
pub use rand::SeedableRng;
pub use rand::rngs::StdRng;
pub use tensor::{Tensor, Window2d};

pub use crate::optim::{Cosine, Schedule, StepDecay};
pub use crate::{
    Adam, AdamConfig, AvgPool2d, BatchNorm, BatchNormKind, Blueprint, Conv2d, Conv2dConfig, Dropout, Flatten,
    GlobalAvgPool2d, Init, LayerError, LazyBatchNorm, LazyConv2d, LazyDropout, LazyLinear, LeakyReLU, Linear,
    MaxPool2d, Module, Optimizer, Part, PartMut, ReLU, Residual, Sequential, SequentialBuilder, Sgd, SgdConfig,
    Sigmoid, Tanh, copy_state, cross_entropy, cross_entropy_smoothed,
};
