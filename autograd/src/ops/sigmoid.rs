//! Logistic sigmoid `y = σ(x) = 1 / (1 + e⁻ˣ)`, element-wise (computed without overflow).
//!
//! VJP: `∇x = ∇y ⊙ y ⊙ (1 − y)`, since `σ′ = σ·(1 − σ)`: computed from the saved output.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Sigmoid<T> {
    output: Tensor<T>,
}

impl<T: Element> Op<T> for Sigmoid<T> {
    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.zip_map(&self.output, "sigmoid_vjp", |g, y| g * y * (T::one() - y)))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = 1 / (1 + e⁻ˣ)` element-wise; VJP `∇x = ∇y ⊙ y ⊙ (1 − y)`.
    pub fn sigmoid(self) -> Result<Var<'t, T>> {
        let y = self.value().sigmoid();
        self.tape().record(&[self], y.clone(), || Sigmoid { output: y })
    }
}
