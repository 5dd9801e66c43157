//! The entry of `div`: a [`BinaryOp`] of the shared broadcasting entry.

use tensor::Element;

use super::BinaryOp;
use crate::error::Result;
use crate::tape::Var;

/// `a / b` with broadcasting, the divisor in ±[0.5, 1]: away from its pole at 0, where
/// `∂z/∂b = −a/b²` would grow faster than central differences can follow (a zero divisor
/// gives infinities, as in PyTorch; that is not a case).
pub(super) struct Div;

impl BinaryOp for Div {
    const NAME: &'static str = "div";
    const B_AWAY_FROM_ZERO: Option<f64> = Some(0.5);

    fn call<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> Result<Var<'t, T>> {
        a.div(b)
    }
}
