//! A convolution taking the convolution after it into its forward pass in inference
//! ([`TakeConv`] for [`Conv2d`], through [`tensor::conv2d_pair`]).

use autograd::Var;
use tensor::{Activation, Element, Pooling, SecondConv, Tensor};

use crate::conv2d::Conv2d;
use crate::error::{LayerError, Result};
use crate::faces::{AffineMap, SecondWeights, TakeConv};

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

    /// The weights of an op for inference only (`op` names it): an error when the tape of
    /// `x` records (the op keeps nothing for gradients) or `x` does not fit, else
    /// [`weights`](Self::weights).
    pub(crate) fn inference_weights(
        &self,
        op: &str,
        x: &Var<'_, T>,
        map: Option<&AffineMap<T>>,
    ) -> Result<(Tensor<T>, Option<Tensor<T>>)> {
        if x.tape().is_recording() {
            return Err(LayerError::Config {
                what: format!("{self:?}"),
                reason: format!("{op} keeps nothing for gradients: call it in inference"),
            });
        }
        self.check(&x.shape())?;
        self.weights(map)
    }
}

impl<T: Element> TakeConv<T> for Conv2d<T> {
    fn as_second(&self, map: Option<&AffineMap<T>>) -> Option<SecondWeights<T>> {
        let (weight, bias) = self.weights(map).ok()?;
        Some(SecondWeights { weight, bias, window: self.config().window })
    }

    fn forward_pair<'t>(
        &self,
        x: Var<'t, T>,
        map: Option<&AffineMap<T>>,
        act: Option<Activation>,
        second: &SecondConv<'_, T>,
        pooling: Option<&Pooling>,
    ) -> Result<Var<'t, T>> {
        let (weight, bias) = self.inference_weights("forward_pair", &x, map)?;
        let window = &self.config().window;
        Ok(x.tape().constant(tensor::conv2d_pair(&x.value(), &weight, bias.as_ref(), window, act, second, pooling)?))
    }
}
