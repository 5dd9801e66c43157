//! Element-wise product with numpy broadcasting: `z = a ⊙ b`.
//!
//! VJP: `∇a = sum_to(∇z ⊙ b, shape(a))`, `∇b = sum_to(∇z ⊙ a, shape(b))`: the product rule
//! per element, then the adjoint of broadcasting (as in `add`).

use tensor::{Element, Tensor};

use super::add::sum_to;
use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Mul<T> {
    a: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Element> Op<T> for Mul<T> {
    fn name(&self) -> &'static str {
        "mul"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![
            wanted(want[0], || sum_to(&grad.mul(&self.b)?, self.a.shape()))?,
            wanted(want[1], || sum_to(&grad.mul(&self.a)?, self.b.shape()))?,
        ])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `z = a ⊙ b` with broadcasting; VJP `∇a = sum_to(∇z ⊙ b, shape(a))`, likewise for `b`.
    #[allow(clippy::should_implement_trait, reason = "fallible: std::ops::Mul cannot return a Result")]
    pub fn mul(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = (self.value(), rhs.value());
        let z = a.mul(&b)?;
        self.tape().record(&[self, rhs], z, || Mul { a, b })
    }
}
