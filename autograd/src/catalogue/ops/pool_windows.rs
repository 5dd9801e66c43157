//! The entry of `pool_windows`.

use proptest::prelude::*;
use tensor::{Element, Window2d};

use super::{pool_wrong_shapes, small_windows, windowed};
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
        windowed(pool_geometry(small_windows()))
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].pool_windows(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        pool_wrong_shapes()
    }
}
