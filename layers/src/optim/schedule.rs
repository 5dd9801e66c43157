//! Learning-rate schedules: small types giving a factor of the base rate per epoch (or
//! step), composable by product: `lr(t) = base · factor(t)`.

/// A learning-rate schedule.
pub trait Schedule {
    /// The factor applied to the base learning rate at epoch (or step) `t`, counted from 0.
    fn factor(&self, t: usize) -> f64;

    /// The learning rate at `t` for a base rate.
    fn lr(&self, base: f64, t: usize) -> f64 {
        base * self.factor(t)
    }

    /// This schedule multiplied by another (e.g. a warm-up followed by cosine decay).
    fn and<S: Schedule>(self, other: S) -> Product<Self, S>
    where
        Self: Sized,
    {
        Product(self, other)
    }
}

/// A constant rate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Constant;

impl Schedule for Constant {
    fn factor(&self, _t: usize) -> f64 {
        1.0
    }
}

/// Multiply by `gamma` every `step_size` epochs (`torch.optim.lr_scheduler.StepLR`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    /// Epochs between decays (≥ 1).
    pub step_size: usize,
    /// The decay factor.
    pub gamma: f64,
}

impl Schedule for StepDecay {
    fn factor(&self, t: usize) -> f64 {
        self.gamma.powi((t / self.step_size.max(1)) as i32)
    }
}

/// Cosine annealing from 1 to `min_factor` over `total` epochs, then flat
/// (`CosineAnnealingLR` with `eta_min = min_factor·base`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosine {
    /// Epochs to anneal over (≥ 1).
    pub total: usize,
    /// The final factor.
    pub min_factor: f64,
}

impl Schedule for Cosine {
    fn factor(&self, t: usize) -> f64 {
        let progress = t.min(self.total) as f64 / self.total.max(1) as f64;
        self.min_factor + (1.0 - self.min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// Linear warm-up from `1/(epochs+1)` to 1 over the first `epochs` epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearWarmup {
    /// Epochs of warm-up.
    pub epochs: usize,
}

impl Schedule for LinearWarmup {
    fn factor(&self, t: usize) -> f64 {
        if t >= self.epochs { 1.0 } else { (t + 1) as f64 / (self.epochs + 1) as f64 }
    }
}

/// The product of two schedules' factors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Product<A, B>(pub A, pub B);

impl<A: Schedule, B: Schedule> Schedule for Product<A, B> {
    fn factor(&self, t: usize) -> f64 {
        self.0.factor(t) * self.1.factor(t)
    }
}
