//! What an op keeps of an input for its VJP: the value itself, or a cheaper way to compute
//! it again.
//!
//! Why: in `conv → batch norm → ReLU → conv`, the batch norm keeps its input `z` (for `x̂`),
//! and the second convolution needs its input `y = relu(γ·x̂ + β)` for `∇W`. `y` is a
//! per-channel element-wise function of `z`, which is kept anyway, so the convolution keeps
//! that recipe instead and computes `y` again image by image in its backward pass (bit for
//! bit the forward's value), and `y`'s buffer goes back as soon as the forward pass
//! [releases](crate::Var::release) it. In a ResNet that is one activation of the four each
//! block kept.

use std::rc::{Rc, Weak};

use tensor::{ConvInput, Element, ImageSource, Tensor};

/// How a recorded value can be computed again, held by the tape beside the value. Weak, so
/// that only the ops that [kept](Kept) the recipe (and the op that made it) keep what it
/// reads alive.
pub(crate) type Recipe<T> = Weak<dyn ImageSource<T>>;

/// An input an op keeps for its VJP, from [`Var::kept`](crate::Var::kept): the value itself,
/// or, when the op that made the value registered a recipe, the recipe (so the value's own
/// buffer goes back once the forward pass releases it). Either way it reads as the same
/// bits.
pub struct Kept<T: Element>(Repr<T>);

enum Repr<T: Element> {
    Value(Tensor<T>),
    Recipe(Rc<dyn ImageSource<T>>),
}

impl<T: Element> Kept<T> {
    pub(crate) fn value(value: Tensor<T>) -> Self {
        Kept(Repr::Value(value))
    }

    pub(crate) fn recipe(recipe: Rc<dyn ImageSource<T>>) -> Self {
        Kept(Repr::Recipe(recipe))
    }

    /// The kept value as a tensor: shared when it was kept itself, computed again from the
    /// recipe otherwise (a new tensor each call).
    pub fn get(&self) -> tensor::Result<Tensor<T>> {
        match &self.0 {
            Repr::Value(t) => Ok(t.clone()),
            Repr::Recipe(r) => r.gather(),
        }
    }

    /// The kept value as a convolution's VJP reads it: the tensor, or the recipe image by
    /// image.
    pub fn conv_input(&self) -> ConvInput<'_, T> {
        match &self.0 {
            Repr::Value(t) => ConvInput::Tensor(t),
            Repr::Recipe(r) => ConvInput::Images(r.as_ref()),
        }
    }

    /// Whether the value is computed again when read rather than held.
    pub fn is_recomputed(&self) -> bool {
        matches!(self.0, Repr::Recipe(_))
    }
}
