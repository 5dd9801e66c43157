//! Buffers: tensors a module keeps besides its parameters, not trained by gradients but
//! updated by the forward pass (batch norm's running statistics) and saved in checkpoints.
//!
//! A module's forward pass takes `&self` and a training step shares the module across
//! threads, so a buffer is updated through a lock: [`Buffer::set`] from any thread.

use std::sync::Mutex;

use tensor::Tensor;

/// A named non-trainable tensor of a module, updated in place through `&self`.
pub struct Buffer<T> {
    value: Mutex<Tensor<T>>,
}

impl<T: Clone> Buffer<T> {
    /// A buffer holding `value`.
    pub fn new(value: Tensor<T>) -> Self {
        Buffer { value: Mutex::new(value) }
    }

    /// The current value (sharing storage; no copy).
    pub fn get(&self) -> Tensor<T> {
        self.value.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Replaces the value.
    pub fn set(&self, value: Tensor<T>) {
        *self.value.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = value;
    }

    /// The value's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.get().shape().to_vec()
    }
}

impl<T: Clone> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        Buffer::new(self.get())
    }
}

impl<T: Clone> std::fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer(shape {:?})", self.shape())
    }
}
