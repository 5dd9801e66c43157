//! The direct VJPs of a convolution, from `∇z` (N×F×oh×ow, contiguous):
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

use super::forward::{Packed, run_tiles, tiled_rows};
use super::staging::{Aligned, Source, Staging, chunks};
use crate::columns::copy_run;
use crate::kernels::{FromPlanes, Ger, Kernels, Planes, Taps};
use crate::tensor::Tensor;
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

/// `∇x` written into `out` (a dense buffer of x's shape with strides `s`, maybe
/// uninitialised): every element is written, since each input pixel `(y, x)` belongs to
/// exactly one phase `((y + ph) mod sh, (x + pw) mod sw)`, whose rows and columns hold it.
/// `weight` is F×C×kh×kw contiguous, `gz` N×F×oh×ow contiguous.
#[allow(clippy::too_many_arguments)]
pub(crate) fn input_grad(
    k: Kernels,
    gz: &[f32],
    weight: &[f32],
    g: &Window2d,
    d: &WindowDims,
    filters: usize,
    out: &mut [std::mem::MaybeUninit<f32>],
    s: &[usize],
) {
    let ([kh, kw], [sh, sw], [ph, pw]) = (g.kernel, g.stride, g.padding);
    // ∇z staged with `mt` zero rows above and `nt` zero columns left (the most taps a phase
    // has along each axis, minus one), wide and tall enough for every phase plane.
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
    let (mut ys, mut z) = (Aligned::zeros(ys_len), Aligned::zeros(z_len));
    let out_plane = d.oh * d.ow;
    for n in 0..d.n {
        let ys = ys.as_mut_slice();
        for (f, planes) in
            gz[n * filters * out_plane..(n + 1) * filters * out_plane].chunks_exact(out_plane.max(1)).enumerate()
        {
            for (oh, row) in planes.chunks_exact(d.ow.max(1)).enumerate() {
                let at = f * plane + (oh + mt) * wy + nt;
                copy_run(&mut ys[at..at + d.ow], row);
            }
        }
        for p in &phases {
            let count = p.rows.len() * wy;
            run_tiles(k, ys, p.rows.start * wy, count, &p.taps, &p.packed, z.as_mut_slice(), cpad);
            let (y0, x0) = (sh * p.rows.start + p.a - ph, sw * p.cols.start + p.b - pw);
            k.store_planes(Planes {
                z: z.as_slice(),
                z_stride: cpad,
                z_width: wy,
                channels: d.c,
                rows: p.rows.len(),
                cols: p.cols.clone(),
                bias: None,
                act: None,
                out,
                at: n * s[0] + y0 * s[2] + x0 * s[3],
                plane: s[1],
                row_stride: sh * s[2],
                col_stride: sw * s[3],
            });
        }
    }
}

/// `∇W`, F×C×kh×kw contiguous. `gz` is N×F×oh×ow contiguous.
pub(crate) fn weight_grad(
    k: Kernels,
    x: &Tensor<f32>,
    gz: &[f32],
    g: &Window2d,
    d: &WindowDims,
    filters: usize,
) -> Vec<f32> {
    let st = Staging::new(g, d);
    let lanes = k.lanes();
    let fpad = filters.div_ceil(lanes) * lanes;
    let offsets = st.offsets(g.kernel);
    let taps = offsets.len();
    let count = d.oh * st.wq;
    let max_off = offsets.iter().copied().max().unwrap_or(0);
    let mut xs = Aligned::zeros(st.planes_len().max(max_off + count));
    let mut gt = Aligned::zeros(count * fpad);
    // Per chunk of filter vectors: the taps in groups of `ger_taps`, the last group padded
    // with tap 0 (its sums are dropped), and their sums, a row of fv·lanes per tap.
    let parts: Vec<_> = chunks(fpad / lanes, k.max_fv())
        .into_iter()
        .map(|(v0, fv)| {
            let r = k.ger_taps(fv);
            let mut padded = offsets.clone();
            padded.resize(taps.div_ceil(r) * r, offsets.first().copied().unwrap_or(0));
            let sums = vec![0.0f32; padded.len() * fv * lanes];
            (v0, fv, padded, sums)
        })
        .collect();
    let mut parts = parts;
    let out_plane = d.oh * d.ow;
    for n in 0..d.n {
        st.stage(Source::tensor(x), n, xs.as_mut_slice());
        let gt = gt.as_mut_slice();
        k.gather_planes(FromPlanes {
            src: gz,
            at: n * filters * out_plane,
            plane: out_plane,
            row_stride: d.ow,
            channels: filters,
            rows: d.oh,
            cols: 0..d.ow,
            z: gt,
            z_stride: fpad,
            z_width: st.wq,
        });
        for (v0, fv, padded, sums) in &mut parts {
            let (r, width) = (k.ger_taps(*fv), *fv * lanes);
            for (group, out) in padded.chunks_exact(r).zip(sums.chunks_exact_mut(r * width)) {
                k.ger(Ger {
                    src: xs.as_slice(),
                    offsets: group,
                    count,
                    g: &gt[*v0 * lanes..],
                    g_stride: fpad,
                    fv: *fv,
                    out,
                });
            }
        }
    }
    let mut gw = vec![0.0f32; filters * taps];
    for (v0, fv, _, sums) in &parts {
        let width = fv * lanes;
        for l in 0..width {
            let f = v0 * lanes + l;
            if f < filters {
                for t in 0..taps {
                    gw[f * taps + t] = sums[t * width + l];
                }
            }
        }
    }
    gw
}
