//! Average pooling in one op: `y = avg_pool2d(x)`, PyTorch's `AvgPool2d` defaults (floor
//! mode, padding counted in the divisor), computed by `tensor::avg_pool2d`.
//!
//! The pooling is the linear map `vec(y) = (1/(kh·kw))·S·vec(x)`, `S` the 0/1 sum over
//! each window's in-bounds taps, so the VJP is its adjoint `vec(∇x) = (1/(kh·kw))·Sᵀ·vec(∇y)`:
//! each output's gradient over `kh·kw` to every input its window read, overlaps adding up.

use tensor::{Element, Tensor, Window2d};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct AvgPool2d {
    input_shape: Vec<usize>,
    window: Window2d,
}

impl<T: Element> Op<T> for AvgPool2d {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || tensor::avg_pool2d_backward(grad, &self.input_shape, &self.window))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// Average pooling of `x: [N, C, H, W]` to a contiguous `[N, C, oh, ow]` (divisor
    /// `kh·kw` everywhere; padding at most half the kernel); VJP `∇x = Sᵀ·∇y / (kh·kw)`.
    pub fn avg_pool2d(self, window: &Window2d) -> Result<Var<'t, T>> {
        let x = self.value();
        let y = tensor::avg_pool2d(&x, window)?;
        self.tape().record(&[self], y, || AvgPool2d { input_shape: x.shape().to_vec(), window: *window })
    }
}
