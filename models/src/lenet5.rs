//! LeNet-5 exactly as the derivation computes it.
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

use autograd::Var;
use layers::{Conv2d, Conv2dConfig, Init, Linear, MaxPool2d, Module, Result};
use rand::Rng;
use tensor::Element;

/// The number of classes.
pub const CLASSES: usize = 10;

/// The LeNet-5 network.
pub struct LeNet5<T> {
    /// C1: 1→6, 5×5.
    pub c1: Conv2d<T>,
    /// C3: 6→16, 5×5.
    pub c3: Conv2d<T>,
    /// C5: 16→120, 5×5.
    pub c5: Conv2d<T>,
    /// F6: 120→84.
    pub f6: Linear<T>,
    /// F7: 84→10.
    pub f7: Linear<T>,
    /// S2 and S4: max 2×2, stride 2.
    pub pool: MaxPool2d,
}

impl<T: Element> LeNet5<T> {
    /// A network with PyTorch's default initialisation drawn from `rng`.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Result<Self> {
        LeNet5::with_init(Init::PytorchDefault, rng)
    }

    /// A network whose weights come from `init` (biases: PyTorch's `±1/√fan_in`).
    pub fn with_init<R: Rng + ?Sized>(init: Init, rng: &mut R) -> Result<Self> {
        Ok(LeNet5 {
            c1: Conv2d::new(Conv2dConfig::new(1, 6, 5).init(init), rng)?,
            c3: Conv2d::new(Conv2dConfig::new(6, 16, 5).init(init), rng)?,
            c5: Conv2d::new(Conv2dConfig::new(16, 120, 5).init(init), rng)?,
            f6: Linear::with_options(120, 84, true, init, rng)?,
            f7: Linear::with_options(84, CLASSES, true, init, rng)?,
            pool: MaxPool2d::new(2, 2)?,
        })
    }

    /// The stages in order with their names, for the forward pass and shape tables.
    pub fn stages(&self) -> Vec<(&'static str, &dyn Module<T>)> {
        vec![
            ("C1", &self.c1),
            ("relu", &layers::ReLU),
            ("S2", &self.pool),
            ("C3", &self.c3),
            ("relu", &layers::ReLU),
            ("S4", &self.pool),
            ("C5", &self.c5),
            ("relu", &layers::ReLU),
            ("flatten", &layers::Flatten),
            ("F6", &self.f6),
            ("relu", &layers::ReLU),
            ("F7", &self.f7),
        ]
    }
}

impl<T: Element> Module<T> for LeNet5<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        layers::forward_chain(self.stages(), x)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut shape = input.to_vec();
        for (_, stage) in self.stages() {
            shape = stage.output_shape(&shape)?;
        }
        Ok(shape)
    }

    layers::children!(T: c1, c3, c5, f6, f7);
}

impl<T> std::fmt::Debug for LeNet5<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeNet5(C1 6@5×5, S2, C3 16@5×5, S4, C5 120@5×5, F6 84, F7 10)")
    }
}
