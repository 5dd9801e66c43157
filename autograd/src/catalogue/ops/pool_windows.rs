//! The entry of `pool_windows`.

use proptest::prelude::*;
use tensor::{Element, Window2d};

use super::{dense, small_windows, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies::pool_geometry;
use crate::tape::Var;

/// `pool_windows(x)` over pooling geometries (taps in the padding read −∞, constants).
pub(super) struct PoolWindows;

impl Entry for PoolWindows {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "pool_windows"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        pool_geometry(small_windows())
            .prop_flat_map(|g| (dense(g.input), Just(g.window)))
            .prop_map(|(x, window)| OpCase::new(vec![x], window))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].pool_windows(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        vec![zeros(&[&[2, 3, 4]], Window2d::square(2, 2, 0)), zeros(&[&[1, 1, 4, 4]], Window2d::square(2, 1, 2))]
    }
}
