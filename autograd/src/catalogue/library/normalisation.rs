//! Entries of batch normalisation, in training mode (batch statistics) and in evaluation
//! mode (running statistics), each also with a fused ReLU.

use proptest::prelude::*;
use tensor::{Activation, Element, Tensor};

use super::{cast_arg, dense, uniform, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// Input shapes `[N, C, …]`: `N`, `C` of 1 to 3 and up to two spatial axes of 1 to 3, with
/// at least two values per channel (`N` raised to 2 where the batch would have one).
fn channel_shape() -> impl Strategy<Value = Vec<usize>> {
    (1..=3usize, 1..=3usize, strategies::shape(0..=2, 1..=3)).prop_map(|(n, c, spatial)| {
        let inner: usize = spatial.iter().product();
        let n = if n * inner < 2 { 2 } else { n };
        [n, c].into_iter().chain(spatial).collect()
    })
}

/// `ε`: PyTorch's 1e-5, or larger.
fn eps() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1e-5), 1e-3..=0.1f64]
}

/// The wrong-shape calls both modes share: an input without a channel axis, and `γ` or
/// `β` not of the channel count.
fn mismatched_channels<A: Clone>(args: A) -> Vec<OpCase<A>> {
    vec![
        zeros(&[&[3], &[3], &[3]], args.clone()),
        zeros(&[&[2, 3], &[2], &[3]], args.clone()),
        zeros(&[&[2, 3, 2], &[3], &[3, 1]], args),
    ]
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

/// `γ·(x − μ_r)/√(σ²_r + ε) + β` with running statistics (constants, not differentiated,
/// `σ²_r` in [0.1, 2], given contiguous or strided); a batch of one is fine here.
pub(super) struct BatchNormEval;

/// The running mean and variance, `ε`, and whether the statistics are given as strided
/// views ([`cast_arg`]).
type RunningStats = (Tensor<f64>, Tensor<f64>, f64, bool);

impl Entry for BatchNormEval {
    type Args = RunningStats;

    fn name(&self) -> &'static str {
        "batch_norm_eval"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<RunningStats>> {
        (1..=3usize, 1..=3usize, strategies::shape(0..=2, 1..=3))
            .prop_flat_map(|(n, c, spatial)| {
                let s: Vec<usize> = [n, c].into_iter().chain(spatial).collect();
                let inputs = (dense(s), dense(vec![c]), dense(vec![c]));
                (inputs, dense(vec![c]), uniform(vec![c], 0.1, 2.0), eps(), any::<bool>())
            })
            .prop_map(|((x, gamma, beta), mean, var, eps, strided)| {
                OpCase::new(vec![x, gamma, beta], (mean, var, eps, strided))
            })
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], (mean, var, eps, strided): &RunningStats) -> Result<Var<'t, T>> {
        let (mean, var) = (cast_arg(mean, *strided)?, cast_arg(var, *strided)?);
        x[0].batch_norm_eval(x[1], x[2], &mean, &var, T::from_f64_lossy(*eps))
    }

    /// Also running statistics not of the channel count.
    fn wrong_shapes(&self) -> Vec<OpCase<RunningStats>> {
        let stats =
            |c: usize, d: usize| (Tensor::zeros(&[c]).expect("small"), Tensor::ones(&[d]).expect("small"), 1e-5, false);
        let mut cases = mismatched_channels(stats(3, 3));
        cases.push(zeros(&[&[2, 3], &[3], &[3]], stats(2, 3)));
        cases.push(zeros(&[&[2, 3], &[3], &[3]], stats(3, 4)));
        cases
    }
}

/// `β` of sign `signs[c]` and `|β_c| = |γ_c|·bound + offset_c`: with `|x̂| < bound`, every
/// `γ·x̂ + β` of channel `c` has that sign and is at least `offset_c` from 0 (the ReLU's kink).
fn beta_beyond(gamma: &Tensor<f64>, bound: f64, offset: &Tensor<f64>, signs: &[bool]) -> Tensor<f64> {
    let v = gamma.iter().zip(offset.iter()).zip(signs).map(|((g, o), &s)| {
        let b = g.abs() * bound + o;
        if s { b } else { -b }
    });
    Tensor::from_vec(gamma.shape(), v.collect()).expect("one per channel")
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

/// `relu(batch_norm_eval(x))` as one op (fused when nothing is differentiated; the suite's
/// gradients go through the recorded path), away from the kink: `|x − μ_r| ≤ 2` and
/// `σ²_r ≥ 0.1`, so `|x̂| < 6.4`, and `β` beyond `6.4·|γ|` with a sign per channel.
pub(super) struct BatchNormEvalRelu;

impl Entry for BatchNormEvalRelu {
    type Args = RunningStats;

    fn name(&self) -> &'static str {
        "batch_norm_eval_activated"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<RunningStats>> {
        (1..=3usize, 1..=3usize, strategies::shape(0..=2, 1..=3))
            .prop_flat_map(|(n, c, spatial)| {
                let s: Vec<usize> = [n, c].into_iter().chain(spatial).collect();
                let inputs = (dense(s), dense(vec![c]), uniform(vec![c], 0.05, 1.0));
                let signs = proptest::collection::vec(any::<bool>(), c);
                (inputs, signs, dense(vec![c]), uniform(vec![c], 0.1, 2.0), eps(), any::<bool>())
            })
            .prop_map(|((x, gamma, offset), signs, mean, var, eps, strided)| {
                let beta = beta_beyond(&gamma, 6.4, &offset, &signs);
                OpCase::new(vec![x, gamma, beta], (mean, var, eps, strided))
            })
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], (mean, var, eps, strided): &RunningStats) -> Result<Var<'t, T>> {
        let (mean, var) = (cast_arg(mean, *strided)?, cast_arg(var, *strided)?);
        x[0].batch_norm_eval_activated(x[1], x[2], &mean, &var, T::from_f64_lossy(*eps), Some(Activation::Relu))
    }

    fn wrong_shapes(&self) -> Vec<OpCase<RunningStats>> {
        let stats = (Tensor::zeros(&[3]).expect("small"), Tensor::ones(&[3]).expect("small"), 1e-5, false);
        mismatched_channels(stats)
    }
}
