//! Max and average pooling of a dense channels-last `[N, C, H, W]` (strides `(H·W·C, 1,
//! W·C, C)`, what [`conv2d_inference`](crate::conv2d_inference) returns) into a dense
//! channels-last output, for inference: each output pixel's `C` values are one run, and so
//! is each tap's input, so a window is `kh·kw` element-wise passes over whole runs of
//! channels (vectors, for any plane width) instead of a walk along rows of 7 or 14 pixels.
//!
//! The values are those of the planar passes, bit for bit: the max is the first maximum
//! in the window's row-major order (a NaN wins, the first one with its bits; `−0` and `+0`
//! tie, the first wins), `y = max_{(i, j) ∈ window} x[h + i, w + j]`; the average adds the
//! in-bounds taps to zero in row-major order and multiplies by `1/(kh·kw)`:
//! `y = (((0 + x₀₀) + x₀₁) + …)·(1/(kh·kw))`.

use crate::buffer_pool::take;
use crate::cast::{f32_slice, f32_slice_mut};
use crate::element::Element;
use crate::kernels::{KernelPath, Kernels, Step};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Whether `x` is dense channels-last with more than one channel.
pub(crate) fn is_channels_last<T>(x: &Tensor<T>) -> bool {
    let s = x.shape();
    let &[_, c, h, w] = s else { return false };
    c > 1 && x.strides() == [h * w * c, 1, w * c, c]
}

/// Which pooling [`pool`] computes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reduce<T> {
    /// The first maximum.
    Max,
    /// The sum times this factor (`1/(kh·kw)`).
    Mean(T),
}

/// The pool of a dense channels-last `x` (see [`is_channels_last`]) over `window` with dims
/// `d`, dense channels-last. An output row at a time, started at `−∞` (max: the first tap
/// then always wins, as `v > −∞` or `v` is NaN, or `v = −∞` with the same bits) or `0`
/// (mean: `0 + x₀₀`); then for each window tap `(i, j)` in row-major order, the outputs
/// whose tap is inside the input, each one run of `C` floats.
pub(crate) fn pool<T: Element>(x: &Tensor<T>, window: &Window2d, d: &WindowDims, reduce: Reduce<T>) -> Tensor<T> {
    debug_assert!(is_channels_last(x));
    let c = d.c;
    let src = &x.storage()[x.offset()..x.offset() + x.numel()];
    let [sh, sw] = window.stride;
    let [ph, pw] = window.padding;
    // For each column tap j, the output columns lo..hi whose tap is inside the input.
    let cols: Vec<(usize, usize)> = (0..window.kernel[1])
        .map(|j| {
            let lo = (0..d.ow).find(|&o| window.source(1, o, j, d.w).is_some()).unwrap_or(d.ow);
            let hi = (lo..d.ow).take_while(|&o| window.source(1, o, j, d.w).is_some()).last().map_or(lo, |o| o + 1);
            (lo, hi)
        })
        .collect();
    let (start, step) = match reduce {
        Reduce::Max => (T::neg_infinity(), Step::Max),
        Reduce::Mean(_) => (T::zero(), Step::Add),
    };
    // f32 on a SIMD path: the steps by the kernels, 8 channels a vector.
    let kernels = Kernels::new(KernelPath::selected(), c);
    let len = d.n * d.positions() * c;
    let mut out = take(len);
    out.resize(len, start);
    for (image, y_image) in out.chunks_exact_mut(d.positions() * c).enumerate() {
        for (oh, y_row) in y_image.chunks_exact_mut(d.ow * c).enumerate() {
            let (i0, i1) = window.taps_inside(0, oh, d.h);
            for i in i0..i1 {
                let h = oh * sh + i - ph;
                let x_row = &src[(image * d.h + h) * d.w * c..(image * d.h + h + 1) * d.w * c];
                for (j, &(lo, hi)) in cols.iter().enumerate() {
                    if lo == hi {
                        continue;
                    }
                    let (y_run, x_run) = (&mut y_row[lo * c..hi * c], &x_row[(lo * sw + j - pw) * c..]);
                    if let (Some(k), Some(y), Some(x)) = (kernels, f32_slice_mut(y_run), f32_slice(x_run)) {
                        k.pool_runs(step, y, x, c, sw * c);
                        continue;
                    }
                    for (y, tap) in y_run.chunks_exact_mut(c).zip(x_run.chunks(c).step_by(sw)) {
                        match reduce {
                            Reduce::Max => max_into(y, tap),
                            Reduce::Mean(_) => y.iter_mut().zip(tap).for_each(|(y, &v)| *y += v),
                        }
                    }
                }
            }
            if let Reduce::Mean(scale) = reduce {
                y_row.iter_mut().for_each(|y| *y *= scale);
            }
        }
    }
    let strides = vec![d.positions() * c, 1, d.ow * c, c];
    Tensor::from_dense(out, vec![d.n, c, d.oh, d.ow], strides)
}

/// `y = v` where `v` beats `y`: greater, or a NaN over a number (so the first maximum, or
/// the first NaN, stays).
#[inline]
fn max_into<T: Element>(y: &mut [T], tap: &[T]) {
    for (y, &v) in y.iter_mut().zip(tap) {
        let better = v > *y || (v.is_nan() && !y.is_nan());
        *y = if better { v } else { *y };
    }
}

#[cfg(test)]
mod tests {
    //! The channels-last pools against the definition, naive loops over logical indices:
    //! random windows (kernel 1–4, stride 1–3, padding up to half the kernel), channels 2–20,
    //! values with ties (a set of three, `−0` beside `+0`) and NaNs of two payloads, bit for
    //! bit; and against the planar pools on the same values.

    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use crate::tensor::Tensor;
    use crate::window::Window2d;

    fn channels_last(shape: [usize; 4], v: &[f32]) -> Tensor<f32> {
        let [_, c, h, w] = shape;
        Tensor::from_fn(&[shape[0], h, w, c], |i| v[((i[0] * c + i[3]) * h + i[1]) * w + i[2]])
            .unwrap()
            .permute(&[0, 3, 1, 2])
            .unwrap()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|v| v.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 128 }))]

        #[test]
        fn channels_last_pools_match_the_definition(
            (n, c, h, w) in (1usize..=3, 2usize..=20, 1usize..=13, 1usize..=13),
            (k, s) in ((1usize..=4, 1usize..=4), (1usize..=3, 1usize..=3)),
            p in (0usize..=2, 0usize..=2),
            nans in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let window = Window2d { kernel: [k.0, k.1], stride: [s.0, s.1], padding: [p.0.min(k.0 / 2), p.1.min(k.1 / 2)] };
            prop_assume!(h + 2 * window.padding[0] >= k.0 && w + 2 * window.padding[1] >= k.1);
            let d = window.pool_dims("test", &[n, c, h, w]).unwrap();
            let mut rng = StdRng::seed_from_u64(seed);
            let v: Vec<f32> = (0..n * c * h * w)
                .map(|_| match rng.random_range(0..10) {
                    0 if nans => f32::from_bits(0x7fc0_0001 + rng.random_range(0..2)),
                    1 => -0.0,
                    r => (r % 3) as f32 + 0.25,
                })
                .collect();
            let x = channels_last([n, c, h, w], &v);
            prop_assert!(super::is_channels_last(&x));
            // Read back in logical order by the channels-last copy (`to_vec`, `to_contiguous`).
            prop_assert_eq!(bits(&x.to_vec()), bits(&v));
            prop_assert_eq!(bits(x.to_contiguous().as_slice().unwrap()), bits(&v));
            prop_assert_eq!(bits(&x.iter().collect::<Vec<_>>()), bits(&v));
            let (mut want_max, mut want_avg) = (Vec::new(), Vec::new());
            let inv = 1.0 / (k.0 * k.1) as f32;
            for ni in 0..n {
                for ci in 0..c {
                    for oh in 0..d.oh {
                        for ow in 0..d.ow {
                            let (mut best, mut sum) = (None::<f32>, 0.0f32);
                            for i in 0..k.0 {
                                for j in 0..k.1 {
                                    let Some(hi) = window.source(0, oh, i, h) else { continue };
                                    let Some(wi) = window.source(1, ow, j, w) else { continue };
                                    let x = v[((ni * c + ci) * h + hi) * w + wi];
                                    sum += x;
                                    best = match best {
                                        Some(b) if b.is_nan() || !(x > b || x.is_nan()) => Some(b),
                                        _ => Some(x),
                                    };
                                }
                            }
                            want_max.push(best.unwrap());
                            want_avg.push(sum * inv);
                        }
                    }
                }
            }
            let cl_strides = [d.positions() * c, 1, d.ow * c, c];
            let max = crate::max_pool2d_values(&x, &window).unwrap();
            prop_assert_eq!(max.strides(), &cl_strides[..]);
            prop_assert_eq!(bits(&max.to_vec()), bits(&want_max));
            let planar = crate::max_pool2d_values(&x.to_contiguous(), &window).unwrap();
            prop_assert_eq!(bits(&planar.to_vec()), bits(&want_max));
            let avg = crate::avg_pool2d_values(&x, &window).unwrap();
            prop_assert_eq!(avg.strides(), &cl_strides[..]);
            // A sum's NaN payload is the hardware's choice: any NaN where one is due.
            let sums = |v: &[f32]| v.iter().map(|v| if v.is_nan() { u32::MAX } else { v.to_bits() }).collect::<Vec<_>>();
            prop_assert_eq!(sums(&avg.to_vec()), sums(&want_avg));
            let planar = crate::avg_pool2d(&x.to_contiguous(), &window).unwrap();
            prop_assert_eq!(sums(&planar.to_vec()), sums(&avg.to_vec()));
        }
    }
}
