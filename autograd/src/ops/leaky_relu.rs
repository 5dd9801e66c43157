//! Leaky ReLU `y = x` for `x > 0`, `y = s·x` otherwise (`s` the negative slope, PyTorch's
//! default 0.01 is the caller's to pass).
//!
//! VJP: `∇x = ∇y ⊙ (1(x > 0) + s·1(x ≤ 0))`. At exactly `x = 0` the subgradient taken is
//! `s`, as PyTorch's `leaky_relu_backward` (`x > 0 ? g : g·s`); with `s = 0` this is ReLU's
//! rule (subgradient 0 at 0).

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::tape::Var;

struct LeakyRelu<T> {
    input: Tensor<T>,
    slope: T,
}

impl<T: Element> Op<T> for LeakyRelu<T> {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let s = self.slope;
        Ok(vec![wanted(want[0], || {
            grad.zip_map(&self.input, "leaky_relu_vjp", |g, x| if x > T::zero() { g } else { g * s })
        })?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = x` where `x > 0`, `slope·x` elsewhere; VJP `∇x = ∇y ⊙ (1(x > 0) + slope·1(x ≤ 0))`
    /// (subgradient `slope` at 0, as PyTorch). The slope must be finite.
    pub fn leaky_relu(self, slope: T) -> Result<Var<'t, T>> {
        if !slope.is_finite() {
            return Err(AutogradError::InvalidArgument {
                op: "leaky_relu",
                reason: format!("the negative slope {slope} is not finite"),
            });
        }
        let x = self.value();
        let y = x.leaky_relu(slope);
        self.tape().record(&[self], y, || LeakyRelu { input: x, slope })
    }
}
