//! LeNet-5 exactly as the derivation computes it: the preset [`LENET5`](crate::arch::LENET5),
//! built by the same machinery as any `--arch` network, its layers named as the derivation
//! names them.
//!
//! | layer | op | output for N images |
//! |---|---|---|
//! | input | | N×1×32×32 |
//! | C1 | 6 filters 5×5, stride 1, no padding, ReLU | N×6×28×28 |
//! | S2 | max 2×2, stride 2 | N×6×14×14 |
//! | C3 | 16 filters 5×5, ReLU | N×16×10×10 |
//! | S4 | max 2×2, stride 2 | N×16×5×5 |
//! | C5 | 120 filters 5×5 (a convolution), ReLU | N×120×1×1 → N×120 |
//! | F6 | 84 units, ReLU | N×84 |
//! | F7 | 10 units | N×10 |
//!
//! Parameters are named `c1.weight`, `c1.bias`, …, `f7.bias` in PyTorch's layouts, so a
//! checkpoint is the `state_dict` of the equivalent `nn.Module` with attributes
//! `c1, c3, c5` (`nn.Conv2d`) and `f6, f7` (`nn.Linear`).

use layers::Sequential;
use rand::Rng;
use tensor::Element;

use crate::arch::{Arch, SpecError};

/// The number of classes.
pub const CLASSES: usize = 10;

/// The LeNet-5 network: a [`Sequential`] whose layers are named `c1`, `c1.relu`, `s2`, …,
/// `f7`.
pub type LeNet5<T> = Sequential<T>;

/// LeNet-5 with PyTorch's default initialisation drawn from `rng` (layer by layer, weight
/// then bias, as [`Arch::build`] draws any network).
pub fn new<T: Element, R: Rng + ?Sized>(rng: &mut R) -> Result<LeNet5<T>, SpecError> {
    Arch::lenet5().build_sequential(crate::arch::LENET5.input, Some(CLASSES), rng)
}
