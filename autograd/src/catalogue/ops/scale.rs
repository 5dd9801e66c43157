//! The entry of `scale`.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, dense};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `c·x` for a constant `c` in [−2, 2].
pub(super) struct Scale;

impl Entry for Scale {
    type Args = f64;

    fn name(&self) -> &'static str {
        "scale"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<f64>> {
        (any_shape().prop_flat_map(dense), -2.0..=2.0f64).prop_map(|(x, c)| OpCase::new(vec![x], c)).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], c: &f64) -> Result<Var<'t, T>> {
        x[0].scale(T::from_f64_lossy(*c))
    }
}
