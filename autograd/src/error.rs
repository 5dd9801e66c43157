//! The error type of recording and differentiating.

use thiserror::Error;

use tensor::TensorError;

/// What went wrong while recording an op or running `backward`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AutogradError {
    /// The forward computation of an op failed (bad shapes, axes, geometry).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward` was called on a tensor with more than one element without a seed.
    #[error("backward: the output has shape {shape:?}; a non-scalar output needs a seed gradient (backward_with_seed)")]
    NonScalarOutput {
        /// The output's shape.
        shape: Vec<usize>,
    },
    /// The seed gradient's shape differs from the output's.
    #[error("backward_with_seed: seed of shape {seed:?} for an output of shape {output:?}")]
    SeedShape {
        /// The seed's shape.
        seed: Vec<usize>,
        /// The output's shape.
        output: Vec<usize>,
    },
    /// `backward` from a value that depends on nothing that needs a gradient (a constant,
    /// or a value computed in no-grad mode).
    #[error("backward: the output does not depend on any parameter or input that needs a gradient")]
    DoesNotRequireGrad,
    /// A `Var` was passed to an op or to `backward` of a tape other than its own.
    #[error("{op}: a Var of another tape was used")]
    ForeignVar {
        /// The operation that failed.
        op: &'static str,
    },
    /// A class label is not below the number of classes.
    #[error("{op}: label {label} at row {row} is out of range for {classes} classes")]
    InvalidLabel {
        /// The operation that failed.
        op: &'static str,
        /// The row holding the label.
        row: usize,
        /// The label.
        label: usize,
        /// The number of classes (columns of the logits).
        classes: usize,
    },
    /// An op's arguments are out of their domain (a label count that differs from the
    /// batch, a smoothing factor outside [0, 1], ...).
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A cross-thread reduction failed: the group was aborted (another shard failed or
    /// panicked), a shard index is out of range, or the shards' contributions disagree.
    #[error("{op}: {reason}")]
    Collective {
        /// The operation that failed.
        op: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A VJP returned a gradient whose shape differs from its input's (a bug in that op).
    #[error("backward: the VJP of {op} returned a gradient of shape {got:?} for input {input} of shape {expected:?}")]
    VjpShape {
        /// The op whose VJP misbehaved.
        op: &'static str,
        /// Which input.
        input: usize,
        /// The input's shape.
        expected: Vec<usize>,
        /// The gradient's shape.
        got: Vec<usize>,
    },
    /// A backward pass reached an op whose VJP an earlier backward pass on the same tape
    /// ran and dropped (see [`Tape::set_retain_graph`](crate::Tape::set_retain_graph)).
    #[error(
        "backward: the VJP of {op} was dropped by an earlier backward pass on this tape; call Tape::set_retain_graph(true) before the first one to run it again"
    )]
    GraphFreed {
        /// The op.
        op: &'static str,
    },
}

/// The result type of the tape's operations.
pub type Result<T, E = AutogradError> = std::result::Result<T, E>;
