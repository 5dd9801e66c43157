//! Fully connected layer `z = a·Wᵀ + 1·bᵀ`, with `W: [out, in]` as in PyTorch.
//!
//! Gradients (from the ops): `∇Wᵀ = aᵀ·∇z` (so `∇W = ∇zᵀ·a`), `∇b = 1ᵀ·∇z`, `∇a = ∇z·W`.

use std::fmt;

use autograd::{Param, Var};
use rand::Rng;
use tensor::Element;

use crate::error::{LayerError, Result};
use crate::faces::{FullyConnected, MatrixForm};
use crate::init::{Init, bias_uniform};
use crate::module::Module;

/// A fully connected layer.
pub struct Linear<T> {
    in_features: usize,
    out_features: usize,
    /// `[out_features, in_features]`.
    pub weight: Param<T>,
    /// `[out_features]`, if configured.
    pub bias: Option<Param<T>>,
}

impl<T: Element> Linear<T> {
    /// A layer with bias and PyTorch's initialisation.
    pub fn new<R: Rng + ?Sized>(in_features: usize, out_features: usize, rng: &mut R) -> Result<Self> {
        Linear::with_options(in_features, out_features, true, Init::default(), rng)
    }

    /// A layer with or without bias and with the given weight initialiser.
    pub fn with_options<R: Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        bias: bool,
        init: Init,
        rng: &mut R,
    ) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(LayerError::Config {
                what: format!("Linear({in_features}→{out_features})"),
                reason: "feature counts must be positive".into(),
            });
        }
        let weight = Param::new(init.weight(&[out_features, in_features], rng)?);
        let bias = if bias { Some(Param::new(bias_uniform(out_features, in_features, rng)?)) } else { None };
        Ok(Linear { in_features, out_features, weight, bias })
    }

    fn check(&self, input: &[usize]) -> Result<()> {
        if input.len() != 2 || input[1] != self.in_features {
            return Err(LayerError::InputShape {
                module: format!("{self:?}"),
                expected: format!("[N, {}]", self.in_features),
                got: input.to_vec(),
            });
        }
        Ok(())
    }
}

impl<T> fmt::Debug for Linear<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bias = if self.bias.is_some() { "" } else { ", no bias" };
        write!(f, "Linear({}→{}{bias})", self.in_features, self.out_features)
    }
}

impl<T: Element> Module<T> for Linear<T> {
    fn forward<'t>(&self, a: Var<'t, T>) -> Result<Var<'t, T>> {
        self.check(&a.shape())?;
        let tape = a.tape();
        let mut z = a.matmul(tape.param(&self.weight).t()?)?;
        if let Some(b) = &self.bias {
            z = z.add_bias(tape.param(b))?;
        }
        Ok(z)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.check(input)?;
        Ok(vec![input[0], self.out_features])
    }

    crate::parts!(T; params: weight, bias; faces: FullyConnected, MatrixForm);
}

impl<T: Element> FullyConnected<T> for Linear<T> {
    fn dense_weights(&self) -> (tensor::Tensor<T>, Option<tensor::Tensor<T>>) {
        (self.weight.value.clone(), self.bias.as_ref().map(|b| b.value.clone()))
    }
}

/// `W: [in, out]` (the derivation's layout, `Wᵀ` of the stored weight) and `z = a·W + b`.
impl<T: Element> MatrixForm for Linear<T> {
    fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)> {
        if self.check(input).is_err() {
            return Vec::new();
        }
        vec![
            ("W".into(), vec![self.in_features, self.out_features]),
            ("z = a·W + b".into(), vec![input[0], self.out_features]),
        ]
    }
}
