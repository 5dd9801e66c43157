//! Pooling windows in the derivation's layout: an N×C×H×W input gathered into a
//! `[N·C·oh·ow, kh·kw]` matrix (rows ordered n, c, oh, ow, so a row-wise reduction is already
//! the N×C×oh×ow output in order), the row-wise max with its argmax, and the scatters back.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::im2col::expect_shape;
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Gathers every pooling window into one row of a `[N·C·oh·ow, kh·kw]` matrix; taps that
/// fall in the padding hold −∞, so they never win a max.
pub fn pool_windows<T: Element>(x: &Tensor<T>, window: &Window2d) -> Result<Tensor<T>> {
    let d = window.pool_dims("pool_windows", x.shape())?;
    let [kh, kw] = window.kernel;
    let (src, s) = (x.storage(), x.strides());
    let mut out = Vec::with_capacity(d.n * d.c * d.positions() * kh * kw);
    for n in 0..d.n {
        for c in 0..d.c {
            let base = x.offset() + n * s[0] + c * s[1];
            for oh in 0..d.oh {
                for ow in 0..d.ow {
                    for i in 0..kh {
                        let h = window.source(0, oh, i, d.h);
                        for j in 0..kw {
                            out.push(match (h, window.source(1, ow, j, d.w)) {
                                (Some(h), Some(w)) => src[base + h * s[2] + w * s[3]],
                                _ => T::neg_infinity(),
                            });
                        }
                    }
                }
            }
        }
    }
    Tensor::from_vec(&[d.n * d.c * d.positions(), kh * kw], out)
}

/// The adjoint of [`pool_windows`]: adds each entry of a `[N·C·oh·ow, kh·kw]` matrix to the
/// input element its tap read (taps in the padding are dropped), giving an N×C×H×W tensor.
pub fn pool_windows_adjoint<T: Element>(
    rows: &Tensor<T>,
    input_shape: &[usize],
    window: &Window2d,
) -> Result<Tensor<T>> {
    let d = window.pool_dims("pool_windows_adjoint", input_shape)?;
    let area = window.kernel_area();
    expect_shape("pool_windows_adjoint", rows.shape(), &[d.n * d.c * d.positions(), area])?;
    let mut out = Tensor::zeros(input_shape)?;
    let buf = out.as_mut_slice();
    let (src, rs) = (rows.storage(), rows.strides());
    for_each_tap(window, &d, |r, tap, target| {
        if let Some(t) = target {
            buf[t] += src[rows.offset() + r * rs[0] + tap * rs[1]];
        }
    });
    Ok(out)
}

/// The maximum of each row of a matrix and the column where it sits: ties go to the first
/// maximum, and a NaN counts as the maximum (so it propagates). Errors on a matrix with no
/// columns.
pub fn max_argmax_rows<T: Element>(rows: &Tensor<T>) -> Result<(Tensor<T>, Tensor<usize>)> {
    if rows.rank() != 2 {
        return Err(rows.rank_error("max_argmax_rows", 2));
    }
    if rows.shape()[1] == 0 {
        return Err(TensorError::EmptyReduction { op: "max_argmax_rows", axis: 1, shape: rows.shape().to_vec() });
    }
    let arg = rows.argmax_axis(1, false)?;
    let (src, s) = (rows.storage(), rows.strides());
    let values = arg.iter().enumerate().map(|(r, k)| src[rows.offset() + r * s[0] + k * s[1]]).collect();
    Ok((Tensor::from_vec(arg.shape(), values)?, arg))
}

/// The max-pool VJP in one pass: the gradient of each output (`grad`, any shape with
/// N·C·oh·ow elements in n, c, oh, ow order) goes to the input element that won its window
/// (`argmax`, the tap index within the window); everything else gets 0. Equal to
/// `pool_windows_adjoint(one_hot(argmax) ⊙ grad)` without the `[rows, kh·kw]` temporary.
pub fn pool_max_backward<T: Element>(
    grad: &Tensor<T>,
    argmax: &Tensor<usize>,
    input_shape: &[usize],
    window: &Window2d,
) -> Result<Tensor<T>> {
    let d = window.pool_dims("pool_max_backward", input_shape)?;
    let rows = d.n * d.c * d.positions();
    expect_shape("pool_max_backward", &[grad.numel()], &[rows])?;
    expect_shape("pool_max_backward", &[argmax.numel()], &[rows])?;
    let area = window.kernel_area();
    let winners = argmax.to_vec();
    if let Some(&bad) = winners.iter().find(|&&k| k >= area) {
        return Err(TensorError::IndexOutOfRange {
            op: "pool_max_backward",
            axis: 1,
            index: bad,
            len: 1,
            shape: vec![rows, area],
        });
    }
    let g = grad.to_vec();
    let mut out = Tensor::zeros(input_shape)?;
    let buf = out.as_mut_slice();
    for_each_tap(window, &d, |r, tap, target| {
        if tap == winners[r]
            && let Some(t) = target
        {
            buf[t] += g[r];
        }
    });
    Ok(out)
}

/// Calls `f(row, tap, target)` for every tap of every window, where `target` is the
/// contiguous N×C×H×W index the tap reads, or None in the padding.
fn for_each_tap(g: &Window2d, d: &WindowDims, mut f: impl FnMut(usize, usize, Option<usize>)) {
    let [kh, kw] = g.kernel;
    let mut r = 0;
    for plane in 0..d.n * d.c {
        let base = plane * d.h * d.w;
        for oh in 0..d.oh {
            for ow in 0..d.ow {
                for i in 0..kh {
                    let h = g.source(0, oh, i, d.h);
                    for j in 0..kw {
                        let target = match (h, g.source(1, ow, j, d.w)) {
                            (Some(h), Some(w)) => Some(base + h * d.w + w),
                            _ => None,
                        };
                        f(r, i * kw + j, target);
                    }
                }
                r += 1;
            }
        }
    }
}

/// Where each output of [`max_pool2d`] took its maximum from, for the backward pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolArgmax {
    /// For each output element in the output's storage order, the index of the winning
    /// input element within the input's dense storage block.
    winners: Vec<usize>,
    input_shape: Vec<usize>,
    /// The input's layout the winners index (dense).
    input_strides: Vec<usize>,
    output_shape: Vec<usize>,
    output_strides: Vec<usize>,
}

/// Max-pooling of `x: [N, C, H, W]` in one pass, without the window matrix: each output is
/// the maximum of its window (ties to the first maximum in the window's row-major order;
/// a NaN wins). A channels-last `x` is read along its contiguous channel axis. The output
/// is contiguous N×C×H×W, so the im2col of a following convolution reads whole rows.
/// Returns the output and the winners for [`max_pool2d_backward`].
pub fn max_pool2d<T: Element>(x: &Tensor<T>, window: &Window2d) -> Result<(Tensor<T>, PoolArgmax)> {
    let d = window.pool_dims("max_pool2d", x.shape())?;
    let channels_last = x.is_dense() && x.strides()[1] == 1 && d.c > 1;
    let x = if x.is_dense() { x.clone() } else { x.to_contiguous() };
    let src = x.dense_slice().expect("dense");
    let s = x.strides();
    let out_shape = vec![d.n, d.c, d.oh, d.ow];
    let out_strides = crate::contiguous_strides(&out_shape);
    let p = d.positions();
    let total = d.n * d.c * d.positions();
    let mut values = vec![T::neg_infinity(); total];
    let mut winners = vec![usize::MAX; total];
    let [kh, kw] = window.kernel;
    let better = |v: T, best: T| v > best || (v.is_nan() && !best.is_nan());
    if channels_last {
        let (mut best, mut arg) = (vec![T::zero(); d.c], vec![0usize; d.c]);
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
                        winners[o + c * p] = arg[c];
                    }
                }
            }
        }
    } else if window.kernel == [2, 2] && window.stride == [2, 2] && window.padding == [0, 0] && s[3] == 1 {
        max_pool_2x2(src, s, &d, &mut values, &mut winners);
    } else {
        max_pool_windows(src, s, window, &d, &mut values, &mut winners);
    }
    let y = Tensor::from_parts(std::sync::Arc::new(values), out_shape.clone(), out_strides.clone(), 0);
    let argmax = PoolArgmax {
        winners,
        input_shape: x.shape().to_vec(),
        input_strides: x.strides().to_vec(),
        output_shape: out_shape,
        output_strides: out_strides,
    };
    Ok((y, argmax))
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
                let vals = &mut values[o..o + ow];
                let wins = &mut winners[o..o + ow];
                for (q, (v, w)) in vals.iter_mut().zip(wins.iter_mut()).enumerate() {
                    let at = first_max(src, top + 2 * q, (0, 2), (0, 2), sh, 1);
                    *v = src[at];
                    *w = at;
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
    let (sh, sw, ph, pw) = (window.stride[0], window.stride[1], window.padding[0], window.padding[1]);
    let rows: Vec<(usize, usize)> = (0..d.oh).map(|o| window.taps_inside(0, o, d.h)).collect();
    let cols: Vec<(usize, usize)> = (0..d.ow).map(|o| window.taps_inside(1, o, d.w)).collect();
    let k = window.kernel;
    let unrolled = k == [3, 3] || k == [2, 2];
    let mut o = 0;
    for n in 0..d.n {
        for c in 0..d.c {
            let plane = n * s[0] + c * s[1];
            for (oh, &(i0, i1)) in rows.iter().enumerate() {
                // The window's top-left corner, which may lie in the padding (taps before
                // i0, j0 are never read).
                let top = (plane + (oh * sh + i0) * s[2]).wrapping_sub(i0 * s[2] + ph * s[2]);
                let full_rows = unrolled && i1 - i0 == k[0];
                for (ow, &(j0, j1)) in cols.iter().enumerate() {
                    let corner = (top + (ow * sw + j0) * s[3]).wrapping_sub(j0 * s[3] + pw * s[3]);
                    let at = match (full_rows && j1 - j0 == k[1], k[0]) {
                        (true, 3) => first_max(src, corner, (0, 3), (0, 3), s[2], s[3]),
                        (true, _) => first_max(src, corner, (0, 2), (0, 2), s[2], s[3]),
                        (false, _) => first_max(src, corner, (i0, i1), (j0, j1), s[2], s[3]),
                    };
                    values[o] = src[at];
                    winners[o] = at;
                    o += 1;
                }
            }
        }
    }
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
/// its window; the result has the input's shape (and layout, when it was dense).
pub fn max_pool2d_backward<T: Element>(grad: &Tensor<T>, argmax: &PoolArgmax) -> Result<Tensor<T>> {
    expect_shape("max_pool2d_backward", grad.shape(), &argmax.output_shape)?;
    let mut out = vec![T::zero(); argmax.input_shape.iter().product()];
    let mut scatter = |o: usize, g: T| out[argmax.winners[o]] += g;
    if grad.strides() == argmax.output_strides.as_slice()
        && let Some(g) = grad.dense_slice()
    {
        for (o, &v) in g.iter().enumerate() {
            scatter(o, v);
        }
    } else {
        // Visit the gradient in logical order and find each element's output slot.
        let data = grad.storage();
        crate::layout::for_each_offset2(
            grad.shape(),
            grad.strides(),
            grad.offset(),
            &argmax.output_strides,
            0,
            |src, slot| scatter(slot, data[src]),
        );
    }
    Ok(Tensor::from_parts(std::sync::Arc::new(out), argmax.input_shape.clone(), argmax.input_strides.clone(), 0))
}
