//! im2col as an op: `a = im2col(x)`, `[N, C, H, W] → [N·oh·ow, C·kh·kw]`.
//!
//! im2col is linear, a 0/1 selection matrix `S` with `vec(a) = S·vec(x)`, so its VJP is
//! `∇x = Sᵀ·∇a = col2im(∇a)`: each entry goes back to the input it was copied from, and
//! the copies made by overlapping windows add up.

use tensor::{Element, Tensor, Window2d};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Im2col {
    input_shape: Vec<usize>,
    window: Window2d,
}

impl<T: Element> Op<T> for Im2col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || tensor::col2im(grad, &self.input_shape, &self.window))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `a = im2col(x)` for `x: [N, C, H, W]`: one row per output position (n, oh, ow), one
    /// column per tap (c, i, j); VJP `∇x = col2im(∇a)`.
    pub fn im2col(self, window: &Window2d) -> Result<Var<'t, T>> {
        let x = self.value();
        let a = tensor::im2col(&x, window)?;
        self.tape().record(&[self], a, || Im2col { input_shape: x.shape().to_vec(), window: *window })
    }
}
