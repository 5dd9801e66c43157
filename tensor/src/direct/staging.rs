//! Where the direct kernels read their input: one image at a time, zero-padded and split
//! into `sh × sw` phase planes per channel ("space to depth": padded pixel `(y, x)` of
//! channel `c` sits in plane `(c, y mod sh, x mod sw)` at row `y div sh`, column
//! `x div sw`). In these planes every convolution has stride 1, and output pixel
//! `(oh, ow)` reads tap `(c, i, j)` at
//!
//! `q + offset(c, i, j)`, with `q = oh·wq + ow` and
//! `offset(c, i, j) = plane(c, i mod sh, j mod sw) + (i div sh)·wq + j div sw`.
//!
//! `q` numbers the output pixels as if each output row were `wq` wide (the planes' width),
//! so a tile of consecutive `q` is a run of consecutive addresses for every tap, across
//! rows too; the `wq − ow` extra columns per row are computed and dropped (2 of 30 for a
//! padded 3×3 convolution on 28×28). The buffer has slack after the planes so that the
//! last tile's extra pixels read zeros, not past its end.
//!
//! A channels-last input (channel stride 1, pixels `C` floats apart) is staged
//! channels-last instead ([`Staging::channels_last`]): the same phase planes with the `C`
//! channels of a pixel side by side, so that pixel `q` reads tap `(c, i, j)` at
//! `q·C + offset(c, i, j)` with `offset(c, i, j) = (phase(i mod sh, j mod sw)·hq·wq +
//! (i div sh)·wq + j div sw)·C + c` (the tile kernel's pixel stride `C`), and an input row
//! is copied in whole runs of `C` floats, without a transpose.

use crate::buffer::Buffer;
use crate::columns::copy_run;
use std::mem::MaybeUninit;

use crate::kernels::{Kernels, Planes};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// The phase planes of one image for a window over an input of dims `d`.
#[derive(Debug, Clone)]
pub(crate) struct Staging {
    c: usize,
    h: usize,
    w: usize,
    stride: [usize; 2],
    padding: [usize; 2],
    /// Rows and columns of one phase plane.
    pub hq: usize,
    pub wq: usize,
    /// Where each column phase of an input row goes: input columns `w0, w0 + sw, …` (`len`
    /// of them) to `at..at + len` of the row in the phase's plane (`[at, w0, len]`); made
    /// once, not per staged image.
    runs: Vec<[usize; 3]>,
    /// Whether the planes hold a pixel's channels side by side (see the module docs).
    channels_last: bool,
}

impl Staging {
    pub(crate) fn new(g: &Window2d, d: &WindowDims) -> Self {
        let [sh, sw] = g.stride;
        let (hp, wp) = (d.h + 2 * g.padding[0], d.w + 2 * g.padding[1]);
        let (hq, wq) = (hp.div_ceil(sh), wp.div_ceil(sw));
        let runs = Vec::new();
        Staging { c: d.c, h: d.h, w: d.w, stride: g.stride, padding: g.padding, hq, wq, runs, channels_last: false }
            .with_runs()
    }

    /// The column runs for the current plane size.
    fn with_runs(mut self) -> Self {
        let (sw, pw, plane) = (self.stride[1], self.padding[1], self.hq * self.wq);
        self.runs = (0..sw)
            .filter_map(|b| {
                let w0 = (b + sw - pw % sw) % sw;
                (w0 < self.w).then(|| [b * plane + (w0 + pw) / sw, w0, (self.w - 1 - w0) / sw + 1])
            })
            .collect();
        self
    }

    /// The same staging with planes of at least `hq × wq` (more zero rows and columns below
    /// and right of the padded image).
    pub(crate) fn at_least(mut self, hq: usize, wq: usize) -> Self {
        (self.hq, self.wq) = (self.hq.max(hq), self.wq.max(wq));
        self.with_runs()
    }

    /// The same staging with channels-last planes (see the module docs), for an input
    /// whose [`Source::is_channels_last`] holds.
    pub(crate) fn channels_last(mut self) -> Self {
        self.channels_last = true;
        self
    }

    /// Floats between the staged inputs of consecutive output pixels: `C` channels-last,
    /// else 1.
    pub(crate) fn pixel_stride(&self) -> usize {
        if self.channels_last { self.c } else { 1 }
    }

    /// Image n of `x` itself, when it is laid out as its planes would be (no padding, stride
    /// 1, contiguous rows and planes, or pixels of `C` floats channels-last) and the `reach`
    /// elements from its start lie inside x's storage: the storage and the index of the
    /// image's start. Staging it would only copy.
    pub(crate) fn in_place<'a>(&self, x: Source<'a>, n: usize, reach: usize) -> Option<(&'a [f32], usize)> {
        let s = x.strides;
        let c = self.c;
        let dense = if self.channels_last {
            (self.w <= 1 || s[3] == c) && (self.h <= 1 || s[2] == self.w * c) && (c <= 1 || s[1] == 1)
        } else {
            (self.w <= 1 || s[3] == 1) && (self.h <= 1 || s[2] == self.w) && (c <= 1 || s[1] == self.h * self.w)
        };
        let same = self.padding == [0, 0] && self.stride == [1, 1] && [self.hq, self.wq] == [self.h, self.w] && dense;
        let at = x.offset + n * s[0];
        (same && at + reach <= x.data.len()).then_some((x.data, at))
    }

    /// Floats in the planes of one image.
    pub(crate) fn planes_len(&self) -> usize {
        self.c * self.stride[0] * self.stride[1] * self.hq * self.wq
    }

    /// The offset of tap `(c, i, j)` from where its output pixel `q` reads (`q` times
    /// [`Staging::pixel_stride`]).
    pub(crate) fn offset(&self, c: usize, i: usize, j: usize) -> usize {
        let [sh, sw] = self.stride;
        let plane = self.hq * self.wq;
        if self.channels_last {
            ((((i % sh) * sw + j % sw) * plane + (i / sh) * self.wq + j / sw) * self.c) + c
        } else {
            ((c * sh + i % sh) * sw + j % sw) * plane + (i / sh) * self.wq + j / sw
        }
    }

    /// The offsets of the taps `(c, i, j)` in c, i, j order (the order of a weight row).
    pub(crate) fn offsets(&self, kernel: [usize; 2]) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.c * kernel[0] * kernel[1]);
        for c in 0..self.c {
            for i in 0..kernel[0] {
                for j in 0..kernel[1] {
                    v.push(self.offset(c, i, j));
                }
            }
        }
        v
    }

    /// Copies image `n` of `x` (any layout) into `buf` (`k` splits the column pairs of a
    /// stride of 2), whose padding and slack are zero
    /// (only the interior is written, the same positions for every image).
    pub(crate) fn stage(&self, k: Kernels, x: Source<'_>, n: usize, buf: &mut [f32]) {
        if self.channels_last {
            return self.stage_channels_last(x, n, buf);
        }
        if self.stride == [1, 1] && self.transpose_channels_last(k, x, n, buf) {
            return;
        }
        let (s, src) = (x.strides, x.data);
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let plane = self.hq * self.wq;
        let runs = &self.runs;
        for c in 0..self.c {
            // The padded row y = h + ph is row r of phase a = y mod sh: counted, not divided
            // (a division by a runtime stride costs tens of cycles per row).
            let (mut a, mut r) = (ph % sh, ph / sh);
            for h in 0..self.h {
                let from = x.offset + n * s[0] + c * s[1] + h * s[2];
                let row = ((c * sh + a) * sw) * plane + r * self.wq;
                (a, r) = if a + 1 == sh { (0, r + 1) } else { (a + 1, r) };
                if sw == 1 && s[3] == 1 {
                    copy_run(&mut buf[row + pw..row + pw + self.w], &src[from..from + self.w]);
                } else if let (&[even, odd], 2, 1) = (&runs[..], sw, s[3]) {
                    // Stride 2: pairs of input columns to the two phases side by side (runs
                    // start at input columns 0 and 1), split by the kernels' shuffles.
                    let (even, odd) = if even[1] == 0 { (even, odd) } else { (odd, even) };
                    let row_in = &src[from..from + self.w];
                    let (e, o, half) = (row + even[0], row + odd[0], self.w / 2);
                    let (ev, od) = if e < o {
                        let (a, b) = buf.split_at_mut(o);
                        (&mut a[e..e + self.w - half], &mut b[..half])
                    } else {
                        let (a, b) = buf.split_at_mut(e);
                        (&mut b[..self.w - half], &mut a[o..o + half])
                    };
                    k.deinterleave(row_in, ev, od);
                } else {
                    let step = sw * s[3];
                    for &[at, w0, len] in runs {
                        let from = from + w0 * s[3];
                        for (t, v) in buf[row + at..row + at + len].iter_mut().enumerate() {
                            *v = src[from + t * step];
                        }
                    }
                }
            }
        }
    }
}

impl Staging {
    /// [`Staging::stage`] of stride 1 from a channels-last `x` with pixels `C` floats apart
    /// and rows a whole number of pixels apart, into channel planes: the pixels × channels block transposed by the output
    /// pass's kernel (without bias or activation). False, nothing written, for any other
    /// layout.
    fn transpose_channels_last(&self, k: Kernels, x: Source<'_>, n: usize, buf: &mut [f32]) -> bool {
        let s = x.strides;
        let c = self.c;
        let whole_rows = s[3] == c && s[2].is_multiple_of(c) && s[2] / c >= self.w;
        if !x.is_channels_last(c) || !whole_rows || self.h == 0 || self.w == 0 {
            return false;
        }
        // SAFETY: `MaybeUninit<f32>` has the layout of `f32`, and `store_planes` only writes
        // initialised values into it (never uninitialised ones), so `buf` stays initialised.
        let out = unsafe { &mut *(std::ptr::from_mut(buf) as *mut [MaybeUninit<f32>]) };
        k.store_planes(Planes {
            z: &x.data[x.offset + n * s[0]..],
            z_stride: s[3],
            z_width: s[2] / s[3],
            channels: self.c,
            rows: self.h,
            cols: 0..self.w,
            bias: None,
            act: None,
            out,
            at: self.padding[0] * self.wq + self.padding[1],
            plane: self.hq * self.wq,
            row_stride: self.wq,
            col_stride: 1,
        });
        true
    }

    /// [`Staging::stage`] into channels-last planes from a channels-last `x` (channel
    /// stride 1): a row of stride-1 columns with pixels `C` apart is one run, otherwise
    /// each pixel's `C` floats go to their column phase.
    fn stage_channels_last(&self, x: Source<'_>, n: usize, buf: &mut [f32]) {
        let (s, src, c) = (x.strides, x.data, self.c);
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let plane = self.hq * self.wq;
        let (mut a, mut r) = (ph % sh, ph / sh);
        for h in 0..self.h {
            let from = x.offset + n * s[0] + h * s[2];
            let row = (a * sw * plane + r * self.wq) * c;
            (a, r) = if a + 1 == sh { (0, r + 1) } else { (a + 1, r) };
            if sw == 1 && s[3] == c {
                let len = self.w * c;
                copy_run(&mut buf[row + pw * c..row + pw * c + len], &src[from..from + len]);
                continue;
            }
            let (mut b, mut col) = (pw % sw, pw / sw);
            for w in 0..self.w {
                let (to, at) = (row + (b * plane + col) * c, from + w * s[3]);
                buf[to..to + c].copy_from_slice(&src[at..at + c]);
                (b, col) = if b + 1 == sw { (0, col + 1) } else { (b + 1, col) };
            }
        }
    }
}

/// Where a convolution reads its N×C×H×W input: storage, the offset of element 0 and the
/// strides (a tensor's, or a contiguous buffer's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub strides: [usize; 4],
}

impl<'a> Source<'a> {
    pub(crate) fn tensor(x: &'a Tensor<f32>) -> Self {
        let s = x.strides();
        Source { data: x.storage(), offset: x.offset(), strides: [s[0], s[1], s[2], s[3]] }
    }

    /// Whether channel `c` of a pixel is at `c` from the pixel's first (channel stride 1),
    /// with more than one channel: an input to stage [`Staging::channels_last`].
    pub(crate) fn is_channels_last(&self, channels: usize) -> bool {
        channels > 1 && self.strides[1] == 1 && self.strides[3] >= channels
    }

    /// A contiguous buffer of images of `c × h × w`.
    pub(crate) fn contiguous(data: &'a [f32], [c, h, w]: [usize; 3]) -> Self {
        Source { data, offset: 0, strides: [c * h * w, h * w, w, 1] }
    }
}

/// A float buffer whose element `at` is aligned to 64 bytes (a cache line), zeroed.
pub(crate) struct Aligned {
    data: Buffer<f32>,
    at: usize,
    len: usize,
}

impl Aligned {
    pub(crate) fn zeros(len: usize) -> Self {
        let data = crate::buffer_pool::filled(len + 16, 0.0f32);
        let at = data.as_ptr().align_offset(64).min(16);
        Aligned { data, at, len }
    }

    pub(crate) fn as_slice(&self) -> &[f32] {
        &self.data[self.at..self.at + self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data[self.at..self.at + self.len]
    }
}

/// Splits `nv` vectors into the fewest chunks of at most `max` vectors, as even as
/// possible: `(first vector, vectors)` each.
pub(crate) fn chunks(nv: usize, max: usize) -> Vec<(usize, usize)> {
    let count = nv.div_ceil(max.max(1)).max(1);
    let (base, extra) = (nv / count, nv % count);
    let mut v0 = 0;
    (0..count)
        .map(|i| {
            let fv = base + usize::from(i < extra);
            let c = (v0, fv);
            v0 += fv;
            c
        })
        .filter(|&(_, fv)| fv > 0)
        .collect()
}
