//! The images a convolution's im2col reads, ready for runs without range logic: the input
//! itself when it has no padding, unit column stride and contiguous rows; otherwise a copy
//! of a block of images, zero-padded, in a dense scratch block whose rows are split into
//! `sw` phases (padded columns `r, r + sw, r + 2·sw, …` side by side, "space to depth"
//! along the width), so that every run of an im2col column is one contiguous copy. The
//! adjoint adds into a zeroed scratch block the same way, then adds its interior back.

use crate::buffer::Buffer;
use crate::buffer_pool::filled;
use crate::element::Element;
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// A block of N×C×H×W images whose rows are contiguous: a buffer, the index of image 0,
/// the strides of images, channels and rows, and the length of one phase of a row (padded
/// column `x` sits at `(x mod sw)·phase + x div sw`; with `sw = 1`, at `x`).
pub(crate) struct Planes<B> {
    pub(crate) data: B,
    pub(crate) at: usize,
    pub(crate) strides: [usize; 3],
    pub(crate) phase: usize,
}

impl<B> Planes<B> {
    /// A dense scratch block of `count` padded images, rows split into `sw` phases.
    fn scratch(data: B, g: &Window2d, d: &WindowDims) -> Self {
        let (hp, row) = scratch_size(g, d);
        Planes { data, at: 0, strides: [d.c * hp * row, hp * row, row], phase: row / g.stride[1] }
    }

    /// Where padded column `x` of a row sits in it.
    pub(crate) fn column(&self, x: usize, sw: usize) -> usize {
        (x % sw) * self.phase + x / sw
    }
}

/// Buffers one convolution call reuses across its blocks (allocated by the first block,
/// which is the largest): the padded copy of the images, whose padding stays zero because
/// each block writes only the interior; the padded block the adjoint adds into; where each
/// phase of a row goes ([`phase_runs`]); the tap offsets of the row-major block.
pub(crate) struct Workspace<T> {
    padded: Buffer<T>,
    adjoint: Buffer<T>,
    runs: Vec<[usize; 3]>,
    offsets: Vec<usize>,
}

impl<T> Default for Workspace<T> {
    fn default() -> Self {
        Workspace { padded: Vec::new().into(), adjoint: Vec::new().into(), runs: Vec::new(), offsets: Vec::new() }
    }
}

/// `buffer[..len]` zeroed when it is first grown to `len` (in a buffer from the thread's
/// [`BufferPool`](crate::BufferPool), if any), else as the last block left it.
fn grown<T: Element>(buffer: &mut Buffer<T>, len: usize) -> &mut [T] {
    if buffer.len() < len {
        *buffer = filled(len, T::zero());
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

/// Calls `f` with the images `images` of `x` as [`Planes`] ready for im2col, the range of
/// those images in them, and the workspace's tap offsets: `x` itself when it can be read in
/// place, else a zero-padded, phase-split dense copy of those images (numbered from 0).
pub(crate) fn with_planes<T: Element>(
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
    let (even, odd) = if pw.is_multiple_of(2) {
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
    let (even, odd) = if pw.is_multiple_of(2) {
        (&first[pw / 2..], &second[pw / 2..])
    } else {
        (&second[pw / 2..], &first[pw / 2 + 1..])
    };
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

/// Calls `f` with [`Planes`] to add the adjoint of images `images` into, and their range
/// in them, then leaves the sums in `dst` (the dense storage of a tensor shaped like the
/// convolution input, with strides `s`): `dst` itself when it can be written in place, else
/// a zeroed padded, phase-split block whose interior is then added to `dst`.
pub(crate) fn with_adjoint_planes<T: Element>(
    (dst, s): (&mut [T], &[usize]),
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    ws: &mut Workspace<T>,
    f: impl FnOnce(&mut Planes<&mut [T]>, std::ops::Range<usize>),
) {
    if in_place(g, d, s) {
        let mut planes = Planes { data: dst, at: 0, strides: [s[0], s[1], s[2]], phase: 0 };
        f(&mut planes, images);
        return;
    }
    let count = images.len();
    let (hp, row) = scratch_size(g, d);
    let block = grown(&mut ws.adjoint, count * d.c * hp * row);
    block.fill(T::zero());
    let mut planes = Planes::scratch(block, g, d);
    f(&mut planes, 0..count);
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
