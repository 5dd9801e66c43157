//! Leaky ReLU, PyTorch's `nn.LeakyReLU(negative_slope)`: `y = x` for `x > 0`, `y = s·x`
//! otherwise, so units below zero keep a gradient `s`; VJP
//! `∇x = ∇y ⊙ (1(x > 0) + s·1(x ≤ 0))` (subgradient `s` at 0, as PyTorch; the op
//! `Var::leaky_relu`).

use std::fmt;

use autograd::Var;
use tensor::Element;

use crate::error::{LayerError, Result};
use crate::module::Module;

/// `y = max(x, 0) + s·min(x, 0)` element-wise, negative slope `s` (PyTorch's default 0.01).
#[derive(Clone, Copy, PartialEq)]
pub struct LeakyReLU {
    slope: f64,
}

impl LeakyReLU {
    /// PyTorch's default negative slope.
    pub const DEFAULT_SLOPE: f64 = 0.01;

    /// A layer with negative slope `slope`; an error unless it is finite.
    pub fn new(slope: f64) -> Result<Self> {
        if !slope.is_finite() {
            return Err(LayerError::Config {
                what: format!("LeakyReLU({slope})"),
                reason: "the negative slope must be finite".into(),
            });
        }
        Ok(LeakyReLU { slope })
    }

    /// The negative slope.
    pub fn slope(&self) -> f64 {
        self.slope
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU { slope: LeakyReLU::DEFAULT_SLOPE }
    }
}

impl<T: Element> Module<T> for LeakyReLU {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        Ok(x.leaky_relu(T::from_f64_lossy(self.slope))?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    crate::parts!(T);
}

impl fmt::Debug for LeakyReLU {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeakyReLU(negative slope {})", self.slope)
    }
}
