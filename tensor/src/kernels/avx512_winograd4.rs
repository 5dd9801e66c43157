//! Winograd's F(4×4, 3×3) transforms with AVX-512F: 16 tiles a vector, the operations of
//! `avx2_winograd4.rs` lane for lane (the same bits). The input transform loads lane l's
//! patch row into a vector's low half and lane l + 8's into its high half and transposes
//! 8×8 in each half; the output transform's 4×4 transposes leave tile k + 4j's 4 pixels in
//! quarter j of vector k. Per tile, half the shuffles of 8 lanes: the transforms' cost.

use std::arch::x86_64::*;

use super::BlockPool;
use super::avx2_winograd4::{Blocks, f43_arithmetic, tile_origins};
use super::in_bounds;
use super::winograd4::{Wino4In, Wino4Out};
use crate::activation::Activation;

const LANES: usize = 16;

f43_arithmetic!(
    __m512,
    "avx512f",
    _mm512_set1_ps,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_add_ps,
    _mm512_sub_ps,
    _mm512_max_ps,
    _mm512_fmadd_ps,
    _mm512_fnmadd_ps
);

/// An 8×8 transpose in each 256-bit half of `v` (AVX2's `transpose8` on both halves at once).
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose8_halves(v: &mut [__m512; 8]) {
    let t: [__m512; 8] = std::array::from_fn(|i| {
        let (a, b) = (v[i / 2 * 2], v[i / 2 * 2 + 1]);
        if i % 2 == 0 { _mm512_unpacklo_ps(a, b) } else { _mm512_unpackhi_ps(a, b) }
    });
    let s = [
        _mm512_shuffle_ps::<0x44>(t[0], t[2]),
        _mm512_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm512_shuffle_ps::<0x44>(t[1], t[3]),
        _mm512_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm512_shuffle_ps::<0x44>(t[4], t[6]),
        _mm512_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm512_shuffle_ps::<0x44>(t[5], t[7]),
        _mm512_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    // Each half: quarter q of `s[i]` then of `s[i + 4]` (AVX2's `permute2f128` 0x20 and 0x31).
    let low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    let high = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    for i in 0..4 {
        v[i] = _mm512_permutex2var_ps(s[i], low, s[i + 4]);
        v[i + 4] = _mm512_permutex2var_ps(s[i], high, s[i + 4]);
    }
}

/// The input transform (see [`Wino4In`]).
///
/// # Safety
/// AVX-512F, AVX2 and FMA; the extents `Kernels::winograd4_input` asserts, `tiles` a
/// multiple of 16 and `wst ≥ 4·(tw − 1) + 8` (each patch row is loaded as 8 floats).
#[target_feature(enable = "avx2,fma,avx512f")]
pub(super) unsafe fn input(p: Wino4In<'_>) {
    debug_assert!(p.tiles.is_multiple_of(LANES));
    let plane = p.hst * p.wst;
    let (src_len, v_len) = (p.src.len(), p.v.len());
    let (src, v) = (p.src.as_ptr(), p.v.as_mut_ptr());
    for t in (0..p.tiles).step_by(LANES) {
        let mut base = [0; LANES];
        for (l, base) in base.iter_mut().enumerate() {
            *base = 4 * ((t + l) / p.tw) * p.wst + 4 * ((t + l) % p.tw);
        }
        let mut d = [[_mm512_setzero_ps(); 6]; 6];
        let mut cols = [[_mm512_setzero_ps(); 6]; 6];
        for c in 0..p.channels {
            for (i, d) in d.iter_mut().enumerate() {
                let mut r = [_mm512_setzero_ps(); 8];
                for (l, r) in r.iter_mut().enumerate() {
                    let (lo, hi) = (c * plane + base[l] + i * p.wst, c * plane + base[l + 8] + i * p.wst);
                    in_bounds(lo, 8, src_len);
                    in_bounds(hi, 8, src_len);
                    // SAFETY: the patch rows of two tiles whose patches lie inside plane c
                    // (asserted), read 8 floats wide: 4·tx + 8 ≤ wst.
                    *r = unsafe {
                        // (`insertf64x4`: AVX-512F's 256-bit insert; `insertf32x8` is AVX-512DQ's.)
                        let low = _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(src.add(lo))));
                        _mm512_castpd_ps(_mm512_insertf64x4::<1>(low, _mm256_castps_pd(_mm256_loadu_ps(src.add(hi)))))
                    };
                }
                transpose8_halves(&mut r);
                d.copy_from_slice(&r[..6]);
            }
            // Bᵀ d (columns), then (Bᵀ d) B (rows), as on 8 lanes.
            for (j, col) in cols.iter_mut().enumerate() {
                *col = bt([d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j]]);
            }
            #[allow(clippy::needless_range_loop)] // cols[j][i]: a transposed read
            for i in 0..6 {
                let row = bt([cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]]);
                for (j, &x) in row.iter().enumerate() {
                    let at = (i * 6 + j) * p.v_block + c * p.tiles + t;
                    in_bounds(at, LANES, v_len);
                    // SAFETY: ξ·v_block + c·tiles + t + 16 ≤ 35·v_block + channels·tiles (asserted).
                    unsafe { _mm512_storeu_ps(v.add(at), x) };
                }
            }
        }
    }
}

/// The output transform (see [`Wino4Out`]).
///
/// # Safety
/// AVX-512F and VL, AVX2 and FMA; the extents `Kernels::winograd4_output` asserts and
/// `tiles` a multiple of 16.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) unsafe fn output(p: Wino4Out<'_>) {
    debug_assert!(p.tiles.is_multiple_of(LANES));
    if let Some(pool) = p.pool {
        // SAFETY: forwarded.
        return unsafe { output_pooled(p, pool) };
    }
    let relu = p.act == Some(Activation::Relu);
    let (m_len, out_len) = (p.m.len(), p.out.len());
    let (m, out) = (p.m.as_ptr(), p.out.as_mut_ptr().cast::<f32>());
    let real = p.oh.div_ceil(4) * p.tw;
    for t in (0..p.tiles.min(real.div_ceil(LANES) * LANES)).step_by(LANES) {
        let blocks = Blocks::<LANES>::new(&p, t, real);
        for f in 0..p.filters {
            in_bounds(35 * p.m_block + f * p.tiles + t, LANES, m_len);
            // SAFETY: ξ·m_block + f·tiles + t + 16 ≤ 35·m_block + filters·tiles ≤ m.len()
            // (asserted).
            let cols = unsafe { columns(m.add(f * p.tiles + t), p.m_block) };
            let b = _mm512_set1_ps(p.bias[f]);
            let plane = p.at + f * p.plane;
            for r in 0..4 {
                let y = block_row(&cols, r, b, relu);
                // 4×4 transposes in each quarter: q[k]'s quarter j holds tile k + 4j's pixels.
                let (t0, t1) = (_mm512_unpacklo_ps(y[0], y[1]), _mm512_unpackhi_ps(y[0], y[1]));
                let (t2, t3) = (_mm512_unpacklo_ps(y[2], y[3]), _mm512_unpackhi_ps(y[2], y[3]));
                let q = [
                    _mm512_shuffle_ps::<0x44>(t0, t2),
                    _mm512_shuffle_ps::<0xEE>(t0, t2),
                    _mm512_shuffle_ps::<0x44>(t1, t3),
                    _mm512_shuffle_ps::<0xEE>(t1, t3),
                ];
                let row = plane + r * p.row_stride;
                if blocks.whole {
                    for (k, &q) in q.iter().enumerate() {
                        let at = |j: usize| row + blocks.at[k + 4 * j];
                        for j in 0..4 {
                            in_bounds(at(j), 4, out_len);
                        }
                        // SAFETY: whole blocks: filter f, rows below oh, columns col .. col + 4
                        // ≤ ow, inside the asserted extent of `out`.
                        unsafe {
                            _mm_storeu_ps(out.add(at(0)), _mm512_castps512_ps128(q));
                            _mm_storeu_ps(out.add(at(1)), _mm512_extractf32x4_ps::<1>(q));
                            _mm_storeu_ps(out.add(at(2)), _mm512_extractf32x4_ps::<2>(q));
                            _mm_storeu_ps(out.add(at(3)), _mm512_extractf32x4_ps::<3>(q));
                        }
                    }
                    continue;
                }
                let mut pixels = [0f32; 4 * LANES];
                for (k, &q) in q.iter().enumerate() {
                    // SAFETY: 16 floats at k·16 of an array of 64.
                    unsafe { _mm512_storeu_ps(pixels.as_mut_ptr().add(16 * k), q) };
                }
                for l in 0..LANES {
                    if r >= blocks.rows[l] {
                        continue;
                    }
                    let (at, n) = (row + blocks.at[l], blocks.cols[l]);
                    in_bounds(at, n, out_len);
                    // SAFETY: filter f, a row below oh, columns col .. col + n ≤ ow: inside the
                    // asserted extent of `out` (the masked store writes only those n); the 4
                    // floats at `16·(l mod 4) + 4·⌊l/4⌋ + 4 ≤ 64` of `pixels`.
                    unsafe {
                        let x = _mm_loadu_ps(pixels.as_ptr().add(16 * (l % 4) + 4 * (l / 4)));
                        _mm_mask_storeu_ps(out.add(at), (1 << n) - 1, x);
                    }
                }
            }
        }
    }
}

/// The first maximum of each lane's 2×2 block `[y₀₀, y₀₁, y₁₀, y₁₁]` (the first NaN wins) or
/// its sum from zero in that order times ¼: AVX2's `block_pool` on 16 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn block_pool(pool: BlockPool, y: [__m512; 4]) -> __m512 {
    match pool {
        BlockPool::Max => {
            let best = _mm512_max_ps(y[3], _mm512_max_ps(y[2], _mm512_max_ps(y[1], y[0])));
            y.iter().rev().fold(best, |v, &y| _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(y, y), v, y))
        }
        BlockPool::Average => {
            let sum = y.iter().fold(_mm512_setzero_ps(), |sum, &y| _mm512_add_ps(sum, y));
            _mm512_mul_ps(sum, _mm512_set1_ps(0.25))
        }
    }
}

/// [`output`] pooled in the 2×2 windows of each 4×4 block.
///
/// # Safety
/// As [`output`].
#[target_feature(enable = "avx2,fma,avx512f")]
unsafe fn output_pooled(p: Wino4Out<'_>, pool: BlockPool) {
    let relu = p.act == Some(Activation::Relu);
    let (m_len, out_len) = (p.m.len(), p.out.len());
    let (m, out) = (p.m.as_ptr(), p.out.as_mut_ptr().cast::<f32>());
    let real = p.oh.div_ceil(4) * p.tw;
    let (rows, cols) = (p.oh / 2, p.ow / 2);
    for t in (0..p.tiles.min(real.div_ceil(LANES) * LANES)).step_by(LANES) {
        let lane = tile_origins::<LANES>(&p, t, real);
        for f in 0..p.filters {
            in_bounds(35 * p.m_block + f * p.tiles + t, LANES, m_len);
            // SAFETY: ξ·m_block + f·tiles + t + 16 ≤ 35·m_block + filters·tiles ≤ m.len()
            // (asserted).
            let columns = unsafe { columns(m.add(f * p.tiles + t), p.m_block) };
            let b = _mm512_set1_ps(p.bias[f]);
            let y: [[__m512; 4]; 4] = std::array::from_fn(|r| block_row(&columns, r, b, relu));
            let plane = p.at + f * p.plane;
            for pr in 0..2 {
                let r = 2 * pr;
                let pooled = [0, 2].map(|s| block_pool(pool, [y[r][s], y[r][s + 1], y[r + 1][s], y[r + 1][s + 1]]));
                // Each lane's two pooled columns side by side: lanes 4q, 4q + 1 in `pairs[4q..]`
                // (unpacklo), lanes 4q + 2, 4q + 3 in `pairs[16 + 4q..]` (unpackhi).
                let mut pairs = [0f32; 2 * LANES];
                // SAFETY: two vectors of 16 floats in an array of 32.
                unsafe {
                    _mm512_storeu_ps(pairs.as_mut_ptr(), _mm512_unpacklo_ps(pooled[0], pooled[1]));
                    _mm512_storeu_ps(pairs.as_mut_ptr().add(LANES), _mm512_unpackhi_ps(pooled[0], pooled[1]));
                }
                for (l, &(row, col)) in lane.iter().enumerate() {
                    let (row, col) = (row.saturating_add(2 * pr) / 2, col / 2);
                    if row >= rows {
                        continue;
                    }
                    let from = 16 * (l % 4 / 2) + 4 * (l / 4) + 2 * (l % 2);
                    let n = cols.saturating_sub(col).min(2);
                    if n == 0 {
                        continue;
                    }
                    let at = plane + row * p.row_stride + col;
                    in_bounds(at, n, out_len);
                    // SAFETY: filter f, pooled row < ⌊oh/2⌋, columns col .. col + n ≤ ⌊ow/2⌋:
                    // inside the asserted extent of `out`; `from + 2 ≤ 32`.
                    unsafe {
                        *out.add(at) = pairs[from];
                        if n == 2 {
                            *out.add(at + 1) = pairs[from + 1];
                        }
                    }
                }
            }
        }
    }
}
