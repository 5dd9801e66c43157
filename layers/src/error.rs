//! The error types of modules, optimizers and checkpoints.

use thiserror::Error;

use autograd::AutogradError;
use tensor::TensorError;

use crate::with_path::WithPath;

/// What went wrong building or running a module or an optimizer.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayerError {
    /// A module received an input of the wrong shape.
    #[error("{module}: expected input {expected}, got shape {got:?}")]
    InputShape {
        /// The module, described with its configuration.
        module: String,
        /// The shape it takes, in words (e.g. "[N, 3, H, W]").
        expected: String,
        /// The shape it got.
        got: Vec<usize>,
    },
    /// A module or optimizer was configured with values outside their domain.
    #[error("{what}: {reason}")]
    Config {
        /// The module or optimizer.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// Two modules' states (parameters and buffers by name) do not match.
    #[error("state {name:?}: {reason}")]
    State {
        /// The parameter's or buffer's dotted name.
        name: String,
        /// How it differs.
        reason: String,
    },
    /// An op failed while recording or differentiating.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

impl From<TensorError> for LayerError {
    fn from(e: TensorError) -> Self {
        LayerError::Autograd(AutogradError::Tensor(e))
    }
}

/// What went wrong saving or loading a checkpoint: the file, and a [`CheckpointFault`].
pub type CheckpointError = WithPath<CheckpointFault>;

/// What went wrong with a checkpoint file, naming the tensor where one is at fault (the
/// file is named by [`CheckpointError`]'s `path`).
#[derive(Debug, Error)]
pub enum CheckpointFault {
    /// Reading, writing, syncing or renaming the file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not a valid safetensors file.
    #[error("not a valid safetensors file: {0}")]
    Format(String),
    /// A tensor the module needs is not in the file.
    #[error("tensor {name:?} is missing")]
    Missing {
        /// The tensor's name.
        name: String,
    },
    /// The file holds a tensor the module does not have.
    #[error("unexpected tensor {name:?}")]
    Unexpected {
        /// The tensor's name.
        name: String,
    },
    /// A tensor has the wrong shape.
    #[error("tensor {name:?} has shape {got:?}, expected {expected:?}")]
    Shape {
        /// The tensor's name.
        name: String,
        /// The shape the module needs.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// A tensor has a dtype that cannot be loaded into the module's element type.
    #[error("tensor {name:?} has dtype {got}, expected {expected}")]
    Dtype {
        /// The tensor's name.
        name: String,
        /// The dtype the module needs.
        expected: &'static str,
        /// The dtype in the file.
        got: String,
    },
    /// The metadata lacks an entry or holds one that does not parse.
    #[error("metadata {key:?}: {reason}")]
    Metadata {
        /// The metadata key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The result type of modules and optimizers.
pub type Result<T, E = LayerError> = std::result::Result<T, E>;
