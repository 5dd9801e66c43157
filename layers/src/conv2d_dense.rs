//! A convolution taking the fully connected layer after a flatten into its forward pass in
//! inference ([`TakeDense`] for [`Conv2d`], through [`tensor::conv2d_dense`]).

use autograd::Var;
use tensor::{Activation, Dense, Element, Pooling, SecondConv};

use crate::conv2d::Conv2d;
use crate::error::{LayerError, Result};
use crate::faces::{AffineMap, TakeDense};

impl<T: Element> TakeDense<T> for Conv2d<T> {
    fn forward_dense<'t>(
        &self,
        x: Var<'t, T>,
        map: Option<&AffineMap<T>>,
        act: Option<Activation>,
        second: Option<&SecondConv<'_, T>>,
        pooling: Option<&Pooling>,
        dense: &Dense<'_, T>,
    ) -> Result<Var<'t, T>> {
        let tape = x.tape();
        if tape.is_recording() {
            return Err(LayerError::Config {
                what: format!("{self:?}"),
                reason: "forward_dense keeps nothing for gradients: call it in inference".into(),
            });
        }
        self.check(&x.shape())?;
        let (weight, bias) = self.weights(map)?;
        let window = &self.config().window;
        let y = tensor::conv2d_dense(&x.value(), &weight, bias.as_ref(), window, act, second, pooling, dense)?;
        Ok(tape.constant(y))
    }
}
