//! The entries of `batch_norm_train`, plain and with a fused ReLU, and the cases both modes of batch normalisation share.

use proptest::prelude::*;
use tensor::{Activation, Element, Tensor};

use super::{dense, uniform, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// Input shapes `[N, C, …]`: `N`, `C` of 1 to 3 and up to two spatial axes of 1 to 3, with
/// at least two values per channel (`N` raised to 2 where the batch would have one).
pub(super) fn channel_shape() -> impl Strategy<Value = Vec<usize>> {
    (1..=3usize, 1..=3usize, strategies::shape(0..=2, 1..=3)).prop_map(|(n, c, spatial)| {
        let inner: usize = spatial.iter().product();
        let n = if n * inner < 2 { 2 } else { n };
        [n, c].into_iter().chain(spatial).collect()
    })
}

/// `ε`: PyTorch's 1e-5, or larger.
pub(super) fn eps() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1e-5), 1e-3..=0.1f64]
}

/// The wrong-shape calls both modes share: an input without a channel axis, and `γ` or
/// `β` not of the channel count.
pub(super) fn mismatched_channels<A: Clone>(args: A) -> Vec<OpCase<A>> {
    vec![
        zeros(&[&[3], &[3], &[3]], args.clone()),
        zeros(&[&[2, 3], &[2], &[3]], args.clone()),
        zeros(&[&[2, 3, 2], &[3], &[3, 1]], args),
    ]
}

/// `β` of sign `signs[c]` and `|β_c| = |γ_c|·bound + offset_c`: with `|x̂| < bound`, every
/// `γ·x̂ + β` of channel `c` has that sign and is at least `offset_c` from 0 (the ReLU's kink).
pub(super) fn beta_beyond(gamma: &Tensor<f64>, bound: f64, offset: &Tensor<f64>, signs: &[bool]) -> Tensor<f64> {
    let v = gamma.iter().zip(offset.iter()).zip(signs).map(|((g, o), &s)| {
        let b = g.abs() * bound + o;
        if s { b } else { -b }
    });
    Tensor::from_vec(gamma.shape(), v.collect()).expect("one per channel")
}

/// `γ·(x − μ)/√(σ² + ε) + β` with the batch's mean and biased variance per channel, on one
/// shard (no `ReduceGroup`). The values are pairwise 0.05 apart, so every channel's
/// variance is bounded away from 0, where `1/σ` would make the gradient ill-conditioned.
pub(super) struct BatchNormTrain;

impl Entry for BatchNormTrain {
    type Args = f64;

    fn name(&self) -> &'static str {
        "batch_norm_train"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<f64>> {
        channel_shape()
            .prop_flat_map(|s| {
                let c = s[1];
                (strategies::distinct_tensor::<f64>(s, 0.05), dense(vec![c]), dense(vec![c]), eps())
            })
            .prop_map(|(x, gamma, beta, eps)| OpCase::new(vec![x, gamma, beta], eps))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], eps: &f64) -> Result<Var<'t, T>> {
        Ok(x[0].batch_norm_train(x[1], x[2], T::from_f64_lossy(*eps), None)?.y)
    }

    /// Also a batch of one value per channel (no variance to normalise by).
    fn wrong_shapes(&self) -> Vec<OpCase<f64>> {
        let mut cases = mismatched_channels(1e-5);
        cases.push(zeros(&[&[1, 3], &[3], &[3]], 1e-5));
        cases.push(zeros(&[&[1, 2, 1, 1], &[2], &[2]], 1e-5));
        cases
    }
}

/// `relu(batch_norm_train(x))` as one op, away from the kink: `β` beyond `|γ|·√M` (`|x̂|`
/// is below `√M` for `M` values per channel) with a sign drawn per channel, so each channel
/// is passed or stopped as a whole, at least 0.05 from 0.
pub(super) struct BatchNormTrainRelu;

impl Entry for BatchNormTrainRelu {
    type Args = f64;

    fn name(&self) -> &'static str {
        "batch_norm_train_activated"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<f64>> {
        channel_shape()
            .prop_flat_map(|s| {
                let c = s[1];
                let signs = proptest::collection::vec(any::<bool>(), c);
                (strategies::distinct_tensor::<f64>(s, 0.05), dense(vec![c]), uniform(vec![c], 0.05, 1.0), signs, eps())
            })
            .prop_map(|(x, gamma, offset, signs, eps)| {
                let m = (x.numel() / x.shape()[1]) as f64;
                let beta = beta_beyond(&gamma, m.sqrt(), &offset, &signs);
                OpCase::new(vec![x, gamma, beta], eps)
            })
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], eps: &f64) -> Result<Var<'t, T>> {
        let eps = T::from_f64_lossy(*eps);
        Ok(x[0].batch_norm_train_activated(x[1], x[2], eps, None, Some(Activation::Relu))?.y)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<f64>> {
        let mut cases = mismatched_channels(1e-5);
        cases.push(zeros(&[&[1, 3], &[3], &[3]], 1e-5));
        cases
    }
}
