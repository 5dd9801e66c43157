//! The entry of `tanh`.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, dense};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `tanh x` for `x` in [−3, 3] (into the saturating tails, where `1 − y²` is small).
pub(super) struct Tanh;

impl Entry for Tanh {
    type Args = ();

    fn name(&self) -> &'static str {
        "tanh"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x.mul_scalar(3.0)], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].tanh()
    }
}
