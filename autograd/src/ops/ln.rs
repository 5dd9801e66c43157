//! Element-wise natural logarithm `y = ln x`.
//!
//! VJP: `∇x = ∇y / x`. As in PyTorch, `x ≤ 0` is not an error: it gives −∞ or NaN in the
//! value and ±∞ or NaN in the gradient.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Ln<T> {
    input: Tensor<T>,
}

impl<T: Element> Op<T> for Ln<T> {
    fn name(&self) -> &'static str {
        "ln"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.div(&self.input))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = ln x` element-wise; VJP `∇x = ∇y / x`.
    pub fn ln(self) -> Result<Var<'t, T>> {
        let x = self.value();
        let y = x.ln();
        self.tape().record(&[self], y, || Ln { input: x })
    }
}
