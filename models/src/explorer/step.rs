//! SGD steps on one image, on an in-memory copy of the network: the weight changes and how
//! the probabilities move. The caller's network (and any checkpoint file) is untouched.

use autograd::Tape;
use layers::{Module, Optimizer, Sgd, SgdConfig};
use serde::Serialize;
use tensor::Tensor;

use super::{ExplorerError, Matrix, Net};
use crate::notation::sup_key;

/// The most steps one request may take.
pub const MAX_STEPS: usize = 100;

/// What `steps` SGD steps on one image did.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// The label trained towards.
    pub label: usize,
    /// The learning rate η.
    pub lr: f32,
    /// Steps taken.
    pub steps: usize,
    /// `P` before the first step.
    pub before: Vec<f32>,
    /// `P` after the last step.
    pub after: Vec<f32>,
    /// The cross-entropy before.
    pub loss_before: f32,
    /// The cross-entropy after.
    pub loss_after: f32,
    /// `ΔW = W_after − W_before` (and `Δb`) of each layer, in the derivation's layout; for
    /// one step, `ΔW = −η·∇W`.
    pub deltas: Vec<Matrix>,
}

/// `P` and the cross-entropy for `label`, from the fused forward pass.
fn probabilities(model: &dyn Module<f32>, x: &Tensor<f32>, label: usize) -> Result<(Vec<f32>, f32), ExplorerError> {
    let tape = Tape::no_grad();
    let logits = model.forward(tape.constant(x.clone()))?.value();
    let p = autograd::softmax_rows(&logits)?.to_vec();
    let loss = (-p[label].max(f32::MIN_POSITIVE).ln()).max(0.0);
    Ok((p, loss))
}

/// Takes `steps` plain SGD steps (`W ← W − η·∇W`, PyTorch's rule, no momentum or decay) on
/// the cross-entropy of the preprocessed input `x: [1, C, H, W]` with `label`, on a copy of
/// `net`. The network stays in evaluation mode (batch norm uses its running statistics,
/// dropout is the identity): one image is no batch to take statistics of.
pub fn step(net: &Net, x: &Tensor<f32>, label: usize, lr: f32, steps: usize) -> Result<StepResult, ExplorerError> {
    let model = &net.model;
    let classes = model.output_shape(x.shape())?.last().copied().unwrap_or(0);
    if label >= classes {
        return Err(ExplorerError::Input(format!("label {label} is not a class 0–{}", classes.saturating_sub(1))));
    }
    if !lr.is_finite() || lr <= 0.0 || lr > 10.0 {
        return Err(ExplorerError::Input(format!("learning rate {lr} is not in (0, 10]")));
    }
    if steps == 0 || steps > MAX_STEPS {
        return Err(ExplorerError::Input(format!("steps {steps} is not in 1..={MAX_STEPS}")));
    }
    let (before, loss_before) = probabilities(model, x, label)?;
    let mut copy = net.copy()?;
    let mut sgd = Sgd::new(SgdConfig::new(f64::from(lr)))?;
    for _ in 0..steps {
        let tape = Tape::new();
        let logits = copy.model.forward(tape.constant(x.clone()))?;
        let loss = layers::cross_entropy(logits, &[label])?;
        let grads = tape.backward(loss)?;
        sgd.step(copy.model.named_parameters_mut(), &grads)?;
    }
    let (after, loss_after) = probabilities(&copy.model, x, label)?;
    let mut deltas = Vec::new();
    for ((name, old), (_, new)) in model.named_parameters().into_iter().zip(copy.model.named_parameters()) {
        let (layer, key, (id, symbol)) = net.parameter_place(&name);
        let delta = new.value.sub(&old.value)?;
        let s = delta.shape().to_vec();
        let (id, symbol) = (format!("D{id}{key}"), format!("{symbol}{}", sup_key(&key)));
        let matrix = match s[..] {
            [n] => delta.reshape(&[1, n])?,
            [f, c, kh, kw] => delta.reshape(&[f, c * kh * kw])?.t()?,
            _ => delta.t()?,
        };
        let shape = matrix.shape().to_vec();
        let formula = if steps == 1 {
            format!("Δ{symbol} = −η·∇{symbol}")
        } else {
            format!("Δ{symbol} after {steps} steps")
        };
        deltas.push(Matrix::new(&id, &layer, &formula, "the-rules-of-the-backward-pass", &shape, &matrix).signed());
    }
    Ok(StepResult { label, lr, steps, before, after, loss_before, loss_after, deltas })
}
