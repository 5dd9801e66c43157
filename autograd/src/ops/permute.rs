//! Permutation of axes: `y = permute(x, p)`, axis `i` of `y` is axis `p[i]` of `x`.
//!
//! VJP: `∇x = permute(∇y, p⁻¹)`. The convolution output needs this and not a reshape:
//! the product `a·W` has rows (n, oh, ow) and columns f, i.e. N×oh×ow×F order, and a
//! reshape to N×F×oh×ow would mix positions and channels; the permute `[0, 3, 1, 2]` moves
//! the channel axis, as a stride view.

use tensor::{Element, Tensor};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Permute {
    inverse: Vec<usize>,
}

impl<T: Element> Op<T> for Permute {
    fn name(&self) -> &'static str {
        "permute"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.permute(&self.inverse))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = permute(x, perm)` (a view); VJP `∇x = permute(∇y, perm⁻¹)`.
    pub fn permute(self, perm: &[usize]) -> Result<Var<'t, T>> {
        let y = self.value().permute(perm)?;
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        self.tape().record(&[self], y, || Permute { inverse })
    }

    /// The transpose of a matrix (a view); VJP `∇x = (∇y)ᵀ`.
    pub fn t(self) -> Result<Var<'t, T>> {
        let rank = self.shape().len();
        if rank != 2 {
            return Err(tensor::TensorError::RankMismatch { op: "t", expected: 2, shape: self.shape() }.into());
        }
        self.permute(&[1, 0])
    }
}
