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

/// Defines the SIMD pass `$name` with the features `$feature` on vectors `$v` of `$lanes`
/// floats: `$load_first(ptr, n)` reads the first `n` lanes (zeros past them) and
/// `$any_nan(v)` says whether a lane of `v` is a NaN; the other names are the intrinsics.
macro_rules! pool_pass {
    (
        $name:ident, $feature:literal, $v:ty, $lanes:expr,
        $load_first:path, $any_nan:path,
        $zero:ident, $splat:ident, $load:ident, $store:ident, $max:ident, $add:ident, $sub:ident, $mul:ident
    ) => {
        /// The pass with SIMD, a vector of channels at a time, `SIDE` outputs of a row at a
        /// time; the kind of pooling and the common window sizes are constants (the loops
        /// over taps unrolled, no branch per tap).
        ///
        /// # Safety
        /// The target features; the extents `Kernels::pool_block` asserts, each pixel's
        /// channels padded to whole vectors (`bias.len()` rounded up to `lanes` ≤ `stride`).
        #[target_feature(enable = $feature)]
        pub(in super::super) unsafe fn $name(p: PoolBlock<'_>) {
            const LANES: usize = $lanes;

            /// [`$name`] for a maximum (`MAX`) or an average (of ReLU's outputs if `RELU`; a
            /// maximum reads `p.act` once per output), over windows of `KH × KW` taps every
            /// `S` pixels (`0`: the window's own size and step).
            ///
            /// # Safety
            /// As [`$name`]; `MAX` iff `p.scale` is `None`, `RELU` only for an average after
            /// ReLU, `KH × KW` is `p.kernel` and `[S, S]` is `p.step` unless zero.
            #[target_feature(enable = $feature)]
            unsafe fn pass<const MAX: bool, const RELU: bool, const KH: usize, const KW: usize, const S: usize>(
                mut p: PoolBlock<'_>,
            ) {
                let out = std::mem::take(&mut p.out);
                let width = p.bias.len().div_ceil(LANES) * LANES;
                // All vectors of channels of a group of windows before the next group: a
                // pixel's channels are adjacent (one cache line for 16), read once rather than
                // once per vector (a 28×28 image's block is larger than L1).
                for r in 0..p.rows {
                    let mut q = 0;
                    while q < p.cols {
                        let side = if q + SIDE <= p.cols { SIDE } else { 1 };
                        for c in (0..width).step_by(LANES) {
                            // `bias[c..c + lanes]`, zeros past its end (a copy into a padded
                            // array went through `memcpy` and a stalled reload, a third of
                            // LeNet-5's first pooling).
                            let n = p.bias.len().saturating_sub(c).min(LANES);
                            // SAFETY: the first n lanes are floats c..c + n of `bias`.
                            let b = unsafe { $load_first(p.bias.as_ptr().wrapping_add(c), n) };
                            // SAFETY: forwarded; outputs q..q + side ≤ cols.
                            unsafe {
                                if side == SIDE {
                                    group::<SIDE, MAX, RELU, KH, KW, S>(&p, [r, q, c], b, out)
                                } else {
                                    group::<1, MAX, RELU, KH, KW, S>(&p, [r, q, c], b, out)
                                }
                            }
                        }
                        q += side;
                    }
                }
            }

            /// Outputs `(r, q..q + QB)`, channels `c..c + lanes`.
            ///
            /// # Safety
            /// As [`pass`], and `q + QB ≤ cols`.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn group<
                const QB: usize,
                const MAX: bool,
                const RELU: bool,
                const KH: usize,
                const KW: usize,
                const S: usize,
            >(
                p: &PoolBlock<'_>,
                [r, q, c]: [usize; 3],
                b: $v,
                out: &mut [f32],
            ) {
                let [sh, sw] = if S == 0 { p.step } else { [S, S] };
                let kh = if KH == 0 { p.kernel[0] } else { KH };
                let kw = if KW == 0 { p.kernel[1] } else { KW };
                let (z, z_len) = (p.z.as_ptr(), p.z.len());
                let mut acc = [if MAX { $splat(f32::NEG_INFINITY) } else { $zero() }; QB];
                // Σ z per window (independent chains): not finite once a tap was a NaN (or on
                // an overflow: a false alarm only costs the reference pass).
                let mut seen = [$zero(); QB];
                for i in 0..kh {
                    let row = ((r * sh + i) * p.z_width + q * sw) * p.stride + c;
                    for j in 0..kw {
                        for (qb, (acc, seen)) in acc.iter_mut().zip(&mut seen).enumerate() {
                            let at = row + (qb * sw + j) * p.stride;
                            in_bounds(at, LANES, z_len);
                            // SAFETY: a tap of an output's window, inside the asserted extent.
                            let v = unsafe { $load(z.add(at)) };
                            if MAX {
                                // `v > acc ? v : acc`: the earlier tap kept on a tie.
                                *acc = $max(v, *acc);
                                *seen = $add(*seen, v);
                            } else {
                                let v = $add(v, b);
                                *acc = $add(*acc, if RELU { $max($zero(), v) } else { v });
                            }
                        }
                    }
                }
                let relu = p.act == Some(Activation::Relu);
                let scale = $splat(p.scale.unwrap_or(1.0));
                // NaN in a lane iff some window's `seen` was not finite (0 + NaN is NaN).
                let mut bad = $zero();
                for (qb, (&acc, &seen)) in acc.iter().zip(&seen).enumerate() {
                    let value = if MAX {
                        let v = $add(acc, b);
                        if relu { $max($zero(), v) } else { v }
                    } else {
                        $mul(acc, scale)
                    };
                    let o = (r * p.cols + q + qb) * p.stride + c;
                    in_bounds(o, LANES, out.len());
                    // SAFETY: the output's vector of floats, inside the asserted extent.
                    unsafe { $store(out.as_mut_ptr().add(o), value) };
                    bad = $add(bad, $sub(seen, seen));
                }
                // Any window of the group that met a NaN (or an infinity) is redone tap by tap.
                if MAX && $any_nan(bad) {
                    for qb in 0..QB {
                        let o = (r * p.cols + q + qb) * p.stride;
                        for f in c..(c + LANES).min(p.bias.len()) {
                            out[o + f] = window(p, r, q + qb, f);
                        }
                    }
                }
            }

            // SAFETY: forwarded.
            unsafe {
                // The common steps constant too: 3×3/2's windows share a column, whose
                // loads the compiler then reads once.
                let two = p.step == [2, 2];
                match (p.scale.is_none(), p.act == Some(Activation::Relu), p.kernel) {
                    (true, _, [2, 2]) if two => pass::<true, false, 2, 2, 2>(p),
                    (true, _, [3, 3]) if two => pass::<true, false, 3, 3, 2>(p),
                    (true, _, [2, 2]) => pass::<true, false, 2, 2, 0>(p),
                    (true, _, [3, 3]) => pass::<true, false, 3, 3, 0>(p),
                    (true, _, _) => pass::<true, false, 0, 0, 0>(p),
                    (false, true, [2, 2]) => pass::<false, true, 2, 2, 0>(p),
                    (false, false, [2, 2]) => pass::<false, false, 2, 2, 0>(p),
                    (false, true, _) => pass::<false, true, 0, 0, 0>(p),
                    (false, false, _) => pass::<false, false, 0, 0, 0>(p),
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(super) use simd::{avx2, avx512};

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::super::avx2::first_lanes;
    use super::super::{PoolBlock, in_bounds};
    use super::window;
    use crate::activation::Activation;

    /// Windows folded side by side: independent chains, so each one's latency overlaps the
    /// others'.
    const SIDE: usize = 4;

    /// # Safety
    /// AVX2; the first `n ≤ 8` floats from `at` readable.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn first8(at: *const f32, n: usize) -> __m256 {
        // SAFETY: the masked load reads only lanes below n (the caller's).
        unsafe { _mm256_maskload_ps(at, first_lanes(n)) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn any_nan8(v: __m256) -> bool {
        _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v)) != 0
    }

    /// # Safety
    /// AVX-512F; the first `n ≤ 16` floats from `at` readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn first16(at: *const f32, n: usize) -> __m512 {
        // SAFETY: the masked load reads only lanes below n (the caller's).
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, at) }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn any_nan16(v: __m512) -> bool {
        _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v) != 0
    }

    pool_pass!(
        avx2,
        "avx2",
        __m256,
        8,
        first8,
        any_nan8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_max_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps
    );
    pool_pass!(
        avx512,
        "avx512f",
        __m512,
        16,
        first16,
        any_nan16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_max_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps
    );
}
