//! Max-pooling in one op: `y = reshape(max_rows(pool_windows(x)), [N, C, oh, ow])`.
//!
//! VJP: the composition of the two VJPs, `∇x = Sᵀ·(onehot(argz) ⊙ ∇y)`, done as one scatter
//! of each output's gradient to the input element that won its window, without the
//! `[N·C·oh·ow, kh·kw]` temporary.

use tensor::{Element, Tensor, Window2d};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct MaxPool2d {
    argmax: Tensor<usize>,
    input_shape: Vec<usize>,
    window: Window2d,
}

impl<T: Element> Op<T> for MaxPool2d {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || tensor::pool_max_backward(grad, &self.argmax, &self.input_shape, &self.window))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// Max-pooling of `x: [N, C, H, W]` to `[N, C, oh, ow]` (ties to the first maximum);
    /// VJP: each output's gradient to its window's winner.
    pub fn max_pool2d(self, window: &Window2d) -> Result<Var<'t, T>> {
        let x = self.value();
        let d = window.pool_dims("max_pool2d", x.shape())?;
        let (z, argmax) = tensor::max_argmax_rows(&tensor::pool_windows(&x, window)?)?;
        let y = z.reshape(&[d.n, d.c, d.oh, d.ow])?;
        self.tape().record(&[self], y, || MaxPool2d { argmax, input_shape: x.shape().to_vec(), window: *window })
    }
}
