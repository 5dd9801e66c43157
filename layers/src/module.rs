//! The `Module` trait: a piece of a network with a forward pass and named parts.

use std::fmt;

use autograd::{Param, Tape, Var};
use tensor::{Element, Tensor};

use crate::buffer::Buffer;
use crate::error::Result;
use crate::parts::{Part, PartMut};

/// A layer or a network of layers, shareable across the threads of a training step
/// (`Send + Sync`). Parameters carry dotted names, PyTorch style (`weight`, `bias`, and
/// `features.0.weight` for nested modules), which checkpoints use, so a module's checkpoint
/// is the `state_dict` of the equivalent PyTorch module.
///
/// A module writes four things, and only these: its computation ([`Module::forward`] and
/// its shape rule, [`Module::output_shape`]) and its parts, listed once
/// ([`Module::visit`], [`Module::visit_mut`]: one line of [`parts!`](crate::parts), or of
/// [`children!`](crate::children) for a composite). Every other method is derived from
/// these four and is not meant to be overridden, so a wrapper forwards the four and
/// nothing else: a `Box<M>` is `M` (a method added to the trait either has no default,
/// and every module must write it, or is derived and reaches `M` through the four).
///
/// What is not computation lives apart: its description is its [`Debug`](fmt::Debug)
/// text (`Conv2d(1→6, 5×5)`; `#[derive(Debug)]` for a module of your own), and
/// the faces a layer may show (the activation it is, the activation it can apply in its
/// own output pass, its matrices in the derivation) are [`Part`]s it lists with the
/// others; see [`Fuse`](crate::Fuse) and [`MatrixForm`](crate::MatrixForm).
///
/// ```
/// use autograd::Var;
/// use layers::{Linear, Module, ReLU, Result};
///
/// #[derive(Debug)]
/// struct Mlp<T> {
///     hidden: Linear<T>,
///     out: Linear<T>,
/// }
///
/// impl<T: tensor::Element> Module<T> for Mlp<T> {
///     fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
///         self.out.forward(ReLU.forward(self.hidden.forward(x)?)?)
///     }
///     fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
///         self.out.output_shape(&self.hidden.output_shape(input)?)
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
pub trait Module<T: Element>: Send + Sync + fmt::Debug {
    /// Records the forward pass of `input` on its tape. Checks the input's shape first and
    /// returns [`LayerError::InputShape`](crate::LayerError::InputShape) on a mismatch.
    fn forward<'t>(&self, input: Var<'t, T>) -> Result<Var<'t, T>>;

    /// The output shape for an input shape, or the error `forward` would give, from the
    /// shapes alone. (A module whose shape rule is its forward pass can return
    /// [`output_shape_by_forward`]`(self, input)`, which runs it on zeros.)
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;

    /// Calls `f` with each part of the module, in a stable order: its parameters, buffers
    /// and child modules, each with its name, and the faces it shows. Written by
    /// [`parts!`](crate::parts) or [`children!`](crate::children).
    fn visit<'a>(&'a self, f: &mut dyn FnMut(Part<'a, T>));

    /// Calls `f` with each part that can change: the parameters (in the order of
    /// [`Module::visit`]), the child modules, and the training flag. Written by the same
    /// line as [`Module::visit`].
    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(PartMut<'a, T>));

    /// The parameters with their dotted names, in a stable order.
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        let mut v = Vec::new();
        each_parameter(self, "", &mut |name, p| v.push((name, p)));
        v
    }

    /// The parameters with their dotted names, for an optimizer or a checkpoint loader.
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let mut v = Vec::new();
        each_parameter_mut(self, "", &mut v);
        v
    }

    /// The buffers with their dotted names, in a stable order.
    fn named_buffers(&self) -> Vec<(String, &Buffer<T>)> {
        let mut v = Vec::new();
        each_buffer(self, "", &mut v);
        v
    }

    /// The parameters, in the order of [`Module::named_parameters`].
    fn parameters(&self) -> Vec<&Param<T>> {
        let mut v = Vec::new();
        each_parameter(self, "", &mut |_, p| v.push(p));
        v
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value.numel()).sum()
    }

    /// Switches every part between training and evaluation behaviour (batch norm's
    /// statistics, dropout's masks).
    fn set_training(&mut self, training: bool) {
        self.visit_mut(&mut |part| match part {
            PartMut::Training(flag) => *flag = training,
            PartMut::Child(_, child) => child.set_training(training),
            _ => {}
        });
    }

    /// The output for a batch `input`, in one call, without recording gradients.
    fn predict(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let tape = Tape::no_grad();
        Ok(self.forward(tape.constant(input.clone()))?.value())
    }
}

/// A boxed module is the module: the four methods a module writes, forwarded; every other
/// method is derived from them.
impl<T: Element, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward<'t>(&self, input: Var<'t, T>) -> Result<Var<'t, T>> {
        (**self).forward(input)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        (**self).output_shape(input)
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(Part<'a, T>)) {
        (**self).visit(f)
    }

    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(PartMut<'a, T>)) {
        (**self).visit_mut(f)
    }
}

/// The output shape of `module` for `input` found by running its forward pass on zeros
/// without recording: for a module whose shape rule is not worth writing. It allocates the
/// whole input, so check the size of a shape that comes from a user first.
pub fn output_shape_by_forward<T: Element, M: Module<T> + ?Sized>(module: &M, input: &[usize]) -> Result<Vec<usize>> {
    let tape = Tape::no_grad();
    Ok(module.forward(tape.constant(Tensor::zeros(input)?))?.shape())
}

/// `prefix.name`, or `name` at the top.
fn dotted(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// Calls `f` with every parameter under `module` and its dotted name.
fn each_parameter<'a, T: Element, M: Module<T> + ?Sized>(
    module: &'a M,
    prefix: &str,
    f: &mut dyn FnMut(String, &'a Param<T>),
) {
    module.visit(&mut |part| match part {
        Part::Param(name, p) => f(dotted(prefix, name), p),
        Part::Child(name, child) => each_parameter(child, &dotted(prefix, name), f),
        _ => {}
    });
}

/// Every parameter under `module`, mutably, with its dotted name.
fn each_parameter_mut<'a, T: Element, M: Module<T> + ?Sized>(
    module: &'a mut M,
    prefix: &str,
    out: &mut Vec<(String, &'a mut Param<T>)>,
) {
    module.visit_mut(&mut |part| match part {
        PartMut::Param(name, p) => out.push((dotted(prefix, name), p)),
        PartMut::Child(name, child) => each_parameter_mut(child, &dotted(prefix, name), out),
        _ => {}
    });
}

/// Every buffer under `module` with its dotted name.
fn each_buffer<'a, T: Element, M: Module<T> + ?Sized>(
    module: &'a M,
    prefix: &str,
    out: &mut Vec<(String, &'a Buffer<T>)>,
) {
    module.visit(&mut |part| match part {
        Part::Buffer(name, b) => out.push((dotted(prefix, name), b)),
        Part::Child(name, child) => each_buffer(child, &dotted(prefix, name), out),
        _ => {}
    });
}
