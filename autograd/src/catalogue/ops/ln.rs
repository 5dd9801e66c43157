//! The entry of `ln`.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, uniform};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `ln x` for `x` in [0.1, 3]: inside its domain and away from the pole of `1/x` at 0
/// (`x ≤ 0` gives −∞ or NaN, as in PyTorch; not a case).
pub(super) struct Ln;

impl Entry for Ln {
    type Args = ();

    fn name(&self) -> &'static str {
        "ln"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(|s| uniform(s, 0.1, 3.0)).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].ln()
    }
}
