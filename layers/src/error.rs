//! The error types of modules, optimizers and checkpoints.

use std::path::PathBuf;

use thiserror::Error;

use autograd::AutogradError;
use tensor::TensorError;

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

/// What went wrong saving or loading a checkpoint. Each names the file, and the tensor
/// where one is at fault.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// Reading, writing, syncing or renaming the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error("{path}: not a valid safetensors file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A tensor the module needs is not in the file.
    #[error("{path}: tensor {name:?} is missing")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// The file holds a tensor the module does not have.
    #[error("{path}: unexpected tensor {name:?}")]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// A tensor has the wrong shape.
    #[error("{path}: tensor {name:?} has shape {got:?}, expected {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape the module needs.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// A tensor has a dtype that cannot be loaded into the module's element type.
    #[error("{path}: tensor {name:?} has dtype {got}, expected {expected}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The dtype the module needs.
        expected: &'static str,
        /// The dtype in the file.
        got: String,
    },
    /// The metadata lacks an entry or holds one that does not parse.
    #[error("{path}: metadata {key:?}: {reason}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The result type of modules and optimizers.
pub type Result<T, E = LayerError> = std::result::Result<T, E>;
