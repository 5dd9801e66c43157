//! What a program that builds and trains a small CNN needs, in one `use`:
//! `use layers::prelude::*;`.

pub use autograd::{Param, Tape, Var};
pub use rand::SeedableRng;
pub use rand::rngs::StdRng;
pub use tensor::{Tensor, Window2d};

pub use crate::optim::{Cosine, Schedule, StepDecay};
pub use crate::{
    Adam, AdamConfig, Conv2d, Conv2dConfig, Flatten, Init, LayerError, Linear, MaxPool2d, Module, Optimizer, ReLU,
    Sequential, Sgd, SgdConfig, cross_entropy, cross_entropy_smoothed,
};
