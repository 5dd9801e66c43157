//! Hyperbolic tangent `y = tanh x`, element-wise.
//!
//! VJP: `∇x = ∇y ⊙ (1 − y²)`, since `tanh′ = 1 − tanh²`: computed from the saved output,
//! so the backward pass evaluates no transcendental function.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Tanh<T> {
    output: Tensor<T>,
}

impl<T: Element> Op<T> for Tanh<T> {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.zip_map(&self.output, "tanh_vjp", |g, y| g * (T::one() - y * y)))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = tanh x` element-wise; VJP `∇x = ∇y ⊙ (1 − y²)`.
    pub fn tanh(self) -> Result<Var<'t, T>> {
        let y = self.value().tanh();
        self.tape().record(&[self], y.clone(), || Tanh { output: y })
    }
}
