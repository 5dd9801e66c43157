//! Losses: softmax cross-entropy (optionally label-smoothed) and the L2 penalty.

use autograd::{Param, Var};
use tensor::Element;

use crate::error::Result;

/// The mean softmax cross-entropy of `logits: [N, K]` against class indices
/// (`nn.CrossEntropyLoss()`). Gradient: `∇logits = (softmax(logits) − onehot(labels))/N`.
pub fn cross_entropy<'t, T: Element>(logits: Var<'t, T>, labels: &[usize]) -> Result<Var<'t, T>> {
    Ok(logits.softmax_cross_entropy(labels)?)
}

/// The mean softmax cross-entropy with label smoothing `ε ∈ [0, 1]`: targets
/// `(1−ε)·onehot + ε/K` (`nn.CrossEntropyLoss(label_smoothing=ε)`).
/// Gradient: `∇logits = (softmax(logits) − targets)/N`.
pub fn cross_entropy_smoothed<'t, T: Element>(
    logits: Var<'t, T>,
    labels: &[usize],
    smoothing: T,
) -> Result<Var<'t, T>> {
    Ok(logits.softmax_cross_entropy_smoothed(labels, smoothing)?)
}

/// The L2 penalty `0.5·λ·Σ‖W‖²` over `params`, recorded on the tape of `like` (any `Var` of
/// the step's tape); its gradient adds `λ·W` to each `∇W`. `None` when `params` is empty.
pub fn l2_penalty<'t, T: Element>(like: Var<'t, T>, params: &[&Param<T>], lambda: T) -> Result<Option<Var<'t, T>>> {
    let tape = like.tape();
    let mut total: Option<Var<'t, T>> = None;
    for p in params {
        let s = tape.param(p).sum_squares()?;
        total = Some(match total {
            Some(t) => t.add(s)?,
            None => s,
        });
    }
    let half = T::from_f64_lossy(0.5);
    total.map(|t| t.scale(half * lambda)).transpose().map_err(Into::into)
}
