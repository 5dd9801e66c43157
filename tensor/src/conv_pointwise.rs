//! A convolution and the 1×1 convolution after it as one op, for inference:
//! `pool(act₂(conv2d(act(conv2d(x, W) + b), W₂) + b₂))`, the 1×1 convolution computed from
//! the first one's pixels × filters block while it is in cache, so the first convolution's
//! output is never transposed into planes, written to memory and read back (ONNX Runtime
//! keeps such a pair in its blocked NCHWc layout for the same reason). Nothing is kept for
//! a backward pass.

use crate::activation::Activation;
use crate::conv_pool::{Pooling, conv2d_pooled};
use crate::conv2d::{Geometry, conv2d_activated};
use crate::direct::{self, Plan};
use crate::element::Element;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::window::Window2d;

/// The 1×1 convolution (stride 1, no padding) of [`conv2d_pointwise`]: its weight
/// `[F₂, F, 1, 1]` (F the first convolution's filters), bias `[F₂]` and activation.
pub struct Pointwise<'a, T> {
    /// `[F₂, F, 1, 1]`.
    pub weight: &'a Tensor<T>,
    /// `[F₂]`, or none.
    pub bias: Option<&'a Tensor<T>>,
    /// Applied after the bias.
    pub act: Option<Activation>,
}

impl<T> Clone for Pointwise<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Pointwise<'_, T> {}

/// `act₂(conv2d(act(conv2d(x, W) + b), W₂) + b₂)`, pooled by `pooling` if given: the same
/// values as [`conv2d_activated`] twice (and [`Pooling::apply`]), the same bits on the same
/// kernel path. Where the direct kernels compute the first convolution (not Winograd, its
/// filters padded to whole vectors 8, 16 or 32 wide), the 1×1 convolution reads its
/// pixels × filters block directly; elsewhere the two ops run one after the other. An
/// error names `conv2d_pointwise` and the shapes that do not fit (the first convolution's,
/// then the 1×1 weight against its output, then the pooling's window).
pub fn conv2d_pointwise<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
    act: Option<Activation>,
    next: &Pointwise<'_, T>,
    pooling: Option<&Pooling>,
) -> Result<Tensor<T>> {
    let op = "conv2d_pointwise";
    let g = Geometry::new(op, x.shape(), weight, window)?;
    g.check_bias(op, weight, bias)?;
    let between = [g.d.n, g.f, g.d.oh, g.d.ow];
    let one = Window2d::square(1, 1, 0);
    // A weight that is not [F₂, F, 1, 1] does not fit the 1×1 window over [N, F, oh, ow].
    let g2 = Geometry::new(op, &between, next.weight, &one)?;
    g2.check_bias(op, next.weight, next.bias)?;
    let out = [g.d.n, g2.f, g.d.oh, g.d.ow];
    let dims = pooling.map(|p| p.window().pool_dims(op, &out)).transpose()?;
    if let Some(k) = Plan::new::<T>(&g.window, &g.d, g.f).forward
        && Plan::new::<T>(&g2.window, &g2.d, g2.f).forward.is_some()
        && direct::takes_pointwise(k, &g.window, &g.d, g.f)
    {
        let pool = pooling.zip(dims).map(|(pooling, mut dims)| {
            dims.n = 1;
            direct::Pool { pooling, dims }
        });
        if let Some(y) = direct::forward(k, x, weight, bias, &g.window, &g.d, act, Some(next), pool.as_ref()) {
            return Ok(y);
        }
    }
    let y = conv2d_activated(x, weight, bias, window, act)?;
    match pooling {
        Some(pooling) => conv2d_pooled(&y, next.weight, next.bias, &one, next.act, pooling),
        None => conv2d_activated(&y, next.weight, next.bias, &one, next.act),
    }
}
