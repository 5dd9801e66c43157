//! What can go wrong while training.

use layers::{LayerError, WithPath};

use crate::data::PreprocessError;

/// What went wrong with a step's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite {
    /// The optimizer step that failed, over the run, from 1.
    pub step: u64,
    /// Its epoch, from 1.
    pub epoch: usize,
    /// Its step within the epoch, from 1.
    pub step_in_epoch: usize,
    /// Steps in the epoch.
    pub steps_in_epoch: usize,
    /// The step's mean loss.
    pub loss: f64,
    /// The first parameter (in `named_parameters` order) whose gradient holds a NaN or an
    /// infinity, if any.
    pub parameter: Option<String>,
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} (epoch {}, step {}/{}): ", self.step, self.epoch, self.step_in_epoch, self.steps_in_epoch)?;
        let loss_bad = !self.loss.is_finite();
        if loss_bad {
            write!(f, "the loss is {}", self.loss)?;
        }
        match (&self.parameter, loss_bad) {
            (Some(p), true) => write!(f, " and the gradient of {p} is not finite (the first such parameter)"),
            (Some(p), false) => write!(f, "the gradient of {p} is not finite (the first such parameter)"),
            (None, _) => Ok(()),
        }?;
        write!(f, "; the step was not applied")
    }
}

/// An error while training: a layer error or a checkpoint error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model or optimizer failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// Saving or loading a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] layers::CheckpointError),
    /// The loss or a gradient became NaN or infinite.
    #[error("training stopped at {0}")]
    NonFinite(Box<NonFinite>),
    /// Writing the metrics file failed.
    #[error(transparent)]
    Metrics(WithPath<std::io::Error>),
    /// The images do not fit the preprocessing.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    /// The network's output for the data's images is not one value per class.
    #[error(
        "the network maps an input of {input:?} to {output:?}, but the data has {classes} classes: its last layer must give [N, {classes}] (or more outputs)"
    )]
    Output {
        /// One preprocessed image's shape.
        input: Vec<usize>,
        /// The output shape for a batch of one.
        output: Vec<usize>,
        /// The data's classes.
        classes: usize,
    },
    /// The training set differs in size from the one the run started on.
    #[error("the run trains on {expected} images, but the data holds {got}")]
    DataChanged {
        /// Images the run started on.
        expected: usize,
        /// Images now.
        got: usize,
    },
}

impl From<autograd::AutogradError> for TrainError {
    fn from(e: autograd::AutogradError) -> Self {
        TrainError::Layer(e.into())
    }
}

impl From<tensor::TensorError> for TrainError {
    fn from(e: tensor::TensorError) -> Self {
        TrainError::Layer(e.into())
    }
}
