//! Direct convolution for `f32`, beside the im2col + matrixmultiply path of
//! [`crate::conv2d`]: the forward pass ([`forward`]), `∇x` and `∇W` ([`backward`]) computed
//! by this crate's SIMD kernels ([`crate::kernels`]) without an im2col matrix. The generic
//! entry points take any [`Element`] and return `None` when the element type is not `f32`
//! or the selected [`KernelPath`] is im2col, so callers fall back to the matrix product;
//! f64 (gradient checks) always does.

mod backward;
mod forward;
mod staging;
#[cfg(test)]
mod tests;
mod winograd;

use std::any::{Any, TypeId};

use crate::cast::f32_slice;
use staging::Source;

use crate::activation::Activation;
use crate::element::Element;
use crate::kernels::{KernelPath, Kernels};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// `&Tensor<T>` as `&Tensor<U>` when they are the same type.
fn same<T: 'static, U: 'static>(t: &Tensor<T>) -> Option<&Tensor<U>> {
    (t as &dyn Any).downcast_ref()
}

/// A `Tensor<f32>` as `Tensor<T>` when `T` is `f32`.
fn back<T: 'static>(t: Tensor<f32>) -> Option<Tensor<T>> {
    (Box::new(t) as Box<dyn Any>).downcast().ok().map(|t| *t)
}

/// Which kernels compute each part of one convolution: `None` where the im2col path does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub forward: Option<Kernels>,
    pub input_grad: Option<Kernels>,
    pub weight_grad: Option<Kernels>,
}

impl Plan {
    /// The plan for `T` on the selected path: all im2col unless `T` is `f32`. Not for a
    /// convolution whose one output position covers the whole input (a fully connected
    /// layer, one well-shaped matrix product across the batch).
    pub(crate) fn new<T: 'static>(g: &Window2d, d: &WindowDims, filters: usize) -> Plan {
        let path = if TypeId::of::<T>() == TypeId::of::<f32>() { KernelPath::selected() } else { KernelPath::Im2col };
        Plan::on(path, g, d, filters)
    }

    /// The plan on `path`.
    pub(crate) fn on(path: KernelPath, g: &Window2d, d: &WindowDims, filters: usize) -> Plan {
        let whole = d.positions() == 1 && g.padding == [0, 0] && g.kernel == [d.h, d.w];
        let k = |channels| Kernels::new(path, channels).filter(|_| !whole);
        // ∇x has the input channels in the lanes: with fewer than 8 of them, or a last
        // vector less than three quarters full, the matrix product is faster (LeNet's C3,
        // 6 channels in 8 lanes: 1.34 against 1.11 ms per batch of 64; bench/NOTES.md).
        let lanes_filled = |k: &Kernels| {
            let padded = d.c.div_ceil(k.lanes()) * k.lanes();
            d.c >= 8 && 4 * padded <= 5 * d.c
        };
        Plan { forward: k(filters), input_grad: k(d.c).filter(lanes_filled), weight_grad: k(filters) }
    }
}

/// `act(conv2d(x, W) + b)` by `k`, or `None` if `T` is not `f32`. Shapes were checked by
/// the caller.
pub(crate) fn forward<T: Element>(
    k: Kernels,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    g: &Window2d,
    d: &WindowDims,
    act: Option<Activation>,
) -> Option<Tensor<T>> {
    let (x, weight) = (same::<T, f32>(x)?, same::<T, f32>(weight)?);
    let filters = weight.shape()[0];
    let bias = match bias {
        Some(b) => same::<T, f32>(b)?.to_vec(),
        None => vec![0.0; filters],
    };
    let w = weight.to_contiguous();
    let w = w.as_slice().expect("contiguous");
    let y = if winograd::suits(g, d.c, filters) && winograd_enabled() {
        let (len, plane) = (d.n * filters * d.positions(), d.positions());
        let mut y = Vec::with_capacity(len);
        let dest = winograd::Dest { out: &mut y.spare_capacity_mut()[..len], strides: [filters * plane, plane, d.ow] };
        let weight = |f: usize, c: usize, i: usize, j: usize| w[((f * d.c + c) * 3 + i) * 3 + j];
        winograd::forward(k, Source::tensor(x), weight, &bias, g, d, filters, act, dest);
        // SAFETY: `winograd::forward` writes every element of every image's output.
        unsafe { y.set_len(len) };
        y
    } else {
        forward::forward(k, x, w, &bias, g, d, filters, act)
    };
    back(Tensor::from_vec_unchecked(vec![d.n, filters, d.oh, d.ow], y))
}

/// `∇x` by `k` from `∇z` (N×F×oh×ow contiguous), laid out like `x` when `x` is dense; `None`
/// if `T` is not `f32`.
pub(crate) fn input_grad<T: Element>(
    k: Kernels,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    gz: &[T],
    g: &Window2d,
    d: &WindowDims,
) -> Option<Tensor<T>> {
    let (weight, gz) = (same::<T, f32>(weight)?, f32_slice(gz)?);
    let w = weight.to_contiguous();
    let filters = weight.shape()[0];
    let strides = if x.is_dense() { x.strides().to_vec() } else { crate::contiguous_strides(x.shape()) };
    if winograd::suits(g, filters, d.c) && x.is_contiguous() && winograd_enabled() {
        // Contiguous: x's strides (which may differ on axes of size 1) describe the same order.
        let gx = winograd_input_grad(k, w.as_slice().expect("contiguous"), gz, g, d, filters);
        return back(Tensor::from_parts(std::sync::Arc::new(gx), x.shape().to_vec(), strides, 0));
    }
    let len = x.numel();
    let mut out = Vec::with_capacity(len);
    backward::input_grad(
        k,
        gz,
        w.as_slice().expect("contiguous"),
        g,
        d,
        weight.shape()[0],
        &mut out.spare_capacity_mut()[..len],
        &strides,
    );
    // SAFETY: `input_grad` writes every element of a dense buffer of x's shape (its docs).
    unsafe { out.set_len(len) };
    back(Tensor::from_parts(std::sync::Arc::new(out), x.shape().to_vec(), strides, 0))
}

/// `∇x` of a 3×3 stride-1 convolution, contiguous, as the forward convolution of ∇z with
/// the filters turned 180° and transposed (`W̃[c, f, i, j] = W[f, c, 2 − i, 2 − j]`),
/// padded by `2 − p`, by Winograd's F(2×2, 3×3).
fn winograd_input_grad(k: Kernels, w: &[f32], gz: &[f32], g: &Window2d, d: &WindowDims, filters: usize) -> Vec<f32> {
    let window = Window2d { kernel: [3, 3], stride: [1, 1], padding: [2 - g.padding[0], 2 - g.padding[1]] };
    let dz = window.dims("conv2d_backward", &[d.n, filters, d.oh, d.ow]).expect("the transposed window fits ∇z");
    debug_assert_eq!([dz.oh, dz.ow], [d.h, d.w]);
    let (len, plane) = (d.n * d.c * d.h * d.w, d.h * d.w);
    let mut out = Vec::with_capacity(len);
    let dest = winograd::Dest { out: &mut out.spare_capacity_mut()[..len], strides: [d.c * plane, plane, d.w] };
    let weight = |c: usize, f: usize, i: usize, j: usize| w[((f * d.c + c) * 3 + 2 - i) * 3 + 2 - j];
    let zeros = vec![0.0; d.c];
    winograd::forward(k, Source::contiguous(gz, [filters, d.oh, d.ow]), weight, &zeros, &window, &dz, d.c, None, dest);
    // SAFETY: `winograd::forward` writes every element of every image's output.
    unsafe { out.set_len(len) };
    out
}

/// Whether Winograd's F(2×2, 3×3) may replace the direct kernel where it applies: yes,
/// unless the environment variable `TENSOR_WINOGRAD` is `0` or `off` (read once).
pub(crate) fn winograd_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| !matches!(std::env::var("TENSOR_WINOGRAD").as_deref().map(str::trim), Ok("0" | "off")))
}

/// `∇W` by `k` from `∇z` (N×F×oh×ow contiguous), F×C×kh×kw; `None` if `T` is not `f32`.
pub(crate) fn weight_grad<T: Element>(
    k: Kernels,
    x: &Tensor<T>,
    weight_shape: &[usize],
    gz: &[T],
    g: &Window2d,
    d: &WindowDims,
) -> Option<Tensor<T>> {
    let (x, gz) = (same::<T, f32>(x)?, f32_slice(gz)?);
    let gw = backward::weight_grad(k, x, gz, g, d, weight_shape[0]);
    back(Tensor::from_vec_unchecked(weight_shape.to_vec(), gw))
}
