//! The im2col matrix of a block of images stored column by column (`out[k·rows + r]`, rows
//! n, oh, ow; columns c, i, j), and its adjoint. Along a column, consecutive output
//! positions read consecutive input pixels (every `sw`-th with a column stride `sw`), so
//! each (n, oh) run of a column is one copy from one input row.
//!
//! Padded inputs, strided convolutions, and inputs whose rows are not contiguous
//! (channels-last, broadcast, sliced) are read from a zero-padded, phase-split copy
//! ([`crate::planes`]): then every run is one contiguous copy without range, padding or
//! stride logic, at the price of one copy of the input, a ninth of the im2col matrix for a
//! 3×3 kernel. (Runs are short, 13 pixels for a 3×3 convolution on 13×13 and 7 for a
//! stride-2 one on 14×14: per-run logic is what costs most.)

use crate::element::Element;
use crate::planes::{Planes, Workspace, with_adjoint_planes, with_planes};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// The im2col matrix of images `images` of `x`, read through `x`'s strides, into `out`
/// stored column by column.
pub(crate) fn im2col_columns<T: Element>(
    x: &Tensor<T>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut [T],
    ws: &mut Workspace<T>,
) {
    with_planes(x, g, d, images, ws, |planes, images, _| fill_columns(planes, g, d, images, out));
}

/// The im2col matrix of images `images` of `x` into `out` stored row by row (one output
/// position's taps side by side, "patch-contiguous"): the layout in which matrixmultiply
/// packs the `∇W = ∇zᵀ·a` product's right operand by plain copies (column by column, it
/// gathers element by element: 28 against 75 GFLOP/s for a 3×3 32→32 layer, see
/// `bench/NOTES.md`). With unit column stride, each kernel row of a window is one run of
/// `kw` pixels, copied as a fixed-size array for the common widths; otherwise each row is
/// gathered through a table of tap offsets from the window's corner.
pub(crate) fn im2col_rows<T: Element>(
    x: &Tensor<T>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut [T],
    ws: &mut Workspace<T>,
) {
    if d.c == 0 {
        return;
    }
    let out = &mut out[..images.len() * d.positions() * d.c * g.kernel_area()];
    with_planes(x, g, d, images, ws, |planes, images, offsets| match g.kernel[1] {
        1 => kernel_rows::<T, 1>(planes, g, d, images, out),
        3 => kernel_rows::<T, 3>(planes, g, d, images, out),
        5 => kernel_rows::<T, 5>(planes, g, d, images, out),
        _ => gathered_rows(planes, g, d, images, out, offsets),
    });
}

/// [`im2col_rows`] for kernel width `KW`: for each image, output row and kernel row
/// `(c, i)`, the `KW` pixels of each window are read at fixed offsets from the window's
/// column (consecutive with unit stride; in `KW` phases' runs otherwise).
fn kernel_rows<T: Element, const KW: usize>(
    planes: &Planes<&[T]>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut [T],
) {
    let kh = g.kernel[0];
    let [s0, s1, s2] = planes.strides;
    let taps = d.c * kh * KW;
    let columns: [usize; KW] = std::array::from_fn(|j| planes.column(j, g.stride[1]));
    let span = columns.iter().max().map_or(0, |&c| c + d.ow);
    let mut blocks = out.chunks_exact_mut((d.ow * taps).max(1));
    for n in images {
        for oh in 0..d.oh {
            let block = blocks.next().expect("one block of rows per output row");
            for c in 0..d.c {
                for i in 0..kh {
                    let from = planes.at + n * s0 + c * s1 + (oh * g.stride[0] + i) * s2;
                    let input = &planes.data[from..from + span];
                    let k0 = (c * kh + i) * KW;
                    for (q, row) in block.chunks_exact_mut(taps).enumerate() {
                        let dst: &mut [T; KW] = (&mut row[k0..k0 + KW]).try_into().expect("KW taps");
                        if g.stride[1] == 1 {
                            *dst = input[q..q + KW].try_into().expect("KW pixels");
                        } else {
                            for (v, &column) in dst.iter_mut().zip(&columns) {
                                *v = input[column + q];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// [`im2col_rows`] for any stride and kernel: each row gathered through `offsets`.
fn gathered_rows<T: Element>(
    planes: &Planes<&[T]>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut [T],
    offsets: &mut Vec<usize>,
) {
    let [kh, kw] = g.kernel;
    let [s0, s1, s2] = planes.strides;
    let taps = d.c * kh * kw;
    offsets.clear();
    offsets.extend((0..taps).map(|k| (k / (kh * kw)) * s1 + (k / kw % kh) * s2 + planes.column(k % kw, g.stride[1])));
    let mut rows = out.chunks_exact_mut(taps.max(1));
    for n in images {
        for oh in 0..d.oh {
            for ow in 0..d.ow {
                let corner = planes.at + n * s0 + oh * g.stride[0] * s2 + ow;
                let row = rows.next().expect("one row per output position");
                for (v, &k) in row.iter_mut().zip(offsets.iter()) {
                    *v = planes.data[corner + k];
                }
            }
        }
    }
}

/// The adjoint of [`im2col_columns`]: adds each entry of the column-major block `cols`
/// (images `images`) to the element of `dst` it came from: the dense storage of a tensor
/// shaped like the convolution input, with strides `s`.
pub(crate) fn add_col2im_columns<T: Element>(
    cols: &[T],
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    dst: (&mut [T], &[usize]),
    ws: &mut Workspace<T>,
) {
    with_adjoint_planes(dst, g, d, images, ws, |planes, images| add_columns(cols, g, d, images, planes));
}

/// The column-major im2col block of images `images` of `planes` (padded already).
fn fill_columns<T: Element>(
    planes: &Planes<&[T]>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut [T],
) {
    let [kh, kw] = g.kernel;
    let [s0, s1, s2] = planes.strides;
    let (sw, row_step) = (g.stride[1], g.stride[0] * s2);
    let (p, rows) = (d.positions(), images.len() * d.positions());
    let span = (d.oh - 1) * row_step + d.ow;
    for (k, column) in out[..rows * d.c * kh * kw].chunks_exact_mut(rows).enumerate() {
        let (c, i, j) = (k / (kh * kw), k / kw % kh, k % kw);
        for (n, image) in images.clone().zip(column.chunks_exact_mut(p)) {
            let base = planes.at + n * s0 + c * s1 + i * s2 + planes.column(j, sw);
            let input = &planes.data[base..base + span];
            for (oh, run) in image.chunks_exact_mut(d.ow).enumerate() {
                copy_run(run, &input[oh * row_step..oh * row_step + d.ow]);
            }
        }
    }
}

/// Adds the column-major block `cols` of images `images` into `planes` (padded).
fn add_columns<T: Element>(
    cols: &[T],
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    planes: &mut Planes<&mut [T]>,
) {
    let [kh, kw] = g.kernel;
    let [s0, s1, s2] = planes.strides;
    let (sw, row_step) = (g.stride[1], g.stride[0] * s2);
    let (p, rows) = (d.positions(), images.len() * d.positions());
    let span = (d.oh - 1) * row_step + d.ow;
    let data = &mut *planes.data;
    for (k, column) in cols[..rows * d.c * kh * kw].chunks_exact(rows).enumerate() {
        let (c, i, j) = (k / (kh * kw), k / kw % kh, k % kw);
        for (n, image) in images.clone().zip(column.chunks_exact(p)) {
            let base = planes.at + n * s0 + c * s1 + i * s2 + (j % sw) * planes.phase + j / sw;
            let input = &mut data[base..base + span];
            for (oh, run) in image.chunks_exact(d.ow).enumerate() {
                for (x, &v) in input[oh * row_step..oh * row_step + d.ow].iter_mut().zip(run) {
                    *x += v;
                }
            }
        }
    }
}

/// `dst = src` for the short runs of im2col (an output row: 28 elements in LeNet's C1, 10
/// in C3, 7 in a stride-2 convolution on 14×14): whole 8-element chunks and one
/// overlapping last chunk (4-element ones from 4 to 7), inlined, where `copy_from_slice`
/// would call `memcpy` for every run.
#[inline(always)]
pub(crate) fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    let len = dst.len();
    if len < 4 {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s;
        }
        return;
    }
    if len < 8 {
        copy_array::<T, 4>(&mut dst[..4], &src[..4]);
        copy_array::<T, 4>(&mut dst[len - 4..], &src[len - 4..len]);
        return;
    }
    for (d, s) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
        copy_array::<T, 8>(d, s);
    }
    copy_array::<T, 8>(&mut dst[len - 8..], &src[len - 8..len]);
}

#[inline(always)]
fn copy_array<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
    let d: &mut [T; N] = dst.try_into().expect("N elements");
    *d = src.try_into().expect("N elements");
}
