//! Average pooling, PyTorch's `nn.AvgPool2d(kernel, stride, padding)` with its defaults
//! (floor mode, padding counted in the divisor): `y = (1/(kh·kw))·Σ_window x`, or in matrix
//! form `vec(y) = (1/(kh·kw))·S·vec(x)` with `S` the 0/1 window sum, so
//! `vec(∇x) = (1/(kh·kw))·Sᵀ·vec(∇y)` (the op `Var::avg_pool2d`).

use autograd::Var;
use tensor::{Element, Pooling, Window2d};

use crate::pool2d::{Pool2d, PoolKind};

/// The mean of each window (the op `Var::avg_pool2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avg;

impl PoolKind for Avg {
    const NAME: &'static str = "AvgPool2d";

    fn pool<'t, T: Element>(x: Var<'t, T>, window: &Window2d) -> autograd::Result<Var<'t, T>> {
        x.avg_pool2d(window)
    }

    fn pooling(window: &Window2d) -> Option<Pooling> {
        Some(Pooling::Average(*window))
    }
}

/// An average-pooling layer (windows may overlap; padding up to half the kernel).
pub type AvgPool2d = Pool2d<Avg>;
