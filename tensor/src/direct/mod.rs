//! Direct convolution for `f32`, beside the im2col + matrixmultiply path of
//! [`crate::conv2d`]: the forward pass ([`forward`]), `∇x` and `∇W` ([`backward`]) computed
//! by this crate's SIMD kernels ([`crate::kernels`]) without an im2col matrix. The generic
//! entry points take any [`Element`] and return `None` when the element type is not `f32`
//! or the selected [`KernelPath`] is im2col, so callers fall back to the matrix product;
//! f64 (gradient checks) always does.

mod backward;
mod dense;
#[cfg(test)]
mod dense_tests;
mod forward;
#[cfg(test)]
mod pair_tests;
mod pooled;
#[cfg(test)]
mod pooled_tests;
mod prepared;
mod staging;
#[cfg(test)]
mod tests;
mod then;
mod winograd;
mod winograd4;
#[cfg(test)]
mod winograd4_tests;
mod winograd_weight;

use std::any::{Any, TypeId};

use crate::cast::f32_slice;
use crate::conv2d_backward::ConvInput;
use crate::reduce::lane_sum;
pub(crate) use pooled::Pool;
use staging::Source;
use then::Then;

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

/// Whether [`forward`] by `k` can take a second convolution, of window `g2` and `f2`
/// filters, after a window `g` of `filters` over inputs of dims `d`, the second one's
/// output of dims `d2`: the direct kernel computes both (neither is Winograd's), the first
/// one's block (its filters padded to whole vectors) is read with a pixel step the tile
/// kernel takes, and the second one's output has more than one position (one position is
/// a matrix product on the im2col path, which rounds differently).
pub(crate) fn takes_next(
    k: Kernels,
    (g, d, filters): (&Window2d, &WindowDims, usize),
    (g2, d2, f2): (&Window2d, &WindowDims, usize),
) -> bool {
    let fpad = filters.div_ceil(k.lanes()) * k.lanes();
    let mode = WinogradMode::selected().enabled();
    let winograd = mode && (winograd::suits(g, d.c, filters) || winograd::suits(g2, d2.c, f2));
    !winograd && then::takes(g2, fpad) && d2.positions() > 1
}

/// Whether [`forward`] by `k` can end in a fully connected layer of `outputs` after a
/// window `g` of `filters` over inputs of dims `d` (followed by a second convolution when
/// `second`, which [`takes_next`] allowed, and pooled by `pool`): the last block is the
/// direct kernel's (not Winograd's planes), the pooling reads it in the block, and the
/// layer's tiles keep their images' addresses in registers ([`dense::takes`]).
pub(crate) fn takes_dense(
    k: Kernels,
    (g, d, filters): (&Window2d, &WindowDims, usize),
    second: bool,
    pool: Option<&Pool<'_>>,
    outputs: usize,
) -> bool {
    let winograd = !second && WinogradMode::selected().enabled() && winograd::suits(g, d.c, filters);
    !winograd && pool.is_none_or(Pool::in_block) && dense::takes(k, outputs)
}

/// `act(conv2d(x, W) + b)` by `k`, followed by `then` if given ([`takes_next`] must
/// hold), pooled by `pool` if given, then flattened into the fully connected layer `dense`
/// if given ([`takes_dense`] must hold), or `None` if `T` is not `f32`. Shapes were checked
/// by the caller. With `keep`, the packing of each weight whose storage someone else holds
/// too (a parameter: one made for this call, batch norm folded in, cannot come again) is
/// kept for the next call ([`prepared`]: for the inference ops, whose weights do not change
/// between calls).
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<T: Element>(
    k: Kernels,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    g: &Window2d,
    d: &WindowDims,
    act: Option<Activation>,
    then: Option<&crate::conv_pair::SecondConv<'_, T>>,
    pool: Option<&Pool<'_>>,
    dense: Option<&crate::conv_dense::Dense<'_, T>>,
    keep: bool,
) -> Option<Tensor<T>> {
    let (x, weight) = (same::<T, f32>(x)?, same::<T, f32>(weight)?);
    // Only a contiguous weight: the copy of a strided one is new each call and would never hit.
    let kept = |t: &Tensor<f32>| keep && t.storage_shared() && t.is_contiguous();
    let dense_parts = match dense {
        Some(l) => {
            let w = same::<T, f32>(l.weight)?;
            Some((w.to_contiguous(), kept(w), bias_or_zeros(l.bias, l.weight.shape()[0])?, l.act))
        }
        None => None,
    };
    let dense = dense_parts.as_ref().map(|(w, kept, b, act)| dense::Dense {
        weight: w.as_slice().expect("contiguous"),
        id: kept.then_some(w),
        bias: b,
        outputs: w.shape()[0],
        act: *act,
    });
    let dense = dense.as_ref();
    let filters = weight.shape()[0];
    let bias = bias_or_zeros(bias, filters)?;
    let (keep_w, w_tensor) = (kept(weight), weight.to_contiguous());
    let w = w_tensor.as_slice().expect("contiguous");
    let weight = |f: usize, c: usize, i: usize, j: usize| w[((f * d.c + c) * 3 + i) * 3 + j];
    let second = then.map(|t| t.window.dims("conv2d_pair", &[d.n, filters, d.oh, d.ow])).transpose().ok()?;
    let (oh, ow) = match (pool, &second) {
        (Some(p), _) => (p.dims.oh, p.dims.ow),
        (None, Some(d2)) => (d2.oh, d2.ow),
        (None, None) => (d.oh, d.ow),
    };
    let (y, out_filters) = match then.zip(second) {
        Some((then, d2)) => {
            let next = same::<T, f32>(then.weight)?;
            let keep_next = kept(next);
            let next = next.to_contiguous();
            let next_filters = next.shape()[0];
            let next_bias = bias_or_zeros(then.bias, next_filters)?;
            let then = Then {
                weight: next.as_slice().expect("contiguous"),
                id: keep_next.then_some(&next),
                bias: &next_bias,
                filters: next_filters,
                window: then.window,
                out: [d2.oh, d2.ow],
                act: then.act,
            };
            (
                forward::forward(
                    k,
                    x,
                    (w, keep_w.then_some(&w_tensor)),
                    &bias,
                    g,
                    d,
                    filters,
                    act,
                    Some(&then),
                    pool,
                    dense,
                ),
                next_filters,
            )
        }
        None if winograd::suits(g, d.c, filters) && WinogradMode::selected().enabled() => {
            if dense.is_some() {
                return None;
            }
            let mut conv = winograd::pass(k, weight, g, d, filters, keep_w.then_some(&w_tensor));
            (winograd::forward_batch(conv.as_mut(), Source::tensor(x), &bias, d, filters, act, pool), filters)
        }
        None => (
            forward::forward(k, x, (w, keep_w.then_some(&w_tensor)), &bias, g, d, filters, act, None, pool, dense),
            filters,
        ),
    };
    let shape = match dense {
        Some(l) => vec![d.n, l.outputs],
        None => vec![d.n, out_filters, oh, ow],
    };
    back(Tensor::from_vec_unchecked(shape, y))
}

/// A bias as `f32`s, or `filters` zeros; `None` if `T` is not `f32`.
fn bias_or_zeros<T: Element>(bias: Option<&Tensor<T>>, filters: usize) -> Option<Vec<f32>> {
    Some(match bias {
        Some(b) => same::<T, f32>(b)?.to_vec(),
        None => vec![0.0; filters],
    })
}

/// The gradients of [`backward`]: `∇x` and `∇W` where it was given their kernels, `∇b` when
/// asked for.
pub(crate) struct Grads<T> {
    pub input: Option<Tensor<T>>,
    pub weight: Option<Tensor<T>>,
    pub bias: Option<Vec<T>>,
}

/// `∇x` by `kernels[0]` (laid out like `x` when `x` is dense, or added into `add_into`, a
/// contiguous buffer of x's shape, and then not returned), `∇W` by `kernels[1]` (reading an
/// image source image by image), and `∇b` if `want_bias`, image by image from `∇y`
/// (N×F×oh×ow contiguous) through the activation's VJP given its output `y`
/// (`∇z = act'(∇y, y)`); `None` if `T` is not `f32`. `∇b` sums each plane of ∇z in eight
/// lanes, image after image: the order of the blocked path.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Element>(
    kernels: [Option<Kernels>; 2],
    x: ConvInput<'_, T>,
    weight: &Tensor<T>,
    gy: &[T],
    y: Option<(Activation, &[T])>,
    g: &Window2d,
    d: &WindowDims,
    want_bias: bool,
    add_into: Option<&mut [T]>,
) -> Option<Grads<T>> {
    let (weight, gy) = (same::<T, f32>(weight)?, f32_slice(gy)?);
    let mut add_into = match add_into {
        Some(acc) => Some(crate::cast::f32_slice_mut(acc)?),
        None => None,
    };
    let xf = match x {
        ConvInput::Tensor(x) => Some(same::<T, f32>(x)?),
        ConvInput::Images(_) => None,
    };
    let y = match y {
        Some((act, y)) => Some((act, f32_slice(y)?)),
        None => None,
    };
    let (filters, plane) = (weight.shape()[0], d.positions());
    let w = weight.to_contiguous();
    let w = w.as_slice().expect("contiguous");
    let strides = x.grad_strides();
    let winograd = WinogradMode::selected().enabled();
    let mut input = kernels[0].map(|k| backward::InputGrad::new(k, w, g, d, filters, winograd && x.is_contiguous()));
    let mut weight_grad = kernels[1].map(|k| backward::WeightGrad::new(k, g, d, filters, winograd));
    // ∇x into a buffer of x's size, or image by image into a scratch image added to
    // `add_into` (contiguous, x's shape), which then needs no buffer of x's size.
    let image_len = d.c * d.h * d.w;
    let len = match (&input, &add_into) {
        (None, _) => 0,
        (Some(_), None) => x.numel(),
        (Some(_), Some(_)) => image_len,
    };
    let image_strides = [image_len, d.h * d.w, d.w, 1];
    let mut gx = crate::buffer_pool::take(len);
    // An image source's image n, for ∇W.
    let mut image = crate::buffer_pool::filled(if xf.is_none() { image_len } else { 0 }, T::zero());
    let mut bias = want_bias.then(|| vec![0.0f32; filters]);
    let per_image = filters * plane;
    let mut gz = crate::buffer_pool::filled(if y.is_some() { per_image } else { 0 }, 0.0f32);
    for n in 0..d.n {
        let gy = &gy[n * per_image..(n + 1) * per_image];
        let gz = match y {
            None => gy,
            Some((act, y)) => {
                for ((z, &g), &y) in gz.iter_mut().zip(gy).zip(&y[n * per_image..]) {
                    *z = act.vjp_from_output(g, y);
                }
                &gz[..]
            }
        };
        if let Some(sums) = bias.as_mut() {
            for (sum, plane) in sums.iter_mut().zip(gz.chunks_exact(plane)) {
                *sum += lane_sum(plane);
            }
        }
        if let Some(input) = input.as_mut() {
            match add_into.as_deref_mut() {
                None => input.image(gz, n, &mut gx.spare_capacity_mut()[..len], &strides),
                Some(acc) => {
                    input.image(gz, 0, &mut gx.spare_capacity_mut()[..len], &image_strides);
                    // SAFETY: `InputGrad::image` wrote every element of the image (its docs).
                    unsafe { gx.set_len(len) };
                    for (a, &v) in acc[n * image_len..(n + 1) * image_len].iter_mut().zip(gx.iter()) {
                        *a += v;
                    }
                    gx.clear();
                }
            }
        }
        if let Some(weight_grad) = weight_grad.as_mut() {
            match (x, xf) {
                (_, Some(xf)) => weight_grad.image(Source::tensor(xf), n, gz),
                (ConvInput::Images(source), None) => {
                    source.image(n, &mut image);
                    let pixels = f32_slice(&image).expect("T is f32, as the weight is");
                    weight_grad.image(Source::contiguous(pixels, [d.c, d.h, d.w]), 0, gz);
                }
                (ConvInput::Tensor(_), None) => unreachable!("a tensor input is read as f32"),
            }
        }
    }
    let input = input.filter(|_| add_into.is_none()).map(|_| {
        // SAFETY: `InputGrad::image` wrote every element of every image of the dense
        // buffer of x's shape (its docs).
        unsafe { gx.set_len(len) };
        Tensor::from_dense(gx, x.shape().to_vec(), strides)
    });
    Some(Grads {
        input: match input {
            Some(t) => Some(back(t)?),
            None => None,
        },
        weight: match weight_grad {
            Some(wg) => Some(back(Tensor::from_vec_unchecked(weight.shape().to_vec(), wg.finish()))?),
            None => None,
        },
        bias: match bias {
            Some(b) => Some(*(Box::new(b) as Box<dyn Any>).downcast::<Vec<T>>().ok()?),
            None => None,
        },
    })
}

/// Which Winograd transforms may replace the direct kernels where they apply, from the
/// environment variable `TENSOR_WINOGRAD` (read once): `0` or `off` none, `2` F(2×2, 3×3)
/// and F(3×3, 2×2) only, anything else (or unset) also F(4×4, 3×3) where it has fewer
/// products ([`winograd4::cheaper`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WinogradMode {
    Off,
    F2,
    F4,
}

impl WinogradMode {
    pub(crate) fn selected() -> WinogradMode {
        static MODE: std::sync::OnceLock<WinogradMode> = std::sync::OnceLock::new();
        *MODE.get_or_init(|| match std::env::var("TENSOR_WINOGRAD").as_deref().map(str::trim) {
            Ok("0" | "off") => WinogradMode::Off,
            Ok("2") => WinogradMode::F2,
            _ => WinogradMode::F4,
        })
    }

    pub(crate) fn enabled(self) -> bool {
        self != WinogradMode::Off
    }
}
