//! The im2col matrix of a block of images stored column by column (`out[k·rows + r]`, rows
//! n, oh, ow; columns c, i, j), and its adjoint. Along a column, consecutive output
//! positions read consecutive input pixels (every `sw`-th with a column stride `sw`), so
//! each (n, oh) run of a column is one copy from one input row.
//!
//! Padded inputs, strided convolutions, and inputs whose rows are not contiguous
//! (channels-last, broadcast, sliced) are first copied, zero-padded, into a dense scratch
//! block whose rows are split into `sw` phases (padded columns `r, r + sw, r + 2·sw, …`
//! side by side, "space to depth" along the width): then every run is one contiguous copy
//! without range, padding or stride logic, at the price of one copy of the input, a ninth
//! of the im2col matrix for a 3×3 kernel. (Runs are short, 13 pixels for a 3×3 convolution
//! on 13×13 and 7 for a stride-2 one on 14×14: per-run logic is what costs most.) The
//! adjoint adds into a zeroed scratch block the same way, then adds its interior to the
//! gradient.

use crate::element::Element;
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// A block of N×C×H×W images whose rows are contiguous: a buffer, the index of image 0,
/// the strides of images, channels and rows, and the length of one phase of a row (padded
/// column `x` sits at `(x mod sw)·phase + x div sw`; with `sw = 1`, at `x`).
struct Planes<B> {
    data: B,
    at: usize,
    strides: [usize; 3],
    phase: usize,
}

impl<B> Planes<B> {
    /// A dense scratch block of `count` padded images, rows split into `sw` phases.
    fn scratch(data: B, g: &Window2d, d: &WindowDims) -> Self {
        let (hp, row) = scratch_size(g, d);
        Planes { data, at: 0, strides: [d.c * hp * row, hp * row, row], phase: row / g.stride[1] }
    }

    /// Where padded column `x` of a row sits in it.
    fn column(&self, x: usize, sw: usize) -> usize {
        (x % sw) * self.phase + x / sw
    }
}

/// Buffers one convolution call reuses across its blocks (allocated by the first block,
/// which is the largest): the padded copy of the images, whose padding stays zero because
/// each block writes only the interior; the padded block the adjoint adds into; where each
/// phase of a row goes ([`phase_runs`]); the tap offsets of the row-major block.
pub(crate) struct Workspace<T> {
    padded: Vec<T>,
    adjoint: Vec<T>,
    runs: Vec<[usize; 3]>,
    offsets: Vec<usize>,
}

impl<T> Default for Workspace<T> {
    fn default() -> Self {
        Workspace { padded: Vec::new(), adjoint: Vec::new(), runs: Vec::new(), offsets: Vec::new() }
    }
}

/// `buffer[..len]` zeroed when it is first grown to `len`, else as the last block left it.
fn grown<T: Element>(buffer: &mut Vec<T>, len: usize) -> &mut [T] {
    if buffer.len() < len {
        buffer.clear();
        buffer.resize(len, T::zero());
    }
    &mut buffer[..len]
}

/// Whether images can be read in place: no padding, unit column stride, contiguous rows.
fn in_place(g: &Window2d, d: &WindowDims, s: &[usize]) -> bool {
    g.padding == [0, 0] && g.stride[1] == 1 && (s[3] == 1 || d.w == 1)
}

/// The scratch block's padded height and row length (`sw` phases of `⌈w_padded / sw⌉`).
fn scratch_size(g: &Window2d, d: &WindowDims) -> (usize, usize) {
    let sw = g.stride[1];
    (d.h + 2 * g.padding[0], (d.w + 2 * g.padding[1]).div_ceil(sw) * sw)
}

/// Where an input row's pixels go in a scratch row, one run per phase: `[at, w0, len]`
/// says input columns `w0, w0 + sw, …` (`len` of them) sit at `at..at + len`.
fn phase_runs<B>(planes: &Planes<B>, g: &Window2d, d: &WindowDims, runs: &mut Vec<[usize; 3]>) {
    let (sw, pw) = (g.stride[1], g.padding[1]);
    runs.clear();
    runs.extend((0..sw).filter_map(|r| {
        // The first input column whose padded column x = w + pw has x mod sw = r.
        let w0 = (r + sw - pw % sw) % sw;
        (w0 < d.w).then(|| [planes.column(w0 + pw, sw), w0, (d.w - 1 - w0) / sw + 1])
    }));
}

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

/// Calls `f` with the images `images` of `x` as [`Planes`] ready for im2col, the range of
/// those images in them, and the workspace's tap offsets: `x` itself when it can be read in
/// place, else a zero-padded, phase-split dense copy of those images (numbered from 0).
fn with_planes<T: Element>(
    x: &Tensor<T>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    ws: &mut Workspace<T>,
    f: impl FnOnce(&Planes<&[T]>, std::ops::Range<usize>, &mut Vec<usize>),
) {
    let s = x.strides();
    if in_place(g, d, s) {
        let planes = Planes { data: x.storage(), at: x.offset(), strides: [s[0], s[1], s[2]], phase: 0 };
        f(&planes, images, &mut ws.offsets);
        return;
    }
    let count = images.len();
    let (hp, row) = scratch_size(g, d);
    let planes = Planes::scratch(grown(&mut ws.padded, count * d.c * hp * row), g, d);
    phase_runs(&planes, g, d, &mut ws.runs);
    let src = x.storage();
    for (b, n) in images.enumerate() {
        for c in 0..d.c {
            for h in 0..d.h {
                let from = x.offset() + n * s[0] + c * s[1] + h * s[2];
                let to = b * planes.strides[0] + c * planes.strides[1] + (h + g.padding[0]) * row;
                let dst = &mut planes.data[to..to + row];
                if g.stride[1] == 1 && s[3] == 1 {
                    dst[g.padding[1]..g.padding[1] + d.w].copy_from_slice(&src[from..from + d.w]);
                } else if g.stride[1] == 2 && s[3] == 1 {
                    deinterleave(&src[from..from + d.w], dst, planes.phase, g.padding[1]);
                } else {
                    for &[at, w0, len] in &ws.runs {
                        let (run, step) = (&mut dst[at..at + len], g.stride[1] * s[3]);
                        let input = &src[from + w0 * s[3]..=from + (w0 + (len - 1) * g.stride[1]) * s[3]];
                        for (t, v) in run.iter_mut().enumerate() {
                            *v = input[t * step];
                        }
                    }
                }
            }
        }
    }
    let planes = Planes { data: &planes.data[..], at: 0, strides: planes.strides, phase: planes.phase };
    f(&planes, 0..count, &mut ws.offsets);
}

/// One contiguous input row into a scratch row of two phases (`phase` long each), after
/// `pw` columns of padding: padded column `x` goes to `(x mod 2)·phase + x div 2`. Pairs of
/// pixels go to the two phases side by side, a loop the compiler vectorises (one run per
/// phase with an index per pixel costs three times more on a stride-2 network's rows of
/// 14 or 28 pixels).
fn deinterleave<T: Copy>(row: &[T], dst: &mut [T], phase: usize, pw: usize) {
    let (first, second) = dst.split_at_mut(phase);
    // Even input columns land in the phase of pw's parity, odd ones in the other.
    let (even, odd) = if pw % 2 == 0 {
        (&mut first[pw / 2..], &mut second[pw / 2..])
    } else {
        (&mut second[pw / 2..], &mut first[pw / 2 + 1..])
    };
    let pairs = row.chunks_exact(2);
    if let [last] = pairs.remainder() {
        even[row.len() / 2] = *last;
    }
    for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(pairs) {
        *e = pair[0];
        *o = pair[1];
    }
}

/// The adjoint of [`deinterleave`]: adds a two-phase scratch row back into a contiguous
/// input row.
fn interleave_add<T: Element>(src: &[T], row: &mut [T], phase: usize, pw: usize) {
    let (first, second) = src.split_at(phase);
    let (even, odd) =
        if pw % 2 == 0 { (&first[pw / 2..], &second[pw / 2..]) } else { (&second[pw / 2..], &first[pw / 2 + 1..]) };
    let n = row.len();
    let mut pairs = row.chunks_exact_mut(2);
    for ((pair, &e), &o) in pairs.by_ref().zip(even).zip(odd) {
        pair[0] += e;
        pair[1] += o;
    }
    if let [last] = pairs.into_remainder() {
        *last += even[n / 2];
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
    (dst, s): (&mut [T], &[usize]),
    ws: &mut Workspace<T>,
) {
    if in_place(g, d, s) {
        let mut planes = Planes { data: dst, at: 0, strides: [s[0], s[1], s[2]], phase: 0 };
        add_columns(cols, g, d, images, &mut planes);
        return;
    }
    let count = images.len();
    let (hp, row) = scratch_size(g, d);
    let block = grown(&mut ws.adjoint, count * d.c * hp * row);
    block.fill(T::zero());
    let mut planes = Planes::scratch(block, g, d);
    add_columns(cols, g, d, 0..count, &mut planes);
    phase_runs(&planes, g, d, &mut ws.runs);
    for (b, n) in images.enumerate() {
        for c in 0..d.c {
            for h in 0..d.h {
                let from = b * planes.strides[0] + c * planes.strides[1] + (h + g.padding[0]) * row;
                let src = &planes.data[from..from + row];
                let to = n * s[0] + c * s[1] + h * s[2];
                if g.stride[1] == 1 && s[3] == 1 {
                    let interior = &src[g.padding[1]..g.padding[1] + d.w];
                    for (x, &v) in dst[to..to + d.w].iter_mut().zip(interior) {
                        *x += v;
                    }
                } else if g.stride[1] == 2 && s[3] == 1 {
                    interleave_add(src, &mut dst[to..to + d.w], planes.phase, g.padding[1]);
                } else {
                    let step = g.stride[1] * s[3];
                    for &[at, w0, len] in &ws.runs {
                        let targets = &mut dst[to + w0 * s[3]..=to + (w0 + (len - 1) * g.stride[1]) * s[3]];
                        for (t, &v) in src[at..at + len].iter().enumerate() {
                            targets[t * step] += v;
                        }
                    }
                }
            }
        }
    }
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
    planes: &mut Planes<impl AsMut<[T]>>,
) {
    let [kh, kw] = g.kernel;
    let [s0, s1, s2] = planes.strides;
    let (sw, row_step) = (g.stride[1], g.stride[0] * s2);
    let (p, rows) = (d.positions(), images.len() * d.positions());
    let span = (d.oh - 1) * row_step + d.ow;
    let data = planes.data.as_mut();
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
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
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
