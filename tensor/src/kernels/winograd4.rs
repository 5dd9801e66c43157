//! The transforms of Winograd's F(4×4, 3×3) (Lavin & Gray, arXiv:1509.09308, with the
//! interpolation points 0, ±1, ±2 and ∞): a 4×4 block of a 3×3 convolution's output from
//! a 6×6 input patch `d` with 36 multiplications per channel pair instead of 144,
//!
//! `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, with
//!
//! ```text
//! Bᵀ = [4  0 −5  0 1 0]    G = [ ¼     0     0  ]    Aᵀ = [1 1  1 1  1 0]
//!      [0 −4 −4  1 1 0]        [−⅙   −⅙    −⅙  ]         [0 1 −1 2 −2 0]
//!      [0  4 −4 −1 1 0]        [−⅙    ⅙    −⅙  ]         [0 1  1 4  4 0]
//!      [0 −2 −1  2 1 0]        [1/24  1/12  ⅙  ]         [0 1 −1 8 −8 1]
//!      [0  2 −1 −2 1 0]        [1/24 −1/12  ⅙  ]
//!      [0  4  0 −5 0 1]        [ 0     0     1  ]
//! ```
//!
//! 1.78× fewer products than F(2×2, 3×3) on whole tiles, for larger roundings: the
//! transforms' entries reach 5 and 8 where F(2×2, 3×3)'s are 0, ±1 and ±½. The products
//! (one matrix product per position ξ of the 6×6 transform, summed over input channels) are
//! the tile kernel's; this file holds the input transform (patches → `V[ξ][c][tile]`) and
//! the output transform (`M[ξ][f][tile]` → 4×4 output blocks in the filter's plane), tiles
//! in the lanes of an 8-float array: the portable path's, and the reference of the AVX2
//! one (`avx2_winograd4.rs`).

use std::mem::MaybeUninit;

use super::BlockPool;
use crate::activation::Activation;

/// Eight lanes, as an array the compiler keeps in one ymm register (AVX2) or two xmm.
type V8 = [f32; 8];

/// Positions of the 6×6 transform: the matrix products per call.
pub(crate) const POSITIONS: usize = 36;

/// The arguments of the input transform: `src` holds `channels` planes of `hst × wst` (a
/// staged, zero-padded image); tile `t < tiles` (a multiple of 8, the lanes) sits at tile
/// row `t / tw`, column `t % tw` and reads the 6×6 patch at row `4·(t / tw)`, column
/// `4·(t % tw)`, which must lie inside the plane (tiles past the output's read zeros);
/// its transform goes to `v[ξ·v_block + c·tiles + t]`.
pub(crate) struct Wino4In<'a> {
    pub src: &'a [f32],
    pub channels: usize,
    pub hst: usize,
    pub wst: usize,
    pub tw: usize,
    pub tiles: usize,
    pub v_block: usize,
    pub v: &'a mut [f32],
}

/// The arguments of the output transform: `m[ξ·m_block + f·tiles + t]` holds the summed
/// products of tile `t` (as in [`Wino4In`]); the 4×4 block of tile `(ty, tx)` goes,
/// with `bias[f]` and `act`, to rows `4·ty..`, columns `4·tx..` of plane `f` (from
/// `out[at + f·plane]`, rows `row_stride` apart), clipped to `oh × ow`, or pooled by `pool`
/// (its four 2×2 windows) into the `⌊oh/2⌋ × ⌊ow/2⌋` planes.
pub(crate) struct Wino4Out<'a> {
    pub m: &'a [f32],
    pub m_block: usize,
    pub tiles: usize,
    pub tw: usize,
    pub filters: usize,
    pub bias: &'a [f32],
    pub act: Option<Activation>,
    pub out: &'a mut [MaybeUninit<f32>],
    pub at: usize,
    pub plane: usize,
    pub row_stride: usize,
    pub oh: usize,
    pub ow: usize,
    pub pool: Option<BlockPool>,
}

#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> V8 {
    std::array::from_fn(f)
}

/// `Bᵀ r` for a column `r` of six values per lane (also `r B` for a row).
#[inline(always)]
fn bt(r: &[V8; 6]) -> [V8; 6] {
    let [r0, r1, r2, r3, r4, r5] = r;
    [
        lanes(|l| 4.0 * r0[l] - 5.0 * r2[l] + r4[l]),
        lanes(|l| -4.0 * (r1[l] + r2[l]) + (r3[l] + r4[l])),
        lanes(|l| 4.0 * (r1[l] - r2[l]) + (r4[l] - r3[l])),
        lanes(|l| 2.0 * (r3[l] - r1[l]) + (r4[l] - r2[l])),
        lanes(|l| 2.0 * (r1[l] - r3[l]) + (r4[l] - r2[l])),
        lanes(|l| 4.0 * r1[l] - 5.0 * r3[l] + r5[l]),
    ]
}

/// `Aᵀ r` for a column `r` of six values per lane.
#[inline(always)]
fn at(r: &[V8; 6]) -> [V8; 4] {
    let [r0, r1, r2, r3, r4, r5] = r;
    let (s12, d12) = (lanes(|l| r1[l] + r2[l]), lanes(|l| r1[l] - r2[l]));
    let (s34, d34) = (lanes(|l| r3[l] + r4[l]), lanes(|l| r3[l] - r4[l]));
    [
        lanes(|l| r0[l] + s12[l] + s34[l]),
        lanes(|l| d12[l] + 2.0 * d34[l]),
        lanes(|l| s12[l] + 4.0 * s34[l]),
        lanes(|l| d12[l] + 8.0 * d34[l] + r5[l]),
    ]
}

/// The input transform, 8 tiles at a time (lanes), every channel.
#[inline(always)]
pub(super) fn input(p: Wino4In<'_>) {
    let plane = p.hst * p.wst;
    for t in (0..p.tiles).step_by(8) {
        let base: [usize; 8] = std::array::from_fn(|l| 4 * ((t + l) / p.tw) * p.wst + 4 * ((t + l) % p.tw));
        for c in 0..p.channels {
            let src = &p.src[c * plane..(c + 1) * plane];
            // d[i][j][l] = the patch of tile t + l at row i, column j.
            let mut d = [[[0f32; 8]; 6]; 6];
            for (l, &b) in base.iter().enumerate() {
                for (i, d) in d.iter_mut().enumerate() {
                    let row = &src[b + i * p.wst..b + i * p.wst + 6];
                    for (d, &x) in d.iter_mut().zip(row) {
                        d[l] = x;
                    }
                }
            }
            // Bᵀ d (columns), then (Bᵀ d) B (rows).
            let cols: [[V8; 6]; 6] = std::array::from_fn(|j| bt(&std::array::from_fn(|i| d[i][j])));
            #[allow(clippy::needless_range_loop)] // cols[j][i]: a transposed read
            for i in 0..6 {
                let v = bt(&std::array::from_fn(|j| cols[j][i]));
                for (j, v) in v.iter().enumerate() {
                    let at = (i * 6 + j) * p.v_block + c * p.tiles + t;
                    p.v[at..at + 8].copy_from_slice(v);
                }
            }
        }
    }
}

/// The output transform, 8 tiles at a time (lanes), each filter's 4×4 blocks written into
/// its plane with bias and activation, or pooled.
#[inline(always)]
pub(super) fn output(p: Wino4Out<'_>) {
    let real = p.oh.div_ceil(4) * p.tw;
    for t in (0..p.tiles.min(real.div_ceil(8) * 8)).step_by(8) {
        for f in 0..p.filters {
            let b = p.bias[f];
            let m: [V8; 36] = std::array::from_fn(|xi| {
                let at = xi * p.m_block + f * p.tiles + t;
                p.m[at..at + 8].try_into().expect("8 lanes")
            });
            // Aᵀ M (columns), then (Aᵀ M) A (rows): y[r][s].
            let cols: [[V8; 4]; 6] = std::array::from_fn(|j| at(&std::array::from_fn(|i| m[6 * i + j])));
            let y: [[V8; 4]; 4] = std::array::from_fn(|r| at(&std::array::from_fn(|j| cols[j][r])));
            let act = |v: f32| p.act.map_or(v + b, |a| a.apply(v + b));
            for l in 0..8 {
                if t + l >= real {
                    break;
                }
                let (ty, tx) = ((t + l) / p.tw, (t + l) % p.tw);
                let plane = p.at + f * p.plane;
                match p.pool {
                    None => {
                        for (r, y) in y.iter().enumerate() {
                            let row = 4 * ty + r;
                            if row >= p.oh {
                                break;
                            }
                            for (s, y) in y.iter().enumerate().take(p.ow.saturating_sub(4 * tx)) {
                                p.out[plane + row * p.row_stride + 4 * tx + s].write(act(y[l]));
                            }
                        }
                    }
                    Some(pool) => {
                        for pr in 0..2 {
                            let row = 2 * ty + pr;
                            if row >= p.oh / 2 {
                                break;
                            }
                            for ps in 0..2 {
                                let col = 2 * tx + ps;
                                if col >= p.ow / 2 {
                                    break;
                                }
                                let (r, s) = (2 * pr, 2 * ps);
                                let block = [y[r][s][l], y[r][s + 1][l], y[r + 1][s][l], y[r + 1][s + 1][l]].map(act);
                                let v = match pool {
                                    BlockPool::Max => block.into_iter().fold(f32::NEG_INFINITY, |best, v| {
                                        if !best.is_nan() && (v > best || v.is_nan()) { v } else { best }
                                    }),
                                    BlockPool::Average => block.into_iter().fold(0.0, |sum, v| sum + v) * 0.25,
                                };
                                p.out[plane + row * p.row_stride + col].write(v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `U = G g Gᵀ` of a 3×3 filter `g` (row-major), row-major 6×6.
pub(crate) fn filter(g: &[f32]) -> [f32; 36] {
    let gm = |r: [f32; 3]| {
        [
            0.25 * r[0],
            -(r[0] + r[1] + r[2]) / 6.0,
            -(r[0] - r[1] + r[2]) / 6.0,
            r[0] / 24.0 + r[1] / 12.0 + r[2] / 6.0,
            r[0] / 24.0 - r[1] / 12.0 + r[2] / 6.0,
            r[2],
        ]
    };
    // G g: each column of g through G; then (G g) Gᵀ: each row through G.
    let cols: [[f32; 6]; 3] = std::array::from_fn(|j| gm([g[j], g[3 + j], g[6 + j]]));
    let mut u = [0f32; 36];
    for i in 0..6 {
        u[6 * i..6 * i + 6].copy_from_slice(&gm([cols[0][i], cols[1][i], cols[2][i]]));
    }
    u
}
