//! The faces a module may show besides its computation, each its own trait, reached from
//! any `&dyn Module` through the parts it lists ([`Part::Activation`], [`Part::Fuse`],
//! [`Part::MatrixForm`]): fusion (a convolution or batch norm applies the ReLU that follows
//! it in its own output pass) and the derivation's matrices (for shape tables). The
//! description of a module is its `Debug` text.

use autograd::Var;
use tensor::{Activation, Element};

use crate::error::Result;
use crate::module::Module;
use crate::parts::Part;

/// A layer that can apply an element-wise activation in its own output pass: one op for
/// `act(layer(x))`, the same numbers without a pre-activation tensor kept on the tape (a
/// convolution: [`Var::conv2d_activated`]). Shown as [`Part::Fuse`].
pub trait Fuse<T: Element> {
    /// `act(forward(input))` as one op.
    fn forward_activated<'t>(&self, input: Var<'t, T>, act: Activation) -> Result<Var<'t, T>>;
}

/// The matrices the derivation builds for a layer (e.g. a convolution's im2col matrix,
/// its weight matrix and their product), each with a label. Shown as [`Part::MatrixForm`].
pub trait MatrixForm {
    /// The labelled shapes for an input of shape `input`; none when it does not fit.
    fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)>;
}

/// The faces of any module, read from its parts (methods of every `dyn Module`, which no
/// module overrides).
impl<'m, T: Element> dyn Module<T> + 'm {
    /// A one-line description with the configuration, e.g. `Conv2d(1→6, 5×5)`:
    /// the module's `Debug` text.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }

    /// The element-wise activation this module is, if it is one.
    pub fn activation(&self) -> Option<Activation> {
        let mut found = None;
        self.visit(&mut |part| {
            if let Part::Activation(act) = part {
                found = Some(act);
            }
        });
        found
    }

    /// The module's fused forward pass, if it has one.
    pub fn fuse(&self) -> Option<&dyn Fuse<T>> {
        let mut found = None;
        self.visit(&mut |part| {
            if let Part::Fuse(fuse) = part {
                found = Some(fuse);
            }
        });
        found
    }

    /// `act(forward(input))`: one op when the module can fuse the activation
    /// ([`Fuse`]), else the forward pass and then the activation.
    pub fn forward_activated<'t>(&self, input: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        match self.fuse() {
            Some(fuse) => fuse.forward_activated(input, act),
            None => Ok(self.forward(input)?.activation(act)?),
        }
    }

    /// The derivation's matrices for an input of shape `input` ([`MatrixForm`]); none for a
    /// module without that face.
    pub fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        self.visit(&mut |part| {
            if let Part::MatrixForm(form) = part {
                shapes = form.matrix_shapes(input);
            }
        });
        shapes
    }
}
