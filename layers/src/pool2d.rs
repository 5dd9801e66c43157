//! A pooling layer, written once for every kind of pooling: the window's checks, output
//! shape and description ([`PoolWindow`]), the forward pass of the kind's op, and its
//! matrices. [`MaxPool2d`](crate::MaxPool2d) and [`AvgPool2d`](crate::AvgPool2d) are its
//! kinds.

use std::fmt;
use std::marker::PhantomData;

use autograd::Var;
use tensor::{Element, Pooling, Window2d, WindowDims};

use crate::error::Result;
use crate::faces::MatrixForm;
use crate::module::Module;
use crate::parts::{Part, PartMut};
use crate::pool_window::PoolWindow;

/// What one kind of pooling computes over each window.
pub trait PoolKind: Send + Sync + 'static {
    /// The layer's name, as PyTorch names the module (`MaxPool2d`).
    const NAME: &'static str;

    /// The op over every window of `x`.
    fn pool<'t, T: Element>(x: Var<'t, T>, window: &Window2d) -> autograd::Result<Var<'t, T>>;

    /// The pooling as [`tensor::conv2d_pooled`] computes it, if it is one (max and
    /// average), so that a chain can fuse it into the convolution before it in inference;
    /// `None` by default.
    fn pooling(window: &Window2d) -> Option<Pooling> {
        let _ = window;
        None
    }

    /// The matrices the derivation builds, for the sizes `d` of an input pooled by
    /// `window` (none by default).
    fn matrix_shapes(window: &Window2d, d: &WindowDims) -> Vec<(String, Vec<usize>)> {
        let _ = (window, d);
        Vec::new()
    }
}

/// A pooling layer of kind `K` over a 2-D window (windows may overlap; padding up to half
/// the kernel).
pub struct Pool2d<K> {
    pool: PoolWindow,
    kind: PhantomData<K>,
}

impl<K: PoolKind> Pool2d<K> {
    /// `kernel×kernel` windows every `stride`, no padding.
    pub fn new(kernel: usize, stride: usize) -> Result<Self> {
        Pool2d::with_window(Window2d::square(kernel, stride, 0))
    }

    /// Any window; an error for a zero kernel or stride or padding over half the kernel.
    pub fn with_window(window: Window2d) -> Result<Self> {
        Ok(Pool2d { pool: PoolWindow::new(K::NAME, window)?, kind: PhantomData })
    }

    /// The window.
    pub fn window(&self) -> &Window2d {
        &self.pool.window
    }

    /// The output shape `[N, C, oh, ow]` for an input shape (callable without naming the
    /// element type).
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.pool.output_shape(input)
    }

    /// The layer with its window (its `Debug` text).
    pub fn describe(&self) -> String {
        self.pool.describe()
    }
}

impl<K> Clone for Pool2d<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Pool2d<K> {}

impl<K> PartialEq for Pool2d<K> {
    fn eq(&self, other: &Self) -> bool {
        self.pool == other.pool
    }
}

impl<K> fmt::Debug for Pool2d<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pool.describe())
    }
}

impl<T: Element, K: PoolKind> Module<T> for Pool2d<K> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.pool.check(&x.shape())?;
        Ok(K::pool(x, &self.pool.window)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Pool2d::output_shape(self, input)
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(Part<'a, T>)) {
        if let Some(pooling) = K::pooling(&self.pool.window) {
            f(Part::Pooling(pooling));
        }
        f(Part::MatrixForm(self));
    }

    fn visit_mut<'a>(&'a mut self, _: &mut dyn FnMut(PartMut<'a, T>)) {}
}

impl<K: PoolKind> MatrixForm for Pool2d<K> {
    fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)> {
        self.pool.check(input).map(|d| K::matrix_shapes(&self.pool.window, &d)).unwrap_or_default()
    }
}
