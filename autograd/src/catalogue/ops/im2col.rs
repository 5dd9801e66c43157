//! The entry of `im2col`.

use proptest::prelude::*;
use tensor::{Element, Window2d};

use super::{small_windows, windowed, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies::conv_geometry;
use crate::tape::Var;

/// `im2col(x)` over convolution geometries (kernels of any size up to 4 per axis, strides
/// up to 3, padding up to 2).
pub(super) struct Im2col;

impl Entry for Im2col {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        windowed(conv_geometry(small_windows()))
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].im2col(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        vec![zeros(&[&[2, 3, 4]], Window2d::square(2, 1, 0)), zeros(&[&[1, 1, 2, 2]], Window2d::square(3, 1, 0))]
    }
}
