//! A chain of modules, each feeding the next; parameters named `0.weight`, `1.bias`, ….

use autograd::{Param, Var};
use tensor::Element;

use crate::error::Result;
use crate::module::{Module, prefixed};

/// Modules applied in order.
pub struct Sequential<T> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Element> Default for Sequential<T> {
    fn default() -> Self {
        Sequential { layers: Vec::new() }
    }
}

impl<T: Element> Sequential<T> {
    /// An empty chain.
    pub fn new() -> Self {
        Sequential::default()
    }

    /// Appends a module (builder style).
    pub fn with(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a module.
    pub fn push(&mut self, layer: impl Module<T> + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// The modules.
    pub fn layers(&self) -> &[Box<dyn Module<T>>] {
        &self.layers
    }

    /// The output shape after each module, for an input shape.
    pub fn shapes(&self, input: &[usize]) -> Result<Vec<Vec<usize>>> {
        let mut shape = input.to_vec();
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            shape = layer.output_shape(&shape)?;
            out.push(shape.clone());
        }
        Ok(out)
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    fn forward<'t>(&self, mut x: Var<'t, T>) -> Result<Var<'t, T>> {
        for layer in &self.layers {
            x = layer.forward(x)?;
        }
        Ok(x)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(self.shapes(input)?.pop().unwrap_or_else(|| input.to_vec()))
    }

    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        self.layers.iter().enumerate().flat_map(|(i, l)| prefixed(&i.to_string(), l.named_parameters())).collect()
    }

    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, l)| prefixed(&i.to_string(), l.named_parameters_mut()))
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        for layer in &mut self.layers {
            layer.set_training(training);
        }
    }

    fn describe(&self) -> String {
        let inner: Vec<String> = self.layers.iter().map(|l| l.describe()).collect();
        format!("Sequential[{}]", inner.join(", "))
    }
}
