//! Element-wise exponential `y = eˣ`.
//!
//! VJP: `∇x = ∇y ⊙ y`, since `d eˣ/dx = eˣ`: the saved output is the derivative.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Exp<T> {
    output: Tensor<T>,
}

impl<T: Element> Op<T> for Exp<T> {
    fn name(&self) -> &'static str {
        "exp"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.mul(&self.output))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = eˣ` element-wise; VJP `∇x = ∇y ⊙ y`.
    pub fn exp(self) -> Result<Var<'t, T>> {
        let y = self.value().exp();
        self.tape().record(&[self], y.clone(), || Exp { output: y })
    }
}
