//! The error type of every fallible tensor operation.

use thiserror::Error;

/// What went wrong in a tensor operation. Every message names the operation and the
/// shapes (or axis, index, geometry) involved, so that a caller can find the bad call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TensorError {
    /// A buffer's length does not match the number of elements of the requested shape.
    #[error("{op}: shape {shape:?} needs {expected} elements, got {got}")]
    LengthMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements that shape holds.
        expected: usize,
        /// The number of elements supplied.
        got: usize,
    },
    /// Two shapes that must agree (or broadcast, or chain in a product) do not.
    #[error("{op}: incompatible shapes {lhs:?} and {rhs:?}")]
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The first operand's shape.
        lhs: Vec<usize>,
        /// The second operand's shape (or the target shape).
        rhs: Vec<usize>,
    },
    /// An operand has the wrong number of axes.
    #[error("{op}: expected a tensor of rank {expected}, got shape {shape:?}")]
    RankMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The rank the operation takes.
        expected: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// An axis does not exist.
    #[error("{op}: axis {axis} is out of range for shape {shape:?}")]
    AxisOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The axis asked for.
        axis: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// An index or range along an axis lies outside it.
    #[error("{op}: index {index} (length {len}) is out of range for axis {axis} of shape {shape:?}")]
    IndexOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The axis indexed.
        axis: usize,
        /// The first index asked for.
        index: usize,
        /// The number of indices asked for (1 for a single index).
        len: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// A permutation is not a permutation of the axes.
    #[error("{op}: {perm:?} is not a permutation of the {rank} axes")]
    InvalidPermutation {
        /// The operation that failed.
        op: &'static str,
        /// The permutation given.
        perm: Vec<usize>,
        /// The operand's rank.
        rank: usize,
    },
    /// A convolution or pooling geometry that is invalid or has no output position.
    #[error("{op}: invalid geometry for input {input:?}: {reason}")]
    InvalidGeometry {
        /// The operation that failed.
        op: &'static str,
        /// The input shape (N, C, H, W).
        input: Vec<usize>,
        /// What is wrong with it.
        reason: String,
    },
    /// A reduction over an empty axis that has no neutral value (max, argmax).
    #[error("{op}: cannot reduce an empty axis {axis} of shape {shape:?}")]
    EmptyReduction {
        /// The operation that failed.
        op: &'static str,
        /// The reduced axis.
        axis: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// An argument outside its domain (a negative standard deviation, an empty range, an
    /// output buffer whose elements overlap, ...).
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The result type of fallible tensor operations.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;
