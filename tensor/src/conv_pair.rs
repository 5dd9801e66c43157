//! Two convolutions as one op, for inference:
//! `pool(act₂(conv2d(act(conv2d(x, W) + b), W₂) + b₂))`, the second convolution computed
//! from the first one's pixels × filters block while it is in cache, so the first one's
//! output is never transposed into planes, written to memory and read back (ONNX Runtime
//! keeps such a pair in its blocked NCHWc layout for the same reason). Nothing is kept for
//! a backward pass.

use crate::activation::Activation;
use crate::conv_pool::{Pooling, conv2d_pooled};
use crate::conv2d::{Geometry, conv2d_inference};
use crate::direct::{self, Plan};
use crate::element::Element;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::window::Window2d;

/// The second convolution of [`conv2d_pair`]: its weight `[F₂, F, kh, kw]` (F the first
/// convolution's filters), bias `[F₂]`, window and activation.
pub struct SecondConv<'a, T> {
    /// `[F₂, F, kh, kw]`.
    pub weight: &'a Tensor<T>,
    /// `[F₂]`, or none.
    pub bias: Option<&'a Tensor<T>>,
    /// Its kernel (`[kh, kw]`), stride and padding.
    pub window: Window2d,
    /// Applied after the bias.
    pub act: Option<Activation>,
}

impl<T> Clone for SecondConv<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SecondConv<'_, T> {}

/// `act₂(conv2d(act(conv2d(x, W) + b), W₂) + b₂)`, pooled by `pooling` if given: the same
/// values as [`conv2d_activated`](crate::conv2d_activated) twice (and [`Pooling::apply`]) up to rounding.
///
/// Where the direct kernels compute both convolutions (neither is Winograd's) and the
/// first one's filters, padded to whole vectors, times the second one's column stride are
/// 8, 16 or 32 floats, the second convolution reads the first one's pixels × filters block:
/// a 1×1 convolution of stride 1 without padding reads its rows as they are (the same bits
/// as the two ops), any other window reads them copied into channels-last rows (its taps
/// summed in another order, so the last bits may differ). Elsewhere the two ops run one
/// after the other. An error names `conv2d_pair` and the shapes that do not fit (the
/// first convolution's, then the second weight against its output, then the pooling's
/// window).
pub fn conv2d_pair<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
    act: Option<Activation>,
    second: &SecondConv<'_, T>,
    pooling: Option<&Pooling>,
) -> Result<Tensor<T>> {
    let op = "conv2d_pair";
    let g = Geometry::new(op, x.shape(), weight, window)?;
    g.check_bias(op, weight, bias)?;
    let between = [g.d.n, g.f, g.d.oh, g.d.ow];
    let g2 = Geometry::new(op, &between, second.weight, &second.window)?;
    g2.check_bias(op, second.weight, second.bias)?;
    let out = [g.d.n, g2.f, g2.d.oh, g2.d.ow];
    let dims = pooling.map(|p| p.window().pool_dims(op, &out)).transpose()?;
    if let Some(k) = Plan::new::<T>(&g.window, &g.d, g.f).forward
        && Plan::new::<T>(&g2.window, &g2.d, g2.f).forward.is_some()
        && direct::takes_next(k, (&g.window, &g.d, g.f), (&g2.window, &g2.d, g2.f))
    {
        let pool = pooling.zip(dims).map(|(pooling, mut dims)| {
            dims.n = 1;
            direct::Pool { pooling, dims }
        });
        // The window as the geometry clamped it (the one `takes_next` judged).
        let second = SecondConv { window: g2.window, ..*second };
        if let Some(y) =
            direct::forward(k, x, weight, bias, &g.window, &g.d, act, Some(&second), pool.as_ref(), None, true)
        {
            return Ok(y);
        }
    }
    let y = conv2d_inference(x, weight, bias, window, act)?;
    match pooling {
        Some(pooling) => conv2d_pooled(&y, second.weight, second.bias, &second.window, second.act, pooling),
        None => conv2d_inference(&y, second.weight, second.bias, &second.window, second.act),
    }
}
