//! Why a state file cannot be resumed from: [`ResumeError`], and what is wrong with a
//! safetensors file as a training state, [`StateFault`].

use layers::{CheckpointError, WithPath};

use super::{STATE_FORMAT, STATE_VERSION};
use crate::network::NetworkError;

/// Why a state file cannot be resumed from.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The file could not be read, is not a safetensors file, or lacks or mangles an entry.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The file is a safetensors file but not a state this run can resume from.
    #[error(transparent)]
    State(#[from] WithPath<StateFault>),
}

/// What is wrong with a safetensors file as a training state (the file is named by
/// [`ResumeError::State`]'s `path`).
#[derive(Debug, thiserror::Error)]
pub enum StateFault {
    /// The file is a safetensors file but not a training state (e.g. the weights file).
    #[error(
        "not a training state file (no \"format\": \"{STATE_FORMAT}\" metadata); pass the .state.safetensors file written beside --out"
    )]
    NotState,
    /// The file was written by a version of the layout this code does not read.
    #[error("state format version {found}, this lenet5 reads versions 1 and {STATE_VERSION}")]
    Version {
        /// The version in the file.
        found: String,
    },
    /// The entries parse but do not make a valid run (out of range, or disagreeing).
    #[error("{0}")]
    Invalid(String),
    /// The run trained on a different number of images than the data folder holds.
    #[error("the run trained on {expected} images, but the data holds {got}")]
    Data {
        /// Training images the run used.
        expected: usize,
        /// Training images in the data now.
        got: usize,
    },
}

impl From<NetworkError> for ResumeError {
    fn from(e: NetworkError) -> Self {
        match e {
            NetworkError::Checkpoint(c) => ResumeError::Checkpoint(c),
            NetworkError::Spec(e) => e.map(|spec| StateFault::Invalid(format!("arch: {spec}"))).into(),
        }
    }
}
