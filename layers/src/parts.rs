//! What a module holds and shows, listed once: [`Part`]s for reading, [`PartMut`]s for
//! changing, and the one-line macros that write both lists from the module's fields.

use autograd::Param;
use tensor::{Activation, Pooling};

use crate::buffer::Buffer;
use crate::faces::{ChannelAffine, FoldAffine, FullyConnected, Fuse, FusePool, MatrixForm, TakeConv, TakeDense};
use crate::module::Module;

/// A part of a module, as [`Module::visit`] shows it.
#[non_exhaustive]
pub enum Part<'a, T> {
    /// A trainable parameter and its name (`weight`).
    Param(&'a str, &'a Param<T>),
    /// A buffer (state that is saved but not trained, e.g. batch norm's running mean) and
    /// its name.
    Buffer(&'a str, &'a Buffer<T>),
    /// A child module and its name: its parts are named `name.…`.
    Child(&'a str, &'a dyn Module<T>),
    /// The module is this element-wise activation ([`ReLU`](crate::ReLU) is `Relu`), so a
    /// chain ([`forward_chain`](crate::forward_chain)) can have the layer before apply it.
    Activation(Activation),
    /// The module is this pooling ([`MaxPool2d`](crate::MaxPool2d) and
    /// [`AvgPool2d`](crate::AvgPool2d)), so a chain can have the layer before pool in its
    /// own output pass in inference.
    Pooling(Pooling),
    /// The module can apply a following activation in its own output pass.
    Fuse(&'a dyn Fuse<T>),
    /// The module is, in evaluation, a per-channel affine map (batch norm).
    ChannelAffine(&'a dyn ChannelAffine<T>),
    /// The module can fold a following per-channel affine map into its weights.
    FoldAffine(&'a dyn FoldAffine<T>),
    /// The module can pool its own output in its output pass, in inference.
    FusePool(&'a dyn FusePool<T>),
    /// The module can take the convolution after it into its forward pass, or be that one,
    /// in inference.
    TakeConv(&'a dyn TakeConv<T>),
    /// The module can take the fully connected layer after a flatten into its forward
    /// pass, in inference.
    TakeDense(&'a dyn TakeDense<T>),
    /// The module is a fully connected layer a chain before it can take in.
    FullyConnected(&'a dyn FullyConnected<T>),
    /// The module is a flatten (`[N, …] → [N, ∏ …]`), which a chain taking in the fully
    /// connected layer after it skips.
    Flatten,
    /// The module's matrices in the derivation, for shape tables.
    MatrixForm(&'a dyn MatrixForm),
}

/// A part of a module that can change, as [`Module::visit_mut`] shows it.
#[non_exhaustive]
pub enum PartMut<'a, T> {
    /// A trainable parameter and its name.
    Param(&'a str, &'a mut Param<T>),
    /// A child module and its name.
    Child(&'a str, &'a mut dyn Module<T>),
    /// The module's training flag (training or evaluation behaviour).
    Training(&'a mut bool),
}

/// A field holding a parameter: a [`Param`], or an `Option<Param>` (a bias that may be
/// absent). Used by [`parts!`](crate::parts).
#[doc(hidden)]
pub trait ParamField<T> {
    /// Shows the parameter, if any, under `name`.
    fn show<'a>(&'a self, name: &'static str, f: &mut dyn FnMut(Part<'a, T>));
    /// Shows the parameter, if any, mutably under `name`.
    fn show_mut<'a>(&'a mut self, name: &'static str, f: &mut dyn FnMut(PartMut<'a, T>));
}

impl<T> ParamField<T> for Param<T> {
    fn show<'a>(&'a self, name: &'static str, f: &mut dyn FnMut(Part<'a, T>)) {
        f(Part::Param(name, self));
    }

    fn show_mut<'a>(&'a mut self, name: &'static str, f: &mut dyn FnMut(PartMut<'a, T>)) {
        f(PartMut::Param(name, self));
    }
}

impl<T> ParamField<T> for Option<Param<T>> {
    fn show<'a>(&'a self, name: &'static str, f: &mut dyn FnMut(Part<'a, T>)) {
        if let Some(p) = self {
            f(Part::Param(name, p));
        }
    }

    fn show_mut<'a>(&'a mut self, name: &'static str, f: &mut dyn FnMut(PartMut<'a, T>)) {
        if let Some(p) = self {
            f(PartMut::Param(name, p));
        }
    }
}

/// Inside `impl Module<T> for YourLayer`: lists the layer's parts once and writes
/// [`Module::visit`] and [`Module::visit_mut`] from the list. Every section is optional,
/// in this order:
///
/// - `params: weight, bias` — fields of type `Param<T>` or `Option<Param<T>>`, named as
///   the fields (PyTorch's names);
/// - `buffers: running_mean` — fields of type [`Buffer<T>`];
/// - `children: features, head` — fields that are modules (`features.0.weight`, …);
/// - `training: training` — a `bool` field that [`Module::set_training`] sets;
/// - `activation: Activation::Relu` — the layer is this element-wise activation;
/// - `faces: Fuse, MatrixForm` — the faces the layer implements ([`Fuse`],
///   [`ChannelAffine`], [`FoldAffine`], [`FusePool`], [`TakeConv`], [`MatrixForm`]).
///
/// The first argument is the element type. A layer with none of these writes
/// `layers::parts!(T);`.
///
/// ```
/// use autograd::{Param, Var};
/// use layers::{Module, Result};
/// use tensor::{Element, Tensor};
///
/// /// `y = a ⊙ x`, a learned gain per feature.
/// #[derive(Debug)]
/// struct Gain<T> {
///     a: Param<T>,
/// }
///
/// impl<T: Element> Module<T> for Gain<T> {
///     fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
///         Ok(x.mul(x.tape().param(&self.a))?)
///     }
///     fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
///         Ok(input.to_vec())
///     }
///     layers::parts!(T; params: a);
/// }
///
/// let g = Gain { a: Param::new(Tensor::<f32>::ones(&[3])?) };
/// assert_eq!(g.named_parameters()[0].0, "a");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[macro_export]
macro_rules! parts {
    (
        $t:ty
        $(; params: $($param:ident),+ $(,)?)?
        $(; buffers: $($buffer:ident),+ $(,)?)?
        $(; children: $($child:ident),+ $(,)?)?
        $(; training: $training:ident)?
        $(; activation: $activation:expr)?
        $(; faces: $($face:ident),+ $(,)?)?
        $(;)?
    ) => {
        #[allow(unused_variables)]
        fn visit<'a>(&'a self, f: &mut dyn FnMut($crate::Part<'a, $t>)) {
            $($($crate::ParamField::show(&self.$param, stringify!($param), f);)+)?
            $($(f($crate::Part::Buffer(stringify!($buffer), &self.$buffer));)+)?
            $($(f($crate::Part::Child(stringify!($child), &self.$child));)+)?
            $(f($crate::Part::Activation($activation));)?
            $($(f($crate::Part::$face(self));)+)?
        }

        #[allow(unused_variables)]
        fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut($crate::PartMut<'a, $t>)) {
            $($($crate::ParamField::show_mut(&mut self.$param, stringify!($param), f);)+)?
            $($(f($crate::PartMut::Child(stringify!($child), &mut self.$child));)+)?
            $(f($crate::PartMut::Training(&mut self.$training));)?
        }
    };
}

/// Inside `impl Module<T> for YourNet`: lists the fields that are modules once (the
/// `children` section of [`parts!`](crate::parts)). Their parameters are named
/// `field.name`, as PyTorch names the attributes of an `nn.Module`; the first argument is
/// the element type. See [`Module`] for an example.
#[macro_export]
macro_rules! children {
    ($t:ty : $($field:ident),+ $(,)?) => {
        $crate::parts!($t; children: $($field),+);
    };
}
