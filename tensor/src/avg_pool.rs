//! Average pooling over N×C×H×W input with PyTorch's `AvgPool2d` defaults: floor mode
//! (windows that would run past the padded input are dropped) and `count_include_pad`
//! (zeros in the padding count in the divisor). In floor mode every window lies inside the
//! padded input, so the divisor is always the kernel area `kh·kw`.
//!
//! The pooling is linear, `vec(y) = (1/(kh·kw))·S·vec(x)` with `S` the 0/1 sum over each
//! window's in-bounds taps, so its adjoint is `vec(∇x) = (1/(kh·kw))·Sᵀ·vec(∇y)`: each
//! output's gradient, divided by the kernel area, is added to every input its window read.

use crate::buffer_pool::filled;
use crate::cast::{f32_slice, f32_slice_mut};
use crate::element::Element;
use crate::error::Result;
use crate::im2col::expect_shape;
use crate::kernels::{KernelPath, Kernels};
use crate::max_pool::for_each_plane;
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Average pooling of `x: [N, C, H, W]` to a contiguous `[N, C, oh, ow]`: each output is
/// the sum of its window's in-bounds taps divided by `kh·kw` (padding counts as zeros).
/// The window's padding must be at most half its kernel, as PyTorch requires.
pub fn avg_pool2d<T: Element>(x: &Tensor<T>, window: &Window2d) -> Result<Tensor<T>> {
    let d = window.pool_dims("avg_pool2d", x.shape())?;
    let mut out = filled(d.n * d.c * d.positions(), T::zero());
    avg_pool_into(x.storage(), x.offset(), x.strides(), window, &d, &mut out);
    Ok(Tensor::from_vec_unchecked(vec![d.n, d.c, d.oh, d.ow], out))
}

/// The averages of the windows `d` of the input at `src[at]` (strides `s`) into `out`
/// (N×C×oh×ow order, `n·c·oh·ow` elements).
pub(crate) fn avg_pool_into<T: Element>(
    src: &[T],
    at: usize,
    s: &[usize],
    window: &Window2d,
    d: &WindowDims,
    out: &mut [T],
) {
    let inv_area = T::one() / T::from_usize(window.kernel_area()).unwrap_or_else(T::nan);
    if out.is_empty() {
        return;
    }
    if halving(window) && s[3] == 1 {
        if simd_halving(src, at, s, d, inv_area, out) {
            return;
        }
        // Rows in pairs, each output from two adjacent pixels of each: the sum in the same
        // order as `window_sum`'s, without a window's bounds or a call per output; pairs of
        // columns as `chunks_exact` zipped, so that the loop has no bounds checks and the
        // compiler vectorises it.
        let mut rows = out.chunks_exact_mut(d.ow.max(1));
        for n in 0..d.n {
            for c in 0..d.c {
                for oh in 0..d.oh {
                    let top = at + n * s[0] + c * s[1] + 2 * oh * s[2];
                    let (r0, r1) = (&src[top..top + 2 * d.ow], &src[top + s[2]..top + s[2] + 2 * d.ow]);
                    let row = rows.next().expect("n·c·oh rows");
                    for (v, (a, b)) in row.iter_mut().zip(r0.chunks_exact(2).zip(r1.chunks_exact(2))) {
                        *v = (T::zero() + a[0] + a[1] + b[0] + b[1]) * inv_area;
                    }
                }
            }
        }
        return;
    }
    window.for_each_window(d, [s[0], s[1], s[2], s[3]], at, |o, corner, rows, cols| {
        out[o] = window_sum(src, corner, rows, cols, s[2], s[3]) * inv_area;
    });
}

/// f32 on a SIMD path: the halving pool a channel plane per kernel call
/// (`Kernels::avg_pool_plane`), the same sums in the same order as the loop; false
/// (nothing computed) for other element types and paths.
fn simd_halving<T: Element>(src: &[T], at: usize, s: &[usize], d: &WindowDims, inv_area: T, out: &mut [T]) -> bool {
    let Some(kernels) = Kernels::new(KernelPath::selected(), d.c) else { return false };
    let (Some(src), Some(values)) = (f32_slice(src), f32_slice_mut(out)) else { return false };
    let scale = inv_area.to_f64_exact() as f32;
    for_each_plane(src, at, s, d, 2, values, &mut [], |p| kernels.avg_pool_plane(p, scale))
}

/// The 2×2 window with stride 2 and no padding, which halves each side (the common one).
fn halving(window: &Window2d) -> bool {
    window.kernel == [2, 2] && window.stride == [2, 2] && window.padding == [0, 0]
}

/// The sum of the taps `corner + i·rs + j·cs`, `i` in `i0..i1`, `j` in `j0..j1`, in
/// row-major order; inlined, so that constant bounds (2×2 and 3×3 windows wholly inside the
/// input) unroll.
#[inline(always)]
fn window_sum<T: Element>(
    src: &[T],
    corner: usize,
    (i0, i1): (usize, usize),
    (j0, j1): (usize, usize),
    rs: usize,
    cs: usize,
) -> T {
    let mut sum = T::zero();
    for i in i0..i1 {
        for j in j0..j1 {
            sum += src[corner.wrapping_add(i * rs + j * cs)];
        }
    }
    sum
}

/// Adds `share` to the taps `corner + i·rs + j` of a contiguous plane (the adjoint of
/// [`window_sum`] with unit column stride).
#[inline(always)]
fn window_add<T: Element>(
    buf: &mut [T],
    corner: usize,
    (i0, i1): (usize, usize),
    (j0, j1): (usize, usize),
    rs: usize,
    share: T,
) {
    for i in i0..i1 {
        for j in j0..j1 {
            buf[corner.wrapping_add(i * rs + j)] += share;
        }
    }
}

/// The VJP (adjoint) of [`avg_pool2d`]: `∇x = (1/(kh·kw))·Sᵀ·∇y`, each output's gradient
/// divided by the kernel area and added to every in-bounds input of its window (taps in the
/// padding are dropped). `grad` has the output's shape; the result is a contiguous tensor
/// of `input_shape`.
pub fn avg_pool2d_backward<T: Element>(
    grad: &Tensor<T>,
    input_shape: &[usize],
    window: &Window2d,
) -> Result<Tensor<T>> {
    let d = window.pool_dims("avg_pool2d_backward", input_shape)?;
    expect_shape("avg_pool2d_backward", grad.shape(), &[d.n, d.c, d.oh, d.ow])?;
    let inv_area = T::one() / T::from_usize(window.kernel_area()).unwrap_or_else(T::nan);
    let mut out = Tensor::zeros(input_shape)?;
    let buf = out.as_mut_slice();
    // The gradient in n, c, oh, ow order, without a copy when it is contiguous already.
    let grad = grad.to_contiguous();
    let g = grad.as_slice().expect("contiguous");
    if halving(window) && d.positions() > 0 {
        // Each output's share to the two pixels it read in each of its two rows.
        for (p, plane) in g.chunks_exact(d.positions()).enumerate() {
            for (oh, row) in plane.chunks_exact(d.ow).enumerate() {
                for i in 0..2 {
                    let at = (p * d.h + 2 * oh + i) * d.w;
                    for (pair, &gv) in buf[at..at + 2 * d.ow].chunks_exact_mut(2).zip(row) {
                        let share = gv * inv_area;
                        pair[0] += share;
                        pair[1] += share;
                    }
                }
            }
        }
        return Ok(out);
    }
    let dense = [d.c * d.h * d.w, d.h * d.w, d.w, 1];
    window.for_each_window(&d, dense, 0, |o, corner, rows, cols| {
        window_add(buf, corner, rows, cols, d.w, g[o] * inv_area);
    });
    Ok(out)
}
