//! Random tensors drawn from a caller's seeded generator, so runs are reproducible.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::checked_numel;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// Elements drawn uniformly from `[low, high)` (sampled in f64, then rounded to `T`).
    pub fn rand_uniform<R: Rng + ?Sized>(shape: &[usize], low: f64, high: f64, rng: &mut R) -> Result<Self> {
        let dist = Uniform::new(low, high).map_err(|e| TensorError::InvalidArgument {
            op: "rand_uniform",
            reason: format!("range [{low}, {high}): {e}"),
        })?;
        sample(shape, "rand_uniform", dist, rng)
    }

    /// Elements drawn from a normal distribution N(mean, std²) (sampled in f64).
    pub fn rand_normal<R: Rng + ?Sized>(shape: &[usize], mean: f64, std: f64, rng: &mut R) -> Result<Self> {
        // rand_distr's Normal::new only rejects a non-finite std, not a negative one.
        if std.is_nan() || std < 0.0 {
            return Err(TensorError::InvalidArgument {
                op: "rand_normal",
                reason: format!("mean {mean}, std {std}: the standard deviation must be non-negative"),
            });
        }
        let dist = Normal::new(mean, std).map_err(|e| TensorError::InvalidArgument {
            op: "rand_normal",
            reason: format!("mean {mean}, std {std}: {e}"),
        })?;
        sample(shape, "rand_normal", dist, rng)
    }
}

fn sample<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    op: &'static str,
    dist: impl Distribution<f64>,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let n = checked_numel(op, shape)?;
    let data = (0..n).map(|_| T::from_f64_lossy(dist.sample(rng))).collect();
    Tensor::from_vec(shape, data)
}
