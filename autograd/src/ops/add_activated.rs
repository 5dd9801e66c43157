//! A residual block's sum and the activation after it in one pass: `y = act(a + b)` for
//! `a` and `b` of one shape (no broadcasting). A block followed by a ReLU runs as this op:
//! the same numbers as [`Var::add`] then [`Var::relu`], one pass and one tensor fewer.
//!
//! VJP: `∇a = ∇b = ∇y ⊙ act'(a + b)`, read from the output (for ReLU `1(y > 0)`, the
//! subgradient 0 at 0 as [`Var::relu`] takes it): the gradient passes the activation, then
//! splits unchanged at the sum.

use tensor::{Activation, Element, Tensor, TensorError};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct AddActivated<T> {
    output: Tensor<T>,
    act: Activation,
}

impl<T: Element> Op<T> for AddActivated<T> {
    fn name(&self) -> &'static str {
        "add_activated"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let act = self.act;
        let g = grad.zip_map(&self.output, "add_activated_vjp", |g, y| act.vjp_from_output(g, y))?;
        Ok(vec![wanted(want[0], || Ok(g.clone()))?, wanted(want[1], || Ok(g))?])
    }

    /// The same numbers, written into the output's buffer, read here for the last time (a
    /// copy first if another op still shares it): one buffer of the block's size fewer.
    fn vjp_last(self: Box<Self>, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let AddActivated { output: mut g, act } = *self;
        g.zip_map_inplace(grad, "add_activated_vjp", |y, g| act.vjp_from_output(g, y))?;
        Ok(vec![wanted(want[0], || Ok(g.clone()))?, wanted(want[1], || Ok(g))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = act(a + b)` for `a`, `b` of one shape; VJP `∇a = ∇b = ∇y ⊙ act'(a + b)`.
    pub fn add_activated(self, rhs: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        let (a, b) = (self.value(), rhs.value());
        if a.shape() != b.shape() {
            let (lhs, rhs) = (a.shape().to_vec(), b.shape().to_vec());
            return Err(TensorError::ShapeMismatch { op: "add_activated", lhs, rhs }.into());
        }
        let y = a.zip_map(&b, "add_activated", |x, y| act.apply(x + y))?;
        self.tape().record(&[self, rhs], y.clone(), || AddActivated { output: y, act })
    }
}
