//! Max-pooling: each window's maximum, the gradient routed to the window's first maximum.
//!
//! In matrix form: `a = pool_windows(x): [N·C·oh·ow, kh·kw]`, `z = max_rows(a)`, reshaped to
//! `[N, C, oh, ow]`; `∇x = Sᵀ·(onehot(argmax) ⊙ ∇z)`. The layer runs the fused op.

use autograd::Var;
use tensor::{Element, Pooling, Window2d, WindowDims};

use crate::pool2d::{Pool2d, PoolKind};

/// The maximum of each window (the op `Var::max_pool2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Max;

impl PoolKind for Max {
    const NAME: &'static str = "MaxPool2d";

    fn pool<'t, T: Element>(x: Var<'t, T>, window: &Window2d) -> autograd::Result<Var<'t, T>> {
        x.max_pool2d(window)
    }

    fn pooling(window: &Window2d) -> Option<Pooling> {
        Some(Pooling::Max(*window))
    }

    fn matrix_shapes(window: &Window2d, d: &WindowDims) -> Vec<(String, Vec<usize>)> {
        vec![
            ("windows".into(), vec![d.n * d.c * d.oh * d.ow, window.kernel_area()]),
            ("max of each row".into(), vec![d.n, d.c, d.oh, d.ow]),
        ]
    }
}

/// A max-pooling layer, PyTorch's `nn.MaxPool2d` (windows may overlap; padding up to half
/// the kernel).
pub type MaxPool2d = Pool2d<Max>;
