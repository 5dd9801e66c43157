//! The portable kernels: safe Rust over 8-lane arrays, which the compiler vectorises for
//! whatever the target has (SSE2 on baseline x86-64). They are the reference the SIMD
//! kernels are tested against, and the path Miri runs. Every access is a checked slice
//! index.

use std::mem::MaybeUninit;

use super::{FromPlanes, Ger, Planes, Tile, pixel_offset, tail_start};

pub(super) const LANES: usize = 8;
pub(super) const MAX_FV: usize = 2;

/// Pixels per tile: 2·fv·pixels vector registers of 4 lanes stay within SSE2's sixteen.
pub(super) fn pixels(fv: usize) -> usize {
    if fv == 1 { 6 } else { 3 }
}

/// Eight sums in flight (2·fv·tail registers of 4 lanes).
pub(super) fn tail(fv: usize) -> usize {
    if fv == 1 { 4 } else { 2 }
}

pub(super) fn ger_taps(fv: usize) -> usize {
    if fv == 1 { 4 } else { 2 }
}

pub(super) fn tiles(t: Tile<'_>) {
    match t.fv {
        1 => tiles_n::<1, 6, 4>(t),
        _ => tiles_n::<2, 3, 2>(t),
    }
}

/// Tiles of `P` pixels, then of `T` ([`tail_start`]).
fn tiles_n<const FV: usize, const P: usize, const T: usize>(mut t: Tile<'_>) {
    let full = tail_start(t.count, P, T);
    tiles_run::<FV, P>(&mut t, 0..full);
    let count = t.count;
    tiles_run::<FV, T>(&mut t, full..count);
}

fn tiles_run<const FV: usize, const P: usize>(t: &mut Tile<'_>, pixels: std::ops::Range<usize>) {
    for q0 in pixels.step_by(P) {
        let mut acc = [[[0f32; LANES]; FV]; P];
        let px: [usize; P] = std::array::from_fn(|p| t.at + pixel_offset(t.step, t.wrap, q0 + p));
        for (k, &off) in t.taps.offsets().iter().enumerate() {
            let w = &t.w[k * t.w_stride..k * t.w_stride + FV * LANES];
            let s: [f32; P] = std::array::from_fn(|p| t.src[px[p] + off]);
            for (a, &x) in acc.iter_mut().zip(&s) {
                for (a, w) in a.iter_mut().zip(w.chunks_exact(LANES)) {
                    for (a, &w) in a.iter_mut().zip(w) {
                        *a += x * w;
                    }
                }
            }
        }
        for (p, a) in acc.iter().enumerate() {
            for (v, a) in a.iter().enumerate() {
                let at = (q0 + p) * t.out_stride + v * LANES;
                let out = &mut t.out[at..at + LANES];
                out.copy_from_slice(a);
                if let Some((bias, act)) = t.bias_act {
                    for (o, &b) in out.iter_mut().zip(&bias[v * LANES..]) {
                        let y = *o + b;
                        *o = act.map_or(y, |a| a.apply(y));
                    }
                }
            }
        }
    }
}

pub(super) fn ger(a: Ger<'_>) {
    match a.fv {
        1 => ger_n::<4, 1>(a),
        _ => ger_n::<2, 2>(a),
    }
}

fn ger_n<const R: usize, const FV: usize>(a: Ger<'_>) {
    let mut acc = [[[0f32; LANES]; FV]; R];
    let reach = (a.count - 1) * a.step + 1;
    let srcs: [&[f32]; R] = std::array::from_fn(|r| &a.src[a.offsets[r]..a.offsets[r] + reach]);
    for q in 0..a.count {
        let g = &a.g[q * a.g_stride..q * a.g_stride + FV * LANES];
        for (acc, src) in acc.iter_mut().zip(&srcs) {
            let x = src[q * a.step];
            for (acc, g) in acc.iter_mut().zip(g.chunks_exact(LANES)) {
                for (acc, &g) in acc.iter_mut().zip(g) {
                    *acc += x * g;
                }
            }
        }
    }
    for (out, acc) in a.out.chunks_exact_mut(FV * LANES).zip(&acc) {
        for (out, &v) in out.iter_mut().zip(acc.as_flattened()) {
            *out += v;
        }
    }
}

/// The output pass of [`Planes`] element by element (also the other paths' fallback for
/// strided columns and short rows).
pub(crate) fn store_planes(mut p: Planes<'_>) {
    let out = std::mem::take(&mut p.out);
    store_channels(&p, 0..p.channels, out);
}

/// [`store_planes`] for the channels `channels` only, into `out` (the `out` of `p`, passed
/// separately because `p` is borrowed shared).
pub(crate) fn store_channels(p: &Planes<'_>, channels: std::ops::Range<usize>, out: &mut [MaybeUninit<f32>]) {
    for ch in channels {
        let b = p.bias.map_or(0.0, |b| b[ch]);
        for r in 0..p.rows {
            let at = p.at + ch * p.plane + r * p.row_stride;
            for (i, c) in p.cols.clone().enumerate() {
                let v = p.z[(r * p.z_width + c) * p.z_stride + ch] + b;
                out[at + i * p.col_stride].write(p.act.map_or(v, |a| a.apply(v)));
            }
        }
    }
}

/// The inverse of the output pass ([`FromPlanes`]) element by element.
pub(crate) fn from_planes(p: FromPlanes<'_>) {
    for ch in 0..p.channels {
        for r in 0..p.rows {
            let at = p.at + ch * p.plane + r * p.row_stride;
            for (i, c) in p.cols.clone().enumerate() {
                p.z[(r * p.z_width + c) * p.z_stride + ch] = p.src[at + i];
            }
        }
    }
}
