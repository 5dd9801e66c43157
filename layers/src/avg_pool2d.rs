//! Average pooling, PyTorch's `nn.AvgPool2d(kernel, stride, padding)` with its defaults
//! (floor mode, padding counted in the divisor): `y = (1/(kh·kw))·Σ_window x`, or in matrix
//! form `vec(y) = (1/(kh·kw))·S·vec(x)` with `S` the 0/1 window sum, so
//! `vec(∇x) = (1/(kh·kw))·Sᵀ·vec(∇y)` (the op `Var::avg_pool2d`).

use autograd::Var;
use tensor::{Element, Window2d};

use crate::error::Result;
use crate::module::Module;
use crate::pool_window::PoolWindow;

/// An average-pooling layer (windows may overlap; padding up to half the kernel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvgPool2d {
    pool: PoolWindow,
}

impl AvgPool2d {
    /// `kernel×kernel` windows every `stride`, no padding.
    pub fn new(kernel: usize, stride: usize) -> Result<Self> {
        AvgPool2d::with_window(Window2d::square(kernel, stride, 0))
    }

    /// Any window; an error for a zero kernel or stride or padding over half the kernel.
    pub fn with_window(window: Window2d) -> Result<Self> {
        Ok(AvgPool2d { pool: PoolWindow::new("AvgPool2d", window)? })
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

impl<T: Element> Module<T> for AvgPool2d {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.pool.check(&x.shape())?;
        Ok(x.avg_pool2d(&self.pool.window)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        AvgPool2d::output_shape(self, input)
    }

    fn describe(&self) -> String {
        AvgPool2d::describe(self)
    }
}
