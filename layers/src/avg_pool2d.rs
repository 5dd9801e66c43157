//! Average pooling, PyTorch's `nn.AvgPool2d(kernel, stride, padding)` with its defaults
//! (floor mode, padding counted in the divisor): `y = (1/(kh·kw))·Σ_window x`, or in matrix
//! form `vec(y) = (1/(kh·kw))·S·vec(x)` with `S` the 0/1 window sum, so
//! `vec(∇x) = (1/(kh·kw))·Sᵀ·vec(∇y)` (the op `Var::avg_pool2d`).

use autograd::Var;
use tensor::{Element, Window2d};

use crate::error::{LayerError, Result};
use crate::module::Module;

/// An average-pooling layer (windows may overlap; padding up to half the kernel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvgPool2d {
    window: Window2d,
}

impl AvgPool2d {
    /// `kernel×kernel` windows every `stride`, no padding.
    pub fn new(kernel: usize, stride: usize) -> Result<Self> {
        AvgPool2d::with_window(Window2d::square(kernel, stride, 0))
    }

    /// Any window; an error for a zero kernel or stride or padding over half the kernel.
    pub fn with_window(window: Window2d) -> Result<Self> {
        if window.kernel.contains(&0)
            || window.stride.contains(&0)
            || (0..2).any(|a| 2 * window.padding[a] > window.kernel[a])
        {
            return Err(LayerError::Config {
                what: format!("AvgPool2d({window:?})"),
                reason: "kernel and stride must be positive and padding at most half the kernel".into(),
            });
        }
        Ok(AvgPool2d { window })
    }

    /// The window.
    pub fn window(&self) -> &Window2d {
        &self.window
    }

    fn check(&self, input: &[usize]) -> Result<tensor::WindowDims> {
        self.window.pool_dims("AvgPool2d", input).map_err(|_| LayerError::InputShape {
            module: self.describe(),
            expected: "[N, C, H, W] with H, W large enough for the window".into(),
            got: input.to_vec(),
        })
    }

    /// The output shape `[N, C, oh, ow]` for an input shape (callable without naming the
    /// element type).
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let d = self.check(input)?;
        Ok(vec![d.n, d.c, d.oh, d.ow])
    }

    /// The layer with its window.
    pub fn describe(&self) -> String {
        let w = &self.window;
        format!("AvgPool2d(kernel {}×{}, stride {:?}, padding {:?})", w.kernel[0], w.kernel[1], w.stride, w.padding)
    }
}

impl<T: Element> Module<T> for AvgPool2d {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.check(&x.shape())?;
        Ok(x.avg_pool2d(&self.window)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        AvgPool2d::output_shape(self, input)
    }

    fn describe(&self) -> String {
        AvgPool2d::describe(self)
    }
}
