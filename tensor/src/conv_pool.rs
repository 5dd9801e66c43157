//! A convolution and the pooling after it as one op, for inference:
//! `pool(act(conv2d(x, W) + b))` with the pooling done in the convolution's output pass,
//! so the convolution's full-size output is never written to memory and read back (ONNX
//! Runtime fuses its NCHWc pooling the same way). Nothing is kept for a backward pass.

use crate::activation::Activation;
use crate::avg_pool::avg_pool2d;
use crate::conv2d::{Geometry, conv2d_inference};
use crate::direct::{self, Plan};
use crate::element::Element;
use crate::error::Result;
use crate::max_pool::max_pool2d_values;
use crate::tensor::Tensor;
use crate::window::Window2d;

/// A 2-D pooling over `[N, C, H, W]`: its kind and window (PyTorch's `MaxPool2d` and
/// `AvgPool2d` with their defaults: floor mode, padding counted in the average's divisor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pooling {
    /// Each window's first maximum (a NaN wins), as [`max_pool2d_values`].
    Max(Window2d),
    /// Each window's sum over `kh·kw`, as [`avg_pool2d`].
    Average(Window2d),
}

impl Pooling {
    /// The window.
    pub fn window(&self) -> &Window2d {
        match self {
            Pooling::Max(w) | Pooling::Average(w) => w,
        }
    }

    /// The pooling of `x` on its own.
    pub fn apply<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        match self {
            Pooling::Max(w) => max_pool2d_values(x, w),
            Pooling::Average(w) => avg_pool2d(x, w),
        }
    }
}

/// `pooling(act(conv2d(x, W) + b))`: the same values as [`conv2d_activated`](crate::conv2d_activated) followed by
/// [`Pooling::apply`] (the same bits on the same kernel path), without the convolution's
/// full-size output. For inference: nothing is kept for a VJP. An error names
/// `conv2d_pooled` and the shapes that do not fit (the convolution's, then the pooling's
/// window over its output).
pub fn conv2d_pooled<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
    act: Option<Activation>,
    pooling: &Pooling,
) -> Result<Tensor<T>> {
    let op = "conv2d_pooled";
    let g = Geometry::new(op, x.shape(), weight, window)?;
    g.check_bias(op, weight, bias)?;
    let mut dims = pooling.window().pool_dims(op, &[g.d.n, g.f, g.d.oh, g.d.ow])?;
    if let Some(k) = Plan::new::<T>(&g.window, &g.d, g.f).forward {
        dims.n = 1;
        let pool = direct::Pool { pooling, dims };
        if let Some(y) = direct::forward(k, x, weight, bias, &g.window, &g.d, act, None, Some(&pool), None, true) {
            return Ok(y);
        }
    }
    pooling.apply(&conv2d_inference(x, weight, bias, window, act)?)
}
