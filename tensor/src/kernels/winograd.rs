//! The transforms of Winograd's F(2×2, 3×3) (Lavin & Gray, arXiv:1509.09308): a 2×2 block
//! of a 3×3 convolution's output from a 4×4 input patch `d` with 16 multiplications per
//! channel pair instead of 36,
//!
//! `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, with
//! `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`, `G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]`,
//! `Aᵀ = [1 1 1 0; 0 1 −1 −1]`.
//!
//! The element-wise products summed over input channels are 16 matrix products (one per
//! position ξ of the 4×4 transform), which the tile kernel computes; this file holds the
//! input transform (patches → `V[ξ][c][tile]`) and the output transform (`M[ξ][f][tile]` →
//! 2×2 output blocks in the filter's plane), tiles in the lanes, over a small vector type
//! (AVX2 has its own, `avx2.rs`).
//!
//! `∇W` takes F(3×3, 2×2), the same algorithm with the roles of filter and output swapped:
//! a 2×2 block `δ` of `∇z` is the filter, the 3×3 gradient the output, and the input tile
//! the same 4×4 patch with the same `Bᵀ`:
//!
//! `∇W = A'ᵀ [(G' δ G'ᵀ) ⊙ (Bᵀ d B)] A'`, with `G' = [1 0; ½ ½; ½ −½; 0 −1]`,
//! `A'ᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1]`.
//!
//! (In one dimension: `m = (G'g) ⊙ (Bᵀd)`, and `m₀ + m₁ + m₂ = g₀d₀ + g₁d₁`,
//! `m₁ − m₂ = g₀d₁ + g₁d₂`, `m₁ + m₂ + m₃ = g₀d₂ + g₁d₃`.) This file holds the gradient
//! transform (`∇z` blocks → `Ĝ[tile][ξ][f]`, filters in the lanes) and `A'ᵀ S A'`.

use super::{BlockPool, WinogradGrad, WinogradIn, WinogradOut};

/// Eight lanes, as an array the compiler keeps in one ymm register (AVX2) or two xmm.
type V8 = [f32; 8];

#[inline(always)]
fn add(a: V8, b: V8) -> V8 {
    std::array::from_fn(|l| a[l] + b[l])
}

#[inline(always)]
fn sub(a: V8, b: V8) -> V8 {
    std::array::from_fn(|l| a[l] - b[l])
}

/// `Bᵀ r` for a column `r` of four values per lane (also `r B` for a row).
#[inline(always)]
fn bt(r: [V8; 4]) -> [V8; 4] {
    [sub(r[0], r[2]), add(r[1], r[2]), sub(r[2], r[1]), sub(r[1], r[3])]
}

/// `Aᵀ r` for a column `r` of four values per lane.
#[inline(always)]
fn at(r: [V8; 4]) -> [V8; 2] {
    [add(add(r[0], r[1]), r[2]), sub(sub(r[1], r[2]), r[3])]
}

/// The tile `(row, column)` of index `t` (see [`WinogradIn`]).
#[inline(always)]
fn tile(t: usize, twp: usize) -> (usize, usize) {
    (t / twp, t % twp)
}

/// The input transform of 8 tiles side by side (lanes) for every channel and group.
#[inline(always)]
pub(super) fn input(p: WinogradIn<'_>) {
    let plane = p.hst * p.wst;
    let groups = super::winograd_rows(p.th, p.twp) * p.twp;
    for c in 0..p.channels {
        for t in (0..groups).step_by(8) {
            // d[i][j][l] = the patch of tile t + l at row i, column j.
            let mut d = [[[0f32; 8]; 4]; 4];
            for l in 0..8 {
                let (ty, tx) = tile(t + l, p.twp);
                let base = c * plane + 2 * ty * p.wst + 2 * tx;
                for (i, d) in d.iter_mut().enumerate() {
                    let row = &p.src[base + i * p.wst..base + i * p.wst + 4];
                    for (d, &x) in d.iter_mut().zip(row) {
                        d[l] = x;
                    }
                }
            }
            // Bᵀ d (columns), then (Bᵀ d) B (rows).
            let cols: [[V8; 4]; 4] = std::array::from_fn(|j| bt([d[0][j], d[1][j], d[2][j], d[3][j]]));
            for (i, ((c0, c1), (c2, c3))) in cols[0].iter().zip(&cols[1]).zip(cols[2].iter().zip(&cols[3])).enumerate()
            {
                let v = bt([*c0, *c1, *c2, *c3]);
                for (j, v) in v.iter().enumerate() {
                    let at = (i * 4 + j) * p.v_block + c * p.tiles + t;
                    p.v[at..at + 8].copy_from_slice(v);
                }
            }
        }
    }
}

/// The output transform, 8 tiles at a time (lanes), each filter's 2×2 blocks written into
/// its plane with bias and activation.
#[inline(always)]
pub(super) fn output(p: WinogradOut<'_>) {
    let groups = super::winograd_rows(p.th, p.twp) * p.twp;
    for f in 0..p.filters {
        let b = p.bias[f];
        for t in (0..groups).step_by(8) {
            let m: [V8; 16] = std::array::from_fn(|xi| {
                let at = xi * p.m_block + f * p.tiles + t;
                p.m[at..at + 8].try_into().expect("8 lanes")
            });
            // Aᵀ M (columns), then (Aᵀ M) A (rows).
            let cols: [[V8; 2]; 4] = std::array::from_fn(|j| at([m[j], m[4 + j], m[8 + j], m[12 + j]]));
            let y = [0, 1].map(|r| at([cols[0][r], cols[1][r], cols[2][r], cols[3][r]]));
            let act = |v: f32| p.act.map_or(v + b, |a| a.apply(v + b));
            if let Some(pool) = p.pool {
                // Each lane's block from the four rows and columns of `y`.
                #[allow(clippy::needless_range_loop)]
                for l in 0..8 {
                    let (ty, tx) = tile(t + l, p.twp);
                    if ty < p.oh / 2 && tx < p.ow / 2 {
                        let block = [y[0][0][l], y[0][1][l], y[1][0][l], y[1][1][l]].map(act);
                        let v = match pool {
                            BlockPool::Max => block.into_iter().fold(f32::NEG_INFINITY, |best, v| {
                                if !best.is_nan() && (v > best || v.is_nan()) { v } else { best }
                            }),
                            BlockPool::Average => block.into_iter().fold(0.0, |sum, v| sum + v) * 0.25,
                        };
                        p.out[p.at + f * p.plane + ty * p.row_stride + tx].write(v);
                    }
                }
                continue;
            }
            for (r, y) in y.iter().enumerate() {
                for (l, s) in (0..8).flat_map(|l| [(l, 0), (l, 1)]) {
                    let (ty, tx) = tile(t + l, p.twp);
                    let (row, col) = (2 * ty + r, 2 * tx + s);
                    if row < p.oh && col < p.ow {
                        p.out[p.at + f * p.plane + row * p.row_stride + col].write(act(y[s][l]));
                    }
                }
            }
        }
    }
}

/// `U = G g Gᵀ` of a 3×3 filter `g` (row-major), row-major 4×4.
pub(crate) fn filter(g: &[f32]) -> [f32; 16] {
    let gm = |r: [f32; 3]| [r[0], 0.5 * (r[0] + r[1] + r[2]), 0.5 * (r[0] - r[1] + r[2]), r[2]];
    // G g: each column of g through G; then (G g) Gᵀ: each row through G.
    let cols: [[f32; 4]; 3] = std::array::from_fn(|j| gm([g[j], g[3 + j], g[6 + j]]));
    let mut u = [0f32; 16];
    for i in 0..4 {
        let row = gm([cols[0][i], cols[1][i], cols[2][i]]);
        u[4 * i..4 * i + 4].copy_from_slice(&row);
    }
    u
}

/// `G' [a b]ᵀ` of F(3×3, 2×2).
#[inline(always)]
fn gt(a: V8, b: V8) -> [V8; 4] {
    [a, std::array::from_fn(|l| 0.5 * (a[l] + b[l])), std::array::from_fn(|l| 0.5 * (a[l] - b[l])), b.map(|v| -v)]
}

/// The gradient transform `Ĝ = G' δ G'ᵀ` of every tile's 2×2 block of ∇z, 8 filters at a
/// time (lanes).
#[inline(always)]
pub(super) fn gradient(p: WinogradGrad<'_>) {
    let (zw, fp) = (p.z_width, p.fpad);
    for (t, out) in p.g.chunks_exact_mut(16 * fp).take(p.rows * p.twp).enumerate() {
        let at = (2 * (t / p.twp) * zw + 2 * (t % p.twp)) * fp;
        let (top, bottom) = (&p.gt[at..at + 2 * fp], &p.gt[at + zw * fp..at + (zw + 2) * fp]);
        let (d00, d01) = top.split_at(fp);
        let (d10, d11) = bottom.split_at(fp);
        let lanes = |s: &[f32]| -> V8 { s.try_into().expect("8 lanes") };
        for (k, (((d00, d01), d10), d11)) in
            d00.chunks_exact(8).zip(d01.chunks_exact(8)).zip(d10.chunks_exact(8)).zip(d11.chunks_exact(8)).enumerate()
        {
            // G' δ (columns), then (G' δ) G'ᵀ (rows).
            let (c0, c1) = (gt(lanes(d00), lanes(d10)), gt(lanes(d01), lanes(d11)));
            for i in 0..4 {
                for (j, v) in gt(c0[i], c1[i]).iter().enumerate() {
                    let o = (i * 4 + j) * fp + 8 * k;
                    out[o..o + 8].copy_from_slice(v);
                }
            }
        }
    }
}

/// [`gradient`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) fn gradient_avx2(p: WinogradGrad<'_>) {
    gradient(p)
}

/// `∇W = A'ᵀ S A'` of the summed products `S` (row-major 4×4): the 3×3 gradient, row-major.
pub(crate) fn weight_gradient(s: &[f32; 16]) -> [f32; 9] {
    let a = |m: [f32; 4]| [m[0] + m[1] + m[2], m[1] - m[2], m[1] + m[2] + m[3]];
    // A'ᵀ S: each column of S; then (A'ᵀ S) A': each row.
    let cols: [[f32; 3]; 4] = std::array::from_fn(|j| a([s[j], s[4 + j], s[8 + j], s[12 + j]]));
    let mut w = [0f32; 9];
    for i in 0..3 {
        w[3 * i..3 * i + 3].copy_from_slice(&a([cols[0][i], cols[1][i], cols[2][i], cols[3][i]]));
    }
    w
}
