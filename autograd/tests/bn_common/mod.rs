//! Shared helpers of the batch-norm suites: input strategies, a naive per-channel batch
//! norm, and one shard's forward and backward pass.
#![allow(dead_code)]

use autograd::strategies::{self, tensor_away_from_zero};
use autograd::{StepContext, Tape};
use proptest::prelude::*;
use tensor::Tensor;

pub const EPS: f64 = 1e-5;

/// `[N, C]` with N ≥ 2, or `[N, C, H, W]` with N·H·W ≥ 2 (at least two values per channel).
pub fn bn_shape() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        (2..=6usize, 1..=3usize).prop_map(|(n, c)| vec![n, c]),
        (1..=3usize, 1..=3usize, 1..=3usize, 1..=3usize)
            .prop_filter("two values per channel", |(n, _, h, w)| n * h * w >= 2)
            .prop_map(|(n, c, h, w)| vec![n, c, h, w]),
    ]
}

/// An input of `shape` with `gamma` (away from 0) and `beta` of its channel count.
pub fn bn_inputs(shape: Vec<usize>) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    let c = shape[1];
    (strategies::tensor::<f64>(shape), tensor_away_from_zero::<f64>(vec![c], 0.3), strategies::tensor::<f64>(vec![c]))
}

/// The naive training-mode batch norm: per channel mean, biased and unbiased variance, and
/// `y`, by loops over a row-major `[N, C, inner]` buffer.
pub struct Naive {
    pub y: Vec<f64>,
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub unbiased: Vec<f64>,
}

pub fn naive(x: &Tensor<f64>, gamma: &[f64], beta: &[f64]) -> Naive {
    let s = x.shape();
    let (n, c, inner): (usize, usize, usize) = (s[0], s[1], s[2..].iter().product());
    let data = x.to_vec();
    let at = |i: usize, ch: usize, k: usize| data[(i * c + ch) * inner + k];
    let m = (n * inner) as f64;
    let mut mean = vec![0.0; c];
    let mut ss = vec![0.0; c];
    for ch in 0..c {
        mean[ch] = (0..n).flat_map(|i| (0..inner).map(move |k| (i, k))).map(|(i, k)| at(i, ch, k)).sum::<f64>() / m;
        ss[ch] = (0..n)
            .flat_map(|i| (0..inner).map(move |k| (i, k)))
            .map(|(i, k)| (at(i, ch, k) - mean[ch]).powi(2))
            .sum::<f64>();
    }
    let var: Vec<f64> = ss.iter().map(|v| v / m).collect();
    let mut y = vec![0.0; data.len()];
    for i in 0..n {
        for ch in 0..c {
            for k in 0..inner {
                y[(i * c + ch) * inner + k] = gamma[ch] * (at(i, ch, k) - mean[ch]) / (var[ch] + EPS).sqrt() + beta[ch];
            }
        }
    }
    Naive { y, mean, unbiased: ss.iter().map(|v| v / (m - 1.0)).collect(), var }
}

/// Finite differences of a normalisation are ill-conditioned when a channel is almost
/// constant; keep the variance of every channel above 0.01.
pub fn well_spread(x: &Tensor<f64>) -> bool {
    let c = x.shape()[1];
    naive(x, &vec![1.0; c], &vec![0.0; c]).var.iter().all(|&v| v > 0.01)
}

/// What one shard returns: y, ∇x, ∇γ, ∇β, and the batch statistics it saw.
pub type ShardResult = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// Batch norm of `x` on one tape, the loss `Σ w ⊙ y`, and its gradients.
pub fn one_shard(
    x: Tensor<f64>,
    gamma: Tensor<f64>,
    beta: Tensor<f64>,
    w: Tensor<f64>,
    context: Option<StepContext>,
) -> autograd::Result<ShardResult> {
    let tape = match context {
        Some(c) => Tape::with_context(c),
        None => Tape::new(),
    };
    let (xv, gv, bv) = (tape.leaf(x), tape.leaf(gamma), tape.leaf(beta));
    let group = tape.context().and_then(StepContext::shard_of_group);
    let out = xv.batch_norm_train(gv, bv, EPS, group)?;
    let loss = out.y.mul(tape.constant(w))?.sum()?;
    let grads = tape.backward(loss)?;
    let get = |v| grads.get(v).map(Tensor::to_vec).unwrap_or_default();
    Ok((out.y.value().to_vec(), get(xv), get(gv), get(bv), out.stats.mean.to_vec(), out.stats.unbiased_var.to_vec()))
}

/// Rows `cuts[i]..cuts[i + 1]` of a tensor along axis 0.
pub fn split_rows(t: &Tensor<f64>, cuts: &[usize]) -> Vec<Tensor<f64>> {
    cuts.windows(2).map(|c| t.narrow(0, c[0], c[1] - c[0]).unwrap().to_contiguous()).collect()
}
