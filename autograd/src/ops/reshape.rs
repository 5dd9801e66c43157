//! Reshape: the same elements in row-major order under a new shape.
//!
//! VJP: `∇x = reshape(∇y, shape(x))`: a reshape moves no element, so its Jacobian is the
//! identity on the row-major order.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Reshape {
    input_shape: Vec<usize>,
}

impl<T: Element> Op<T> for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.reshape(&self.input_shape))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = reshape(x, shape)` (a view when the layout allows); VJP
    /// `∇x = reshape(∇y, shape(x))`.
    pub fn reshape(self, shape: &[usize]) -> Result<Var<'t, T>> {
        let x = self.value();
        let y = x.reshape(shape)?;
        self.tape().record(&[self], y, || Reshape { input_shape: x.shape().to_vec() })
    }

    /// Flattens every axis after the first: `[N, …] → [N, ∏…]`; VJP as reshape.
    pub fn flatten(self) -> Result<Var<'t, T>> {
        let shape = self.shape();
        let n = shape.first().copied().unwrap_or(1);
        let rest = shape.iter().skip(1).product();
        self.reshape(&[n, rest])
    }
}
