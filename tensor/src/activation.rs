//! Element-wise squashing activations: tanh, the logistic sigmoid, and leaky ReLU.

use crate::element::Element;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The hyperbolic tangent, element-wise.
    pub fn tanh(&self) -> Tensor<T> {
        self.map(T::tanh)
    }

    /// The logistic sigmoid `σ(x) = 1 / (1 + e⁻ˣ)`, element-wise, computed without
    /// overflow: as `1 / (1 + e⁻ˣ)` for `x ≥ 0` and as `eˣ / (1 + eˣ)` for `x < 0`, so
    /// the exponential taken is never of a large positive number.
    pub fn sigmoid(&self) -> Tensor<T> {
        self.map(sigmoid)
    }

    /// Leaky ReLU: `x` where `x > 0`, `slope·x` elsewhere (PyTorch's `negative_slope`).
    pub fn leaky_relu(&self, slope: T) -> Tensor<T> {
        self.map(|x| if x > T::zero() { x } else { x * slope })
    }
}

fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}
