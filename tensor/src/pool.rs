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
    let mut out = crate::buffer_pool::take(d.n * d.c * d.positions() * kh * kw);
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
    Ok(Tensor::from_vec_unchecked(vec![d.n * d.c * d.positions(), kh * kw], out))
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
