//! The entry of `max_pool2d`, with its ties.

use proptest::prelude::*;
use tensor::{Element, Window2d};

use super::{on_grid, pool_wrong_shapes, small_windows, tie_step};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge_toward_first};
use crate::error::Result;
use crate::strategies::{self, pool_geometry};
use crate::tape::Var;

/// `max_pool2d(x)` over pooling geometries (overlapping windows included), values pairwise
/// 0.05 apart; ties go to the first maximum.
pub(super) struct MaxPool2d;

impl Entry for MaxPool2d {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        pool_geometry(small_windows())
            .prop_flat_map(|g| (strategies::distinct_tensor::<f64>(g.input, 0.05), Just(g.window)))
            .prop_map(|(x, window)| OpCase::new(vec![x], window))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].max_pool2d(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        pool_wrong_shapes()
    }

    fn convention(&self) -> Option<Convention<Window2d>> {
        // In a window, row-major order of the taps is row-major order of the input.
        let cases = pool_geometry(small_windows())
            .prop_flat_map(|g| (on_grid(g.input, 2), Just(g.window)))
            .prop_map(|(x, window)| {
                let nudged = nudge_toward_first(&x, tie_step(&x));
                KinkCase { at: OpCase::new(vec![x], window), nudged: OpCase::new(vec![nudged], window) }
            })
            .boxed();
        Some(Convention { rule: "ties go to the first maximum (row-major within the window)", cases })
    }
}
