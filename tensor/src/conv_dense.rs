//! A convolution chain ending in a fully connected layer, as one op for inference:
//! `act_d(flatten(pool(second(act(conv2d(x, W) + b))))·W_dᵀ + b_d)`, the layer reading
//! the last convolution's pixels × filters block (or the pooled one) image by image, so the
//! output is never transposed into planes for `flatten` and the layer's input is never
//! packed for a matrix product (ONNX Runtime's reorder and Gemm nodes at the end of its
//! NCHWc chain). Nothing is kept for a backward pass.

use crate::activation::Activation;
use crate::conv_pair::{SecondConv, conv2d_pair};
use crate::conv_pool::{Pooling, conv2d_pooled};
use crate::conv2d::{Geometry, conv2d_inference};
use crate::direct::{self, Plan};
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;
use crate::window::Window2d;

/// The fully connected layer of [`conv2d_dense`]: `weight` `[O, C·H·W]` (PyTorch's
/// `Linear` after `flatten`, `C × H × W` the output before it), bias `[O]` and the
/// activation after it.
pub struct Dense<'a, T> {
    /// `[O, C·H·W]`.
    pub weight: &'a Tensor<T>,
    /// `[O]`, or none.
    pub bias: Option<&'a Tensor<T>>,
    /// Applied after the bias.
    pub act: Option<Activation>,
}

/// `act_d(flatten(y)·W_dᵀ + b_d)` for `y = act(conv2d(x, W) + b)`, then `second` if given
/// (as [`conv2d_pair`]), pooled by `pooling` if given: the same values as those ops one
/// after the other up to rounding (the layer's sums are taken in the block's order, pixel
/// by pixel, not channel by channel).
///
/// The direct kernels compute it in one pass where they compute the last convolution
/// (not by Winograd), a pooling has no padding, and the layer's outputs are one chunk of
/// vectors (up to 16 on AVX2 and the portable kernels, 64 on AVX-512); elsewhere the ops
/// run one after the other.
/// An error names `conv2d_dense` and the shapes that do not fit (the convolutions', the
/// pooling's window, then the layer's weight `[O, C·H·W]` and bias `[O]`).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_dense<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
    act: Option<Activation>,
    second: Option<&SecondConv<'_, T>>,
    pooling: Option<&Pooling>,
    dense: &Dense<'_, T>,
) -> Result<Tensor<T>> {
    let op = "conv2d_dense";
    let g = Geometry::new(op, x.shape(), weight, window)?;
    g.check_bias(op, weight, bias)?;
    let mut out = [g.d.n, g.f, g.d.oh, g.d.ow];
    let g2 = match second {
        Some(s) => {
            let g2 = Geometry::new(op, &out, s.weight, &s.window)?;
            g2.check_bias(op, s.weight, s.bias)?;
            out = [g.d.n, g2.f, g2.d.oh, g2.d.ow];
            Some(g2)
        }
        None => None,
    };
    let dims = pooling.map(|p| p.window().pool_dims(op, &out)).transpose()?;
    if let Some(d) = &dims {
        out = [d.n, d.c, d.oh, d.ow];
    }
    let inputs = out[1] * out[2] * out[3];
    let outputs = dense.weight.shape().first().copied().unwrap_or(0);
    if dense.weight.shape() != [outputs, inputs] {
        return Err(TensorError::ShapeMismatch { op, lhs: vec![out[0], inputs], rhs: dense.weight.shape().to_vec() });
    }
    if let Some(b) = dense.bias.filter(|b| b.shape() != [outputs]) {
        return Err(TensorError::ShapeMismatch { op, lhs: vec![outputs], rhs: b.shape().to_vec() });
    }
    if let Some(k) = Plan::new::<T>(&g.window, &g.d, g.f).forward {
        let pool = pooling.zip(dims).map(|(pooling, mut dims)| {
            dims.n = 1;
            direct::Pool { pooling, dims }
        });
        let second = second.zip(g2.as_ref()).map(|(s, g2)| SecondConv { window: g2.window, ..*s });
        let pair = match (&second, &g2) {
            (Some(_), Some(g2)) => {
                Plan::new::<T>(&g2.window, &g2.d, g2.f).forward.is_some()
                    && direct::takes_next(k, (&g.window, &g.d, g.f), (&g2.window, &g2.d, g2.f))
            }
            _ => true,
        };
        if pair
            && direct::takes_dense(k, (&g.window, &g.d, g.f), second.is_some(), pool.as_ref(), outputs)
            && let Some(y) = direct::forward(
                k,
                x,
                weight,
                bias,
                &g.window,
                &g.d,
                act,
                second.as_ref(),
                pool.as_ref(),
                Some(dense),
                true,
            )
        {
            return Ok(y);
        }
    }
    let y = match (second, pooling) {
        (Some(s), p) => conv2d_pair(x, weight, bias, window, act, s, p)?,
        (None, Some(p)) => conv2d_pooled(x, weight, bias, window, act, p)?,
        (None, None) => conv2d_inference(x, weight, bias, window, act)?,
    };
    let mut z = y.reshape(&[out[0], inputs])?.matmul(&dense.weight.t()?)?;
    if let Some(b) = dense.bias {
        z = z.add(b)?;
    }
    if let Some(a) = dense.act {
        z.map_inplace(|v| a.apply(v));
    }
    Ok(z)
}
