//! What can go wrong computing the matrices or running the server.

use std::path::PathBuf;

use thiserror::Error;

/// An error of the explorer: a bad request, a model that does not fit, or the server's I/O.
#[derive(Debug, Error)]
pub enum ExplorerError {
    /// The request's input is unusable (wrong length, not finite, out of range, bad label).
    #[error("bad input: {0}")]
    Input(String),
    /// An op of the network failed.
    #[error(transparent)]
    Layer(#[from] layers::LayerError),
    /// The checkpoint could not be loaded into LeNet-5.
    #[error(transparent)]
    Checkpoint(#[from] layers::CheckpointError),
    /// The data folder (IDX or image folder) could not be read.
    #[error(transparent)]
    Data(#[from] crate::data::FolderError),
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    /// Binding or serving failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (e.g. `bind 127.0.0.1:8080`).
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Something that should not happen (a gradient the tape did not record, a failed
    /// serialisation): a bug, answered with a 500.
    #[error("internal error: {0}")]
    Internal(String),
    /// A file given in the options is missing.
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
}

impl From<autograd::AutogradError> for ExplorerError {
    fn from(e: autograd::AutogradError) -> Self {
        ExplorerError::Layer(e.into())
    }
}

impl From<tensor::TensorError> for ExplorerError {
    fn from(e: tensor::TensorError) -> Self {
        ExplorerError::Layer(e.into())
    }
}
