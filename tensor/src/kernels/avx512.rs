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
            match (t.fv, t.step) {
                (1, 1) => tiles::<1, 16, 1>(t),
                (1, _) => tiles::<1, 16, 2>(t),
                (2, 1) => tiles::<2, 12, 1>(t),
                (2, _) => tiles::<2, 12, 2>(t),
                (3, 1) => tiles::<3, 8, 1>(t),
                (3, _) => tiles::<3, 8, 2>(t),
                (_, 1) => tiles::<4, 6, 1>(t),
                (_, _) => tiles::<4, 6, 2>(t),
            }
        }
    }

    /// # Safety
    /// The extents of `a` must be those `Kernels::ger` asserts.
    pub(super) unsafe fn ger(self, a: Ger<'_>) {
        // SAFETY: the token proves AVX-512F; the caller checked the extents.
        unsafe {
            match (a.fv, a.step) {
                (1, 1) => ger::<8, 1, 1>(a),
                (1, _) => ger::<8, 1, 2>(a),
                (2, 1) => ger::<6, 2, 1>(a),
                (2, _) => ger::<6, 2, 2>(a),
                (3, 1) => ger::<4, 3, 1>(a),
                (3, _) => ger::<4, 3, 2>(a),
                (_, 1) => ger::<4, 4, 1>(a),
                (_, _) => ger::<4, 4, 2>(a),
            }
        }
    }
}

super::fma_loops::fma_loops! {
    feature: "avx512f",
    zero: _mm512_setzero_ps,
    load: _mm512_loadu_ps,
    store: _mm512_storeu_ps,
    splat: _mm512_set1_ps,
    fmadd: _mm512_fmadd_ps,
    add: _mm512_add_ps,
}
