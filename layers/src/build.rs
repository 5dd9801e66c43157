//! Networks whose sizes follow from one input shape: [`Sequential::input`] takes the shape
//! of one sample, each layer is given without its input size ([`LazyConv2d`],
//! [`LazyLinear`], [`LazyBatchNorm`], [`LazyDropout`], or any built module), and
//! [`SequentialBuilder::build`] resolves them in order, from a seed, so that nobody
//! computes a flattened size by hand.
//!
//! ```
//! use layers::prelude::*;
//!
//! let net = Sequential::<f32>::input([1, 28, 28])
//!     .with(LazyConv2d::new(16, 3).padding(1))
//!     .with(ReLU)
//!     .with(MaxPool2d::new(2, 2)?)
//!     .with(Flatten)
//!     .with(LazyLinear::new(10))
//!     .build(0)?;
//! // The linear layer's input is 16·14·14, inferred.
//! assert_eq!(net.named_parameters()[2].1.shape(), &[10, 16 * 14 * 14]);
//! assert_eq!(net.output_shape(&[5, 1, 28, 28])?, vec![5, 10]);
//! # Ok::<(), layers::LayerError>(())
//! ```
//!
//! Weights are drawn from [`weight_rng`]`(seed)` layer by layer
//! in order, as `lenet5 train` draws them for the same spec and seed, so both give the same
//! network bit for bit ([`SequentialBuilder::build_with`] takes a generator of your own).

use std::fmt;

use rand::Rng;
use tensor::Element;

use crate::batch_norm::BatchNorm;
use crate::conv2d::{Conv2d, Conv2dConfig};
use crate::dropout::Dropout;
use crate::error::{LayerError, Result};
use crate::init::{Init, weight_rng};
use crate::linear::Linear;
use crate::module::Module;
use crate::sequential::{Sequential, at_layer};

/// A layer as [`SequentialBuilder::with`] takes it: built once the shape of its input is
/// known. Every [`Module`] is one, of kind [`Built`] (its input shape is checked); the
/// `Lazy*` layers, of kind [`Lazy`], take their input size from that shape. (The kind only
/// keeps the two families of implementations apart; a layer of your own sized by its input
/// implements `Blueprint<T, Lazy>`.)
pub trait Blueprint<T: Element, Kind>: fmt::Debug + 'static {
    /// The module for inputs of shape `input` (`[1, …]`: one sample), at position
    /// `position` of the chain (from 0), with any weights drawn from `rng`.
    fn build(self, input: &[usize], position: usize, rng: &mut dyn Rng) -> Result<Box<dyn Module<T>>>;
}

/// The kind of [`Blueprint`] of a module built already.
#[derive(Debug)]
pub enum Built {}

/// The kind of [`Blueprint`] of a layer sized by its input.
#[derive(Debug)]
pub enum Lazy {}

impl<T: Element, M: Module<T> + 'static> Blueprint<T, Built> for M {
    fn build(self, input: &[usize], _: usize, _: &mut dyn Rng) -> Result<Box<dyn Module<T>>> {
        <M as Module<T>>::output_shape(&self, input)?;
        Ok(Box::new(self))
    }
}

/// A [`Conv2d`] whose input channels are its input's: PyTorch's `nn.LazyConv2d(out, k)`,
/// resolved when the network is built. Stride 1, no padding, a bias and PyTorch's
/// initialiser unless set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LazyConv2d(Conv2dConfig);

impl LazyConv2d {
    /// `out_channels` filters of `kernel×kernel`.
    pub fn new(out_channels: usize, kernel: usize) -> Self {
        LazyConv2d(Conv2dConfig::new(0, out_channels, kernel))
    }

    /// The same stride along both axes.
    pub fn stride(self, stride: usize) -> Self {
        LazyConv2d(self.0.stride(stride))
    }

    /// The same zero padding on every side.
    pub fn padding(self, padding: usize) -> Self {
        LazyConv2d(self.0.padding(padding))
    }

    /// A `kh×kw` kernel.
    pub fn kernel(self, kh: usize, kw: usize) -> Self {
        LazyConv2d(self.0.kernel(kh, kw))
    }

    /// Whether to add a bias.
    pub fn bias(self, bias: bool) -> Self {
        LazyConv2d(self.0.bias(bias))
    }

    /// The weight initialiser.
    pub fn init(self, init: Init) -> Self {
        LazyConv2d(self.0.init(init))
    }
}

impl<T: Element> Blueprint<T, Lazy> for LazyConv2d {
    fn build(self, input: &[usize], _: usize, rng: &mut dyn Rng) -> Result<Box<dyn Module<T>>> {
        let &[_, channels, _, _] = input else {
            return Err(needs(&self, "[N, C, H, W]", input));
        };
        let conv = Conv2d::<T>::new(Conv2dConfig { in_channels: channels, ..self.0 }, rng)?;
        conv.output_shape(input)?;
        Ok(Box::new(conv))
    }
}

/// A [`Linear`] whose input features are its input's: PyTorch's `nn.LazyLinear(out)`,
/// resolved when the network is built. With a bias and PyTorch's initialiser unless set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LazyLinear {
    out_features: usize,
    bias: bool,
    init: Init,
}

impl LazyLinear {
    /// `out_features` outputs.
    pub fn new(out_features: usize) -> Self {
        LazyLinear { out_features, bias: true, init: Init::default() }
    }

    /// Whether to add a bias.
    pub fn bias(self, bias: bool) -> Self {
        LazyLinear { bias, ..self }
    }

    /// The weight initialiser.
    pub fn init(self, init: Init) -> Self {
        LazyLinear { init, ..self }
    }
}

impl<T: Element> Blueprint<T, Lazy> for LazyLinear {
    fn build(self, input: &[usize], _: usize, rng: &mut dyn Rng) -> Result<Box<dyn Module<T>>> {
        let &[_, features] = input else {
            return Err(needs(&self, "[N, F] (add Flatten before it)", input));
        };
        Ok(Box::new(Linear::<T>::with_options(features, self.out_features, self.bias, self.init, rng)?))
    }
}

/// A [`BatchNorm`] over its input's channels: `BatchNorm1d` after `[N, C]`, `BatchNorm2d`
/// after `[N, C, H, W]` (PyTorch's `nn.LazyBatchNorm1d`/`2d`, defaults eps 1e-5, momentum
/// 0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LazyBatchNorm;

impl<T: Element> Blueprint<T, Lazy> for LazyBatchNorm {
    fn build(self, input: &[usize], _: usize, _: &mut dyn Rng) -> Result<Box<dyn Module<T>>> {
        let layer = match *input {
            [_, channels] => BatchNorm::<T>::new_1d(channels)?,
            [_, channels, _, _] => BatchNorm::<T>::new_2d(channels)?,
            _ => return Err(needs(&self, "[N, C] or [N, C, H, W]", input)),
        };
        Ok(Box::new(layer))
    }
}

/// A [`Dropout`] with drop probability `p` whose mask stream is keyed by its position in
/// the chain (as `lenet5 train --arch` keys it), so that distinct layers draw distinct
/// masks without choosing ids.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LazyDropout(
    /// The drop probability, in [0, 1].
    pub f64,
);

impl<T: Element> Blueprint<T, Lazy> for LazyDropout {
    fn build(self, _: &[usize], position: usize, _: &mut dyn Rng) -> Result<Box<dyn Module<T>>> {
        Ok(Box::new(Dropout::new(self.0, position as u64)?))
    }
}

/// The error of a lazy layer given an input it cannot take.
fn needs(layer: &dyn fmt::Debug, expected: &str, got: &[usize]) -> LayerError {
    LayerError::InputShape { module: format!("{layer:?}"), expected: expected.into(), got: got.to_vec() }
}

/// A layer waiting for its input shape, its position and the generator.
type Pending<T> = Box<dyn FnOnce(&[usize], usize, &mut dyn Rng) -> Result<Box<dyn Module<T>>>>;

/// A [`Sequential`] being described: the shape of one sample, then its layers, resolved by
/// [`SequentialBuilder::build`]. Made by [`Sequential::input`].
pub struct SequentialBuilder<T: Element> {
    input: Vec<usize>,
    /// Each layer's description and how to build it.
    layers: Vec<(String, Pending<T>)>,
}

impl<T: Element> fmt::Debug for SequentialBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers: Vec<&str> = self.layers.iter().map(|(d, _)| d.as_str()).collect();
        f.debug_struct("SequentialBuilder").field("input", &self.input).field("layers", &layers).finish()
    }
}

impl<T: Element> Sequential<T> {
    /// A network for samples of shape `sample` (`[C, H, W]` for images, `[F]` for feature
    /// vectors; the batch axis is not part of it), its layers added with
    /// [`SequentialBuilder::with`] and sized at [`SequentialBuilder::build`].
    pub fn input(sample: impl AsRef<[usize]>) -> SequentialBuilder<T> {
        SequentialBuilder { input: sample.as_ref().to_vec(), layers: Vec::new() }
    }
}

impl<T: Element> SequentialBuilder<T> {
    /// Appends a layer: a `Lazy*` layer, or any module (builder style).
    pub fn with<Kind>(mut self, layer: impl Blueprint<T, Kind>) -> Self {
        let description = format!("{layer:?}");
        self.layers.push((description, Box::new(move |input, position, rng| layer.build(input, position, rng))));
        self
    }

    /// The network, weights drawn from [`weight_rng`]`(seed)` (the run's seed,
    /// `TrainConfig::seed`, in `models`). An error names the first layer that does not fit
    /// its input.
    pub fn build(self, seed: u64) -> Result<Sequential<T>> {
        self.build_with(&mut weight_rng(seed))
    }

    /// The network, weights drawn from `rng`.
    pub fn build_with<R: Rng>(self, rng: &mut R) -> Result<Sequential<T>> {
        if self.input.is_empty() || self.input.contains(&0) {
            return Err(LayerError::Config {
                what: format!("Sequential::input({:?})", self.input),
                reason: "a sample's shape needs at least one axis, each at least 1".into(),
            });
        }
        let mut shape = [&[1][..], &self.input].concat();
        let mut net = Sequential::new();
        for (i, (_, layer)) in self.layers.into_iter().enumerate() {
            let built = layer(&shape, i, rng).map_err(|e| at_layer(&i.to_string(), e))?;
            shape = built.output_shape(&shape).map_err(|e| at_layer(&i.to_string(), e))?;
            net.push_boxed(built);
        }
        Ok(net)
    }
}
