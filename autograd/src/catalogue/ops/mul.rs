//! The entry of `mul`: a [`BinaryOp`] of the shared broadcasting entry.

use tensor::Element;

use super::BinaryOp;
use crate::error::Result;
use crate::tape::Var;

/// `a ⊙ b` with broadcasting.
pub(super) struct Mul;

impl BinaryOp for Mul {
    const NAME: &'static str = "mul";

    fn call<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> Result<Var<'t, T>> {
        a.mul(b)
    }
}
