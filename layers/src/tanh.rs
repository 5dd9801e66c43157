//! The hyperbolic tangent, LeCun's squashing function: `y = tanh(x)` element-wise, with the
//! VJP from the output, `∇x = ∇y ⊙ (1 − y²)` (the op `Var::tanh`).

use autograd::Var;
use tensor::Element;

use crate::error::Result;
use crate::module::Module;

/// `y = tanh(x)` element-wise; gradient `1 − y²`. PyTorch's `nn.Tanh()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tanh;

impl<T: Element> Module<T> for Tanh {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        Ok(x.tanh()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    crate::parts!(T);
}
