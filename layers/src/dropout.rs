//! Inverted dropout, PyTorch's `nn.Dropout(p)`: in training `y = x ⊙ m / (1 − p)` with a
//! keep-mask `m` whose elements are 1 with probability `1 − p`, so `E[y] = x`; in evaluation
//! `y = x`. VJP (the op's, `Var::dropout`): `∇x = ∇y ⊙ m / (1 − p)`.
//!
//! **Masks.** The mask is not drawn from a generator the layer owns (which would make it
//! depend on the order the threads run and break a resumed run) but from the step's random
//! stream, [`StepContext::dropout_mask`]: a pure function of the run's seed, the global
//! step, the layer's id and each element's position in the whole batch. So the shards'
//! masks are the rows of one whole-batch mask whatever the thread count, and a run resumed
//! at step `s` draws the masks the uninterrupted run drew.
//!
//! **Without a step context** (a tape from `Tape::new()` or `Tape::no_grad()` rather than
//! `Tape::with_context`), a dropout layer in training mode with `p > 0` has no stream to
//! draw from and returns [`LayerError::Config`] saying so, rather than silently reusing
//! one mask every step: attach `StepContext::single(seed, step)` to the tape, or switch to
//! evaluation mode (`set_training(false)`) for inference. With `p = 0` the layer is the
//! identity in both modes and needs no context.

use std::fmt;

use autograd::{StepContext, Var};
use tensor::{Element, Tensor};

use crate::error::{LayerError, Result};
use crate::module::Module;

/// An inverted-dropout layer; see the module documentation. Starts in training mode.
#[derive(Clone, Copy, PartialEq)]
pub struct Dropout {
    p: f64,
    layer: u64,
    training: bool,
}

impl Dropout {
    /// Dropout with drop probability `p ∈ [0, 1]` whose masks come from the stream of
    /// layer id `layer` (distinct layers of a network need distinct ids; the spec builder
    /// passes the layer's position). An error for `p` outside [0, 1].
    pub fn new(p: f64, layer: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(LayerError::Config {
                what: format!("Dropout(p={p})"),
                reason: "the drop probability must be in [0, 1]".into(),
            });
        }
        Ok(Dropout { p, layer, training: true })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The layer id keying the mask stream.
    pub fn layer_id(&self) -> u64 {
        self.layer
    }

    /// Switches between training (masks) and evaluation (identity); the same as
    /// [`Module::set_training`], callable without naming the element type.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The keep-mask this layer draws for an input of `shape` (`[samples of this shard, …]`)
    /// in the step `context` describes.
    pub fn mask<T: Element>(&self, context: &StepContext, shape: &[usize]) -> Result<Tensor<T>> {
        Ok(context.dropout_mask(self.layer, shape, self.p)?)
    }

    fn check(&self, input: &[usize]) -> Result<()> {
        if input.is_empty() {
            return Err(LayerError::InputShape {
                module: self.describe(), expected: "[N, …]".into(), got: Vec::new()
            });
        }
        Ok(())
    }

    /// The layer with its configuration (its `Debug` text).
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl<T: Element> Module<T> for Dropout {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.check(&x.shape())?;
        if !self.training || self.p == 0.0 {
            return Ok(x);
        }
        let Some(context) = x.tape().context() else {
            return Err(LayerError::Config {
                what: self.describe(),
                reason: "in training mode the mask comes from the step's random stream, and this tape has no \
                         step context: record on Tape::with_context(StepContext::single(seed, step)), or call \
                         set_training(false) for inference"
                    .into(),
            });
        };
        let mask = self.mask(context, &x.shape())?;
        Ok(x.dropout(&mask, T::from_f64_lossy(self.p))?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.check(input)?;
        Ok(input.to_vec())
    }

    crate::parts!(T; training: training);
}

impl fmt::Debug for Dropout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dropout(p={}, layer id {})", self.p, self.layer)
    }
}
