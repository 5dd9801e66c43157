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
//! padded 3×3 convolution on 28×28). Where the tiles are small enough to keep an address
//! per pixel, the forward pass numbers only the `oh × ow` outputs instead (`Pixels::rows`:
//! LeNet-5's second layer computed 140 pixels for 100). The buffer has slack after the
//! planes so that the last tile's extra pixels read zeros, not past its end.
//!
//! A column stride of 2 keeps the columns interleaved instead ([`Staging::step`] = 2):
//! only the rows split into phases, each phase plane `2·wq` wide, and pixel `q` reads tap
//! `(c, i, j)` at `2q + plane(c, i mod sh) + (i div sh)·2wq + j`, the kernels stepping two
//! floats per pixel. Staging is then whole rows copied, not columns split by parity.

use crate::buffer::Buffer;
use crate::kernels::{FromPlanes, Kernels, PIXEL_STEPS};
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
    /// Rows and columns of one phase plane (in pixels: `step·wq` floats per row).
    pub hq: usize,
    pub wq: usize,
    /// Floats between consecutive pixels of a plane's row: 2 for a column stride of 2
    /// (columns interleaved), else 1.
    pub step: usize,
    /// Where each column phase of an input row goes: input columns `w0, w0 + sw, …` (`len`
    /// of them) to `at..at + len` of the row in the phase's plane (`[at, w0, len]`); made
    /// once, not per staged image.
    runs: Vec<[usize; 3]>,
}

impl Staging {
    pub(crate) fn new(g: &Window2d, d: &WindowDims) -> Self {
        let [hq, wq] = phase_dims(g, [d.h, d.w]);
        let step = if g.stride[1] == 2 { 2 } else { 1 };
        Staging { c: d.c, h: d.h, w: d.w, stride: g.stride, padding: g.padding, hq, wq, step, runs: Vec::new() }
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

    /// Image n of `x` itself, when it is laid out as its planes would be (no padding, stride
    /// 1, contiguous rows and planes) and the `reach` elements from its start lie inside x's
    /// storage: the storage and the index of the image's start. Staging it would only copy.
    pub(crate) fn in_place<'a>(&self, x: Source<'a>, n: usize, reach: usize) -> Option<(&'a [f32], usize)> {
        let s = x.strides;
        let same = self.padding == [0, 0]
            && self.stride == [1, 1]
            && [self.hq, self.wq] == [self.h, self.w]
            && (self.w <= 1 || s[3] == 1)
            && (self.h <= 1 || s[2] == self.w)
            && (self.c <= 1 || s[1] == self.h * self.w);
        let at = x.offset + n * s[0];
        (same && at + reach <= x.data.len()).then_some((x.data, at))
    }

    /// Floats in the planes of one image.
    pub(crate) fn planes_len(&self) -> usize {
        self.c * self.stride[0] * self.stride[1] * self.hq * self.wq
    }

    /// The offset of tap `(c, i, j)` from where its output pixel `q` starts (`q·step`).
    pub(crate) fn offset(&self, c: usize, i: usize, j: usize) -> usize {
        let [sh, sw] = self.stride;
        if self.step == 2 {
            let width = 2 * self.wq;
            return (c * sh + i % sh) * self.hq * width + (i / sh) * width + j;
        }
        ((c * sh + i % sh) * sw + j % sw) * self.hq * self.wq + (i / sh) * self.wq + j / sw
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

    /// Copies image `n` of `x` (any layout) into `buf`, whose padding and slack are zero
    /// (only the interior is written, the same positions for every image). Unit-stride rows
    /// go through `copy_from_slice` (`memcpy`, whose wide stores beat `copy_run`'s 16-byte
    /// ones here: rows of 13 to 32 floats into a buffer in cache; resnet20's inference +5 %).
    pub(crate) fn stage(&self, x: Source<'_>, n: usize, buf: &mut [f32]) {
        let (s, src) = (x.strides, x.data);
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let plane = self.hq * self.wq;
        let runs = &self.runs;
        if self.step == 2 {
            return self.stage_rows(x, n, buf);
        }
        for c in 0..self.c {
            // The padded row y = h + ph is row r of phase a = y mod sh: counted, not divided
            // (a division by a runtime stride costs tens of cycles per row).
            let (mut a, mut r) = (ph % sh, ph / sh);
            for h in 0..self.h {
                let from = x.offset + n * s[0] + c * s[1] + h * s[2];
                let row = ((c * sh + a) * sw) * plane + r * self.wq;
                (a, r) = if a + 1 == sh { (0, r + 1) } else { (a + 1, r) };
                if sw == 1 && s[3] == 1 {
                    buf[row + pw..row + pw + self.w].copy_from_slice(&src[from..from + self.w]);
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
    /// [`Staging::stage`] with the columns interleaved (`step` 2): each input row copied
    /// whole into its row phase's plane.
    fn stage_rows(&self, x: Source<'_>, n: usize, buf: &mut [f32]) {
        let (s, src) = (x.strides, x.data);
        let (sh, [ph, pw]) = (self.stride[0], self.padding);
        let width = 2 * self.wq;
        for c in 0..self.c {
            let (mut a, mut r) = (ph % sh, ph / sh);
            for h in 0..self.h {
                let from = x.offset + n * s[0] + c * s[1] + h * s[2];
                let row = (c * sh + a) * self.hq * width + r * width + pw;
                (a, r) = if a + 1 == sh { (0, r + 1) } else { (a + 1, r) };
                let to = &mut buf[row..row + self.w];
                if s[3] == 1 {
                    to.copy_from_slice(&src[from..from + self.w]);
                } else {
                    for (t, v) in to.iter_mut().enumerate() {
                        *v = src[from + t * s[3]];
                    }
                }
            }
        }
    }
}

/// The rows and columns of one phase plane of `rows × cols` pixels padded for `g`.
fn phase_dims(g: &Window2d, [rows, cols]: [usize; 2]) -> [usize; 2] {
    let (hp, wp) = (rows + 2 * g.padding[0], cols + 2 * g.padding[1]);
    [hp.div_ceil(g.stride[0]), wp.div_ceil(g.stride[1])]
}

/// The channels-last form of [`Staging`]: an image of `rows × cols` pixels of `c` floats
/// (its channels, zeros past the last one) zero-padded and split into row phases, the
/// columns left in order, so that output pixel `q = oh·wq + ow` reads tap `(i, j, ch)` at
/// `q·step + (i mod sh)·hq·row + (i div sh)·row + j·c + ch`, with `step = sw·c` and `row =
/// wq·step` floats. A tap group (a kernel row's columns × channels) is consecutive floats,
/// which the tile kernel reads as one base and constant steps.
#[derive(Debug, Clone)]
pub(crate) struct ChannelsLast {
    c: usize,
    rows: usize,
    cols: usize,
    stride: [usize; 2],
    padding: [usize; 2],
    hq: usize,
    /// Pixels (of `step` floats) per row of a phase plane.
    pub wq: usize,
}

impl ChannelsLast {
    pub(crate) fn new(g: &Window2d, c: usize, [rows, cols]: [usize; 2]) -> Self {
        let [hq, wq] = phase_dims(g, [rows, cols]);
        ChannelsLast { c, rows, cols, stride: g.stride, padding: g.padding, hq, wq }
    }

    /// The floats per pixel for `channels` under a window of column stride `sw`, when the
    /// tile kernel takes the pixel step it makes (one of [`PIXEL_STEPS`]) and the padding
    /// channels add at most a quarter: `None` otherwise.
    pub(crate) fn floats_per_pixel(channels: usize, sw: usize) -> Option<usize> {
        PIXEL_STEPS
            .iter()
            .filter(|&&s| s % sw == 0 && s / sw >= channels)
            .map(|&s| s / sw)
            .min()
            .filter(|&c| 4 * c <= 5 * channels)
    }

    /// Tap `t` (of the [`ChannelsLast::offsets`] order) of filter `f` from `weight`, F×C×kh×kw
    /// contiguous for `channels` channels and kernels of `area` taps: zero for the padding
    /// channels.
    pub(crate) fn weight<'a>(
        &self,
        weight: &'a [f32],
        channels: usize,
        area: usize,
    ) -> impl Fn(usize, usize) -> f32 + 'a {
        let c = self.c;
        // Each tap's place in a filter's weights, divided out once per tap rather than once
        // per tap and filter (the packing took 2.4 % of a stride-2 network's inference).
        let place: Vec<Option<usize>> =
            (0..area * c).map(|t| (t % c < channels).then(|| (t % c) * area + t / c)).collect();
        move |f, t| place[t].map_or(0.0, |i| weight[f * channels * area + i])
    }

    /// Floats between consecutive output pixels' inputs.
    pub(crate) fn step(&self) -> usize {
        self.stride[1] * self.c
    }

    fn row(&self) -> usize {
        self.wq * self.step()
    }

    pub(crate) fn planes_len(&self) -> usize {
        self.stride[0] * self.hq * self.row()
    }

    /// The offsets of the taps `(i, j, ch)` in i, j, ch order.
    pub(crate) fn offsets(&self, [kh, kw]: [usize; 2]) -> Vec<usize> {
        let sh = self.stride[0];
        let (row, plane) = (self.row(), self.hq * self.row());
        (0..kh).flat_map(|i| (0..kw * self.c).map(move |jc| (i % sh) * plane + (i / sh) * row + jc)).collect()
    }

    /// Where input row `r` starts in the planes (its first pixel past the left padding).
    fn row_start(&self, r: usize) -> usize {
        let (sh, y) = (self.stride[0], r + self.padding[0]);
        (y % sh) * self.hq * self.row() + (y / sh) * self.row() + self.padding[1] * self.c
    }

    /// Copies a pixels × channels block's valid pixels (`z_width` pixels a row, `c` floats
    /// each) into `buf`, whose padding and slack are zero (only the interior is written,
    /// the same positions for every image).
    pub(crate) fn stage_block(&self, z: &[f32], z_width: usize, buf: &mut [f32]) {
        let len = self.cols * self.c;
        for r in 0..self.rows {
            let (to, from) = (self.row_start(r), r * z_width * self.c);
            buf[to..to + len].copy_from_slice(&z[from..from + len]);
        }
    }

    /// Copies image `n` of `x`, its columns unit-stride ([`ChannelsLast::reads`]), into
    /// `buf` as [`ChannelsLast::stage_block`] does, transposing planes to pixels with `k`.
    pub(crate) fn stage(&self, k: Kernels, x: Source<'_>, n: usize, channels: usize, buf: &mut [f32]) {
        let s = x.strides;
        let sh = self.stride[0];
        for first in 0..sh.min(self.rows) {
            k.gather_planes(FromPlanes {
                src: x.data,
                at: x.offset + n * s[0] + first * s[2],
                plane: s[1],
                row_stride: sh * s[2],
                channels,
                rows: (self.rows - first).div_ceil(sh),
                cols: 0..self.cols,
                z: &mut buf[self.row_start(first)..],
                z_stride: self.c,
                z_width: self.row() / self.c,
            });
        }
    }

    /// Whether [`ChannelsLast::stage`] reads `x`: its columns unit-stride.
    pub(crate) fn reads(x: Source<'_>, cols: usize) -> bool {
        cols <= 1 || x.strides[3] == 1
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
