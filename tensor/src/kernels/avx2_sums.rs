//! The partial sums of [`widened`](crate::widened) with AVX2: each chunk's values widened
//! to f64 four at a time and added into the vector that holds their partial sums, so that
//! partial sum `i` gets the chunk's element `i` as in the portable loop (the same bits).

use std::arch::x86_64::*;

use crate::widened::{PAIR_PARTIALS, PARTIALS};

/// Partial sum `i` of `f(v)` over elements `16k + i` of the whole chunks of `values`,
/// `f(v) = v`, or `(v − μ)²` in f64 when `mean` is `Some(μ)` (a multiply, then the add: no
/// fused multiply-add, as the portable loop).
#[target_feature(enable = "avx2")]
pub(super) fn partials(values: &[f32], mean: Option<f64>) -> [f64; PARTIALS] {
    let mut acc = [_mm256_setzero_pd(); PARTIALS / 4];
    let mu = _mm256_set1_pd(mean.unwrap_or(0.0));
    for chunk in values.chunks_exact(PARTIALS) {
        for (j, acc) in acc.iter_mut().enumerate() {
            // SAFETY: 4 floats at 4j of a chunk of 16.
            let x = _mm256_cvtps_pd(unsafe { _mm_loadu_ps(chunk.as_ptr().add(4 * j)) });
            let term = if mean.is_some() {
                let d = _mm256_sub_pd(x, mu);
                _mm256_mul_pd(d, d)
            } else {
                x
            };
            *acc = _mm256_add_pd(*acc, term);
        }
    }
    let mut out = [0.0; PARTIALS];
    for (j, acc) in acc.iter().enumerate() {
        // SAFETY: 4 f64 at 4j of an array of 16.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr().add(4 * j), *acc) };
    }
    out
}

/// Partial sums `i` of `a` and of `a·b` (the product in f32) over elements `8k + i` of the
/// whole chunks of `a` and `b` (equal lengths).
#[target_feature(enable = "avx2")]
pub(super) fn pair_partials(a: &[f32], b: &[f32]) -> ([f64; PAIR_PARTIALS], [f64; PAIR_PARTIALS]) {
    let (mut sa, mut sab) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
    for (x, y) in a.chunks_exact(PAIR_PARTIALS).zip(b.chunks_exact(PAIR_PARTIALS)) {
        for j in 0..2 {
            // SAFETY: 4 floats at 4j of two chunks of 8.
            let (xv, yv) = unsafe { (_mm_loadu_ps(x.as_ptr().add(4 * j)), _mm_loadu_ps(y.as_ptr().add(4 * j))) };
            sa[j] = _mm256_add_pd(sa[j], _mm256_cvtps_pd(xv));
            sab[j] = _mm256_add_pd(sab[j], _mm256_cvtps_pd(_mm_mul_ps(xv, yv)));
        }
    }
    let (mut oa, mut oab) = ([0.0; PAIR_PARTIALS], [0.0; PAIR_PARTIALS]);
    for j in 0..2 {
        // SAFETY: 4 f64 at 4j of arrays of 8.
        unsafe {
            _mm256_storeu_pd(oa.as_mut_ptr().add(4 * j), sa[j]);
            _mm256_storeu_pd(oab.as_mut_ptr().add(4 * j), sab[j]);
        }
    }
    (oa, oab)
}
