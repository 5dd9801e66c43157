//! A tensor's storage: a `Vec` that, when it was lent by a [`BufferPool`](crate::BufferPool),
//! goes back to it when dropped.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Weak;

use crate::buffer_pool::Shared;

/// The elements of a tensor's storage, and the pool they return to (if any).
pub(crate) struct Buffer<T> {
    data: Vec<T>,
    home: Option<Home<T>>,
}

/// Where a lent buffer goes back to: the pool (weakly, so that a buffer outliving its
/// pool is simply freed), the bytes it was lent as, and the pool's functions for its
/// element type, instantiated where the type was known to be `'static` (a tensor's element
/// type need not say so).
pub(crate) struct Home<T> {
    pub(crate) pool: Weak<Shared>,
    pub(crate) lent: usize,
    pub(crate) give: fn(&Weak<Shared>, Vec<T>, usize),
    pub(crate) take: fn(&Weak<Shared>, usize) -> Buffer<T>,
}

impl<T> Buffer<T> {
    pub(crate) fn with_home(data: Vec<T>, home: Home<T>) -> Self {
        Buffer { data, home: Some(home) }
    }

    /// The elements, without returning them to a pool (the pool counts them as given back).
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        std::mem::take(&mut self.data)
    }
}

impl<T> From<Vec<T>> for Buffer<T> {
    fn from(data: Vec<T>) -> Self {
        Buffer { data, home: None }
    }
}

impl<T> Deref for Buffer<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.data
    }
}

impl<T> DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.data
    }
}

impl<T> Drop for Buffer<T> {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            (home.give)(&home.pool, std::mem::take(&mut self.data), home.lent);
        }
    }
}

impl<T> Buffer<T> {
    /// An empty buffer with room for `len` elements, from the pool this one came from (a
    /// new allocation if none, or if that pool is gone).
    pub(crate) fn sibling(&self, len: usize) -> Buffer<T> {
        match &self.home {
            Some(home) => (home.take)(&home.pool, len),
            None => Buffer::from(Vec::with_capacity(len)),
        }
    }
}

impl<T: Clone> Clone for Buffer<T> {
    /// A copy in a buffer from the same pool (copy-on-write of a shared tensor).
    fn clone(&self) -> Self {
        let mut copy = self.sibling(self.data.len());
        copy.extend_from_slice(&self.data);
        copy
    }
}

impl<T: fmt::Debug> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.data.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for Buffer<T> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl<T: Eq> Eq for Buffer<T> {}
