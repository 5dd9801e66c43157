//! A residual block: `y = body(x) + shortcut(x)`, the shortcut the identity when absent
//! (He et al. 2016).
//!
//! The backward pass needs no rule of its own: `x` feeds two paths, so the tape adds the
//! two vector-Jacobian products it receives, `∇x = (∂body/∂x)ᵀ·∇y + (∂shortcut/∂x)ᵀ·∇y`,
//! which for the identity shortcut is `(∂body/∂x)ᵀ·∇y + ∇y`: the gradient reaches `x`
//! undiminished however deep the body, which is why residual networks train when plain
//! chains of the same depth do not.
//!
//! Parameters are named as PyTorch names a module with attributes `body` and `shortcut`
//! (both `nn.Sequential`): `body.0.weight`, `body.1.running_mean`, `shortcut.0.weight`.

use std::fmt;

use autograd::Var;
use tensor::{Activation, Element};

use crate::error::{LayerError, Result};
use crate::faces::Fuse;
use crate::module::Module;
use crate::parts::{Part, PartMut};
use crate::sequential::{Sequential, release_consumed};

/// `y = body(x) + shortcut(x)`; the identity when there is no shortcut.
///
/// ```
/// use layers::{Conv2d, Conv2dConfig, Module, ReLU, Residual, Sequential};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let body = Sequential::<f32>::new()
///     .with(Conv2d::new(Conv2dConfig::new(4, 4, 3).padding(1), &mut rng)?)
///     .with(ReLU)
///     .with(Conv2d::new(Conv2dConfig::new(4, 4, 3).padding(1), &mut rng)?);
/// let block = Residual::new(body);
/// assert_eq!(block.output_shape(&[2, 4, 8, 8])?, vec![2, 4, 8, 8]);
/// assert_eq!(block.named_parameters()[0].0, "body.0.weight");
/// # Ok::<(), layers::LayerError>(())
/// ```
pub struct Residual<T> {
    /// The block's main path.
    pub body: Sequential<T>,
    /// The projection on the other path (a 1×1 convolution and batch norm when the shape
    /// changes), or `None` for the identity.
    pub shortcut: Option<Sequential<T>>,
}

impl<T: Element> Residual<T> {
    /// A block with the identity shortcut: `y = body(x) + x`.
    pub fn new(body: Sequential<T>) -> Self {
        Residual { body, shortcut: None }
    }

    /// A block with a projection shortcut: `y = body(x) + shortcut(x)`.
    pub fn with_shortcut(body: Sequential<T>, shortcut: Sequential<T>) -> Self {
        Residual { body, shortcut: Some(shortcut) }
    }

    /// The error for an input whose two paths give different shapes (they cannot be added).
    fn mismatch(&self, input: &[usize], body: &[usize], shortcut: &[usize]) -> LayerError {
        let path = if self.shortcut.is_some() { "shortcut" } else { "identity" };
        LayerError::InputShape {
            module: format!("{self:?}"),
            expected: format!("one whose body and {path} outputs agree (body {body:?}, {path} {shortcut:?})"),
            got: input.to_vec(),
        }
    }
}

impl<T: Element> Residual<T> {
    /// The two paths' outputs for `x`, after checking that they can be added.
    fn paths<'t>(&self, x: Var<'t, T>) -> Result<(Var<'t, T>, Var<'t, T>)> {
        self.output_shape(&x.shape())?;
        let body = self.body.forward(x)?;
        let shortcut = match &self.shortcut {
            Some(s) => s.forward(x)?,
            None => x,
        };
        Ok((body, shortcut))
    }
}

/// A block followed by an activation (`res(…) relu`) adds and activates in one pass
/// ([`Var::add_activated`]).
impl<T: Element> Fuse<T> for Residual<T> {
    fn forward_activated<'t>(&self, x: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        let (body, shortcut) = self.paths(x)?;
        let tape = x.tape();
        if !tape.is_recording() && body.id() != x.id() {
            // Inference: the sum written over the body's output, read here for the last time
            // (the same numbers as `add_activated`; its lines are in cache as it is read, where
            // a new buffer's would be fetched before being written).
            let (mut y, rest) = (body.value(), shortcut.value());
            body.release();
            y.zip_map_inplace(&rest, "add_activated", |a, b| act.apply(a + b))?;
            let y = tape.constant(y);
            release_consumed(shortcut, y, x.id());
            return Ok(y);
        }
        let y = body.add_activated(shortcut, act)?;
        release_consumed(body, y, x.id());
        release_consumed(shortcut, y, x.id());
        Ok(y)
    }
}

impl<T: Element> Module<T> for Residual<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let (body, shortcut) = self.paths(x)?;
        let y = body.add(shortcut)?;
        release_consumed(body, y, x.id());
        release_consumed(shortcut, y, x.id());
        Ok(y)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let body = self.body.output_shape(input)?;
        let shortcut = match &self.shortcut {
            Some(s) => s.output_shape(input)?,
            None => input.to_vec(),
        };
        if body != shortcut {
            return Err(self.mismatch(input, &body, &shortcut));
        }
        Ok(body)
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(Part<'a, T>)) {
        f(Part::Child("body", &self.body));
        if let Some(s) = &self.shortcut {
            f(Part::Child("shortcut", s));
        }
        f(Part::Fuse(self));
    }

    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(PartMut<'a, T>)) {
        f(PartMut::Child("body", &mut self.body));
        if let Some(s) = &mut self.shortcut {
            f(PartMut::Child("shortcut", s));
        }
    }
}

/// `Residual(Sequential[…] + Sequential[…])`, or `+ identity`.
impl<T> fmt::Debug for Residual<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shortcut {
            Some(s) => write!(f, "Residual({:?} + {s:?})", self.body),
            None => write!(f, "Residual({:?} + identity)", self.body),
        }
    }
}
