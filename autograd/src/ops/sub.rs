//! Element-wise difference with numpy broadcasting: `z = a − b`.
//!
//! VJP: `∇a = sum_to(∇z, shape(a))`, `∇b = −sum_to(∇z, shape(b))` (the adjoint of
//! broadcasting, as in `add`, with the sign of `b`).

use tensor::{Element, Tensor};

use super::add::sum_to;
use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Sub {
    a_shape: Vec<usize>,
    b_shape: Vec<usize>,
}

impl<T: Element> Op<T> for Sub {
    fn name(&self) -> &'static str {
        "sub"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![
            wanted(want[0], || sum_to(grad, &self.a_shape))?,
            wanted(want[1], || Ok(sum_to(grad, &self.b_shape)?.neg()))?,
        ])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `z = a − b` with broadcasting; VJP `∇a = sum_to(∇z, shape(a))`,
    /// `∇b = −sum_to(∇z, shape(b))`.
    #[allow(clippy::should_implement_trait, reason = "fallible: std::ops::Sub cannot return a Result")]
    pub fn sub(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = (self.value(), rhs.value());
        let z = a.sub(&b)?;
        self.tape().record(&[self, rhs], z, || Sub { a_shape: a.shape().to_vec(), b_shape: b.shape().to_vec() })
    }
}
