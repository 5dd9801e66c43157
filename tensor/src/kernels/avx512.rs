//! The AVX-512F kernels: 16 lanes and 32 zmm registers, up to 24 accumulators per tile
//! (ONNX Runtime's AVX-512 kernel keeps 4 filter blocks × 6 pixels). The output pass is
//! AVX2's (an AVX-512 CPU has AVX2). Only intrinsics that Miri interprets are used (loads,
//! stores, broadcasts, fused multiply-adds, adds), so this path can be checked under Miri
//! on a CPU without AVX-512.

use std::arch::x86_64::*;

use super::{Ger, Tile, avx2, in_bounds, tail_start, wrapped};
use crate::activation::Activation;

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

/// Eight sums in flight, as on AVX2 (two FMA units × four cycles); not measured, this
/// machine having no AVX-512.
pub(super) fn tail(fv: usize) -> usize {
    match fv {
        1 => 8,
        2 => 4,
        3 => 3,
        _ => 2,
    }
}

pub(super) fn ger_taps(fv: usize) -> usize {
    match fv {
        1 => 8,
        2 => 6,
        _ => 4,
    }
}

/// Proof that this CPU has AVX-512F and VL, AVX2 and FMA: only [`Token::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    avx2: avx2::Token,
}

impl Token {
    pub(super) fn detect() -> Option<Token> {
        let avx2 = avx2::Token::detect()?;
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl")).then_some(Token { avx2 })
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
                1 => tiles_stepped::<1, 16, 8>(t),
                2 => tiles_stepped::<2, 12, 4>(t),
                3 => tiles_stepped::<3, 8, 3>(t),
                _ => tiles_stepped::<4, 6, 2>(t),
            }
        }
    }

    /// # Safety
    /// The extents of `a` must be those `Kernels::ger` asserts.
    pub(super) unsafe fn ger(self, a: Ger<'_>) {
        // SAFETY: the token proves AVX-512F; the caller checked the extents.
        unsafe {
            match a.fv {
                1 => ger_stepped::<8, 1>(a),
                2 => ger_stepped::<6, 2>(a),
                3 => ger_stepped::<4, 3>(a),
                _ => ger_stepped::<4, 4>(a),
            }
        }
    }
}

super::fma_loops::fma_loops! {
    feature: "avx512f",
    vector: __m512,
    zero: _mm512_setzero_ps,
    load: _mm512_loadu_ps,
    store: _mm512_storeu_ps,
    splat: _mm512_set1_ps,
    fmadd: _mm512_fmadd_ps,
    add: _mm512_add_ps,
    max: _mm512_max_ps,
}
