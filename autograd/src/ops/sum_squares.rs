//! Sum of squares `s = Σᵢ xᵢ² = ‖x‖²`, the building block of the L2 penalty
//! `regLoss = 0.5·λ·Σ‖W‖²`.
//!
//! VJP: `∇x = 2·∇s·x`, so `0.5·λ·‖W‖²` contributes `λ·W` to `∇W`.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct SumSquares<T> {
    input: Tensor<T>,
}

impl<T: Element> Op<T> for SumSquares<T> {
    fn name(&self) -> &'static str {
        "sum_squares"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || {
            let g = grad.item()?;
            Ok(self.input.mul_scalar(g + g))
        })?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `s = Σᵢ xᵢ²` (a scalar); VJP `∇x = 2·∇s·x`.
    pub fn sum_squares(self) -> Result<Var<'t, T>> {
        let x = self.value();
        let s = Tensor::scalar(x.iter().map(|v| v * v).sum());
        self.tape().record(&[self], s, || SumSquares { input: x })
    }
}
