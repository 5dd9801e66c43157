//! Max-pooling in one op: `y = reshape(max_rows(pool_windows(x)), [N, C, oh, ow])`.
//!
//! Computed in one pass (`tensor::max_pool2d`) without the `[N·C·oh·ow, kh·kw]` window
//! matrix (a channels-last input is read along its channels). VJP: the composition of the two
//! VJPs, `∇x = Sᵀ·(onehot(argz) ⊙ ∇y)`, done as one scatter of each output's gradient to the
//! input element that won its window. The winners are not kept: the op keeps the input
//! (which the layer before it keeps anyway) and finds them again, image by image.

use tensor::{Element, PoolArgmax, Tensor, Window2d};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct MaxPool2d<T> {
    argmax: PoolArgmax<T>,
}

impl<T: Element> Op<T> for MaxPool2d<T> {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || tensor::max_pool2d_backward(grad, &self.argmax))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// Max-pooling of `x: [N, C, H, W]` to `[N, C, oh, ow]` (ties to the first maximum);
    /// VJP: each output's gradient to its window's winner.
    /// Without a gradient to compute (no-grad mode, or an input that needs none), nothing
    /// is kept.
    pub fn max_pool2d(self, window: &Window2d) -> Result<Var<'t, T>> {
        if !(self.tape().is_recording() && self.requires_grad()) {
            return Ok(self.tape().constant(tensor::max_pool2d_values(&self.value(), window)?));
        }
        let (y, argmax) = tensor::max_pool2d(&self.value(), window)?;
        self.tape().record(&[self], y, || MaxPool2d { argmax })
    }
}
