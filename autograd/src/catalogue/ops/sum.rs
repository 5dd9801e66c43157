//! The entries of `sum` and `mean`.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, dense};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `Σᵢ xᵢ`.
pub(super) struct Sum;

impl Entry for Sum {
    type Args = ();

    fn name(&self) -> &'static str {
        "sum"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].sum()
    }
}

/// `(1/n)·Σᵢ xᵢ`.
pub(super) struct Mean;

impl Entry for Mean {
    type Args = ();

    fn name(&self) -> &'static str {
        "mean"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].mean()
    }
}
