//! The entries of `batch_norm_eval`, plain and with a fused ReLU.

use proptest::prelude::*;
use tensor::{Activation, Element, Tensor};

use super::batch_norm::{beta_beyond, eps, mismatched_channels};
use super::{cast_arg, dense, uniform, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

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
