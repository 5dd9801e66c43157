//! Inverted dropout with a caller's mask: `y = x ⊙ m / (1 − p)` for a 0/1 keep-mask `m` of
//! `x`'s shape and drop probability `p` (PyTorch's `p`), so that `E[y] = x` when each
//! element is kept with probability `1 − p`. In evaluation mode a layer skips the op.
//!
//! VJP: `∇x = ∇y ⊙ m / (1 − p)`: the map is diagonal, with the same factors. The mask is
//! an argument, not drawn here, so that it can be a pure function of the run's seed, the
//! step and the layer (`tensor::CounterRng::keep_mask`) and a resumed run redraws it.
//! With `p = 1` every element is dropped and the output is 0 (as PyTorch).

use tensor::{Element, Tensor, TensorError};

use super::wanted;
use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::tape::Var;

struct Dropout<T> {
    scaled_mask: Tensor<T>,
}

impl<T: Element> Op<T> for Dropout<T> {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || grad.mul(&self.scaled_mask))?])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// `y = x ⊙ mask / (1 − p)` for a keep-mask of 0s and 1s with `x`'s shape and
    /// `p ∈ [0, 1]` (all zeros when `p = 1`); VJP `∇x = ∇y ⊙ mask / (1 − p)`.
    pub fn dropout(self, mask: &Tensor<T>, p: T) -> Result<Var<'t, T>> {
        let x = self.value();
        if mask.shape() != x.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "dropout",
                lhs: x.shape().to_vec(),
                rhs: mask.shape().to_vec(),
            }
            .into());
        }
        if !(p >= T::zero() && p <= T::one()) {
            return Err(AutogradError::InvalidArgument {
                op: "dropout",
                reason: format!("drop probability {p} is outside [0, 1]"),
            });
        }
        if let Some(bad) = mask.iter().find(|&m| m != T::zero() && m != T::one()) {
            return Err(AutogradError::InvalidArgument {
                op: "dropout",
                reason: format!("the mask holds {bad}; a keep-mask holds only 0 and 1"),
            });
        }
        let scale = if p == T::one() { T::zero() } else { T::one() / (T::one() - p) };
        let scaled_mask = mask.mul_scalar(scale);
        let y = x.mul(&scaled_mask)?;
        self.tape().record(&[self], y, || Dropout { scaled_mask })
    }
}
