//! im2col and its adjoint col2im, in the derivation's layout: one row per output position
//! (rows ordered n, oh, ow), one column per kernel tap (columns ordered c, i, j), so that a
//! (C·kh·kw)×C_out weight matrix turns the rows into the convolution:
//! `z[(n,oh,ow), f] = Σ_(c,i,j) x[n, c, oh·sh + i − ph, ow·sw + j − pw] · W[(c,i,j), f]`.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// The im2col matrix of an N×C×H×W input: `[N·oh·ow, C·kh·kw]`, zeros where a window
/// reaches into the padding.
pub fn im2col<T: Element>(x: &Tensor<T>, window: &Window2d) -> Result<Tensor<T>> {
    let d = window.dims("im2col", x.shape())?;
    let mut out = Tensor::zeros(&im2col_shape(&d, window))?;
    fill_im2col(x, window, &d, out.as_mut_slice());
    Ok(out)
}

/// [`im2col`] into an existing `[N·oh·ow, C·kh·kw]` tensor, reusing its buffer.
pub fn im2col_into<T: Element>(x: &Tensor<T>, window: &Window2d, out: &mut Tensor<T>) -> Result<()> {
    let d = window.dims("im2col_into", x.shape())?;
    expect_shape("im2col_into", out.shape(), &im2col_shape(&d, window))?;
    fill_im2col(x, window, &d, out.as_mut_slice());
    Ok(())
}

/// The adjoint of [`im2col`]: scatters each entry of a `[N·oh·ow, C·kh·kw]` matrix back to
/// the input element it was copied from, adding where windows overlap (entries that came
/// from the padding are dropped). `input_shape` is the N×C×H×W shape of the im2col input.
pub fn col2im<T: Element>(cols: &Tensor<T>, input_shape: &[usize], window: &Window2d) -> Result<Tensor<T>> {
    let d = window.dims("col2im", input_shape)?;
    expect_shape("col2im", cols.shape(), &im2col_shape(&d, window))?;
    let mut out = Tensor::zeros(input_shape)?;
    add_col2im(cols, window, &d, out.as_mut_slice());
    Ok(out)
}

/// [`col2im`] into an existing N×C×H×W tensor, overwriting it, reusing its buffer.
pub fn col2im_into<T: Element>(cols: &Tensor<T>, window: &Window2d, out: &mut Tensor<T>) -> Result<()> {
    let d = window.dims("col2im_into", out.shape())?;
    expect_shape("col2im_into", cols.shape(), &im2col_shape(&d, window))?;
    let buf = out.as_mut_slice();
    buf.fill(T::zero());
    add_col2im(cols, window, &d, buf);
    Ok(())
}

fn im2col_shape(d: &WindowDims, window: &Window2d) -> [usize; 2] {
    [d.n * d.positions(), d.c * window.kernel_area()]
}

pub(crate) fn expect_shape(op: &'static str, got: &[usize], want: &[usize]) -> Result<()> {
    if got != want {
        return Err(TensorError::ShapeMismatch { op, lhs: got.to_vec(), rhs: want.to_vec() });
    }
    Ok(())
}

fn fill_im2col<T: Element>(x: &Tensor<T>, g: &Window2d, d: &WindowDims, out: &mut [T]) {
    let [kh, kw] = g.kernel;
    let (src, s) = (x.storage(), x.strides());
    let mut r = 0;
    for n in 0..d.n {
        for oh in 0..d.oh {
            for ow in 0..d.ow {
                for c in 0..d.c {
                    let base = x.offset() + n * s[0] + c * s[1];
                    for i in 0..kh {
                        let row = g.source(0, oh, i, d.h);
                        for j in 0..kw {
                            out[r] = match (row, g.source(1, ow, j, d.w)) {
                                (Some(h), Some(w)) => src[base + h * s[2] + w * s[3]],
                                _ => T::zero(),
                            };
                            r += 1;
                        }
                    }
                }
            }
        }
    }
}

fn add_col2im<T: Element>(cols: &Tensor<T>, g: &Window2d, d: &WindowDims, out: &mut [T]) {
    let [kh, kw] = g.kernel;
    let (src, cs) = (cols.storage(), cols.strides());
    let mut row = cols.offset();
    for n in 0..d.n {
        for oh in 0..d.oh {
            for ow in 0..d.ow {
                let mut col = row;
                for c in 0..d.c {
                    let base = (n * d.c + c) * d.h * d.w;
                    for i in 0..kh {
                        let h = g.source(0, oh, i, d.h);
                        for j in 0..kw {
                            if let (Some(h), Some(w)) = (h, g.source(1, ow, j, d.w)) {
                                out[base + h * d.w + w] += src[col];
                            }
                            col += cs[1];
                        }
                    }
                }
                row += cs[0];
            }
        }
    }
}
