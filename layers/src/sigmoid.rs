//! The logistic function: `y = σ(x) = 1/(1 + e^(−x))` element-wise, with the VJP from the
//! output, `∇x = ∇y ⊙ y ⊙ (1 − y)` (the op `Var::sigmoid`).

use autograd::Var;
use tensor::Element;

use crate::error::Result;
use crate::module::Module;

/// `y = 1/(1 + e^(−x))` element-wise; gradient `y(1 − y)`. PyTorch's `nn.Sigmoid()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl<T: Element> Module<T> for Sigmoid {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        Ok(x.sigmoid()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    crate::parts!(T);
}
