//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, by
//! PyTorch's rule (`torch.optim.SGD`):
//!
//! `g ← ∇p + λ·p`; with momentum μ: `b ← g` on the first step, else `b ← μ·b + (1 − d)·g`;
//! then `g ← g + μ·b` (Nesterov) or `g ← b`; finally `p ← p − lr·g`.

use std::collections::BTreeMap;

use autograd::{Gradients, Param};
use tensor::{Element, Tensor};

use super::{DecayFilter, Optimizer, OptimizerState, buffers, check_buffer, check_hyper, grad_contiguous};
use crate::error::{LayerError, Result};

/// SGD's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum μ (0 for plain SGD).
    pub momentum: f64,
    /// Dampening d of the momentum update.
    pub dampening: f64,
    /// Nesterov momentum (needs μ > 0 and d = 0, as in PyTorch).
    pub nesterov: bool,
    /// L2 weight decay λ, added to the gradient.
    pub weight_decay: f64,
    /// Which parameters decay.
    pub decay: DecayFilter,
}

impl SgdConfig {
    /// Plain SGD at learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        SgdConfig { lr, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0, decay: DecayFilter::All }
    }

    /// With momentum μ.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// With Nesterov momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// With weight decay λ.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// With dampening d.
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// Restricting weight decay.
    pub fn decay(mut self, decay: DecayFilter) -> Self {
        self.decay = decay;
        self
    }
}

/// The SGD optimizer; see the module docs for the rule.
pub struct Sgd<T> {
    config: SgdConfig,
    momentum: BTreeMap<String, Tensor<T>>,
    steps: u64,
}

impl<T: Element> Sgd<T> {
    /// An optimizer with the given hyper-parameters; an error for negative or non-finite
    /// values, or Nesterov without momentum or with dampening.
    pub fn new(config: SgdConfig) -> Result<Self> {
        for (name, v) in [
            ("lr", config.lr),
            ("momentum", config.momentum),
            ("dampening", config.dampening),
            ("weight_decay", config.weight_decay),
        ] {
            check_hyper("SGD", name, v)?;
        }
        if config.nesterov && (config.momentum <= 0.0 || config.dampening != 0.0) {
            return Err(LayerError::Config {
                what: "SGD".into(),
                reason: "Nesterov momentum needs momentum > 0 and zero dampening".into(),
            });
        }
        Ok(Sgd { config, momentum: BTreeMap::new(), steps: 0 })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl<T: Element> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: Vec<(String, &mut Param<T>)>, grads: &Gradients<T>) -> Result<()> {
        let c = self.config;
        let lr = T::from_f64_lossy(c.lr);
        let mu = T::from_f64_lossy(c.momentum);
        let keep = T::from_f64_lossy(1.0 - c.dampening);
        for (name, param) in params {
            let Some(g) = grad_contiguous(&name, param, grads)? else { continue };
            let g = g.as_slice().expect("contiguous");
            let wd = T::from_f64_lossy(if c.decay.applies(&name) { c.weight_decay } else { 0.0 });
            let shape = param.shape().to_vec();
            let p = param.value.as_mut_slice();
            if c.momentum == 0.0 {
                for (p, &g) in p.iter_mut().zip(g.iter()) {
                    *p -= lr * (g + wd * *p);
                }
                continue;
            }
            let first = !self.momentum.contains_key(&name);
            let buf = self.momentum.entry(name).or_insert_with(|| Tensor::zeros(&shape).expect("a parameter's shape"));
            check_buffer(buf, &shape)?;
            for ((p, &g), b) in p.iter_mut().zip(g.iter()).zip(buf.as_mut_slice()) {
                let g = g + wd * *p;
                *b = if first { g } else { mu * *b + keep * g };
                let step = if c.nesterov { g + mu * *b } else { *b };
                *p -= lr * step;
            }
        }
        self.steps += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            tensors: self.momentum.iter().map(|(n, t)| (format!("momentum.{n}"), t.clone())).collect(),
            step: self.steps,
        }
    }

    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()> {
        self.momentum = buffers("SGD", state.tensors, &["momentum"])?.remove("momentum").unwrap_or_default();
        self.steps = state.step;
        Ok(())
    }
}
