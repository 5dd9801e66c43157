//! Parameter-free shape and activation modules: ReLU and Flatten.

use autograd::Var;
use tensor::{Activation, Element};

use crate::error::{LayerError, Result};
use crate::module::Module;
use crate::parts::{Part, PartMut};

/// `y = max(x, 0)` element-wise; gradient `1(x > 0)` (0 at exactly 0, as PyTorch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReLU;

impl ReLU {
    /// The output shape: the input's (callable without naming the element type).
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}

impl<T: Element> Module<T> for ReLU {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        Ok(x.relu()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        ReLU::output_shape(self, input)
    }

    crate::parts!(T; activation: Activation::Relu);
}

/// `[N, d₁, d₂, …] → [N, d₁·d₂·…]` (row-major, as `torch.flatten(x, 1)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Element> Module<T> for Flatten {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        Flatten::output_shape(self, &x.shape())?;
        Ok(x.flatten()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Flatten::output_shape(self, input)
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(Part<'a, T>)) {
        f(Part::Flatten);
    }

    fn visit_mut<'a>(&'a mut self, _: &mut dyn FnMut(PartMut<'a, T>)) {}
}

impl Flatten {
    /// `[N, d₁, d₂, …] → [N, d₁·d₂·…]`, or an error for a rank-0 input (callable without
    /// naming the element type).
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.is_empty() {
            return Err(LayerError::InputShape {
                module: "Flatten".into(),
                expected: "[N, …]".into(),
                got: Vec::new(),
            });
        }
        Ok(vec![input[0], input[1..].iter().product()])
    }
}
