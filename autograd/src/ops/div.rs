//! Element-wise quotient with numpy broadcasting: `z = a / b`.
//!
//! VJP: `∂z/∂a = 1/b` and `∂z/∂b = −a/b² = −z/b`, so `∇a = sum_to(∇z / b, shape(a))` and
//! `∇b = −sum_to(∇z ⊙ z / b, shape(b))`, summing over broadcast axes as in `add`. A zero in
//! `b` gives infinities, as in PyTorch.

use tensor::{Element, Tensor};

use super::add::sum_to;
use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Div<T> {
    a_shape: Vec<usize>,
    b: Tensor<T>,
    z: Tensor<T>,
}

impl<T: Element> Op<T> for Div<T> {
    fn name(&self) -> &'static str {
        "div"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let g_over_b = grad.div(&self.b)?;
        Ok(vec![
            wanted(want[0], || sum_to(&g_over_b, &self.a_shape))?,
            wanted(want[1], || Ok(sum_to(&g_over_b.mul(&self.z)?, self.b.shape())?.neg()))?,
        ])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `z = a / b` with broadcasting; VJP `∇a = sum_to(∇z / b, shape(a))`,
    /// `∇b = −sum_to(∇z ⊙ z / b, shape(b))`.
    #[allow(clippy::should_implement_trait, reason = "fallible: std::ops::Div cannot return a Result")]
    pub fn div(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = (self.value(), rhs.value());
        let z = a.div(&b)?;
        self.tape().record(&[self, rhs], z.clone(), || Div { a_shape: a.shape().to_vec(), b, z })
    }
}
