//! Winograd's F(4×4, 3×3) transforms with AVX2 and FMA (the arithmetic of
//! `winograd4.rs`, rounded once per multiply-add): 8 tiles a vector. The input transform
//! loads each lane's patch row as 8 floats and transposes them in registers (lane = tile,
//! one vector per column); the output transform transposes each output row's 4×4 blocks
//! back, two tiles per vector, and stores each tile's 4 pixels.

use std::arch::x86_64::*;

use super::BlockPool;
use super::avx2::{block_pool, transpose8};
use super::in_bounds;
use super::winograd4::{Wino4In, Wino4Out};
use crate::activation::Activation;

const LANES: usize = 8;

/// Defines `bt` (`Bᵀ r` of F(4×4, 3×3) for a column `r`, or `r B` for a row), `at` (`Aᵀ
/// r`), and the output transform's `columns` and `block_row` on vectors `$v` with the
/// features `$feature` and the intrinsics named after them: one sequence of operations, so
/// that 8 and 16 lanes round alike.
macro_rules! f43_arithmetic {
    (
        $v:ty, $feature:literal,
        $set1:ident, $zero:ident, $load:ident, $add:ident, $sub:ident, $max:ident, $fmadd:ident, $fnmadd:ident
    ) => {
        #[inline]
        #[target_feature(enable = $feature)]
        fn bt(r: [$v; 6]) -> [$v; 6] {
            let (two, four, five) = ($set1(2.0), $set1(4.0), $set1(5.0));
            let [r0, r1, r2, r3, r4, r5] = r;
            let r42 = $sub(r4, r2);
            [
                $fmadd(four, r0, $fnmadd(five, r2, r4)),
                $fnmadd(four, $add(r1, r2), $add(r3, r4)),
                $fmadd(four, $sub(r1, r2), $sub(r4, r3)),
                $fmadd(two, $sub(r3, r1), r42),
                $fmadd(two, $sub(r1, r3), r42),
                $fmadd(four, r1, $fnmadd(five, r3, r5)),
            ]
        }

        #[inline]
        #[target_feature(enable = $feature)]
        fn at(r: [$v; 6]) -> [$v; 4] {
            let [r0, r1, r2, r3, r4, r5] = r;
            let (s12, d12) = ($add(r1, r2), $sub(r1, r2));
            let (s34, d34) = ($add(r3, r4), $sub(r3, r4));
            [
                $add($add(r0, s12), s34),
                $fmadd($set1(2.0), d34, d12),
                $fmadd($set1(4.0), s34, s12),
                $add($fmadd($set1(8.0), d34, d12), r5),
            ]
        }

        /// `Aᵀ M` for a vector of tiles of one filter (`cols[j][r]`), the 36 vectors of `M`
        /// read from `m`, `m_block` apart, a column at a time: only the 24 results outlive
        /// their loads.
        ///
        /// # Safety
        /// The target features; `m + ξ·m_block` is a vector inside `M` for every position ξ.
        #[inline]
        #[target_feature(enable = $feature)]
        unsafe fn columns(m: *const f32, m_block: usize) -> [[$v; 4]; 6] {
            let mut cols = [[$zero(); 4]; 6];
            for (j, col) in cols.iter_mut().enumerate() {
                // SAFETY: position 6i + j's vector (the caller's).
                let x = |i: usize| unsafe { $load(m.add((6 * i + j) * m_block)) };
                *col = at([x(0), x(1), x(2), x(3), x(4), x(5)]);
            }
            cols
        }

        /// Row `r` of `act((Aᵀ M) A + b)` from [`columns`]: `y[s]`, column s of each lane's
        /// block.
        #[inline]
        #[target_feature(enable = $feature)]
        fn block_row(cols: &[[$v; 4]; 6], r: usize, b: $v, relu: bool) -> [$v; 4] {
            let mut y = at([cols[0][r], cols[1][r], cols[2][r], cols[3][r], cols[4][r], cols[5][r]]);
            for v in &mut y {
                *v = $add(*v, b);
                if relu {
                    // max(0, v) returns v when v is NaN (the second operand).
                    *v = $max($zero(), *v);
                }
            }
            y
        }
    };
}
pub(super) use f43_arithmetic;

f43_arithmetic!(
    __m256,
    "avx2,fma",
    _mm256_set1_ps,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_add_ps,
    _mm256_sub_ps,
    _mm256_max_ps,
    _mm256_fmadd_ps,
    _mm256_fnmadd_ps
);

/// The input transform (see [`Wino4In`]).
///
/// # Safety
/// AVX2 and FMA; the extents `Kernels::winograd4_input` asserts, with `wst ≥ 4·(tw − 1) +
/// 8` (each patch row is loaded as 8 floats).
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn input(p: Wino4In<'_>) {
    let plane = p.hst * p.wst;
    let (src_len, v_len) = (p.src.len(), p.v.len());
    let (src, v) = (p.src.as_ptr(), p.v.as_mut_ptr());
    for t in (0..p.tiles).step_by(LANES) {
        let mut base = [0; LANES];
        for (l, base) in base.iter_mut().enumerate() {
            *base = 4 * ((t + l) / p.tw) * p.wst + 4 * ((t + l) % p.tw);
        }
        // d[i][j]: row i, column j of every lane's patch, and cols[j] its column j through
        // Bᵀ: each channel writes them whole, so they are zeroed once, not per channel (a
        // `memset` of 2 KB per channel and 8 tiles). (Loops, not closures: a closure does
        // not take its function's target features and stays a call.)
        let mut d = [[_mm256_setzero_ps(); 6]; 6];
        let mut cols = [[_mm256_setzero_ps(); 6]; 6];
        for c in 0..p.channels {
            for (i, d) in d.iter_mut().enumerate() {
                let mut r = [_mm256_setzero_ps(); LANES];
                for (r, &b) in r.iter_mut().zip(&base) {
                    let at = c * plane + b + i * p.wst;
                    in_bounds(at, LANES, src_len);
                    // SAFETY: the patch row of a tile whose patch lies inside plane c (asserted),
                    // read 8 floats wide: 4·tx + 8 ≤ wst.
                    *r = unsafe { _mm256_loadu_ps(src.add(at)) };
                }
                transpose8(&mut r);
                d.copy_from_slice(&r[..6]);
            }
            // Bᵀ d (columns), then (Bᵀ d) B (rows).
            for (j, col) in cols.iter_mut().enumerate() {
                *col = bt([d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j]]);
            }
            #[allow(clippy::needless_range_loop)] // cols[j][i]: a transposed read
            for i in 0..6 {
                let row = bt([cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]]);
                for (j, &x) in row.iter().enumerate() {
                    let at = (i * 6 + j) * p.v_block + c * p.tiles + t;
                    in_bounds(at, LANES, v_len);
                    // SAFETY: ξ·v_block + c·tiles + t + 8 ≤ 35·v_block + channels·tiles (asserted).
                    unsafe { _mm256_storeu_ps(v.add(at), x) };
                }
            }
        }
    }
}

/// One output row of 8 tiles (`y[s]`: column s of each lane's block) as each tile's 4
/// pixels: 4×4 transposes in each half, `q[k]` holding tile k's pixels in its low half and
/// tile k + 4's in its high half.
#[inline]
#[target_feature(enable = "avx2")]
fn tile_rows(y: [__m256; 4]) -> [__m256; 4] {
    let (t0, t1) = (_mm256_unpacklo_ps(y[0], y[1]), _mm256_unpackhi_ps(y[0], y[1]));
    let (t2, t3) = (_mm256_unpacklo_ps(y[2], y[3]), _mm256_unpackhi_ps(y[2], y[3]));
    [
        _mm256_shuffle_ps::<0x44>(t0, t2),
        _mm256_shuffle_ps::<0xEE>(t0, t2),
        _mm256_shuffle_ps::<0x44>(t1, t3),
        _mm256_shuffle_ps::<0xEE>(t1, t3),
    ]
}

/// Each of `N` lanes' tile from tile `t`: its first output row and column (`usize::MAX`
/// rows for lanes past the last of the `real` tiles).
pub(super) fn tile_origins<const N: usize>(p: &Wino4Out<'_>, t: usize, real: usize) -> [(usize, usize); N] {
    let mut lane = [(usize::MAX, 0); N];
    for (l, lane) in lane.iter_mut().enumerate().take(real - t) {
        *lane = (4 * ((t + l) / p.tw), 4 * ((t + l) % p.tw));
    }
    lane
}

/// Where `N` tiles' 4×4 blocks go in a filter's plane: each lane's first output (`row ·
/// row_stride + col`) and how many of its rows and columns lie inside the output (none for
/// a lane past the last tile); `whole` when every lane's block does.
pub(super) struct Blocks<const N: usize> {
    pub(super) at: [usize; N],
    pub(super) rows: [usize; N],
    pub(super) cols: [usize; N],
    pub(super) whole: bool,
}

impl<const N: usize> Blocks<N> {
    pub(super) fn new(p: &Wino4Out<'_>, t: usize, real: usize) -> Self {
        let mut b = Blocks { at: [0; N], rows: [0; N], cols: [0; N], whole: true };
        for l in 0..N {
            if t + l < real {
                let (row, col) = (4 * ((t + l) / p.tw), 4 * ((t + l) % p.tw));
                b.at[l] = row * p.row_stride + col;
                b.rows[l] = p.oh.saturating_sub(row).min(4);
                b.cols[l] = p.ow.saturating_sub(col).min(4);
            }
            b.whole &= b.rows[l] == 4 && b.cols[l] == 4;
        }
        b
    }
}

/// The output transform (see [`Wino4Out`]).
///
/// # Safety
/// AVX2 and FMA; the extents `Kernels::winograd4_output` asserts.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn output(p: Wino4Out<'_>) {
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
            // SAFETY: ξ·m_block + f·tiles + t + 8 ≤ 35·m_block + filters·tiles ≤ m.len()
            // (asserted).
            let cols = unsafe { columns(m.add(f * p.tiles + t), p.m_block) };
            let b = _mm256_set1_ps(p.bias[f]);
            let plane = p.at + f * p.plane;
            for r in 0..4 {
                let q = tile_rows(block_row(&cols, r, b, relu));
                let row = plane + r * p.row_stride;
                if blocks.whole {
                    for (l, &q) in q.iter().enumerate() {
                        let (lo, hi) = (row + blocks.at[l], row + blocks.at[l + 4]);
                        in_bounds(lo, 4, out_len);
                        in_bounds(hi, 4, out_len);
                        // SAFETY: whole blocks: filter f, rows below oh, columns col .. col + 4 ≤
                        // ow, inside the asserted extent of `out`.
                        unsafe {
                            _mm_storeu_ps(out.add(lo), _mm256_castps256_ps128(q));
                            _mm_storeu_ps(out.add(hi), _mm256_extractf128_ps::<1>(q));
                        }
                    }
                    continue;
                }
                let mut pixels = [0f32; 4 * LANES];
                for (k, &q) in q.iter().enumerate() {
                    // SAFETY: 8 floats at k·8 of an array of 32.
                    unsafe { _mm256_storeu_ps(pixels.as_mut_ptr().add(8 * k), q) };
                }
                for l in 0..LANES {
                    if r >= blocks.rows[l] {
                        continue;
                    }
                    let (at, n) = (row + blocks.at[l], blocks.cols[l]);
                    let from = 8 * (l % 4) + 4 * (l / 4);
                    in_bounds(at, n, out_len);
                    // SAFETY: filter f, a row below oh, columns col .. col + n ≤ ow: inside the
                    // asserted extent of `out`; `from + n ≤ 32`.
                    unsafe {
                        if n == 4 {
                            _mm_storeu_ps(out.add(at), _mm_loadu_ps(pixels.as_ptr().add(from)));
                        } else {
                            for i in 0..n {
                                *out.add(at + i) = pixels[from + i];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// [`output`] pooled in the 2×2 windows of each 4×4 block.
///
/// # Safety
/// As [`output`].
#[target_feature(enable = "avx2,fma")]
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
            // SAFETY: ξ·m_block + f·tiles + t + 8 ≤ 35·m_block + filters·tiles ≤ m.len()
            // (asserted).
            let columns = unsafe { columns(m.add(f * p.tiles + t), p.m_block) };
            let b = _mm256_set1_ps(p.bias[f]);
            let y: [[__m256; 4]; 4] = std::array::from_fn(|r| block_row(&columns, r, b, relu));
            let plane = p.at + f * p.plane;
            for pr in 0..2 {
                let mut pooled = [[0f32; LANES]; 2];
                for (ps, lanes) in pooled.iter_mut().enumerate() {
                    let (r, s) = (2 * pr, 2 * ps);
                    let v = block_pool(pool, [y[r][s], y[r][s + 1], y[r + 1][s], y[r + 1][s + 1]]);
                    // SAFETY: an array of 8 floats.
                    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
                }
                for (l, &(row, col)) in lane.iter().enumerate() {
                    let (row, col) = (row.saturating_add(2 * pr) / 2, col / 2);
                    if row >= rows {
                        continue;
                    }
                    for (ps, pooled) in pooled.iter().enumerate().take(cols.saturating_sub(col)) {
                        let at = plane + row * p.row_stride + col + ps;
                        in_bounds(at, 1, out_len);
                        // SAFETY: filter f, pooled row < ⌊oh/2⌋, column < ⌊ow/2⌋: inside
                        // the asserted extent of `out`.
                        unsafe { *out.add(at) = pooled[l] };
                    }
                }
            }
        }
    }
}
