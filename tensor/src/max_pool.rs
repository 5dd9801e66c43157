//! Max-pooling in one pass, without the window matrix of [`crate::pool_windows`]: each
//! output is the maximum of its window (ties to the first maximum in the window's row-major
//! order; a NaN wins), and the backward scatter to each window's winner, found again image
//! by image from the input rather than kept from the forward pass.

use crate::buffer::Buffer;
use crate::buffer_pool::filled;
use crate::cast::{f32_slice, f32_slice_mut};
use crate::element::Element;
use crate::error::Result;
use crate::im2col::expect_shape;
use crate::kernels::{KernelPath, Kernels, PoolPlane, PoolPlanes};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// What the backward pass of [`max_pool2d`] needs to find each output's winner: the input
/// (dense, sharing the caller's storage when it was dense) and the window. Why not the
/// winners themselves: an index per output costs 8 bytes, twice the input's own bytes for
/// 2×2 windows, while the input is almost always kept anyway (the activation before the
/// pool keeps its output for its own backward pass); the winners of one image are found
/// again in the backward pass, at the cost of one more forward pool.
#[derive(Clone)]
pub struct PoolArgmax<T> {
    input: Tensor<T>,
    window: Window2d,
    dims: WindowDims,
    output_shape: Vec<usize>,
    output_strides: Vec<usize>,
}

/// `PoolArgmax { input: [..], window: …, output: [..] }`.
impl<T> std::fmt::Debug for PoolArgmax<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolArgmax")
            .field("input", &self.input.shape())
            .field("window", &self.window)
            .field("output", &self.output_shape)
            .finish()
    }
}

/// Max-pooling of `x: [N, C, H, W]` in one pass, without the window matrix: each output is
/// the maximum of its window (ties to the first maximum in the window's row-major order;
/// a NaN wins). A channels-last `x` is read along its contiguous channel axis. The output
/// is contiguous N×C×H×W, so the im2col of a following convolution reads whole rows.
/// Returns the output and what [`max_pool2d_backward`] needs.
pub fn max_pool2d<T: Element>(x: &Tensor<T>, window: &Window2d) -> Result<(Tensor<T>, PoolArgmax<T>)> {
    let (y, x, dims) = pool("max_pool2d", x, window)?;
    let argmax = PoolArgmax {
        input: x,
        window: *window,
        dims,
        output_shape: y.shape().to_vec(),
        output_strides: y.strides().to_vec(),
    };
    Ok((y, argmax))
}

/// [`max_pool2d`] for inference: the same output, without keeping anything for a backward
/// pass.
pub fn max_pool2d_values<T: Element>(x: &Tensor<T>, window: &Window2d) -> Result<Tensor<T>> {
    Ok(pool("max_pool2d_values", x, window)?.0)
}

/// The pooled output, the dense input it read, and the geometry.
fn pool<T: Element>(op: &'static str, x: &Tensor<T>, window: &Window2d) -> Result<(Tensor<T>, Tensor<T>, WindowDims)> {
    let d = window.pool_dims(op, x.shape())?;
    let x = if x.is_dense() { x.clone() } else { x.to_contiguous() };
    let src = x.dense_slice().expect("dense");
    let out_shape = vec![d.n, d.c, d.oh, d.ow];
    let out_strides = crate::contiguous_strides(&out_shape);
    let mut values = filled(d.n * d.c * d.positions(), T::neg_infinity());
    pool_into(src, x.strides(), window, &d, &mut values, &mut [], &mut (Vec::new(), Vec::new()));
    let y = Tensor::from_dense(values, out_shape, out_strides);
    Ok((y, x, d))
}

/// The maxima of the windows `d` of the dense `src` (strides `s`) into `values` (N×C×oh×ow
/// order, filled with −∞), and the storage index of each winner into `winners` unless it is
/// empty (then filled with `usize::MAX`). `scratch` holds a channels-last input's running
/// maxima and winners, one per channel, so a caller pooling image by image allocates them once.
pub(crate) fn pool_into<T: Element>(
    src: &[T],
    s: &[usize],
    window: &Window2d,
    d: &WindowDims,
    values: &mut [T],
    winners: &mut [usize],
    scratch: &mut (Vec<T>, Vec<usize>),
) {
    let p = d.positions();
    let channels_last = s[1] == 1 && d.c > 1;
    let [kh, kw] = window.kernel;
    let better = |v: T, best: T| v > best || (v.is_nan() && !best.is_nan());
    if channels_last {
        let (best, arg) = scratch;
        best.resize(d.c, T::zero());
        arg.resize(d.c, 0);
        for n in 0..d.n {
            for oh in 0..d.oh {
                for ow in 0..d.ow {
                    best.fill(T::neg_infinity());
                    arg.fill(usize::MAX);
                    for i in 0..kh {
                        let Some(h) = window.source(0, oh, i, d.h) else { continue };
                        for j in 0..kw {
                            let Some(w) = window.source(1, ow, j, d.w) else { continue };
                            let base = n * s[0] + h * s[2] + w * s[3];
                            for (c, (b, a)) in best.iter_mut().zip(arg.iter_mut()).enumerate() {
                                let v = src[base + c];
                                if better(v, *b) || *a == usize::MAX {
                                    *b = v;
                                    *a = base + c;
                                }
                            }
                        }
                    }
                    let o = n * d.c * p + oh * d.ow + ow;
                    for c in 0..d.c {
                        values[o + c * p] = best[c];
                        if let Some(w) = winners.get_mut(o + c * p) {
                            *w = arg[c];
                        }
                    }
                }
            }
        }
    } else if simd_rows(src, s, window, d, values, winners) {
        // Done by the SIMD kernels.
    } else if window.kernel == [2, 2] && window.stride == [2, 2] && window.padding == [0, 0] && s[3] == 1 {
        max_pool_2x2(src, s, d, values, winners);
    } else {
        max_pool_windows(src, s, window, d, values, winners);
    }
}

/// f32 on a SIMD path: 2×2 and 3×3 windows of stride 2 without padding over rows with unit
/// stride, a channel plane per kernel call (`Kernels::max_pool_plane`), the same rule as
/// [`first_max`]. False (nothing written) for anything else.
fn simd_rows<T: Element>(
    src: &[T],
    s: &[usize],
    window: &Window2d,
    d: &WindowDims,
    values: &mut [T],
    winners: &mut [usize],
) -> bool {
    let k = window.kernel[0];
    if window.kernel != [k, k]
        || !(k == 2 || k == 3)
        || window.stride != [2, 2]
        || window.padding != [0, 0]
        || s[3] != 1
    {
        return false;
    }
    let Some(kernels) = Kernels::new(KernelPath::selected(), d.c) else { return false };
    let (Some(src), Some(values)) = (f32_slice(src), f32_slice_mut(values)) else { return false };
    // Without winners, the overlapping pool takes planes in pairs, whatever the channels.
    if k == 3
        && winners.is_empty()
        && let Some(wide) = Kernels::new(KernelPath::selected(), 16)
    {
        let planes = PoolPlanes {
            src,
            at: 0,
            strides: [s[0], s[1]],
            channels: d.c,
            planes: d.n * d.c,
            row_stride: s[2],
            rows: d.oh,
            count: d.ow,
            out: &mut *values,
        };
        if wide.max_pool_planes(planes) {
            return true;
        }
    }
    for_each_plane(src, 0, s, d, k, values, winners, |p| kernels.max_pool_plane(p))
}

/// Runs `f` on the [`PoolPlane`] of every image `n` and channel `c` of `d` in turn: its top-left
/// tap at `src[at + n·s[0] + c·s[1]]` (rows `s[2]` apart), its outputs (and winners, when
/// `winners` is not empty) at `(n·C + c)·oh·ow`; stops at the first `false`, returning
/// whether every plane ran.
#[allow(clippy::too_many_arguments)]
pub(crate) fn for_each_plane(
    src: &[f32],
    at: usize,
    s: &[usize],
    d: &WindowDims,
    kernel: usize,
    out: &mut [f32],
    winners: &mut [usize],
    mut f: impl FnMut(PoolPlane<'_>) -> bool,
) -> bool {
    let plane = d.positions();
    let keep = !winners.is_empty();
    for n in 0..d.n {
        for c in 0..d.c {
            let o = (n * d.c + c) * plane;
            let p = PoolPlane {
                src,
                at: at + n * s[0] + c * s[1],
                row_stride: s[2],
                kernel,
                rows: d.oh,
                count: d.ow,
                out: &mut out[o..o + plane],
                winners: if keep { winners.get_mut(o..o + plane) } else { None },
            };
            if !f(p) {
                return false;
            }
        }
    }
    true
}

/// LeNet's pooling (2×2 windows, stride 2, no padding) over rows with unit stride: each
/// window is [`first_max`] at fixed offsets (`0, 1, s_h, s_h + 1` from its corner), which
/// the compiler unrolls, without the per-output bounds of the general loop.
fn max_pool_2x2<T: Element>(src: &[T], s: &[usize], d: &WindowDims, values: &mut [T], winners: &mut [usize]) {
    let (ow, sh) = (d.ow, s[2]);
    let mut o = 0;
    for n in 0..d.n {
        for c in 0..d.c {
            let plane = n * s[0] + c * s[1];
            for oh in 0..d.oh {
                let top = plane + 2 * oh * sh;
                for (q, v) in values[o..o + ow].iter_mut().enumerate() {
                    let at = first_max(src, top + 2 * q, (0, 2), (0, 2), sh, 1);
                    *v = src[at];
                    if let Some(w) = winners.get_mut(o + q) {
                        *w = at;
                    }
                }
                o += ow;
            }
        }
    }
}

/// Any other window: each output's window, clipped to the input, scanned by [`first_max`];
/// windows of 3×3 or 2×2 that lie wholly inside the input (all of them without padding) go
/// through the same function with constant bounds, which the compiler unrolls.
fn max_pool_windows<T: Element>(
    src: &[T],
    s: &[usize],
    window: &Window2d,
    d: &WindowDims,
    values: &mut [T],
    winners: &mut [usize],
) {
    window.for_each_window(d, [s[0], s[1], s[2], s[3]], 0, |o, corner, rows, cols| {
        let at = first_max(src, corner, rows, cols, s[2], s[3]);
        values[o] = src[at];
        if let Some(w) = winners.get_mut(o) {
            *w = at;
        }
    });
}

/// The storage index of the first maximum of the taps `corner + i·rs + j·cs` for `i` in
/// `i0..i1`, `j` in `j0..j1`, in row-major order; a NaN wins (the first NaN). Branch-free:
/// the running maximum of the other values is a `max` instruction and the winner's index an
/// integer mask select (window maxima are unpredictable, and a branch per tap is mispredicted
/// about half the time: four times slower on 3×3/2 windows, see `bench/NOTES.md`).
#[inline(always)]
fn first_max<T: Element>(
    src: &[T],
    corner: usize,
    (i0, i1): (usize, usize),
    (j0, j1): (usize, usize),
    rs: usize,
    cs: usize,
) -> usize {
    let mut at = corner.wrapping_add(i0 * rs + j0 * cs);
    let mut best = src[at];
    let mut nan = best.is_nan();
    for i in i0..i1 {
        for j in j0..j1 {
            let a = corner.wrapping_add(i * rs + j * cs);
            let v = src[a];
            let take = !nan & ((v > best) | v.is_nan());
            nan |= v.is_nan();
            best = if v > best { v } else { best };
            let mask = usize::from(take).wrapping_neg();
            at = (a & mask) | (at & !mask);
        }
    }
    at
}

/// The VJP of [`max_pool2d`]: each output's gradient goes to the input element that won
/// its window; the result has the input's shape (and layout, when it was dense). The
/// winners are found again one image at a time (the forward pass's rule and kernels, so the
/// same winners), in two buffers of one image's outputs.
pub fn max_pool2d_backward<T: Element>(grad: &Tensor<T>, argmax: &PoolArgmax<T>) -> Result<Tensor<T>> {
    expect_shape("max_pool2d_backward", grad.shape(), &argmax.output_shape)?;
    let x = &argmax.input;
    let src = x.dense_slice().expect("dense");
    let d = argmax.dims;
    let image = WindowDims { n: 1, ..d };
    let per_out = d.c * d.positions();
    let block = x.strides()[0];
    let grad = match grad.strides() == argmax.output_strides.as_slice() && grad.dense_slice().is_some() {
        true => grad.clone(),
        false => grad.to_contiguous(),
    };
    let g = grad.dense_slice().expect("dense");
    let mut out = filled(x.numel(), T::zero());
    let mut values: Buffer<T> = filled(per_out, T::neg_infinity());
    let mut winners: Buffer<usize> = filled(per_out, usize::MAX);
    let mut scratch = (Vec::new(), Vec::new());
    for n in 0..d.n {
        let src = &src[n * block..];
        values.fill(T::neg_infinity());
        winners.fill(usize::MAX);
        pool_into(src, x.strides(), &argmax.window, &image, &mut values, &mut winners, &mut scratch);
        let out = &mut out[n * block..];
        for (&w, &g) in winners.iter().zip(&g[n * per_out..(n + 1) * per_out]) {
            out[w] += g;
        }
    }
    Ok(Tensor::from_dense(out, x.shape().to_vec(), x.strides().to_vec()))
}
