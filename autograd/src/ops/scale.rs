//! Multiplication by a constant: `y = c·x`.
//!
//! VJP: `∇x = c·∇y`.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Scale<T> {
    c: T,
}

impl<T: Element> Op<T> for Scale<T> {
    fn name(&self) -> &'static str {
        "scale"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || Ok(grad.mul_scalar(self.c)))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = c·x`; VJP `∇x = c·∇y`.
    pub fn scale(self, c: T) -> Result<Var<'t, T>> {
        let y = self.value().mul_scalar(c);
        self.tape().record(&[self], y, || Scale { c })
    }
}
