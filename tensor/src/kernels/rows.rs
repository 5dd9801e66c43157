//! The two passes of the channels-last layout of inference: the output pass that copies a
//! pixels × filters block's rows with the bias and the activation
//! ([`super::Kernels::store_rows`]), and the element-wise step of a channels-last pool
//! over whole runs of channels ([`super::Kernels::pool_runs`]). Portable loops, and AVX2
//! (8 lanes) where the token is there.

use std::mem::MaybeUninit;

use crate::activation::Activation;

/// The arguments of [`super::Kernels::store_rows`]: for pixel `(r, c)`, `r < rows`, `c <
/// ow`, and filter `f < bias.len()`: `out[(r·ow + c)·F + f] = act(z[(r·z_width + c)·F + f]
/// + bias[f])`, `F = bias.len()`. ReLU as the planar output pass's `max(0, y)`: `y` unless
/// `y < 0` (NaN and `−0` stay). `out` may be uninitialised; it is written, never read.
pub(crate) struct Rows<'a> {
    pub z: &'a [f32],
    pub z_width: usize,
    pub rows: usize,
    pub ow: usize,
    pub bias: &'a [f32],
    pub act: Option<Activation>,
    pub out: &'a mut [MaybeUninit<f32>],
}

/// Which element-wise step [`super::Kernels::pool_runs`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `y = v` where `v > y`, or `v` is NaN and `y` is not (the first maximum, the first NaN).
    Max,
    /// `y = y + v`.
    Add,
}

pub(super) fn store_rows(p: Rows<'_>) {
    let f = p.bias.len();
    for r in 0..p.rows {
        for c in 0..p.ow {
            let (from, to) = ((r * p.z_width + c) * f, (r * p.ow + c) * f);
            for (i, &b) in p.bias.iter().enumerate() {
                let y = p.z[from + i] + b;
                p.out[to + i].write(p.act.map_or(y, |a| a.apply(y)));
            }
        }
    }
}

pub(super) fn pool_runs(step: Step, y: &mut [f32], x: &[f32], run: usize, x_stride: usize) {
    for (k, y) in y.chunks_exact_mut(run).enumerate() {
        step_run(step, y, &x[k * x_stride..k * x_stride + run]);
    }
}

fn step_run(step: Step, y: &mut [f32], x: &[f32]) {
    for (y, &v) in y.iter_mut().zip(x) {
        *y = match step {
            Step::Max if v > *y || (v.is_nan() && !y.is_nan()) => v,
            Step::Max => *y,
            Step::Add => *y + v,
        };
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use std::arch::x86_64::*;

    use super::super::in_bounds;
    use super::{Rows, Step};
    use crate::activation::Activation;

    const LANES: usize = 8;

    /// # Safety
    /// AVX2; `bias.len()` a multiple of 8; the extents `Kernels::store_rows` asserts.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn store_rows(p: Rows<'_>) {
        let f = p.bias.len();
        let relu = p.act == Some(Activation::Relu);
        let (z, b, o) = (p.z.as_ptr(), p.bias.as_ptr(), p.out.as_mut_ptr().cast::<f32>());
        let (z_len, out_len) = (p.z.len(), p.out.len());
        for r in 0..p.rows {
            for c in 0..p.ow {
                let (from, to) = ((r * p.z_width + c) * f, (r * p.ow + c) * f);
                for i in (0..f).step_by(LANES) {
                    in_bounds(from + i, LANES, z_len);
                    in_bounds(to + i, LANES, out_len);
                    in_bounds(i, LANES, f);
                    // SAFETY: pixel (r, c) of the asserted block and output, lanes i..i + 8 of
                    // its F = bias.len() floats (F a multiple of 8).
                    unsafe {
                        let mut y = _mm256_add_ps(_mm256_loadu_ps(z.add(from + i)), _mm256_loadu_ps(b.add(i)));
                        if relu {
                            // max(0, y) returns y when y is NaN or ±0 (the second operand).
                            y = _mm256_max_ps(_mm256_setzero_ps(), y);
                        }
                        _mm256_storeu_ps(o.add(to + i), y);
                    }
                }
            }
        }
    }

    /// # Safety
    /// AVX2; `run` a multiple of 8 dividing `y.len()`; `x` holds `(y.len()/run − 1)·x_stride +
    /// run` floats.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn pool_runs(step: Step, y: &mut [f32], x: &[f32], run: usize, x_stride: usize) {
        let (yp, xp, y_len, x_len) = (y.as_mut_ptr(), x.as_ptr(), y.len(), x.len());
        for k in 0..y_len / run {
            for l in (0..run).step_by(LANES) {
                let (i, j) = (k * run + l, k * x_stride + l);
                in_bounds(i, LANES, y_len);
                in_bounds(j, LANES, x_len);
                // SAFETY: i + 8 ≤ (k + 1)·run ≤ y.len() and j + 8 ≤ k·x_stride + run ≤ x.len().
                unsafe { step8(step, yp.add(i), xp.add(j)) };
            }
        }
    }

    /// `y[0..8] = step(y[0..8], x[0..8])`.
    ///
    /// # Safety
    /// AVX2; 8 floats readable at `x`, writable at `y`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn step8(step: Step, yp: *mut f32, xp: *const f32) {
        {
            // SAFETY: the caller's extents.
            unsafe {
                let (a, v) = (_mm256_loadu_ps(yp), _mm256_loadu_ps(xp));
                let r = match step {
                    Step::Max => {
                        // v wins where v > a, or v is NaN and a is not.
                        let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(v, a);
                        let v_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
                        let a_num = _mm256_cmp_ps::<_CMP_ORD_Q>(a, a);
                        _mm256_blendv_ps(a, v, _mm256_or_ps(gt, _mm256_and_ps(v_nan, a_num)))
                    }
                    Step::Add => _mm256_add_ps(a, v),
                };
                _mm256_storeu_ps(yp, r);
            }
        }
    }
}
