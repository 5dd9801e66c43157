//! Weight initialisers, drawn from a caller's seeded generator, or from a seed
//! ([`weight_rng`]).
//!
//! Fans of a weight: a Linear weight `[out, in]` has fan-in `in` and fan-out `out`; a
//! convolution weight `[out, in, kh, kw]` has fan-in `in·kh·kw` and fan-out `out·kh·kw`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensor::{Element, Tensor};

use crate::error::Result;

/// How to initialise a weight.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Init {
    /// PyTorch's default for Conv2d and Linear weights: Kaiming-uniform with `a = √5`,
    /// i.e. uniform in `±gain·√(3/fan_in)` with `gain = √(2/(1 + a²))`, which is
    /// `±1/√fan_in`.
    #[default]
    PytorchDefault,
    /// Kaiming/He normal for ReLU networks: `N(0, 2/fan_in)`.
    KaimingNormal,
    /// Xavier/Glorot uniform: uniform in `±√(6/(fan_in + fan_out))`.
    XavierUniform,
}

impl Init {
    /// A weight of `shape` drawn from this initialiser.
    pub fn weight<T: Element, R: Rng + ?Sized>(&self, shape: &[usize], rng: &mut R) -> Result<Tensor<T>> {
        let (fan_in, fan_out) = fans(shape);
        Ok(match self {
            Init::PytorchDefault => kaiming_uniform(shape, fan_in, 5f64.sqrt(), rng)?,
            Init::KaimingNormal => Tensor::rand_normal(shape, 0.0, (2.0 / fan_in as f64).sqrt(), rng)?,
            Init::XavierUniform => {
                let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
                Tensor::rand_uniform(shape, -bound, bound, rng)?
            }
        })
    }
}

/// The generator of a network's initial weights for `seed`: `StdRng` seeded by it, drawn
/// layer by layer in order (weight, then bias). [`SequentialBuilder::build`](crate::SequentialBuilder::build),
/// `models`' `TrainConfig::weight_rng` and `lenet5 train` all draw from it, so a seed
/// gives the same weights everywhere.
pub fn weight_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Kaiming-uniform: uniform in `±gain·√(3/fan_in)`, `gain = √(2/(1 + a²))` (leaky-ReLU
/// slope `a`).
pub fn kaiming_uniform<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    fan_in: usize,
    a: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let gain = (2.0 / (1.0 + a * a)).sqrt();
    let bound = gain * (3.0 / fan_in.max(1) as f64).sqrt();
    Ok(Tensor::rand_uniform(shape, -bound, bound, rng)?)
}

/// PyTorch's default bias: uniform in `±1/√fan_in`.
pub fn bias_uniform<T: Element, R: Rng + ?Sized>(len: usize, fan_in: usize, rng: &mut R) -> Result<Tensor<T>> {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Ok(Tensor::rand_uniform(&[len], -bound, bound, rng)?)
}

/// `(fan_in, fan_out)` of a weight shape `[out, in, k…]` (receptive field = ∏k).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    let out = shape.first().copied().unwrap_or(1);
    let inp = shape.get(1).copied().unwrap_or(1);
    ((inp * receptive).max(1), (out * receptive).max(1))
}
