//! Parameters: tensors that persist across training steps and receive gradients.

use std::sync::atomic::{AtomicU64, Ordering};

use tensor::Tensor;

/// The identity of a [`Param`], unique within the process; gradients are looked up by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

impl ParamId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        ParamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A trainable tensor. It lives outside the per-step tape: a module owns its `Param`s,
/// brings each onto a tape with [`Tape::param`](crate::Tape::param) in its forward pass,
/// and an optimizer updates `value` in place from [`Gradients`](crate::Gradients).
///
/// Cloning gives a new identity (a copy of a model trains independently of the original).
pub struct Param<T> {
    id: ParamId,
    /// The current value.
    pub value: Tensor<T>,
}

impl<T> Param<T> {
    /// A parameter holding `value`, with a fresh identity.
    pub fn new(value: Tensor<T>) -> Self {
        Param { id: ParamId::fresh(), value }
    }

    /// This parameter's identity.
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }
}

impl<T: Clone> Clone for Param<T> {
    fn clone(&self) -> Self {
        Param::new(self.value.clone())
    }
}

impl<T> std::fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({:?}, shape {:?})", self.id, self.value.shape())
    }
}
