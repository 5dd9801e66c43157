//! The entry of `global_avg_pool2d`.

use proptest::prelude::*;
use tensor::Element;

use super::{dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// Each map's mean over inputs `[N, C, H, W]` of 1 to 4 along every axis (1×1 maps too).
/// Linear: no kinks, no ties.
pub(super) struct GlobalAvgPool2d;

impl Entry for GlobalAvgPool2d {
    type Args = ();

    fn name(&self) -> &'static str {
        "global_avg_pool2d"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        strategies::shape(4..=4, 1..=4).prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].global_avg_pool2d()
    }

    /// Ranks other than 4, and maps of no position.
    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[2, 3, 4]], ()), zeros(&[&[1, 2, 3, 4, 5]], ()), zeros(&[&[2, 3, 0, 4]], ())]
    }
}
