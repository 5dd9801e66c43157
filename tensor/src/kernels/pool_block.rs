//! A pooling fused into a direct convolution's output pass: the windows of a pooling are
//! reduced in the pixels × channels block the tile kernel wrote, before the block is
//! transposed into channel planes, so the convolution's full-size output is never written
//! and the pooling reads whole vectors of channels (no even/odd column shuffles).
//!
//! `out[(r·cols + q)·stride + f] = pool_{(i, j) in window (r, q)} act(z[t] + bias[f])`
//! with `t = ((r·sh + i)·z_width + q·sw + j)·stride + f`, the pooling being the first maximum in row-major
//! order (a NaN wins, the first one) or `(((0 + v₀₀) + v₀₁) + …)·scale`: the values and
//! the order of the convolution's own output pass followed by the pooling op, so the same
//! bits. The maximum runs over `z` itself and adds the bias and applies the activation
//! once: both are non-decreasing (rounding included), so they commute with it, bit for bit.

use super::PoolBlock;
use crate::activation::Activation;

/// The first maximum's rule: a greater tap or the first NaN replaces the running value.
fn first_max(best: f32, v: f32) -> f32 {
    if !best.is_nan() && (v > best || v.is_nan()) { v } else { best }
}

/// `act(v)`.
fn apply(act: Option<Activation>, v: f32) -> f32 {
    act.map_or(v, |a| a.apply(v))
}

/// Output `(r, q)`, channel `f`, tap by tap in row-major order: the reference pass (the
/// portable path, and the SIMD pass's windows that met a NaN).
fn window(p: &PoolBlock<'_>, r: usize, q: usize, f: usize) -> f32 {
    let ([kh, kw], [sh, sw]) = (p.kernel, p.step);
    let taps = (0..kh * kw)
        .map(|t| apply(p.act, p.z[((r * sh + t / kw) * p.z_width + q * sw + t % kw) * p.stride + f] + p.bias[f]));
    match p.scale {
        None => taps.fold(f32::NEG_INFINITY, first_max),
        Some(scale) => taps.fold(0.0, |sum, v| sum + v) * scale,
    }
}

/// The portable path's pass, one output at a time.
pub(super) fn portable(mut p: PoolBlock<'_>) {
    let out = std::mem::take(&mut p.out);
    for r in 0..p.rows {
        for q in 0..p.cols {
            for f in 0..p.bias.len() {
                out[(r * p.cols + q) * p.stride + f] = window(&p, r, q, f);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use simd::avx2;

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::super::{PoolBlock, in_bounds};
    use super::window;
    use crate::activation::Activation;

    const LANES: usize = 8;

    /// Windows folded side by side: independent chains, so each one's latency overlaps the
    /// others'.
    const SIDE: usize = 4;

    /// The pass with AVX2, 8 channels a vector, `SIDE` outputs of a row at a time.
    ///
    /// # Safety
    /// AVX2; the extents `Kernels::pool_block` asserts.
    #[target_feature(enable = "avx2")]
    pub(in super::super) unsafe fn avx2(mut p: PoolBlock<'_>) {
        let out = std::mem::take(&mut p.out);
        let width = p.bias.len().div_ceil(LANES) * LANES;
        for c in (0..width).step_by(LANES) {
            let mut bias = [0.0f32; LANES];
            let n = (p.bias.len() - c).min(LANES);
            bias[..n].copy_from_slice(&p.bias[c..c + n]);
            // SAFETY: an array of 8 floats.
            let b = unsafe { _mm256_loadu_ps(bias.as_ptr()) };
            for r in 0..p.rows {
                let mut q = 0;
                while q + SIDE <= p.cols {
                    // SAFETY: forwarded; outputs q..q + SIDE < cols.
                    unsafe { group::<SIDE>(&p, [r, q, c], b, out) };
                    q += SIDE;
                }
                for q in q..p.cols {
                    // SAFETY: as above.
                    unsafe { group::<1>(&p, [r, q, c], b, out) };
                }
            }
        }
    }

    /// Outputs `(r, q..q + QB)`, channels `c..c + 8`.
    ///
    /// # Safety
    /// AVX2; the extents `Kernels::pool_block` asserts, `q + QB ≤ cols`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn group<const QB: usize>(p: &PoolBlock<'_>, [r, q, c]: [usize; 3], b: __m256, out: &mut [f32]) {
        let ([kh, kw], [sh, sw]) = (p.kernel, p.step);
        let (z, z_len) = (p.z.as_ptr(), p.z.len());
        let relu = p.act == Some(Activation::Relu);
        let act = |v: __m256| if relu { _mm256_max_ps(_mm256_setzero_ps(), v) } else { v };
        let max = p.scale.is_none();
        let mut acc = [if max { _mm256_set1_ps(f32::NEG_INFINITY) } else { _mm256_setzero_ps() }; QB];
        // Σ z: not finite once a tap was a NaN (or on an overflow: a false alarm only costs
        // the reference pass).
        let mut seen = [_mm256_setzero_ps(); QB];
        for i in 0..kh {
            let row = ((r * sh + i) * p.z_width + q * sw) * p.stride + c;
            for j in 0..kw {
                for (qb, (acc, seen)) in acc.iter_mut().zip(&mut seen).enumerate() {
                    let at = row + (qb * sw + j) * p.stride;
                    in_bounds(at, LANES, z_len);
                    // SAFETY: a tap of an output's window, inside the asserted extent.
                    let v = unsafe { _mm256_loadu_ps(z.add(at)) };
                    if max {
                        // `v > acc ? v : acc`: the earlier tap kept on a tie.
                        *acc = _mm256_max_ps(v, *acc);
                        *seen = _mm256_add_ps(*seen, v);
                    } else {
                        *acc = _mm256_add_ps(*acc, act(_mm256_add_ps(v, b)));
                    }
                }
            }
        }
        for (qb, (&acc, &seen)) in acc.iter().zip(&seen).enumerate() {
            let value = match p.scale {
                None => act(_mm256_add_ps(acc, b)),
                Some(scale) => _mm256_mul_ps(acc, _mm256_set1_ps(scale)),
            };
            let o = (r * p.cols + q + qb) * p.stride + c;
            in_bounds(o, LANES, out.len());
            // SAFETY: the output's 8 floats, inside the asserted extent.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(o), value) };
            if max && _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(_mm256_sub_ps(seen, seen), seen)) != 0 {
                for f in c..(c + LANES).min(p.bias.len()) {
                    out[o - c + f] = window(p, r, q + qb, f);
                }
            }
        }
    }
}
