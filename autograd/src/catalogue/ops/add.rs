//! The entry of `add`: a [`BinaryOp`] of the shared broadcasting entry.

use tensor::Element;

use super::BinaryOp;
use crate::error::Result;
use crate::tape::Var;

/// `a + b` with broadcasting.
pub(super) struct Add;

impl BinaryOp for Add {
    const NAME: &'static str = "add";

    fn call<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> Result<Var<'t, T>> {
        a.add(b)
    }
}
