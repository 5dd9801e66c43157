//! The `Module` trait: a piece of a network with a forward pass and named parameters.

use autograd::{Param, Var};
use tensor::Element;

use crate::error::Result;

/// A layer or a network of layers. Parameters carry dotted names, PyTorch style
/// (`weight`, `bias`, and `features.0.weight` for nested modules), which checkpoints use,
/// so a module's checkpoint is the `state_dict` of the equivalent PyTorch module.
pub trait Module<T: Element> {
    /// Records the forward pass of `input` on its tape. Checks the input's shape first and
    /// returns [`LayerError::InputShape`](crate::LayerError::InputShape) on a mismatch.
    fn forward<'t>(&self, input: Var<'t, T>) -> Result<Var<'t, T>>;

    /// The output shape for an input shape, or the error `forward` would give.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;

    /// The parameters with their dotted names, in a stable order.
    fn named_parameters(&self) -> Vec<(String, &Param<T>)>;

    /// The parameters with their dotted names, for an optimizer or a checkpoint loader.
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)>;

    /// The parameters, in the order of [`Module::named_parameters`].
    fn parameters(&self) -> Vec<&Param<T>> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value.numel()).sum()
    }

    /// Switches between training and evaluation behaviour, for modules where they differ
    /// (none of this crate's do); containers pass it on.
    fn set_training(&mut self, _training: bool) {}

    /// A one-line description with the configuration, e.g. `Conv2d(1→6, kernel 5×5, …)`.
    fn describe(&self) -> String;
}

/// Prefixes each name with `prefix.`.
pub fn prefixed<P>(prefix: &str, named: Vec<(String, P)>) -> Vec<(String, P)> {
    named.into_iter().map(|(n, p)| (format!("{prefix}.{n}"), p)).collect()
}

/// `[("weight", w), ("bias", b)]`, the bias only when present: the parameters of a layer
/// with a weight and an optional bias, as PyTorch names them.
pub(crate) fn weight_and_bias<P>(weight: P, bias: Option<P>) -> Vec<(String, P)> {
    let mut v = vec![("weight".to_string(), weight)];
    v.extend(bias.map(|b| ("bias".to_string(), b)));
    v
}
