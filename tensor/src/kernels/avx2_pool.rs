//! Max-pooling of one channel plane with AVX2, for square 2×2 and 3×3 windows of stride 2
//! (LeNet's and the overlapping pools): 8 outputs at a time, each window row loaded as 16
//! floats and split into its even and odd columns, the taps compared in the window's
//! row-major order with the scalar pass's rule (the first strict maximum wins; a NaN wins,
//! the first one); without winners (inference), the 3×3 windows separably, each input
//! row's maxima shared by the two windows that read it. And the 2×2/2 average pool, the
//! four taps added in the scalar pass's order.

use std::arch::x86_64::*;

use super::avx2::{even, first_lanes, odd, store};
use super::{PoolPlane, in_bounds};

const LANES: usize = 8;

/// # Safety
/// AVX2; the extents `Kernels::max_pool_plane` asserts; `p.kernel` is 2 or 3.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn max_pool_plane(p: PoolPlane<'_>) {
    // SAFETY: forwarded.
    unsafe {
        match (p.kernel, p.winners.is_some()) {
            (2, true) => row::<2, true>(p),
            (2, false) => row::<2, false>(p),
            (_, true) => row::<3, true>(p),
            (_, false) => overlapping(p),
        }
    }
}

/// The 3×3/2 pool without winners, separably: each input row's maximum over the three
/// columns of each window, `h[i][q] = max(x[i][2q], x[i][2q + 1], x[i][2q + 2])`, then
/// `out[r][q] = max(h[2r], h[2r + 1], h[2r + 2])`, the row shared by two windows computed
/// once. `max` keeps the earlier operand on a tie, so the result is the first maximum in
/// row-major order, as the window scan's; a block whose loads hold a NaN is redone by
/// the scan, which returns the first NaN's bits.
///
/// # Safety
/// As [`max_pool_plane`], with `p.kernel = 3`.
#[target_feature(enable = "avx2")]
unsafe fn overlapping(p: PoolPlane<'_>) {
    let (src, rs) = (p.src, p.row_stride);
    for q in (0..p.count).step_by(LANES) {
        let n = (p.count - q).min(LANES);
        let column = p.at + 2 * q;
        // SAFETY: window rows 0..2·rows + 1 of outputs q..q + n, inside the asserted extent.
        let (mut top, mut nan) = unsafe { row_max(src, column, n) };
        for r in 0..p.rows {
            let base = column + 2 * r * rs;
            // SAFETY: rows 2r + 1 and 2r + 2 of the same windows.
            let ((mid, nan_mid), (bottom, nan_bottom)) =
                unsafe { (row_max(src, base + rs, n), row_max(src, base + 2 * rs, n)) };
            let mut value = _mm256_max_ps(bottom, _mm256_max_ps(mid, top));
            if _mm256_movemask_ps(_mm256_or_ps(nan, _mm256_or_ps(nan_mid, nan_bottom))) != 0 {
                // SAFETY: as above.
                value = unsafe { windows::<3, true>(src, base, rs, n) }.0;
            }
            let o = r * p.count + q;
            in_bounds(o, n, p.out.len());
            // SAFETY: outputs o..o + n lie inside `out` (asserted).
            unsafe { store(p.out.as_mut_ptr().add(o), value, n) };
            (top, nan) = (bottom, nan_bottom);
        }
    }
}

/// `max(x[2l], x[2l + 1], x[2l + 2])` for `l < n ≤ 8` from `src[at]`, the earlier tap kept
/// on a tie, and a mask of the lanes whose loads held a NaN (or lanes loaded past the
/// taps: a false alarm only costs the scan).
///
/// # Safety
/// AVX2; `at..at + 2n + 1` inside `src`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn row_max(src: &[f32], at: usize, n: usize) -> (__m256, __m256) {
    let (ptr, len) = (src.as_ptr(), src.len());
    in_bounds(at, 2 * n + 1, len);
    // SAFETY: columns at..at + 2n + 1 are in `src` (the caller's extent); even lane n is
    // x[2n], the last tap of output n − 1.
    let (even, odd) = unsafe { split(ptr.add(at), (2 * n + 1).min(2 * LANES), len - at) };
    let mut nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(even, odd);
    // x[2l + 2]: the even lanes moved down one, the last from x[16] when 8 outputs need it.
    let mut next = _mm256_permutevar8x32_ps(even, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7));
    if n == LANES {
        // SAFETY: column at + 16 = at + 2n is the last window's last tap.
        let last = _mm256_set1_ps(unsafe { *ptr.add(at + 2 * LANES) });
        next = _mm256_blend_ps::<0x80>(next, last);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(last, last));
    }
    (_mm256_max_ps(next, _mm256_max_ps(odd, even)), nan)
}

/// `out[r·count + q] = (((0 + a₀₀) + a₀₁) + a₁₀) + a₁₁)·scale` for the 2×2 window at
/// `src[at + 2r·row_stride + 2q]`: the scalar pass's sum, in its order, 8 outputs at a time.
///
/// # Safety
/// AVX2; the extents `Kernels::avg_pool_plane` asserts (those of a 2×2 `PoolPlane`).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn avg_pool_plane(p: PoolPlane<'_>, scale: f32) {
    let (ptr, len, scale) = (p.src.as_ptr(), p.src.len(), _mm256_set1_ps(scale));
    for r in 0..p.rows {
        for q in (0..p.count).step_by(LANES) {
            let n = (p.count - q).min(LANES);
            let top = p.at + 2 * r * p.row_stride + 2 * q;
            let bottom = top + p.row_stride;
            let o = r * p.count + q;
            in_bounds(top, 2 * n, len);
            in_bounds(bottom, 2 * n, len);
            in_bounds(o, n, p.out.len());
            // SAFETY: columns 2q..2q + 2n of window rows 2r and 2r + 1 are taps of the
            // plane, inside the asserted extent; outputs o..o + n lie inside `out`
            // (asserted).
            unsafe {
                let (a0, a1) = split(ptr.add(top), 2 * n, len - top);
                let (b0, b1) = split(ptr.add(bottom), 2 * n, len - bottom);
                let sum =
                    _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_setzero_ps(), a0), a1), b0), b1);
                store(p.out.as_mut_ptr().add(o), _mm256_mul_ps(sum, scale), n);
            }
        }
    }
}

/// # Safety
/// As [`max_pool_plane`], with `K = p.kernel` and `WINNERS = p.winners.is_some()`.
#[target_feature(enable = "avx2")]
unsafe fn row<const K: usize, const WINNERS: bool>(mut p: PoolPlane<'_>) {
    // Tap t of a window (row-major) sits `offset[t]` after its top-left tap.
    let offset: [usize; 9] = std::array::from_fn(|t| (t / K) * p.row_stride + t % K);
    let chunks = p.count.div_ceil(LANES);
    for chunk in 0..p.rows * chunks {
        let (r, q) = (chunk / chunks, chunk % chunks * LANES);
        let n = (p.count - q).min(LANES);
        let base = p.at + 2 * r * p.row_stride + 2 * q;
        let o = r * p.count + q;
        // SAFETY: the windows of outputs q..q + n of row r are inside the asserted extent.
        let (mut value, mut tap, nan) = unsafe { windows::<K, WINNERS>(p.src, base, p.row_stride, n) };
        if !WINNERS && _mm256_movemask_ps(nan) != 0 {
            // A NaN wins its window with its own bits: found by the full scan (rare).
            // SAFETY: as above.
            (value, tap, _) = unsafe { windows::<K, true>(p.src, base, p.row_stride, n) };
        }
        in_bounds(o, n, p.out.len());
        // SAFETY: outputs o..o + n lie inside `out` (asserted).
        unsafe { store(p.out.as_mut_ptr().add(o), value, n) };
        if let Some(winners) = p.winners.as_deref_mut() {
            let mut taps = [0i32; LANES];
            // SAFETY: an array of 8 i32.
            unsafe { _mm256_storeu_si256(taps.as_mut_ptr().cast(), tap) };
            for (l, (w, &t)) in winners[o..o + n].iter_mut().zip(&taps).enumerate() {
                *w = base + 2 * l + offset[t as usize];
            }
        }
    }
}

/// The windows of `n ≤ 8` outputs side by side, the first one's top-left tap at `src[base]`:
/// with `TRACK`, each window's first maximum (a NaN wins, the first one) and its tap in
/// row-major order; without, only the maximum of the values other than NaN (or a NaN when
/// the first tap is one) and a mask of the windows holding a NaN.
///
/// # Safety
/// AVX2; taps `base + i·row_stride + 2l + j` (i, j < K, l < n) inside `src`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn windows<const K: usize, const TRACK: bool>(
    src: &[f32],
    base: usize,
    row_stride: usize,
    n: usize,
) -> (__m256, __m256i, __m256) {
    let (ptr, len) = (src.as_ptr(), src.len());
    let (mut best, mut value, mut tap, mut nan) =
        (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_si256(), _mm256_setzero_ps());
    for i in 0..K {
        let row = base + i * row_stride;
        // Window row i of outputs l < n: columns 2l + j, j < K, so 2n + K − 2 floats.
        in_bounds(row, 2 * n + K - 2, len);
        // SAFETY: columns row..row + 2n − 1 (and, for K = 3, row + 2n) are taps of the
        // windows, inside `src`; whole vectors only where 16 floats are.
        let (even, odd) = unsafe { split(ptr.add(row), 2 * n, len - row) };
        let mut taps = [even, odd, even];
        if K == 3 {
            // SAFETY: as above, from column row + 2.
            taps[2] = unsafe { split(ptr.add(row + 2), 2 * n - 1, len - row - 2) }.0;
        }
        for (j, &v) in taps.iter().enumerate().take(K) {
            let v_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
            if i == 0 && j == 0 {
                (best, value, nan) = (v, v, v_nan);
                continue;
            }
            if !TRACK {
                nan = _mm256_or_ps(nan, v_nan);
                best = _mm256_max_ps(v, best);
                continue;
            }
            let greater = _mm256_cmp_ps::<_CMP_GT_OQ>(v, best);
            let take = _mm256_andnot_ps(nan, _mm256_or_ps(greater, v_nan));
            nan = _mm256_or_ps(nan, v_nan);
            best = _mm256_max_ps(v, best);
            value = _mm256_blendv_ps(value, v, take);
            let k = _mm256_set1_epi32((i * K + j) as i32);
            tap = _mm256_blendv_epi8(tap, k, _mm256_castps_si256(take));
        }
    }
    (if TRACK { value } else { best }, tap, nan)
}

/// The even and odd columns of the `len ≤ 16` floats at `at` (lanes past them are zero,
/// or whatever follows them when `room ≥ 16` floats are readable).
///
/// # Safety
/// AVX2; `at..at + min(len, room)` valid for reads, `len ≤ room`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn split(at: *const f32, len: usize, room: usize) -> (__m256, __m256) {
    // SAFETY: two whole vectors when 16 floats are readable, else masked loads of the first
    // `len` floats only.
    let (lo, hi) = unsafe {
        if room >= 2 * LANES {
            (_mm256_loadu_ps(at), _mm256_loadu_ps(at.add(LANES)))
        } else {
            let lo = _mm256_maskload_ps(at, first_lanes(len.min(LANES)));
            let hi = _mm256_maskload_ps(at.wrapping_add(LANES), first_lanes(len.saturating_sub(LANES)));
            (lo, hi)
        }
    };
    (even(lo, hi), odd(lo, hi))
}
