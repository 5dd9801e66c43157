//! The entry of `avg_pool2d`.

use proptest::prelude::*;
use tensor::{Element, Window2d};

use super::{pool_wrong_shapes, small_windows, windowed, zeros};
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
        windowed(pool_geometry(small_windows()))
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].avg_pool2d(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        let larger_than_the_input = zeros(&[&[1, 1, 2, 2]], Window2d::square(3, 1, 0));
        let zero_stride = zeros(&[&[1, 1, 4, 4]], Window2d::square(2, 0, 0));
        [pool_wrong_shapes(), vec![larger_than_the_input, zero_stride]].concat()
    }
}
