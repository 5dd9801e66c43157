//! The entry of `sigmoid`.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, dense};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `σ(x) = 1/(1 + e⁻ˣ)` for `x` in [−6, 6] (both branches of the overflow-free form).
pub(super) struct Sigmoid;

impl Entry for Sigmoid {
    type Args = ();

    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x.mul_scalar(6.0)], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].sigmoid()
    }
}
