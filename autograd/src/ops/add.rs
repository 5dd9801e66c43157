//! Element-wise sum with numpy broadcasting: `z = a + b`.
//!
//! VJP: `∇a = sum_to(∇z, shape(a))`, `∇b = sum_to(∇z, shape(b))`, where `sum_to` sums over
//! the axes that broadcasting added or stretched (the adjoint of broadcasting).

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Add {
    a_shape: Vec<usize>,
    b_shape: Vec<usize>,
}

impl<T: Element> Op<T> for Add {
    fn name(&self) -> &'static str {
        "add"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || sum_to(grad, &self.a_shape))?, wanted(want[1], || sum_to(grad, &self.b_shape))?])
    }
}

/// The adjoint of `broadcast_to`: sums `grad` over leading axes and over axes where
/// `shape` has size 1, giving a tensor of `shape`.
pub(super) fn sum_to<T: Element>(grad: &Tensor<T>, shape: &[usize]) -> tensor::Result<Tensor<T>> {
    let lead = grad.rank() - shape.len();
    let mut g = grad.clone();
    for _ in 0..lead {
        g = g.sum_axis(0, false)?;
    }
    for (axis, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[axis] != 1 {
            g = g.sum_axis(axis, true)?;
        }
    }
    Ok(g)
}

impl<'t, T: Element> Var<'t, T> {
    /// `z = a + b` with broadcasting; VJP `∇a = sum_to(∇z, shape(a))`, likewise for `b`.
    #[allow(clippy::should_implement_trait, reason = "fallible: std::ops::Add cannot return a Result")]
    pub fn add(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = (self.value(), rhs.value());
        let z = a.add(&b)?;
        self.tape().record(&[self, rhs], z, || Add { a_shape: a.shape().to_vec(), b_shape: b.shape().to_vec() })
    }
}
