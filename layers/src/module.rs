//! The `Module` trait: a piece of a network with a forward pass and named parameters.

use autograd::{Param, Tape, Var};
use tensor::{Activation, Element, Tensor};

use crate::buffer::Buffer;
use crate::error::Result;

/// A layer or a network of layers, shareable across the threads of a training step
/// (`Send + Sync`). Parameters carry dotted names, PyTorch style (`weight`, `bias`, and
/// `features.0.weight` for nested modules), which checkpoints use, so a module's checkpoint
/// is the `state_dict` of the equivalent PyTorch module.
///
/// What to implement:
/// - a layer without parameters: [`Module::forward`] only (the output shape is then found
///   by running the forward pass on zeros; override [`Module::output_shape`] when that is
///   costly or a shape error deserves a better message);
/// - a layer with parameters: also [`Module::visit_parameters`] and
///   [`Module::visit_parameters_mut`], each a line per parameter;
/// - a composite of modules: its children once, with [`children!`](crate::children), which
///   writes both visitors and passes [`Module::set_training`] on.
pub trait Module<T: Element>: Send + Sync {
    /// Records the forward pass of `input` on its tape. Checks the input's shape first and
    /// returns [`LayerError::InputShape`](crate::LayerError::InputShape) on a mismatch.
    fn forward<'t>(&self, input: Var<'t, T>) -> Result<Var<'t, T>>;

    /// The output shape for an input shape, or the error `forward` would give. The default
    /// runs `forward` on zeros without recording gradients.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let tape = Tape::no_grad();
        Ok(self.forward(tape.constant(Tensor::zeros(input)?))?.shape())
    }

    /// Calls `f` with each parameter and its dotted name, in a stable order.
    fn visit_parameters<'a>(&'a self, _f: &mut dyn FnMut(&str, &'a Param<T>)) {}

    /// Calls `f` with each parameter, mutably, in the order of [`Module::visit_parameters`].
    fn visit_parameters_mut<'a>(&'a mut self, _f: &mut dyn FnMut(&str, &'a mut Param<T>)) {}

    /// Calls `f` with each buffer (non-trainable state such as batch norm's running
    /// statistics) and its dotted name; buffers are updated through `&self`, so one visitor
    /// serves reading and writing. None by default.
    fn visit_buffers<'a>(&'a self, _f: &mut dyn FnMut(&str, &'a Buffer<T>)) {}

    /// Switches between training and evaluation behaviour, for modules where they differ;
    /// containers pass it on.
    fn set_training(&mut self, _training: bool) {}

    /// The element-wise activation this layer is, if it is one ([`ReLU`](crate::ReLU) is
    /// `Relu`): a chain ([`forward_chain`](crate::forward_chain)) then has the layer before
    /// it apply the activation in its own output pass ([`Module::forward_activated`]).
    fn activation(&self) -> Option<Activation> {
        None
    }

    /// `act(forward(input))`. A layer that can apply the activation in its own output pass
    /// overrides this with one fused op, the same numbers without a pre-activation tensor
    /// kept on the tape (a convolution: [`Var::conv2d_activated`]).
    fn forward_activated<'t>(&self, input: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        Ok(self.forward(input)?.activation(act)?)
    }

    /// A one-line description with the configuration, e.g. `Conv2d(1→6, kernel 5×5, …)`;
    /// by default the type's name.
    fn describe(&self) -> String {
        let name = std::any::type_name::<Self>();
        let base = name.split('<').next().unwrap_or(name);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// The shapes of the matrices the derivation builds for this layer on an input of
    /// `input`'s shape (e.g. a convolution's im2col matrix, its weight matrix and its
    /// product), each with a label, for shape tables and the explorer. None by default.
    fn matrix_shapes(&self, _input: &[usize]) -> Vec<(String, Vec<usize>)> {
        Vec::new()
    }

    /// The parameters with their dotted names, in a stable order.
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        let mut v = Vec::new();
        self.visit_parameters(&mut |name, p| v.push((name.to_string(), p)));
        v
    }

    /// The parameters with their dotted names, for an optimizer or a checkpoint loader.
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let mut v = Vec::new();
        self.visit_parameters_mut(&mut |name, p| v.push((name.to_string(), p)));
        v
    }

    /// The buffers with their dotted names, in a stable order.
    fn named_buffers(&self) -> Vec<(String, &Buffer<T>)> {
        let mut v = Vec::new();
        self.visit_buffers(&mut |name, b| v.push((name.to_string(), b)));
        v
    }

    /// The parameters, in the order of [`Module::named_parameters`].
    fn parameters(&self) -> Vec<&Param<T>> {
        let mut v = Vec::new();
        self.visit_parameters(&mut |_, p| v.push(p));
        v
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value.numel()).sum()
    }

    /// The output for a batch `input`, in one call, without recording gradients.
    fn predict(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let tape = Tape::no_grad();
        Ok(self.forward(tape.constant(input.clone()))?.value())
    }
}

impl<T: Element, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward<'t>(&self, input: Var<'t, T>) -> Result<Var<'t, T>> {
        (**self).forward(input)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        (**self).output_shape(input)
    }

    fn activation(&self) -> Option<Activation> {
        (**self).activation()
    }

    fn forward_activated<'t>(&self, input: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        (**self).forward_activated(input, act)
    }

    fn visit_parameters<'a>(&'a self, f: &mut dyn FnMut(&str, &'a Param<T>)) {
        (**self).visit_parameters(f)
    }

    fn visit_parameters_mut<'a>(&'a mut self, f: &mut dyn FnMut(&str, &'a mut Param<T>)) {
        (**self).visit_parameters_mut(f)
    }

    fn visit_buffers<'a>(&'a self, f: &mut dyn FnMut(&str, &'a Buffer<T>)) {
        (**self).visit_buffers(f)
    }

    fn set_training(&mut self, training: bool) {
        (**self).set_training(training)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)> {
        (**self).matrix_shapes(input)
    }
}

/// Visits the parameters of `child` under `prefix.` (for composites; see [`children!`](crate::children)).
pub fn visit_child<'a, T: Element, M: Module<T> + ?Sized>(
    prefix: &str,
    child: &'a M,
    f: &mut dyn FnMut(&str, &'a Param<T>),
) {
    child.visit_parameters(&mut |name, p| f(&format!("{prefix}.{name}"), p));
}

/// Visits the buffers of `child` under `prefix.`.
pub fn visit_child_buffers<'a, T: Element, M: Module<T> + ?Sized>(
    prefix: &str,
    child: &'a M,
    f: &mut dyn FnMut(&str, &'a Buffer<T>),
) {
    child.visit_buffers(&mut |name, b| f(&format!("{prefix}.{name}"), b));
}

/// Visits the parameters of `child` mutably under `prefix.`.
pub fn visit_child_mut<'a, T: Element, M: Module<T> + ?Sized>(
    prefix: &str,
    child: &'a mut M,
    f: &mut dyn FnMut(&str, &'a mut Param<T>),
) {
    child.visit_parameters_mut(&mut |name, p| f(&format!("{prefix}.{name}"), p));
}

/// Inside `impl Module<T> for YourNet`: lists the fields that are modules once, and writes
/// [`Module::visit_parameters`], [`Module::visit_parameters_mut`], [`Module::visit_buffers`]
/// and [`Module::set_training`] from that list. Parameters are named `field.name`, as PyTorch
/// names the attributes of an `nn.Module`. The first argument is the element type.
///
/// ```
/// use autograd::Var;
/// use layers::{Linear, Module, ReLU, Result};
///
/// struct Mlp<T> {
///     hidden: Linear<T>,
///     out: Linear<T>,
/// }
///
/// impl<T: tensor::Element> Module<T> for Mlp<T> {
///     fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
///         self.out.forward(ReLU.forward(self.hidden.forward(x)?)?)
///     }
///     layers::children!(T: hidden, out);
/// }
///
/// let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
/// let net = Mlp::<f32> { hidden: Linear::new(4, 8, &mut rng)?, out: Linear::new(8, 2, &mut rng)? };
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]);
/// assert_eq!(net.output_shape(&[3, 4])?, vec![3, 2]);
/// # Ok::<(), layers::LayerError>(())
/// ```
#[macro_export]
macro_rules! children {
    ($t:ty : $($field:ident),+ $(,)?) => {
        fn visit_parameters<'a>(&'a self, f: &mut dyn FnMut(&str, &'a $crate::Param<$t>)) {
            $($crate::visit_child(stringify!($field), &self.$field, f);)+
        }

        fn visit_parameters_mut<'a>(&'a mut self, f: &mut dyn FnMut(&str, &'a mut $crate::Param<$t>)) {
            $($crate::visit_child_mut(stringify!($field), &mut self.$field, f);)+
        }

        fn visit_buffers<'a>(&'a self, f: &mut dyn FnMut(&str, &'a $crate::Buffer<$t>)) {
            $($crate::visit_child_buffers(stringify!($field), &self.$field, f);)+
        }

        fn set_training(&mut self, training: bool) {
            $($crate::Module::<$t>::set_training(&mut self.$field, training);)+
        }
    };
}
