//! 2-D convolution as im2col → matmul → bias, the derivation's matrix form.
//!
//! For input `x: [N, C, H, W]` and weight `W: [F, C, kh, kw]` (PyTorch's layout):
//! `a = im2col(x): [N·oh·ow, C·kh·kw]`, `Wm = reshape(W, [F, C·kh·kw])ᵀ: [C·kh·kw, F]`,
//! `z = a·Wm + 1·bᵀ: [N·oh·ow, F]`, then `y = permute(reshape(z, [N, oh, ow, F]), [0, 3, 1, 2])`.
//! Gradients (from the ops): `∇Wm = aᵀ·∇z`, `∇b = 1ᵀ·∇z`, `∇a = ∇z·Wmᵀ`, `∇x = col2im(∇a)`.
//!
//! [`Module::forward`] runs the fused op `Var::conv2d` (the same formulas, blocked, output
//! written straight into N×F×oh×ow order); [`Conv2d::forward_matrix_form`] records the derivation's chain op by
//! op, for study and as the reference the fused op is tested against.

use std::fmt;

use autograd::{Param, Var};
use rand::Rng;
use tensor::{Activation, Element, Pooling, Window2d};

use crate::error::{LayerError, Result};
use crate::faces::{AffineMap, FoldAffine, Fuse, FusePool, MatrixForm};
use crate::fold_cache::FoldCache;
use crate::init::{Init, bias_uniform, fans};
use crate::module::Module;

/// The configuration of a [`Conv2d`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conv2dConfig {
    /// Input channels C.
    pub in_channels: usize,
    /// Output channels F (filters).
    pub out_channels: usize,
    /// Kernel, stride and zero padding per axis.
    pub window: Window2d,
    /// Whether to add a bias per output channel.
    pub bias: bool,
    /// The weight initialiser (the bias is always PyTorch's `±1/√fan_in`).
    pub init: Init,
}

impl Conv2dConfig {
    /// `kernel×kernel` filters, stride 1, no padding, with bias, PyTorch's initialiser.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Conv2dConfig {
            in_channels,
            out_channels,
            window: Window2d::square(kernel, 1, 0),
            bias: true,
            init: Init::default(),
        }
    }

    /// A `kh×kw` kernel.
    pub fn kernel(mut self, kh: usize, kw: usize) -> Self {
        self.window.kernel = [kh, kw];
        self
    }

    /// The same stride along both axes.
    pub fn stride(mut self, stride: usize) -> Self {
        self.window.stride = [stride; 2];
        self
    }

    /// The same zero padding on every side.
    pub fn padding(mut self, padding: usize) -> Self {
        self.window.padding = [padding; 2];
        self
    }

    /// Whether to add a bias.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// The weight initialiser.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }
}

/// A 2-D convolution layer; see the module docs for the matrix form.
pub struct Conv2d<T> {
    config: Conv2dConfig,
    /// `[out_channels, in_channels, kh, kw]`.
    pub weight: Param<T>,
    /// `[out_channels]`, if configured.
    pub bias: Option<Param<T>>,
    /// The last batch norm folded in, for inference.
    folds: FoldCache<T>,
}

impl<T: Element> Conv2d<T> {
    /// A layer with weights drawn from `rng`; an error for a zero channel count, kernel or
    /// stride.
    pub fn new<R: Rng + ?Sized>(config: Conv2dConfig, rng: &mut R) -> Result<Self> {
        let w = config.window;
        if config.in_channels == 0 || config.out_channels == 0 || w.kernel.contains(&0) || w.stride.contains(&0) {
            return Err(LayerError::Config {
                what: describe(&config),
                reason: "channels, kernel and stride must be positive".into(),
            });
        }
        let shape = [config.out_channels, config.in_channels, w.kernel[0], w.kernel[1]];
        let weight = Param::new(config.init.weight(&shape, rng)?);
        let bias =
            if config.bias { Some(Param::new(bias_uniform(config.out_channels, fans(&shape).0, rng)?)) } else { None };
        Ok(Conv2d { config, weight, bias, folds: FoldCache::default() })
    }

    /// The configuration.
    pub fn config(&self) -> &Conv2dConfig {
        &self.config
    }

    pub(crate) fn check(&self, input: &[usize]) -> Result<tensor::WindowDims> {
        let err = || LayerError::InputShape {
            module: describe(&self.config),
            expected: format!("[N, {}, H, W] with H, W large enough for the kernel", self.config.in_channels),
            got: input.to_vec(),
        };
        if input.len() != 4 || input[1] != self.config.in_channels {
            return Err(err());
        }
        self.config.window.dims("Conv2d", input).map_err(|_| err())
    }

    fn forward_with<'t>(&self, x: Var<'t, T>, act: Option<Activation>) -> Result<Var<'t, T>> {
        self.check(&x.shape())?;
        let tape = x.tape();
        if !tape.is_recording() {
            // Clones: a weight whose storage the layer holds too is kept prepared.
            let bias = self.bias.as_ref().map(|b| b.value.clone());
            return self.inference(x, &self.weight.value.clone(), bias.as_ref(), act);
        }
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        Ok(x.conv2d_activated(tape.param(&self.weight), bias, &self.config.window, act)?)
    }

    /// `act(conv2d(x, weight) + bias)` by [`tensor::conv2d_inference`] (the weight's
    /// preparation kept for the next call), for a tape that records nothing.
    fn inference<'t>(
        &self,
        x: Var<'t, T>,
        weight: &tensor::Tensor<T>,
        bias: Option<&tensor::Tensor<T>>,
        act: Option<Activation>,
    ) -> Result<Var<'t, T>> {
        let y = tensor::conv2d_inference(&x.value(), weight, bias, &self.config.window, act)?;
        Ok(x.tape().constant(y))
    }
}

impl<T: Element> Conv2d<T> {
    /// The forward pass as the derivation writes it, one recorded op per step:
    /// `a = im2col(x)`, `Wm = reshape(W, [F, C·kh·kw])ᵀ`, `z = a·Wm + 1·bᵀ`, then
    /// `y = permute(reshape(z, [N, oh, ow, F]), [0, 3, 1, 2])`. Same values as `forward`.
    pub fn forward_matrix_form<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let d = self.check(&x.shape())?;
        let tape = x.tape();
        let (f, taps) = (self.config.out_channels, self.config.in_channels * self.config.window.kernel_area());
        let a = x.im2col(&self.config.window)?;
        let wm = tape.param(&self.weight).reshape(&[f, taps])?.t()?;
        let mut z = a.matmul(wm)?;
        if let Some(b) = &self.bias {
            z = z.add_bias(tape.param(b))?;
        }
        Ok(z.reshape(&[d.n, d.oh, d.ow, f])?.permute(&[0, 3, 1, 2])?)
    }
}

fn describe(c: &Conv2dConfig) -> String {
    let bias = if c.bias { "" } else { ", no bias" };
    format!("Conv2d({}→{}, {}{bias})", c.in_channels, c.out_channels, c.window)
}

impl<T> fmt::Debug for Conv2d<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(&self.config))
    }
}

impl<T: Element> Module<T> for Conv2d<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.forward_with(x, None)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let d = self.check(input)?;
        Ok(vec![d.n, self.config.out_channels, d.oh, d.ow])
    }

    crate::parts!(T; params: weight, bias; faces: Fuse, FoldAffine, FusePool, TakeConv, TakeDense, MatrixForm);
}

/// One op: the activation is applied where the bias is added.
impl<T: Element> Fuse<T> for Conv2d<T> {
    fn forward_activated<'t>(&self, x: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        self.forward_with(x, Some(act))
    }
}

/// One convolution with `W'_f = s_f·W_f`, `b'_f = s_f·(b_f − m_f) + t_f` ([`AffineMap::fold`]),
/// as ONNX Runtime folds batch norm into the convolution before it.
impl<T: Element> FoldAffine<T> for Conv2d<T> {
    fn out_channels(&self) -> usize {
        self.config.out_channels
    }

    fn forward_folded<'t>(&self, x: Var<'t, T>, map: &AffineMap<T>, act: Option<Activation>) -> Result<Var<'t, T>> {
        self.check(&x.shape())?;
        let (weight, bias) = self.folded(map)?;
        let tape = x.tape();
        if !tape.is_recording() {
            return self.inference(x, &weight, Some(&bias), act);
        }
        Ok(x.conv2d_activated(tape.constant(weight), Some(tape.constant(bias)), &self.config.window, act)?)
    }
}

impl<T: Element> Conv2d<T> {
    /// The weight and bias with `map` folded in ([`AffineMap::fold`]); an error naming the
    /// layer when the map's channels are not its output channels.
    /// The same weights are kept for the next call ([`FoldCache`]).
    pub(crate) fn folded(&self, map: &AffineMap<T>) -> Result<(tensor::Tensor<T>, tensor::Tensor<T>)> {
        let (weight, bias) = (&self.weight.value, self.bias.as_ref().map(|b| &b.value));
        self.folds.get_or(weight, bias, map, || {
            map.fold(weight, bias).ok_or_else(|| LayerError::Config {
                what: describe(&self.config),
                reason: format!("a map of {} channels cannot fold into it", map.scale.len()),
            })
        })
    }
}

/// In inference one op, [`tensor::conv2d_pooled`]: the pooling done in the convolution's
/// output pass, after the folded map and the activation.
impl<T: Element> FusePool<T> for Conv2d<T> {
    fn forward_pooled<'t>(
        &self,
        x: Var<'t, T>,
        map: Option<&AffineMap<T>>,
        act: Option<Activation>,
        pooling: &Pooling,
    ) -> Result<Var<'t, T>> {
        let tape = x.tape();
        if tape.is_recording() {
            let y = match map {
                Some(map) => self.forward_folded(x, map, act)?,
                None => self.forward_with(x, act)?,
            };
            return Ok(match pooling {
                Pooling::Max(w) => y.max_pool2d(w)?,
                Pooling::Average(w) => y.avg_pool2d(w)?,
            });
        }
        self.check(&x.shape())?;
        let (weight, bias) = self.weights(map)?;
        let y = tensor::conv2d_pooled(&x.value(), &weight, bias.as_ref(), &self.config.window, act, pooling)?;
        Ok(tape.constant(y))
    }
}

/// `a = im2col(x): [N·oh·ow, C·kh·kw]`, `Wm: [C·kh·kw, F]`, `z = a·Wm + 1·bᵀ: [N·oh·ow, F]`.
impl<T: Element> MatrixForm for Conv2d<T> {
    fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)> {
        let Ok(d) = self.check(input) else { return Vec::new() };
        let (f, taps) = (self.config.out_channels, self.config.in_channels * self.config.window.kernel_area());
        let rows = d.n * d.oh * d.ow;
        vec![
            ("a = im2col(input)".into(), vec![rows, taps]),
            ("W".into(), vec![taps, f]),
            ("z = a·W + b".into(), vec![rows, f]),
        ]
    }
}
