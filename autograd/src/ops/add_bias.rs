//! Bias added to every row: `z = a + 1·bᵀ` for `a: [m, n]`, `b: [n]`.
//!
//! VJP: `∇a = ∇z`, `∇b = 1ᵀ·∇z` (the column sums). The derivation writes the bias gradient
//! as a mean over rows, `(1/M)·1ᵀ·∇z`; with the `1/N` of the loss already inside `∇z`, the
//! gradient of the stated loss is the plain sum, which `gradcheck` confirms.

use tensor::{Element, Tensor, TensorError};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct AddBias;

impl<T: Element> Op<T> for AddBias {
    fn name(&self) -> &'static str {
        "add_bias"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || Ok(grad.clone()))?, wanted(want[1], || grad.sum_axis(0, false))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `z = a + 1·bᵀ`: the bias `b: [n]` added to each row of `a: [m, n]`;
    /// VJP `∇a = ∇z`, `∇b = 1ᵀ·∇z` (column sums).
    pub fn add_bias(self, bias: Var<'t, T>) -> Result<Var<'t, T>> {
        let (a, b) = (self.value(), bias.value());
        if a.rank() != 2 || b.rank() != 1 || a.shape()[1] != b.shape()[0] {
            return Err(TensorError::ShapeMismatch {
                op: "add_bias",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
            }
            .into());
        }
        let z = a.add(&b)?;
        self.tape().record(&[self, bias], z, || AddBias)
    }
}
