//! Pooling windows as an op: `a = pool_windows(x)`, `[N, C, H, W] → [N·C·oh·ow, kh·kw]`.
//!
//! Like im2col, a 0/1 selection `vec(a) = S·vec(x)` (taps in the padding read −∞ and carry
//! no gradient), so the VJP is its adjoint: `∇x = Sᵀ·∇a`, overlapping windows adding up.

use tensor::{Element, Tensor, Window2d};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct PoolWindows {
    input_shape: Vec<usize>,
    window: Window2d,
}

impl<T: Element> Op<T> for PoolWindows {
    fn name(&self) -> &'static str {
        "pool_windows"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || tensor::pool_windows_adjoint(grad, &self.input_shape, &self.window))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `a = pool_windows(x)`: every pooling window of `x: [N, C, H, W]` as a row (rows
    /// ordered n, c, oh, ow); VJP `∇x = Sᵀ·∇a` (scatter-add back to the inputs).
    pub fn pool_windows(self, window: &Window2d) -> Result<Var<'t, T>> {
        let x = self.value();
        let a = tensor::pool_windows(&x, window)?;
        self.tape().record(&[self], a, || PoolWindows { input_shape: x.shape().to_vec(), window: *window })
    }
}
