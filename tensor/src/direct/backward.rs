//! The direct VJPs of a convolution, image by image from that image's `∇z` (F×oh×ow,
//! contiguous), so that no batch-sized temporary is needed:
//!
//! - `∇x[n, c, y, x] = Σ_{f,i,j} W[f, c, i, j] · ∇z[n, f, (y + ph − i)/sh, (x + pw − j)/sw]`
//!   over the taps where the divisions are exact and inside ∇z: a transposed convolution.
//!   It is split by the phase `(a, b)` of the padded input pixel (`y + ph ≡ a mod sh`,
//!   `x + pw ≡ b mod sw`): each phase is a stride-1 convolution of ∇z, zero-bordered, with
//!   the taps `i = a + m·sh`, `j = b + n·sw` and the channels `c` in the lanes, so the
//!   forward's tile kernel computes it without the zeros a dilated ∇z would multiply.
//! - `∇W[f, c, i, j] = Σ_{n,oh,ow} ∇z[n, f, oh, ow] · x_pad[n, c, oh·sh + i, ow·sw + j]`:
//!   outer products of the staged input (as the forward reads it) and ∇z transposed to
//!   pixels × filters ([`Kernels::ger`]), summed image by image in registers.
//!
//! A 3×3 stride-1 layer of 16 or more channels computes ∇x by Winograd's F(4×4, 3×3) or
//! F(2×2, 3×3) instead: the forward convolution of ∇z, padded by `2 − p`, with the filters
//! turned 180° and transposed (`W̃[c, f, i, j] = W[f, c, 2 − i, 2 − j]`); and ∇W by
//! F(3×3, 2×2) (`winograd_weight.rs`).

use std::mem::MaybeUninit;

use super::forward::{Packed, Pixels, run_tiles, tiled_rows};
use super::staging::{Aligned, Source, Staging, chunks};
use super::winograd::Pass;
use super::{winograd, winograd_weight};
use crate::buffer::Buffer;
use crate::columns::copy_run;
use crate::kernels::{FromPlanes, Ger, Kernels, Planes, Taps};
use crate::window::{Window2d, WindowDims};

/// One phase of ∇x: its taps and weights, and the padded rows `r` and columns `c` of the
/// phase plane that hold input pixels.
struct Phase {
    a: usize,
    b: usize,
    taps: Taps,
    packed: Packed,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
}

/// ∇x of one convolution, image by image: by stride phases on the direct kernel, or by
/// Winograd's F(4×4, 3×3) or F(2×2, 3×3) (the one with fewer products, as the forward pass).
pub(crate) enum InputGrad {
    Phases(Box<Phases>),
    /// The forward convolution of ∇z (`dims`: F×oh×ow) without bias (`zeros`: C of them).
    Winograd {
        conv: Box<dyn Pass>,
        dims: [usize; 3],
        zeros: Vec<f32>,
    },
}

/// The phases of ∇x and the buffers they reuse: ∇z staged with `mt` zero rows above and
/// `nt` zero columns left (the most taps a phase has along each axis, minus one), `wy` wide,
/// planes of `plane`.
pub(crate) struct Phases {
    k: Kernels,
    g: Window2d,
    d: WindowDims,
    phases: Vec<Phase>,
    mt: usize,
    nt: usize,
    wy: usize,
    plane: usize,
    ys: Aligned,
    z: Aligned,
}

impl InputGrad {
    /// For `weight` (F×C×kh×kw contiguous); Winograd's when `winograd` (the caller's
    /// permission: enabled, and ∇x contiguous) and it suits.
    pub(crate) fn new(
        k: Kernels,
        weight: &[f32],
        g: &Window2d,
        d: &WindowDims,
        filters: usize,
        winograd: bool,
    ) -> Self {
        if winograd && winograd::suits(g, filters, d.c) {
            let window = transposed(g);
            let dz = window.dims("conv2d_backward", &[1, filters, d.oh, d.ow]).expect("the transposed window fits ∇z");
            debug_assert_eq!([dz.oh, dz.ow], [d.h, d.w]);
            let turned = |c: usize, f: usize, i: usize, j: usize| weight[((f * d.c + c) * 3 + 2 - i) * 3 + 2 - j];
            let conv = winograd::pass(k, turned, &window, &dz, d.c, None);
            return InputGrad::Winograd { conv, dims: [filters, d.oh, d.ow], zeros: vec![0.0; d.c] };
        }
        let ([kh, kw], [sh, sw], [ph, pw]) = (g.kernel, g.stride, g.padding);
        let (mt, nt) = (kh.div_ceil(sh) - 1, kw.div_ceil(sw) - 1);
        let (hq, wq) = ((d.h + 2 * ph).div_ceil(sh), (d.w + 2 * pw).div_ceil(sw));
        let (hy, wy) = (mt + d.oh.max(hq), nt + d.ow.max(wq));
        let plane = hy * wy;
        let mut phases = Vec::with_capacity(sh * sw);
        for a in 0..sh {
            for b in 0..sw {
                let rows = ph.saturating_sub(a).div_ceil(sh)..(ph + d.h).saturating_sub(a).div_ceil(sh);
                let cols = pw.saturating_sub(b).div_ceil(sw)..(pw + d.w).saturating_sub(b).div_ceil(sw);
                if rows.is_empty() || cols.is_empty() {
                    continue;
                }
                let mut offsets = Vec::new();
                let mut sources = Vec::new();
                for f in 0..filters {
                    for i in (a..kh).step_by(sh) {
                        for j in (b..kw).step_by(sw) {
                            offsets.push(f * plane + (mt - (i - a) / sh) * wy + nt - (j - b) / sw);
                            sources.push((f, i, j));
                        }
                    }
                }
                let packed = Packed::new(k, d.c, sources.len(), |c, t| {
                    weight[((sources[t].0 * d.c + c) * kh + sources[t].1) * kw + sources[t].2]
                });
                phases.push(Phase { a, b, taps: Taps::new(offsets), packed, rows, cols });
            }
        }
        let cpad = d.c.div_ceil(k.lanes()) * k.lanes();
        let (mut z_len, mut ys_len) = (0, filters * plane);
        for p in &phases {
            let rows = tiled_rows(k, &p.packed, p.rows.len() * wy);
            z_len = z_len.max(rows * cpad);
            ys_len = ys_len.max(p.rows.start * wy + rows + p.taps.max());
        }
        let (ys, z) = (Aligned::zeros(ys_len), Aligned::zeros(z_len));
        InputGrad::Phases(Box::new(Phases { k, g: *g, d: *d, phases, mt, nt, wy, plane, ys, z }))
    }

    /// `∇x[n]` from image n's `∇z` (F×oh×ow contiguous) into `out`, a dense buffer of x's
    /// shape with strides `s` (maybe uninitialised): every element of image n is written,
    /// since each input pixel `(y, x)` belongs to exactly one phase `((y + ph) mod sh,
    /// (x + pw) mod sw)`, whose rows and columns hold it (Winograd's pass writes every
    /// output element; it runs only on a contiguous `out`).
    pub(crate) fn image(&mut self, gz: &[f32], n: usize, out: &mut [MaybeUninit<f32>], s: &[usize]) {
        let p = match self {
            InputGrad::Winograd { conv, dims, zeros } => {
                let mut dest = winograd::Dest { out, strides: [s[0], s[1], s[2]], whole_blocks: false };
                return conv.image(Source::contiguous(gz, *dims), 0, zeros, None, None, &mut dest, n * s[0]);
            }
            InputGrad::Phases(p) => p,
        };
        let (k, d, [sh, sw], [ph, pw]) = (p.k, p.d, p.g.stride, p.g.padding);
        let ys = p.ys.as_mut_slice();
        for (f, planes) in gz.chunks_exact(d.positions().max(1)).enumerate() {
            for (oh, row) in planes.chunks_exact(d.ow.max(1)).enumerate() {
                let at = f * p.plane + (oh + p.mt) * p.wy + p.nt;
                copy_run(&mut ys[at..at + d.ow], row);
            }
        }
        let cpad = d.c.div_ceil(k.lanes()) * k.lanes();
        for phase in &p.phases {
            let count = phase.rows.len() * p.wy;
            run_tiles(
                k,
                ys,
                Pixels::run(phase.rows.start * p.wy, 1),
                count,
                &phase.taps,
                &phase.packed,
                p.z.as_mut_slice(),
                cpad,
                None,
            );
            let (y0, x0) = (sh * phase.rows.start + phase.a - ph, sw * phase.cols.start + phase.b - pw);
            k.store_planes(Planes {
                z: p.z.as_slice(),
                z_stride: cpad,
                z_width: p.wy,
                channels: d.c,
                rows: phase.rows.len(),
                cols: phase.cols.clone(),
                bias: None,
                act: None,
                out: &mut *out,
                at: n * s[0] + y0 * s[2] + x0 * s[3],
                plane: s[1],
                row_stride: sh * s[2],
                col_stride: sw * s[3],
            });
        }
    }
}

/// ∇W of one convolution, summed image by image: by outer products of the input and ∇z, or
/// by Winograd's F(3×3, 2×2).
pub(crate) enum WeightGrad {
    Outer(Box<Outer>),
    Winograd(Box<winograd_weight::WeightGrad>),
}

impl WeightGrad {
    /// Winograd's when `winograd` (the caller's permission) and it suits.
    pub(crate) fn new(k: Kernels, g: &Window2d, d: &WindowDims, filters: usize, winograd: bool) -> Self {
        if winograd && winograd::suits(g, d.c, filters) {
            WeightGrad::Winograd(Box::new(winograd_weight::WeightGrad::new(k, g, d, filters)))
        } else {
            WeightGrad::Outer(Box::new(Outer::new(k, g, d, filters)))
        }
    }

    /// Adds image n's terms: its input from `x`, its `∇z` (F×oh×ow contiguous).
    pub(crate) fn image(&mut self, x: Source<'_>, n: usize, gz: &[f32]) {
        match self {
            WeightGrad::Outer(o) => o.image(x, n, gz),
            WeightGrad::Winograd(w) => w.image(x, n, gz),
        }
    }

    /// `∇W`, F×C×kh×kw contiguous.
    pub(crate) fn finish(self) -> Buffer<f32> {
        match self {
            WeightGrad::Outer(o) => o.finish(),
            WeightGrad::Winograd(w) => w.finish(),
        }
    }
}

/// ∇W by outer products: per chunk of filter vectors, the taps in groups of `ger_taps`, the
/// last group padded with tap 0 (its sums are dropped), and their sums, a row of fv·lanes
/// per tap.
pub(crate) struct Outer {
    k: Kernels,
    d: WindowDims,
    filters: usize,
    st: Staging,
    taps: usize,
    count: usize,
    fpad: usize,
    max_off: usize,
    xs: Aligned,
    gt: Aligned,
    parts: Vec<(usize, usize, Vec<usize>, Buffer<f32>)>,
    /// One group's offsets from the start of the slice it reads.
    offsets: Vec<usize>,
}

impl Outer {
    fn new(k: Kernels, g: &Window2d, d: &WindowDims, filters: usize) -> Self {
        let st = Staging::new(g, d);
        let lanes = k.lanes();
        let fpad = filters.div_ceil(lanes) * lanes;
        let offsets = st.offsets(g.kernel);
        let taps = offsets.len();
        let count = d.oh * st.wq;
        let max_off = offsets.iter().copied().max().unwrap_or(0);
        let (xs, gt) = (Aligned::zeros(st.planes_len().max(max_off + count * st.step)), Aligned::zeros(count * fpad));
        let parts = chunks(fpad / lanes, k.max_fv())
            .into_iter()
            .map(|(v0, fv)| {
                let r = k.ger_taps(fv);
                let mut padded = offsets.clone();
                padded.resize(taps.div_ceil(r) * r, offsets.first().copied().unwrap_or(0));
                let sums = crate::buffer_pool::filled(padded.len() * fv * lanes, 0.0f32);
                (v0, fv, padded, sums)
            })
            .collect();
        Outer { k, d: *d, filters, st, taps, count, fpad, max_off, xs, gt, parts, offsets: Vec::new() }
    }

    fn image(&mut self, x: Source<'_>, n: usize, gz: &[f32]) {
        let (k, d, lanes) = (self.k, self.d, self.k.lanes());
        let (src, at) = match self.st.in_place(x, n, self.max_off + self.count) {
            Some(image) => image,
            None => {
                self.st.stage(x, n, self.xs.as_mut_slice());
                (self.xs.as_slice(), 0)
            }
        };
        gather_gradient(k, gz, &d, self.filters, self.gt.as_mut_slice(), self.fpad, self.st.wq);
        let offsets = &mut self.offsets;
        for (v0, fv, padded, sums) in &mut self.parts {
            let (r, width) = (k.ger_taps(*fv), *fv * lanes);
            for (group, out) in padded.chunks_exact(r).zip(sums.chunks_exact_mut(r * width)) {
                offsets.clear();
                offsets.extend(group.iter().map(|&o| at + o));
                k.ger(Ger {
                    src,
                    offsets,
                    step: self.st.step,
                    count: self.count,
                    g: &self.gt.as_slice()[*v0 * lanes..],
                    g_stride: self.fpad,
                    fv: *fv,
                    out,
                });
            }
        }
    }

    fn finish(self) -> Buffer<f32> {
        let (lanes, taps) = (self.k.lanes(), self.taps);
        let mut gw = crate::buffer_pool::filled(self.filters * taps, 0.0f32);
        for (v0, fv, _, sums) in &self.parts {
            let width = fv * lanes;
            for l in 0..width {
                let f = v0 * lanes + l;
                if f < self.filters {
                    for t in 0..taps {
                        gw[f * taps + t] = sums[t * width + l];
                    }
                }
            }
        }
        gw
    }
}

/// One image's `∇z` (F×oh×ow contiguous, dims `d`) as pixels × filters:
/// `z[(r·z_width + c)·z_stride + f] = ∇z[f, r, c]` (what lies past oh × ow is not written).
pub(super) fn gather_gradient(
    k: Kernels,
    gz: &[f32],
    d: &WindowDims,
    filters: usize,
    z: &mut [f32],
    z_stride: usize,
    z_width: usize,
) {
    k.gather_planes(FromPlanes {
        src: gz,
        at: 0,
        plane: d.positions(),
        row_stride: d.ow,
        channels: filters,
        rows: d.oh,
        cols: 0..d.ow,
        z,
        z_stride,
        z_width,
    });
}

/// The window of ∇x as a forward convolution of ∇z: 3×3, stride 1, padding `2 − p`.
fn transposed(g: &Window2d) -> Window2d {
    Window2d { kernel: [3, 3], stride: [1, 1], padding: [2 - g.padding[0], 2 - g.padding[1]] }
}
