//! Adam and AdamW by PyTorch's rules (`torch.optim.Adam`, `torch.optim.AdamW`):
//!
//! Adam: `g ← ∇p + λ·p`; AdamW: `p ← p·(1 − lr·λ)` and `g ← ∇p`. Then, at the parameter's
//! own step t (counted per parameter, as PyTorch does, from its first gradient),
//! `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`,
//! `p ← p − lr·(m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)`.

use std::collections::BTreeMap;

use autograd::{Gradients, Param};
use tensor::{Element, Tensor};

use super::{DecayFilter, Optimizer, OptimizerState, buffers, check_buffer, check_hyper, grad_contiguous};
use crate::error::{LayerError, Result};

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moments.
    pub betas: (f64, f64),
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay λ.
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW) instead of L2 in the gradient (Adam).
    pub decoupled: bool,
    /// Which parameters decay.
    pub decay: DecayFilter,
}

impl AdamConfig {
    /// Adam with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn adam(lr: f64) -> Self {
        AdamConfig { lr, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, decoupled: false, decay: DecayFilter::All }
    }

    /// AdamW with PyTorch's defaults: as Adam, with decoupled weight decay 0.01.
    pub fn adamw(lr: f64) -> Self {
        AdamConfig { weight_decay: 0.01, decoupled: true, ..AdamConfig::adam(lr) }
    }

    /// With weight decay λ.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// With moment decay rates.
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.betas = (b1, b2);
        self
    }

    /// Restricting weight decay.
    pub fn decay(mut self, decay: DecayFilter) -> Self {
        self.decay = decay;
        self
    }
}

/// The Adam / AdamW optimizer; see the module docs for the rule.
pub struct Adam<T> {
    config: AdamConfig,
    m: BTreeMap<String, Tensor<T>>,
    v: BTreeMap<String, Tensor<T>>,
    /// Steps taken by each parameter (its `t`).
    t: BTreeMap<String, u64>,
    steps: u64,
}

impl<T: Element> Adam<T> {
    /// An optimizer with the given hyper-parameters; an error for values out of range.
    pub fn new(config: AdamConfig) -> Result<Self> {
        for (name, v) in [("lr", config.lr), ("eps", config.eps), ("weight_decay", config.weight_decay)] {
            check_hyper("Adam", name, v)?;
        }
        let (b1, b2) = config.betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return Err(LayerError::Config {
                what: "Adam".into(),
                reason: format!("betas must lie in [0, 1), got ({b1}, {b2})"),
            });
        }
        Ok(Adam { config, m: BTreeMap::new(), v: BTreeMap::new(), t: BTreeMap::new(), steps: 0 })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: Vec<(String, &mut Param<T>)>, grads: &Gradients<T>) -> Result<()> {
        let c = self.config;
        let (b1, b2) = c.betas;
        let (lr, eps) = (T::from_f64_lossy(c.lr), T::from_f64_lossy(c.eps));
        let (tb1, tb2) = (T::from_f64_lossy(b1), T::from_f64_lossy(b2));
        for (name, param) in params {
            let Some(g) = grad_contiguous(&name, param, grads)? else { continue };
            let g = g.as_slice().expect("contiguous");
            let wd = T::from_f64_lossy(if c.decay.applies(&name) { c.weight_decay } else { 0.0 });
            let shape = param.shape().to_vec();
            let zeros = || Tensor::zeros(&shape).expect("a parameter's shape");
            let m = self.m.entry(name.clone()).or_insert_with(zeros);
            let v = self.v.entry(name.clone()).or_insert_with(zeros);
            check_buffer(m, &shape)?;
            check_buffer(v, &shape)?;
            let t = self.t.entry(name).or_insert(0);
            *t += 1;
            let t = i32::try_from(*t).unwrap_or(i32::MAX);
            let bias1 = T::from_f64_lossy(1.0 - b1.powi(t));
            let bias2_sqrt = T::from_f64_lossy((1.0 - b2.powi(t)).sqrt());
            let p = param.value.as_mut_slice();
            for (((p, &g), m), v) in p.iter_mut().zip(g.iter()).zip(m.as_mut_slice()).zip(v.as_mut_slice()) {
                let g = if c.decoupled {
                    *p -= lr * wd * *p;
                    g
                } else {
                    g + wd * *p
                };
                *m = tb1 * *m + (T::one() - tb1) * g;
                *v = tb2 * *v + (T::one() - tb2) * g * g;
                *p -= lr * (*m / bias1) / (v.sqrt() / bias2_sqrt + eps);
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
        let named = |kind: &str, map: &BTreeMap<String, Tensor<T>>| {
            map.iter().map(|(n, t)| (format!("{kind}.{n}"), t.clone())).collect::<Vec<_>>()
        };
        let mut tensors = named("exp_avg", &self.m);
        tensors.extend(named("exp_avg_sq", &self.v));
        // As PyTorch keeps it: a float scalar per parameter (exact up to 2²⁴ steps in f32).
        tensors.extend(self.t.iter().map(|(n, &t)| (format!("step.{n}"), Tensor::scalar(T::from_f64_lossy(t as f64)))));
        OptimizerState { tensors, step: self.steps }
    }

    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()> {
        let mut maps = buffers("Adam", state.tensors, &["exp_avg", "exp_avg_sq", "step"])?;
        let mut t = BTreeMap::new();
        for (name, value) in maps.remove("step").unwrap_or_default() {
            let steps = value.item().map(|x| x.to_f64_exact()).ok().filter(|s| *s >= 0.0 && s.fract() == 0.0);
            let steps = steps.ok_or_else(|| LayerError::Config {
                what: "Adam state".into(),
                reason: format!("step.{name} is not a step count"),
            })?;
            t.insert(name, steps as u64);
        }
        self.m = maps.remove("exp_avg").unwrap_or_default();
        self.v = maps.remove("exp_avg_sq").unwrap_or_default();
        self.t = t;
        self.steps = state.step;
        Ok(())
    }
}
