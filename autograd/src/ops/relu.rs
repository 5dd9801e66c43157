//! Rectified linear unit `y = max(x, 0)`, element-wise.
//!
//! VJP: `∇x = ∇y ⊙ 1(x > 0)`. At exactly `x = 0` the subgradient taken is 0, as in PyTorch
//! (so trajectories match a PyTorch model), where the derivation writes `1(z ≥ 0)`. Any
//! value in [0, 1] is a valid subgradient there; exact zeros are rare in float training and
//! the choice does not change the result of training.

use tensor::{Activation, Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Relu<T> {
    output: Tensor<T>,
}

impl<T: Element> Op<T> for Relu<T> {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        // y > 0 exactly where x > 0; the rule the fused ops apply too.
        Ok(vec![wanted(want[0], || {
            grad.zip_map(&self.output, "relu_vjp", |g, y| Activation::Relu.vjp_from_output(g, y))
        })?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = max(x, 0)`; VJP `∇x = ∇y ⊙ 1(x > 0)` (subgradient 0 at 0, as PyTorch).
    pub fn relu(self) -> Result<Var<'t, T>> {
        let y = self.value().relu();
        self.tape().record(&[self], y.clone(), || Relu { output: y })
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// The activation `act` as its own op (for ReLU [`Var::relu`]).
    pub fn activation(self, act: Activation) -> Result<Var<'t, T>> {
        match act {
            Activation::Relu => self.relu(),
        }
    }
}
