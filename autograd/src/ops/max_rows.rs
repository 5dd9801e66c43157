//! Row-wise maximum of the pooling-window matrix: `z[r] = max_k a[r, k]`, with
//! `argz[r] = argmax_k a[r, k]` kept for the backward pass.
//!
//! VJP: `∇a[r, k] = ∇z[r]·1(k = argz[r])`: each row's gradient goes to its winner, all else
//! gets 0. Ties go to the first maximum (as PyTorch, burn and the derivation's code), so
//! exactly one entry per row receives the gradient.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct MaxRows {
    argmax: Tensor<usize>,
    columns: usize,
}

impl<T: Element> Op<T> for MaxRows {
    fn name(&self) -> &'static str {
        "max_rows"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        wanted(want[0], || {
            let rows = self.argmax.numel();
            let mut out = vec![T::zero(); rows * self.columns];
            for ((r, k), g) in self.argmax.iter().enumerate().zip(grad.iter()) {
                out[r * self.columns + k] = g;
            }
            Tensor::from_vec(&[rows, self.columns], out)
        })
        .map(|g| vec![g])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `z[r] = max_k a[r, k]` for a matrix `a: [R, K]`, giving `[R]`; VJP
    /// `∇a[r, k] = ∇z[r]·1(k = argmax_k a[r, k])`, ties to the first maximum.
    pub fn max_rows(self) -> Result<Var<'t, T>> {
        let a = self.value();
        let (z, argmax) = tensor::max_argmax_rows(&a)?;
        self.tape().record(&[self], z, || MaxRows { argmax, columns: a.shape()[1] })
    }
}
