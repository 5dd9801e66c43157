//! A convolution taking the 1×1 convolution after it into its forward pass in inference
//! ([`TakePointwise`] for [`Conv2d`], through [`tensor::conv2d_pointwise`]).

use autograd::Var;
use tensor::{Activation, Element, Pointwise, Pooling, Tensor, Window2d};

use crate::conv2d::Conv2d;
use crate::error::{LayerError, Result};
use crate::faces::{AffineMap, TakePointwise};

impl<T: Element> Conv2d<T> {
    /// The weight and bias with `map` folded in, or as they are (shared `Arc` storage).
    pub(crate) fn weights(&self, map: Option<&AffineMap<T>>) -> Result<(Tensor<T>, Option<Tensor<T>>)> {
        Ok(match map {
            Some(map) => {
                let (weight, bias) = self.folded(map)?;
                (weight, Some(bias))
            }
            None => (self.weight.value.clone(), self.bias.as_ref().map(|b| b.value.clone())),
        })
    }
}

impl<T: Element> TakePointwise<T> for Conv2d<T> {
    fn pointwise(&self, map: Option<&AffineMap<T>>) -> Option<(Tensor<T>, Option<Tensor<T>>)> {
        (self.config().window == Window2d::square(1, 1, 0)).then(|| self.weights(map).ok()).flatten()
    }

    fn forward_pointwise<'t>(
        &self,
        x: Var<'t, T>,
        map: Option<&AffineMap<T>>,
        act: Option<Activation>,
        next: &Pointwise<'_, T>,
        pooling: Option<&Pooling>,
    ) -> Result<Var<'t, T>> {
        let tape = x.tape();
        if tape.is_recording() {
            return Err(LayerError::Config {
                what: format!("{self:?}"),
                reason: "forward_pointwise keeps nothing for gradients: call it in inference".into(),
            });
        }
        self.check(&x.shape())?;
        let (weight, bias) = self.weights(map)?;
        let window = &self.config().window;
        Ok(tape.constant(tensor::conv2d_pointwise(&x.value(), &weight, bias.as_ref(), window, act, next, pooling)?))
    }
}
