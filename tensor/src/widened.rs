//! Sums of f32 or f64 values widened to f64, in a fixed order of interleaved partial sums:
//! batch norm's statistics and its VJP's means. f64, so that a channel of a whole batch
//! (a million values) loses nothing to rounding; partial sums, so that the adds are not one
//! chain of dependent latencies (with four, batch norm's sums took half of its forward
//! pass). Value `i` of each chunk goes into partial sum `i`, the tail after the last whole
//! chunk is summed in order, and the partial sums are added pairwise, then the tail: the
//! AVX2 path (also taken on AVX-512 CPUs) adds the same partial sums in the same order as
//! the portable loop, so every path gives the same bits.

use std::any::TypeId;
use std::sync::OnceLock;

use crate::element::Element;
use crate::kernels::{KernelPath, Kernels};

/// Partial sums of [`widened_sum`] and [`widened_squared_deviations`].
pub(crate) const PARTIALS: usize = 16;
/// Partial sums of each of [`widened_sum_and_dot`]'s two sums.
pub(crate) const PAIR_PARTIALS: usize = 8;

/// `Σ v` widened to f64.
///
/// ```
/// let v: Vec<f32> = (1..=100).map(|i| i as f32).collect();
/// assert_eq!(tensor::widened_sum(&v), 5050.0);
/// ```
pub fn widened_sum<T: Element>(values: &[T]) -> f64 {
    sum(values, None)
}

/// `Σ (v − μ)²` in f64 (each value widened, then the difference squared).
pub fn widened_squared_deviations<T: Element>(values: &[T], mean: f64) -> f64 {
    sum(values, Some(mean))
}

/// `(Σ a, Σ a·b)` widened to f64, the products taken in `T`, over the first
/// `min(a.len(), b.len())` values.
pub fn widened_sum_and_dot<T: Element>(a: &[T], b: &[T]) -> (f64, f64) {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let whole = n - n % PAIR_PARTIALS;
    let (sa, sab) = match (as_f32(a), as_f32(b), simd()) {
        (Some(a32), Some(b32), Some(k)) => k.widened_pair_partials(a32, b32).expect("a SIMD kernel set"),
        _ => {
            let (mut sa, mut sab) = ([0.0; PAIR_PARTIALS], [0.0; PAIR_PARTIALS]);
            for (x, y) in a.chunks_exact(PAIR_PARTIALS).zip(b.chunks_exact(PAIR_PARTIALS)) {
                for i in 0..PAIR_PARTIALS {
                    sa[i] += x[i].to_f64_exact();
                    sab[i] += (x[i] * y[i]).to_f64_exact();
                }
            }
            (sa, sab)
        }
    };
    let tail_a: f64 = a[whole..].iter().map(|x| x.to_f64_exact()).sum();
    let tail_ab: f64 = a[whole..].iter().zip(&b[whole..]).map(|(&x, &y)| (x * y).to_f64_exact()).sum();
    (pairwise(sa) + tail_a, pairwise(sab) + tail_ab)
}

/// `Σ f(v)`, `f(v) = v` or `(v − μ)²` for `mean = Some(μ)`.
fn sum<T: Element>(values: &[T], mean: Option<f64>) -> f64 {
    let f = |v: T| match mean {
        Some(mu) => (v.to_f64_exact() - mu) * (v.to_f64_exact() - mu),
        None => v.to_f64_exact(),
    };
    let whole = values.len() - values.len() % PARTIALS;
    let partials = match (as_f32(values), simd()) {
        (Some(v), Some(k)) => k.widened_partials(v, mean).expect("a SIMD kernel set"),
        _ => {
            let mut acc = [0.0; PARTIALS];
            for chunk in values.chunks_exact(PARTIALS) {
                for (a, &v) in acc.iter_mut().zip(chunk) {
                    *a += f(v);
                }
            }
            acc
        }
    };
    pairwise(partials) + values[whole..].iter().map(|&v| f(v)).sum::<f64>()
}

/// The kernel set with SIMD partial sums on this process's path, if any: looked up once
/// (batch norm sums every lane of every channel through here).
fn simd() -> Option<Kernels> {
    static SIMD: OnceLock<Option<Kernels>> = OnceLock::new();
    *SIMD.get_or_init(|| Kernels::new(KernelPath::selected(), 16).filter(|k| !matches!(k, Kernels::Portable)))
}

/// `values` as f32, when `T` is f32.
fn as_f32<T: Element>(values: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32 (same type id), so the slice's memory is `len` f32 values.
    (TypeId::of::<T>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<f32>(), values.len()) })
}

/// `Σ v` of a power-of-two number of partial sums, added in pairs: neighbours first, then
/// the pairs' sums, and so on.
#[inline]
fn pairwise<const N: usize>(mut v: [f64; N]) -> f64 {
    let mut n = N;
    while n > 1 {
        for i in 0..n / 2 {
            v[i] = v[2 * i] + v[2 * i + 1];
        }
        n /= 2;
    }
    v[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The portable loops, for the comparison with the SIMD path.
    fn portable(values: &[f32], mean: Option<f64>) -> f64 {
        let f = |v: f32| mean.map_or(f64::from(v), |mu| (f64::from(v) - mu) * (f64::from(v) - mu));
        let mut acc = [0.0; PARTIALS];
        let chunks = values.chunks_exact(PARTIALS);
        let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += f(v);
            }
        }
        pairwise(acc) + tail
    }

    /// The portable pair loop.
    fn portable_pair(a: &[f32], b: &[f32]) -> (f64, f64) {
        let (mut sa, mut sab) = ([0.0; PAIR_PARTIALS], [0.0; PAIR_PARTIALS]);
        let whole = a.len() - a.len() % PAIR_PARTIALS;
        for (x, y) in a.chunks_exact(PAIR_PARTIALS).zip(b.chunks_exact(PAIR_PARTIALS)) {
            for i in 0..PAIR_PARTIALS {
                sa[i] += f64::from(x[i]);
                sab[i] += f64::from(x[i] * y[i]);
            }
        }
        let ta: f64 = a[whole..].iter().map(|&x| f64::from(x)).sum();
        let tab: f64 = a[whole..].iter().zip(&b[whole..]).map(|(&x, &y)| f64::from(x * y)).sum();
        (pairwise(sa) + ta, pairwise(sab) + tab)
    }

    proptest! {
        /// Against a plain running sum in f64 (within rounding) and, on this process's
        /// path, the same bits as the portable loop and as the f64 values' own sums.
        #[test]
        fn sums_match_a_running_sum_and_the_portable_order(
            v in prop::collection::vec(-1e3f32..1e3, 0..200),
            w in prop::collection::vec(-2f32..2.0, 0..200),
            mu in -10.0f64..10.0,
        ) {
            let naive: f64 = v.iter().map(|&x| f64::from(x)).sum();
            let sq: f64 = v.iter().map(|&x| (f64::from(x) - mu).powi(2)).sum();
            prop_assert!((widened_sum(&v) - naive).abs() <= 1e-9 * (1.0 + naive.abs()));
            prop_assert!((widened_squared_deviations(&v, mu) - sq).abs() <= 1e-9 * (1.0 + sq));
            prop_assert_eq!(widened_sum(&v).to_bits(), portable(&v, None).to_bits());
            prop_assert_eq!(widened_squared_deviations(&v, mu).to_bits(), portable(&v, Some(mu)).to_bits());
            let v64: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
            prop_assert_eq!(widened_sum(&v).to_bits(), widened_sum(&v64).to_bits());
            let n = v.len().min(w.len());
            let (sa, sab) = widened_sum_and_dot(&v, &w);
            let dot: f64 = v[..n].iter().zip(&w[..n]).map(|(&x, &y)| f64::from(x * y)).sum();
            let (pa, pab) = portable_pair(&v[..n], &w[..n]);
            prop_assert_eq!((sa.to_bits(), sab.to_bits()), (pa.to_bits(), pab.to_bits()));
            prop_assert!((sa - v[..n].iter().map(|&x| f64::from(x)).sum::<f64>()).abs() <= 1e-9 * (1.0 + sa.abs()));
            prop_assert!((sab - dot).abs() <= 1e-9 * (1.0 + dot.abs()));
        }
    }
}
