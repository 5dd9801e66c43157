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

    use super::super::avx2::first_lanes;
    use super::super::{PoolBlock, in_bounds};
    use super::window;
    use crate::activation::Activation;

    const LANES: usize = 8;

    /// Windows folded side by side: independent chains, so each one's latency overlaps the
    /// others'.
    const SIDE: usize = 4;

    /// The pass with AVX2, 8 channels a vector, `SIDE` outputs of a row at a time; the
    /// kind of pooling and the common window sizes are constants (the loops over taps
    /// unrolled, no branch per tap).
    ///
    /// # Safety
    /// AVX2; the extents `Kernels::pool_block` asserts.
    #[target_feature(enable = "avx2")]
    pub(in super::super) unsafe fn avx2(p: PoolBlock<'_>) {
        // SAFETY: forwarded.
        unsafe {
            match (p.scale.is_none(), p.act == Some(Activation::Relu), p.kernel) {
                (true, _, [2, 2]) => pass::<true, false, 2, 2>(p),
                (true, _, [3, 3]) => pass::<true, false, 3, 3>(p),
                (true, _, _) => pass::<true, false, 0, 0>(p),
                (false, true, [2, 2]) => pass::<false, true, 2, 2>(p),
                (false, false, [2, 2]) => pass::<false, false, 2, 2>(p),
                (false, true, _) => pass::<false, true, 0, 0>(p),
                (false, false, _) => pass::<false, false, 0, 0>(p),
            }
        }
    }

    /// [`avx2`] for a maximum (`MAX`) or an average (of ReLU's outputs if `RELU`; a
    /// maximum reads `p.act` once per output), over windows of `KH × KW` taps (`0`: the
    /// window's own size).
    ///
    /// # Safety
    /// As [`avx2`]; `MAX` iff `p.scale` is `None`, `RELU` only for an average after ReLU,
    /// `KH × KW` is `p.kernel` unless zero.
    #[target_feature(enable = "avx2")]
    unsafe fn pass<const MAX: bool, const RELU: bool, const KH: usize, const KW: usize>(mut p: PoolBlock<'_>) {
        let out = std::mem::take(&mut p.out);
        let width = p.bias.len().div_ceil(LANES) * LANES;
        // All vectors of channels of a group of windows before the next group: a pixel's
        // channels are adjacent (one cache line for 16), read once rather than once per
        // vector (a 28×28 image's block is larger than L1).
        for r in 0..p.rows {
            let mut q = 0;
            while q < p.cols {
                let side = if q + SIDE <= p.cols { SIDE } else { 1 };
                for c in (0..width).step_by(LANES) {
                    let b = bias_vector(p.bias, c);
                    // SAFETY: forwarded; outputs q..q + side ≤ cols.
                    unsafe {
                        if side == SIDE {
                            group::<SIDE, MAX, RELU, KH, KW>(&p, [r, q, c], b, out)
                        } else {
                            group::<1, MAX, RELU, KH, KW>(&p, [r, q, c], b, out)
                        }
                    }
                }
                q += side;
            }
        }
    }

    /// `bias[c..c + 8]`, zeros past its end: a masked load (a copy into a padded array went
    /// through `memcpy` and a stalled reload, a third of LeNet-5's first pooling).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn bias_vector(bias: &[f32], c: usize) -> __m256 {
        let n = bias.len().saturating_sub(c).min(LANES);
        // SAFETY: the masked load reads only lanes below n, floats c..c + n of `bias`.
        unsafe { _mm256_maskload_ps(bias.as_ptr().wrapping_add(c), first_lanes(n)) }
    }

    /// Outputs `(r, q..q + QB)`, channels `c..c + 8`.
    ///
    /// # Safety
    /// As [`pass`], and `q + QB ≤ cols`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn group<const QB: usize, const MAX: bool, const RELU: bool, const KH: usize, const KW: usize>(
        p: &PoolBlock<'_>,
        [r, q, c]: [usize; 3],
        b: __m256,
        out: &mut [f32],
    ) {
        let [sh, sw] = p.step;
        let kh = if KH == 0 { p.kernel[0] } else { KH };
        let kw = if KW == 0 { p.kernel[1] } else { KW };
        let (z, z_len) = (p.z.as_ptr(), p.z.len());
        let mut acc = [if MAX { _mm256_set1_ps(f32::NEG_INFINITY) } else { _mm256_setzero_ps() }; QB];
        // Σ z per window (independent chains): not finite once a tap was a NaN (or on an
        // overflow: a false alarm only costs the reference pass).
        let mut seen = [_mm256_setzero_ps(); QB];
        for i in 0..kh {
            let row = ((r * sh + i) * p.z_width + q * sw) * p.stride + c;
            for j in 0..kw {
                for (qb, (acc, seen)) in acc.iter_mut().zip(&mut seen).enumerate() {
                    let at = row + (qb * sw + j) * p.stride;
                    in_bounds(at, LANES, z_len);
                    // SAFETY: a tap of an output's window, inside the asserted extent.
                    let v = unsafe { _mm256_loadu_ps(z.add(at)) };
                    if MAX {
                        // `v > acc ? v : acc`: the earlier tap kept on a tie.
                        *acc = _mm256_max_ps(v, *acc);
                        *seen = _mm256_add_ps(*seen, v);
                    } else {
                        let v = _mm256_add_ps(v, b);
                        *acc = _mm256_add_ps(*acc, if RELU { _mm256_max_ps(_mm256_setzero_ps(), v) } else { v });
                    }
                }
            }
        }
        let relu = p.act == Some(Activation::Relu);
        let scale = _mm256_set1_ps(p.scale.unwrap_or(1.0));
        let mut bad = _mm256_setzero_ps();
        for (qb, (&acc, &seen)) in acc.iter().zip(&seen).enumerate() {
            let value = if MAX {
                let v = _mm256_add_ps(acc, b);
                if relu { _mm256_max_ps(_mm256_setzero_ps(), v) } else { v }
            } else {
                _mm256_mul_ps(acc, scale)
            };
            let o = (r * p.cols + q + qb) * p.stride + c;
            in_bounds(o, LANES, out.len());
            // SAFETY: the output's 8 floats, inside the asserted extent.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(o), value) };
            bad = _mm256_or_ps(bad, _mm256_sub_ps(seen, seen));
        }
        // Any window of the group that met a NaN (or an infinity) is redone tap by tap.
        if MAX && _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(bad, bad)) != 0 {
            for qb in 0..QB {
                let o = (r * p.cols + q + qb) * p.stride;
                for f in c..(c + LANES).min(p.bias.len()) {
                    out[o + f] = window(p, r, q + qb, f);
                }
            }
        }
    }
}
