//! Sum and mean of all elements: `s = 1ᵀ·vec(x)` and `m = s / n`.
//!
//! VJP: `∇x = ∇s·1` (every element gets the scalar gradient), and `∇x = (∇m / n)·1`.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct SumAll {
    input_shape: Vec<usize>,
    divisor: usize,
}

impl<T: Element> Op<T> for SumAll {
    fn name(&self) -> &'static str {
        if self.divisor == 1 { "sum" } else { "mean" }
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let n = T::from_usize(self.divisor).unwrap_or_else(T::nan);
        Ok(vec![wanted(want[0], || Tensor::full(&self.input_shape, grad.item()? / n))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `s = Σᵢ xᵢ` (a scalar); VJP `∇x = ∇s·1`.
    pub fn sum(self) -> Result<Var<'t, T>> {
        let x = self.value();
        let s = Tensor::scalar(x.sum_all());
        self.tape().record(&[self], s, || SumAll { input_shape: x.shape().to_vec(), divisor: 1 })
    }

    /// `m = (1/n)·Σᵢ xᵢ` (a scalar); VJP `∇x = (∇m/n)·1`.
    pub fn mean(self) -> Result<Var<'t, T>> {
        let x = self.value();
        let n = x.numel();
        let m = Tensor::scalar(x.mean_all());
        self.tape().record(&[self], m, || SumAll { input_shape: x.shape().to_vec(), divisor: n })
    }
}
