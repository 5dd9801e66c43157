//! A convolution taking the fully connected layer after a flatten into its forward pass in
//! inference ([`TakeDense`] for [`Conv2d`], through [`tensor::conv2d_dense`]).

use autograd::Var;
use tensor::{Activation, Dense, Element, Pooling, SecondConv};

use crate::conv2d::Conv2d;
use crate::error::Result;
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
        let (weight, bias) = self.inference_weights("forward_dense", &x, map)?;
        let window = &self.config().window;
        let y = tensor::conv2d_dense(&x.value(), &weight, bias.as_ref(), window, act, second, pooling, dense)?;
        Ok(x.tape().constant(y))
    }
}
