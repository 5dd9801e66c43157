//! Element-wise squashing activations: tanh, the logistic sigmoid, and leaky ReLU; and
//! [`Activation`], the ones a layer can apply in its own output pass.

use crate::element::Element;
use crate::tensor::Tensor;

/// An element-wise activation applied inside a layer's output pass (a convolution adds its
/// bias and applies it in one pass, see [`conv2d_activated`](crate::conv2d_activated)),
/// instead of as a separate op that reads, writes and keeps another tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `y = max(z, 0)` (NaN stays NaN, as [`Tensor::relu`]); `∇z = ∇y ⊙ 1(y > 0)`,
    /// subgradient 0 at 0.
    Relu,
}

impl Activation {
    /// `y = act(z)`.
    #[inline(always)]
    pub fn apply<T: Element>(self, z: T) -> T {
        match self {
            Activation::Relu => relu(z),
        }
    }

    /// `∇z` from `∇y` and the activation's output `y`.
    #[inline(always)]
    pub fn vjp_from_output<T: Element>(self, grad: T, y: T) -> T {
        match self {
            Activation::Relu => {
                if y > T::zero() {
                    grad
                } else {
                    T::zero()
                }
            }
        }
    }
}

/// `max(x, 0)`; NaN stays NaN.
#[inline(always)]
pub(crate) fn relu<T: Element>(x: T) -> T {
    if x < T::zero() { T::zero() } else { x }
}

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
