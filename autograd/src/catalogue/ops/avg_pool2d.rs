//! The entry of `avg_pool2d`.

use proptest::prelude::*;
use tensor::{Element, Window2d};

use super::{dense, small_windows, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies::pool_geometry;
use crate::tape::Var;

/// `avg_pool2d(x)` over pooling geometries (overlapping windows, strides past the kernel,
/// padding up to half the kernel counted in the divisor). Linear: no kinks, no ties.
pub(super) struct AvgPool2d;

impl Entry for AvgPool2d {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "avg_pool2d"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        pool_geometry(small_windows())
            .prop_flat_map(|g| (dense(g.input), Just(g.window)))
            .prop_map(|(x, window)| OpCase::new(vec![x], window))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].avg_pool2d(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        vec![
            zeros(&[&[2, 3, 4]], Window2d::square(2, 2, 0)),
            zeros(&[&[1, 1, 4, 4]], Window2d::square(2, 1, 2)),
            zeros(&[&[1, 1, 2, 2]], Window2d::square(3, 1, 0)),
            zeros(&[&[1, 1, 4, 4]], Window2d::square(2, 0, 0)),
        ]
    }
}
