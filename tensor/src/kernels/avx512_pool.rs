//! The 3×3/2 max-pool without winners (inference) with AVX-512F on planes of at most 7
//! outputs a row (13×13 → 6×6 after a 3×3 convolution on 13×13, 15×15 → 7×7): two planes
//! to a vector, the first in lanes 0–7, the second in lanes 8–15. Each input row is loaded
//! once, masked to its `2·count + 1` taps, and its three window columns gathered by
//! `permutex2var`; then AVX2's `overlapping` reduction, `h[i][q] = max(x[i][2q],
//! x[i][2q + 1], x[i][2q + 2])` and `out[r][q] = max(h[2r], h[2r + 1], h[2r + 2])`, the
//! earlier operand kept on a tie (the first maximum in row-major order). A pair whose
//! loads hold a NaN is redone plane by plane by the AVX2 pass, whose scan returns the first
//! NaN's bits.

use std::arch::x86_64::*;

use super::avx2_pool;
use super::{PoolPlane, PoolPlanes, in_bounds};

/// The widest output row a plane may have: its 15 taps fit one 16-float load.
pub(super) const MAX_COUNT: usize = 7;

/// # Safety
/// AVX-512F and AVX2; the extents `Kernels::max_pool_planes` asserts, `count ≤ MAX_COUNT`.
#[target_feature(enable = "avx2,avx512f")]
pub(super) unsafe fn max_pool_planes(p: PoolPlanes<'_>) {
    debug_assert!(p.count <= MAX_COUNT);
    let (src, rs, len) = (p.src.as_ptr(), p.row_stride, p.src.len());
    let (outputs, out_len) = (p.rows * p.count, p.out.len());
    let taps = 2 * p.count + 1;
    let (load, store) = (((1u32 << taps) - 1) as __mmask16, ((1u32 << p.count) - 1) as __mmask16);
    // Lane q < 8 takes tap 2q + k of the first plane's row, lane 8 + q that of the second's
    // (`permutex2var` indices 16 and up); lanes past `count` hold leftovers never stored.
    let column = |k: i32| {
        _mm512_add_epi32(
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
            _mm512_set1_epi32(k),
        )
    };
    let (even, odd, next) = (column(0), column(1), column(2));
    for first in (0..p.planes).step_by(2) {
        let second = (first + 1).min(p.planes - 1);
        let (a, b) = (p.plane_at(first), p.plane_at(second));
        let out = p.out.as_mut_ptr();
        let mut nan: __mmask16 = 0;
        let mut row_max = |i: usize| {
            let (a, b) = (a + i * rs, b + i * rs);
            in_bounds(a, taps, len);
            in_bounds(b, taps, len);
            // SAFETY: the `taps` floats of input row i of both planes lie inside the
            // asserted extent; the masked loads read only those.
            let (x, y) = unsafe { (_mm512_maskz_loadu_ps(load, src.add(a)), _mm512_maskz_loadu_ps(load, src.add(b))) };
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x) | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(y, y);
            let (e, o, n) = (
                _mm512_permutex2var_ps(x, even, y),
                _mm512_permutex2var_ps(x, odd, y),
                _mm512_permutex2var_ps(x, next, y),
            );
            _mm512_max_ps(n, _mm512_max_ps(o, e))
        };
        let mut top = row_max(0);
        for r in 0..p.rows {
            let (mid, bottom) = (row_max(2 * r + 1), row_max(2 * r + 2));
            let value = _mm512_max_ps(bottom, _mm512_max_ps(mid, top));
            let (o, o2) = (first * outputs + r * p.count, second * outputs + r * p.count);
            in_bounds(o, p.count, out_len);
            in_bounds(o2, p.count, out_len);
            // SAFETY: outputs r·count .. (r + 1)·count of both planes lie inside `out`
            // (asserted); the masked stores write only those.
            unsafe {
                _mm512_mask_storeu_ps(out.add(o), store, value);
                if second != first {
                    _mm512_mask_storeu_ps(out.add(o2), store, _mm512_shuffle_f32x4::<0x4E>(value, value));
                }
            }
            top = bottom;
        }
        if nan != 0 {
            for plane in first..=second {
                let o = plane * outputs;
                let redo = PoolPlane {
                    src: p.src,
                    at: p.plane_at(plane),
                    row_stride: rs,
                    kernel: 3,
                    rows: p.rows,
                    count: p.count,
                    out: &mut p.out[o..o + outputs],
                    winners: None,
                };
                // SAFETY: AVX2 (enabled here); the plane's extents are those asserted.
                unsafe { avx2_pool::max_pool_plane(redo) };
            }
        }
    }
}
