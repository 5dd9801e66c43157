//! Batch normalisation, PyTorch's `BatchNorm1d` (after a linear layer, `[N, C]`) and
//! `BatchNorm2d` (after a convolution, `[N, C, H, W]`), per channel `c`:
//!
//! - training: `y = γ·(x − μ)/√(σ² + ε) + β` with the batch's mean `μ` and biased variance
//!   `σ²` over the `M` values of the channel (`M = N` or `N·H·W`), then
//!   `μ_r ← (1 − m)·μ_r + m·μ` and `σ²_r ← (1 − m)·σ²_r + m·σ²·M/(M − 1)` (the unbiased
//!   variance, as PyTorch) with momentum `m`, and `num_batches_tracked += 1`;
//! - evaluation: `y = γ·(x − μ_r)/√(σ²_r + ε) + β` with the running statistics.
//!
//! The VJPs are the ops' (`Var::batch_norm_train`, `Var::batch_norm_eval`): in training
//! `∇x = (γ/σ)·(∇y − mean(∇y) − x̂·mean(∇y ⊙ x̂))`, since every `x` of a channel moves `μ`
//! and `σ`.
//!
//! **Shards.** When the tape carries a [`StepContext`](autograd::StepContext) with a reduce
//! group (the training stack's threads), the statistics are the whole batch's, all-reduced
//! over the shards, so every shard normalises alike and the running statistics, updated by
//! shard 0 only, are the whole batch's. Without a context the tape's batch is the batch.

use std::fmt;

use autograd::{Param, Var};
use tensor::{Activation, Element, Tensor};

use crate::buffer::Buffer;
use crate::error::{LayerError, Result};
use crate::faces::{AffineMap, ChannelAffine, Fuse};
use crate::module::Module;

/// Which input a [`BatchNorm`] takes: PyTorch's `BatchNorm1d` or `BatchNorm2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchNormKind {
    /// `BatchNorm1d`: `[N, C]`.
    D1,
    /// `BatchNorm2d`: `[N, C, H, W]`.
    D2,
}

/// A batch normalisation layer; see the module documentation. Parameters `weight` (`γ`,
/// ones) and `bias` (`β`, zeros); buffers `running_mean` (zeros), `running_var` (ones) and
/// `num_batches_tracked` (a scalar count, kept in the element type: exact up to 2²⁴ steps
/// in f32), PyTorch's names, so checkpoints move both ways. Starts in training mode.
pub struct BatchNorm<T> {
    kind: BatchNormKind,
    channels: usize,
    eps: f64,
    momentum: f64,
    training: bool,
    /// `γ: [C]`.
    pub weight: Param<T>,
    /// `β: [C]`.
    pub bias: Param<T>,
    running_mean: Buffer<T>,
    running_var: Buffer<T>,
    num_batches_tracked: Buffer<T>,
}

impl<T: Element> BatchNorm<T> {
    /// A layer of `kind` over `channels` channels with PyTorch's defaults (eps 1e-5,
    /// momentum 0.1); an error for zero channels.
    pub fn new(kind: BatchNormKind, channels: usize) -> Result<Self> {
        if channels == 0 {
            return Err(LayerError::Config {
                what: format!("BatchNorm{}(0)", kind.suffix()),
                reason: "channels must be at least 1".into(),
            });
        }
        Ok(BatchNorm {
            kind,
            channels,
            eps: 1e-5,
            momentum: 0.1,
            training: true,
            weight: Param::new(Tensor::ones(&[channels])?),
            bias: Param::new(Tensor::zeros(&[channels])?),
            running_mean: Buffer::new(Tensor::zeros(&[channels])?),
            running_var: Buffer::new(Tensor::ones(&[channels])?),
            num_batches_tracked: Buffer::new(Tensor::scalar(T::zero())),
        })
    }

    /// PyTorch's `BatchNorm1d(channels)`, for `[N, C]` inputs.
    pub fn new_1d(channels: usize) -> Result<Self> {
        BatchNorm::new(BatchNormKind::D1, channels)
    }

    /// PyTorch's `BatchNorm2d(channels)`, for `[N, C, H, W]` inputs.
    pub fn new_2d(channels: usize) -> Result<Self> {
        BatchNorm::new(BatchNormKind::D2, channels)
    }

    /// The same layer with `eps` (positive, finite) added to the variance.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(LayerError::Config {
                what: format!("{self:?}"),
                reason: format!("eps {eps} must be positive"),
            });
        }
        self.eps = eps;
        Ok(self)
    }

    /// The same layer with the running statistics' `momentum` in [0, 1].
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&momentum) {
            return Err(LayerError::Config {
                what: format!("{self:?}"),
                reason: format!("momentum {momentum} must be in [0, 1]"),
            });
        }
        self.momentum = momentum;
        Ok(self)
    }

    /// The input kind.
    pub fn kind(&self) -> BatchNormKind {
        self.kind
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The running mean `μ_r: [C]`.
    pub fn running_mean(&self) -> Tensor<T> {
        self.running_mean.get()
    }

    /// The running variance `σ²_r: [C]`.
    pub fn running_var(&self) -> Tensor<T> {
        self.running_var.get()
    }

    /// How many training batches updated the running statistics.
    pub fn num_batches_tracked(&self) -> u64 {
        self.num_batches_tracked.get().item().map_or(0, |v| v.to_f64_exact() as u64)
    }

    fn forward_with<'t>(&self, x: Var<'t, T>, act: Option<Activation>) -> Result<Var<'t, T>> {
        self.check(&x.shape())?;
        let tape = x.tape();
        let (gamma, beta) = (tape.param(&self.weight), tape.param(&self.bias));
        let eps = T::from_f64_lossy(self.eps);
        if !self.training {
            let (mean, var) = (self.running_mean.get(), self.running_var.get());
            return Ok(x.batch_norm_eval_activated(gamma, beta, &mean, &var, eps, act)?);
        }
        let context = tape.context();
        let group = context.and_then(autograd::StepContext::shard_of_group);
        let out = x.batch_norm_train_activated(gamma, beta, eps, group, act)?;
        if context.is_none_or(|c| c.shard == 0) {
            self.update_running(&out.stats)?;
        }
        Ok(out.y)
    }

    fn check(&self, input: &[usize]) -> Result<()> {
        let rank = match self.kind {
            BatchNormKind::D1 => 2,
            BatchNormKind::D2 => 4,
        };
        if input.len() != rank || input[1] != self.channels {
            let expected = match self.kind {
                BatchNormKind::D1 => format!("[N, {}]", self.channels),
                BatchNormKind::D2 => format!("[N, {}, H, W]", self.channels),
            };
            return Err(LayerError::InputShape { module: format!("{self:?}"), expected, got: input.to_vec() });
        }
        Ok(())
    }

    /// `μ_r`, `σ²_r` moved towards the batch's statistics, and the count incremented.
    fn update_running(&self, stats: &autograd::BatchStats<T>) -> Result<()> {
        let (mut mean, mut var) = (self.running_mean.get(), self.running_var.get());
        stats.update_running(&mut mean, &mut var, T::from_f64_lossy(self.momentum))?;
        self.running_mean.set(mean);
        self.running_var.set(var);
        let count = self.num_batches_tracked.get().item()?;
        self.num_batches_tracked.set(Tensor::scalar(count + T::one()));
        Ok(())
    }
}

impl BatchNormKind {
    fn suffix(self) -> &'static str {
        match self {
            BatchNormKind::D1 => "1d",
            BatchNormKind::D2 => "2d",
        }
    }
}

impl<T> fmt::Debug for BatchNorm<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchNorm{}({}, eps {:e}, momentum {})", self.kind.suffix(), self.channels, self.eps, self.momentum)
    }
}

impl<T: Element> Module<T> for BatchNorm<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.forward_with(x, None)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.check(input)?;
        Ok(input.to_vec())
    }

    crate::parts!(T;
        params: weight, bias;
        buffers: running_mean, running_var, num_batches_tracked;
        training: training;
        faces: Fuse, ChannelAffine
    );
}

/// One op: the activation is applied in the normalisation's output pass.
impl<T: Element> Fuse<T> for BatchNorm<T> {
    fn forward_activated<'t>(&self, x: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        self.forward_with(x, Some(act))
    }
}

/// In evaluation after a convolution: `s = γ/√(σ²_r + ε)`, `m = μ_r`, `t = β`, the factors
/// [`Var::batch_norm_eval`] applies. `None` in training, for `[N, C]` input, or for a
/// running variance the op would refuse (negative or NaN), which then reports it.
impl<T: Element> ChannelAffine<T> for BatchNorm<T> {
    fn channel_affine(&self) -> Option<AffineMap<T>> {
        if self.training || self.kind != BatchNormKind::D2 {
            return None;
        }
        let (mean, var) = (self.running_mean.get().to_vec(), self.running_var.get().to_vec());
        if var.iter().any(|v| v.is_nan() || *v < T::zero()) {
            return None;
        }
        let eps = T::from_f64_lossy(self.eps);
        let gamma = self.weight.value.to_vec();
        let scale = gamma.iter().zip(&var).map(|(&g, &v)| g * (T::one() / (v + eps).sqrt())).collect();
        Some(AffineMap { scale, center: mean, shift: self.bias.value.to_vec() })
    }
}
