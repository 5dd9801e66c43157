//! The AVX-512F kernels: 16 lanes and 32 zmm registers, up to 24 accumulators per tile
//! (ONNX Runtime's AVX-512 kernel keeps 4 filter blocks × 6 pixels). The output pass is
//! AVX2's (an AVX-512 CPU has AVX2). Only intrinsics that Miri interprets are used (loads,
//! stores, broadcasts, fused multiply-adds, adds), so this path can be checked under Miri
//! on a CPU without AVX-512.

use std::arch::x86_64::*;

use super::{Ger, Tile, avx2, in_bounds};

pub(super) const LANES: usize = 16;
pub(super) const MAX_FV: usize = 4;

pub(super) fn pixels(fv: usize) -> usize {
    match fv {
        1 => 16,
        2 => 12,
        3 => 8,
        _ => 6,
    }
}

pub(super) fn ger_taps(fv: usize) -> usize {
    match fv {
        1 => 8,
        2 => 6,
        _ => 4,
    }
}

/// Proof that this CPU has AVX-512F, AVX2 and FMA: only [`Token::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    avx2: avx2::Token,
}

impl Token {
    pub(super) fn detect() -> Option<Token> {
        let avx2 = avx2::Token::detect()?;
        is_x86_feature_detected!("avx512f").then_some(Token { avx2 })
    }

    /// The AVX2 kernels, for the output pass and for layers of 8 channels or fewer.
    pub(super) fn avx2(self) -> avx2::Token {
        self.avx2
    }

    /// # Safety
    /// The extents of `t` must be those `Kernels::tiles` asserts.
    pub(super) unsafe fn tiles(self, t: Tile<'_>) {
        // SAFETY: the token proves AVX-512F; the caller checked the extents.
        unsafe {
            match t.fv {
                1 => tiles::<1, 16>(t),
                2 => tiles::<2, 12>(t),
                3 => tiles::<3, 8>(t),
                _ => tiles::<4, 6>(t),
            }
        }
    }

    /// # Safety
    /// The extents of `a` must be those `Kernels::ger` asserts.
    pub(super) unsafe fn ger(self, a: Ger<'_>) {
        // SAFETY: the token proves AVX-512F; the caller checked the extents.
        unsafe {
            match a.fv {
                1 => ger::<8, 1>(a),
                2 => ger::<6, 2>(a),
                3 => ger::<4, 3>(a),
                _ => ger::<4, 4>(a),
            }
        }
    }
}

/// For each tile of `P` pixels from `q0`: `acc[p][v] = Σ_t src[at + q0 + p + off_t] · w[t][v]`,
/// stored as row `q0 + p` of `out`.
///
/// # Safety
/// AVX-512F; `at + tiled(count) − 1 + max offset < src.len()`, `w` holds a row of `FV`
/// vectors per tap (`w_stride` apart), and `out` holds `tiled(count)` rows of `FV` vectors `out_stride` apart.
#[target_feature(enable = "avx512f")]
unsafe fn tiles<const FV: usize, const P: usize>(t: Tile<'_>) {
    let (src_len, w_len, out_len) = (t.src.len(), t.w.len(), t.out.len());
    let (src, w, out) = (t.src.as_ptr(), t.w.as_ptr(), t.out.as_mut_ptr());
    for q0 in (0..t.count).step_by(P) {
        let mut acc = [[_mm512_setzero_ps(); FV]; P];
        for (k, &off) in t.taps.offsets().iter().enumerate() {
            let mut wv = [_mm512_setzero_ps(); FV];
            for (v, wv) in wv.iter_mut().enumerate() {
                in_bounds(k * t.w_stride + v * LANES, LANES, w_len);
                // SAFETY: tap k < taps.len() has FV vectors of weights at k·w_stride
                // inside `w` (asserted extent).
                *wv = unsafe { _mm512_loadu_ps(w.add(k * t.w_stride + v * LANES)) };
            }
            for (p, acc) in acc.iter_mut().enumerate() {
                in_bounds(t.at + q0 + p + off, 1, src_len);
                // SAFETY: at + q0 + p + off ≤ at + tiled(count) − 1 + max offset < src.len().
                let x = _mm512_set1_ps(unsafe { *src.add(t.at + q0 + p + off) });
                for (acc, &wv) in acc.iter_mut().zip(&wv) {
                    *acc = _mm512_fmadd_ps(x, wv, *acc);
                }
            }
        }
        for (p, acc) in acc.iter().enumerate() {
            for (v, &acc) in acc.iter().enumerate() {
                in_bounds((q0 + p) * t.out_stride + v * LANES, LANES, out_len);
                // SAFETY: row q0 + p < tiled(count), vector v < FV: inside `out`.
                unsafe { _mm512_storeu_ps(out.add((q0 + p) * t.out_stride + v * LANES), acc) };
            }
        }
    }
}

/// `out[r][v] += Σ_q src[offsets[r] + q] · g[q·g_stride + v]`.
///
/// # Safety
/// AVX-512F; every `offsets[r] + count − 1 < src.len()`, `(count − 1)·g_stride + FV·16 ≤
/// g.len()`, `out` holds `R` rows of `FV` vectors, `count > 0`.
#[target_feature(enable = "avx512f")]
unsafe fn ger<const R: usize, const FV: usize>(a: Ger<'_>) {
    let mut acc = [[_mm512_setzero_ps(); FV]; R];
    let g = a.g.as_ptr();
    let mut srcs = [a.src.as_ptr(); R];
    for (s, &off) in srcs.iter_mut().zip(a.offsets) {
        in_bounds(off, a.count, a.src.len());
        // SAFETY: off ≤ off + count − 1 < src.len().
        *s = unsafe { s.add(off) };
    }
    for q in 0..a.count {
        let mut gv = [_mm512_setzero_ps(); FV];
        for (v, gv) in gv.iter_mut().enumerate() {
            in_bounds(q * a.g_stride + v * LANES, LANES, a.g.len());
            // SAFETY: q·g_stride + v·16 + 15 ≤ (count − 1)·g_stride + FV·16 − 1 < g.len().
            *gv = unsafe { _mm512_loadu_ps(g.add(q * a.g_stride + v * LANES)) };
        }
        for (acc, &s) in acc.iter_mut().zip(&srcs) {
            // SAFETY: off + q ≤ off + count − 1 < src.len() for the tap's offset `off`
            // (checked above, once per tap, in builds with debug assertions).
            let x = _mm512_set1_ps(unsafe { *s.add(q) });
            for (acc, &gv) in acc.iter_mut().zip(&gv) {
                *acc = _mm512_fmadd_ps(x, gv, *acc);
            }
        }
    }
    let (out_len, out) = (a.out.len(), a.out.as_mut_ptr());
    for (r, acc) in acc.iter().enumerate() {
        for (v, &acc) in acc.iter().enumerate() {
            in_bounds((r * FV + v) * LANES, LANES, out_len);
            // SAFETY: row r < R, vector v < FV lie inside `out` (asserted extent).
            unsafe {
                let at = out.add((r * FV + v) * LANES);
                _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), acc));
            }
        }
    }
}
