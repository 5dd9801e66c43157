//! The entry of `sum_squares`.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, dense};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `Σᵢ xᵢ²`.
pub(super) struct SumSquares;

impl Entry for SumSquares {
    type Args = ();

    fn name(&self) -> &'static str {
        "sum_squares"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].sum_squares()
    }
}
