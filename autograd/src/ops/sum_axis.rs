//! Sum and mean over one axis: `s = Σₖ x[…, k, …]` and `m = s / n` (`n` the axis length),
//! with the axis removed or kept with size 1.
//!
//! VJP: `∇x = broadcast(∇s)` along the reduced axis (every element of a lane gets its
//! lane's gradient), and `∇x = broadcast(∇m) / n`. The gradient is made dense: a broadcast
//! view would alias one element across the lane.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct SumAxis {
    input_shape: Vec<usize>,
    axis: usize,
    keepdim: bool,
    /// The axis length when this is the mean, None for the sum.
    mean_of: Option<usize>,
}

impl<T: Element> Op<T> for SumAxis {
    fn name(&self) -> &'static str {
        if self.mean_of.is_some() { "mean_axis" } else { "sum_axis" }
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || {
            let g = if self.keepdim { grad.clone() } else { grad.unsqueeze(self.axis)? };
            let g = g.broadcast_to(&self.input_shape)?.to_contiguous();
            Ok(match self.mean_of {
                None => g,
                Some(n) => g.mul_scalar(T::one() / T::from_usize(n).unwrap_or_else(T::nan)),
            })
        })?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `s = Σₖ x[…, k, …]` over `axis` (removed unless `keepdim`); VJP
    /// `∇x = broadcast(∇s)` along the axis.
    pub fn sum_axis(self, axis: usize, keepdim: bool) -> Result<Var<'t, T>> {
        let x = self.value();
        let s = x.sum_axis(axis, keepdim)?;
        self.tape().record(&[self], s, || SumAxis { input_shape: x.shape().to_vec(), axis, keepdim, mean_of: None })
    }

    /// `m = (1/n)·Σₖ x[…, k, …]` over `axis` of length `n` (removed unless `keepdim`);
    /// VJP `∇x = broadcast(∇m)/n`. An empty axis gives NaN, as in PyTorch.
    pub fn mean_axis(self, axis: usize, keepdim: bool) -> Result<Var<'t, T>> {
        let x = self.value();
        let m = x.mean_axis(axis, keepdim)?;
        let mean_of = Some(x.shape()[axis]);
        self.tape().record(&[self], m, || SumAxis { input_shape: x.shape().to_vec(), axis, keepdim, mean_of })
    }
}
