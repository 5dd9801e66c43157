//! Matrix product `z = a·b` for `a: [m, k]`, `b: [k, n]`.
//!
//! VJP: `∇a = ∇z·bᵀ` and `∇b = aᵀ·∇z`. The transposes are stride views: no copy. The last
//! time, `∇b` comes first and `a` is dropped before `∇a` is allocated.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct MatMul<T> {
    a: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Element> Op<T> for MatMul<T> {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.matmul(&self.b.t()?))?, wanted(want[1], || self.a.t()?.matmul(grad))?])
    }

    /// `∇b` first, then `a` goes (back to the buffer pool, when nothing else holds it)
    /// before `∇a`, of `a`'s shape, is allocated.
    fn vjp_last(self: Box<Self>, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let MatMul { a, b } = *self;
        let grad_b = wanted(want[1], || a.t()?.matmul(grad))?;
        drop(a);
        Ok(vec![wanted(want[0], || grad.matmul(&b.t()?))?, grad_b])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `z = a·b` for matrices `[m, k]·[k, n] → [m, n]`; VJP `∇a = ∇z·bᵀ`, `∇b = aᵀ·∇z`.
    pub fn matmul(self, rhs: Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = (self.value(), rhs.value());
        for m in [&a, &b] {
            if m.rank() != 2 {
                return Err(
                    tensor::TensorError::RankMismatch { op: "matmul", expected: 2, shape: m.shape().to_vec() }.into()
                );
            }
        }
        let z = a.matmul(&b)?;
        self.tape().record(&[self, rhs], z, || MatMul { a, b })
    }
}
