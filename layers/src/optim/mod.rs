//! Optimizers (SGD with momentum and Nesterov, Adam, AdamW) with PyTorch's update rules,
//! learning-rate schedules, and the checks and clipping of gradients before an update. Updates run in place over the parameters' buffers; state
//! buffers are allocated on the first step and reused after.

mod adam;
mod clip;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use clip::{clip_grad_norm, first_non_finite_gradient, gradient_norm};
pub use schedule::{Constant, Cosine, LinearWarmup, Product, Schedule, StepDecay};
pub use sgd::{Sgd, SgdConfig};

use std::collections::BTreeMap;

use autograd::{Gradients, Param};
use tensor::{Element, Tensor};

use crate::error::{LayerError, Result};

/// Which parameters weight decay applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecayFilter {
    /// Every parameter (PyTorch's default when all parameters are in one group).
    #[default]
    All,
    /// Only parameters whose name does not end in `bias` (the derivation's L2 on W).
    WeightsOnly,
}

impl DecayFilter {
    /// Whether the parameter named `name` decays.
    pub fn applies(&self, name: &str) -> bool {
        match self {
            DecayFilter::All => true,
            DecayFilter::WeightsOnly => !name.ends_with("bias"),
        }
    }
}

/// The state an optimizer needs to resume exactly: named buffers and the step count.
#[derive(Clone)]
pub struct OptimizerState<T> {
    /// Buffers named `<kind>.<parameter name>` (e.g. `momentum.c1.weight`).
    pub tensors: Vec<(String, Tensor<T>)>,
    /// Steps taken.
    pub step: u64,
}

impl<T: Element> std::fmt::Debug for OptimizerState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shapes: Vec<(&str, &[usize])> = self.tensors.iter().map(|(n, t)| (n.as_str(), t.shape())).collect();
        f.debug_struct("OptimizerState").field("tensors", &shapes).field("step", &self.step).finish()
    }
}

/// An update rule over named parameters.
pub trait Optimizer<T: Element> {
    /// Updates, in place, every parameter of `params` that has a gradient in `grads`.
    fn step(&mut self, params: Vec<(String, &mut Param<T>)>, grads: &Gradients<T>) -> Result<()>;

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f64);

    /// The state to checkpoint.
    fn state(&self) -> OptimizerState<T>;

    /// Restores a checkpointed state (replacing the current one).
    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()>;
}

/// The gradient of `param` as a contiguous tensor, copied (into a buffer from the pool the
/// gradient's came from, if any) only when it is a strided view; an error when its shape
/// differs from the parameter's.
pub(crate) fn grad_contiguous<T: Element>(
    name: &str,
    param: &Param<T>,
    grads: &Gradients<T>,
) -> Result<Option<Tensor<T>>> {
    let Some(g) = grads.param(param) else { return Ok(None) };
    if g.shape() != param.shape() {
        return Err(LayerError::Config {
            what: "optimizer".into(),
            reason: format!("gradient of {name} has shape {:?}, parameter {:?}", g.shape(), param.shape()),
        });
    }
    Ok(Some(g.to_contiguous()))
}

/// Checks a hyper-parameter: finite and non-negative.
pub(crate) fn check_hyper(what: &str, name: &str, value: f64) -> Result<()> {
    if !value.is_finite() || value < 0.0 {
        return Err(LayerError::Config {
            what: what.into(),
            reason: format!("{name} must be finite and ≥ 0, got {value}"),
        });
    }
    Ok(())
}

/// Splits restored state tensors named `<kind>.<parameter>` into one map per kind; an error
/// for a name of another kind.
pub(crate) fn buffers<T: Element>(
    what: &str,
    tensors: Vec<(String, Tensor<T>)>,
    kinds: &[&str],
) -> Result<BTreeMap<String, BTreeMap<String, Tensor<T>>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Tensor<T>>> = BTreeMap::new();
    for (key, t) in tensors {
        let split = key.split_once('.').filter(|(kind, _)| kinds.contains(kind));
        let Some((kind, name)) = split else {
            return Err(LayerError::Config {
                what: format!("{what} state"),
                reason: format!("unexpected buffer {key:?}"),
            });
        };
        out.entry(kind.to_string()).or_default().insert(name.to_string(), t.to_contiguous());
    }
    Ok(out)
}

/// Checks that a state buffer matches its parameter's shape (it may come from a file).
pub(crate) fn check_buffer<T: Element>(buf: &Tensor<T>, shape: &[usize]) -> Result<()> {
    if buf.shape() != shape {
        return Err(LayerError::Config {
            what: "optimizer state".into(),
            reason: format!("a buffer of shape {:?} for a parameter of shape {shape:?}", buf.shape()),
        });
    }
    Ok(())
}
