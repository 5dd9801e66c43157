//! The entry of `sub`: a [`BinaryOp`] of the shared broadcasting entry.

use tensor::Element;

use super::BinaryOp;
use crate::error::Result;
use crate::tape::Var;

/// `a − b` with broadcasting.
pub(super) struct Sub;

impl BinaryOp for Sub {
    const NAME: &'static str = "sub";

    fn call<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> Result<Var<'t, T>> {
        a.sub(b)
    }
}
