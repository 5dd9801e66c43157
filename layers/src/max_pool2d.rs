//! Max-pooling: each window's maximum, the gradient routed to the window's first maximum.
//!
//! In matrix form: `a = pool_windows(x): [N·C·oh·ow, kh·kw]`, `z = max_rows(a)`, reshaped to
//! `[N, C, oh, ow]`; `∇x = Sᵀ·(onehot(argmax) ⊙ ∇z)`. The layer runs the fused op.

use autograd::Var;
use tensor::{Element, Window2d};

use crate::error::Result;
use crate::module::Module;
use crate::pool_window::PoolWindow;

/// A max-pooling layer (windows may overlap; padding up to half the kernel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxPool2d {
    pool: PoolWindow,
}

impl MaxPool2d {
    /// `kernel×kernel` windows every `stride`, no padding.
    pub fn new(kernel: usize, stride: usize) -> Result<Self> {
        MaxPool2d::with_window(Window2d::square(kernel, stride, 0))
    }

    /// Any window; an error for a zero kernel or stride or padding over half the kernel.
    pub fn with_window(window: Window2d) -> Result<Self> {
        Ok(MaxPool2d { pool: PoolWindow::new("MaxPool2d", window)? })
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

    /// The layer with its window.
    pub fn describe(&self) -> String {
        self.pool.describe()
    }
}

impl<T: Element> Module<T> for MaxPool2d {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.pool.check(&x.shape())?;
        Ok(x.max_pool2d(&self.pool.window)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        MaxPool2d::output_shape(self, input)
    }

    fn describe(&self) -> String {
        MaxPool2d::describe(self)
    }

    fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)> {
        match self.pool.check(input) {
            Ok(d) => vec![
                ("windows".into(), vec![d.n * d.c * d.oh * d.ow, self.pool.window.kernel_area()]),
                ("max of each row".into(), vec![d.n, d.c, d.oh, d.ow]),
            ],
            Err(_) => Vec::new(),
        }
    }
}
