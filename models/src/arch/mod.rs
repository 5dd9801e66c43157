//! Networks described by a line of text: `lenet5 train --arch SPEC`.
//!
//! A spec is layers separated by whitespace (spaces inside parentheses allowed):
//!
//! | token | layer | PyTorch |
//! |---|---|---|
//! | `conv(OUT,K[,s=S][,p=P])` | [`Conv2d`], input channels inferred | `nn.Conv2d(in, OUT, K, stride=S, padding=P)` |
//! | `maxpool(K[,s=S][,p=P])` | [`MaxPool2d`], stride defaults to K | `nn.MaxPool2d(K, stride=S, padding=P)` |
//! | `relu` | [`ReLU`] | `nn.ReLU()` |
//! | `flatten` | [`Flatten`] | `nn.Flatten()` |
//! | `linear(OUT)` | [`Linear`], input features inferred | `nn.Linear(in, OUT)` |
//! | `batchnorm` | [`BatchNorm`], 1d after a 2-D output, 2d after a 4-D one, channels inferred | `nn.BatchNorm1d(C)` / `nn.BatchNorm2d(C)` |
//! | `dropout(P)` | [`Dropout`] with drop probability P, mask stream keyed by the layer's index | `nn.Dropout(P)` |
//! | `avgpool(K[,s=S][,p=P])` | [`AvgPool2d`], stride defaults to K | `nn.AvgPool2d(K, stride=S, padding=P)` |
//! | `tanh` | [`Tanh`] | `nn.Tanh()` |
//! | `sigmoid` | [`Sigmoid`] | `nn.Sigmoid()` |
//! | `leakyrelu[(SLOPE)]` | [`LeakyReLU`], slope defaults to 0.01 | `nn.LeakyReLU(SLOPE)` |
//!
//! e.g. `conv(16,3,p=1) relu conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu
//! linear(10)`. The network is a [`Sequential`] whose parameters are named by position
//! (`0.weight`, `0.bias`, `2.weight`, …), so PyTorch's `nn.Sequential` of the same layers
//! loads its checkpoint with `strict=True` (batch norm's buffers `running_mean`,
//! `running_var` and `num_batches_tracked` included). The preset `lenet5` is [`LeNet5`], whose
//! parameters keep their names `c1.*` … `f7.*`. The preset `lenet5-1998` is LeCun's 1998
//! network written as layers ([`LENET5_1998`]): tanh squashing and average subsampling, the
//! first convolution padded by 2 so that MNIST's 28×28 images need no other padding.
//!
//! A spec that does not parse, or does not fit its input (a kernel larger than its map,
//! `linear` on a 4-D output, a last layer without one output per class), is a [`SpecError`]
//! naming the layer's position, its text and the shapes.

use std::fmt;

use layers::{
    AvgPool2d, BatchNorm, Conv2d, Conv2dConfig, Dropout, Flatten, LayerError, LeakyReLU, Linear, MaxPool2d, Module,
    ReLU, Sequential, Sigmoid, Tanh,
};
use rand::Rng;
use tensor::{Element, Window2d};

use crate::lenet5::{self, LeNet5};

/// LeCun's 1998 LeNet-5 as a spec (the preset `lenet5-1998`): tanh squashing and average
/// subsampling, on 1×28×28 inputs (the first convolution's padding stands for the 32×32
/// frame of the paper).
pub const LENET5_1998: &str =
    "conv(6,5,p=2) tanh avgpool(2) conv(16,5) tanh avgpool(2) conv(120,5) tanh flatten linear(84) tanh linear(10)";

/// One layer of a spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerSpec {
    /// `conv(OUT,K[,s=S][,p=P])`.
    Conv {
        /// Output channels.
        out: usize,
        /// Kernel side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding.
        padding: usize,
    },
    /// `maxpool(K[,s=S][,p=P])`.
    MaxPool {
        /// Window side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding.
        padding: usize,
    },
    /// `relu`.
    Relu,
    /// `flatten`.
    Flatten,
    /// `linear(OUT)`.
    Linear {
        /// Output features.
        out: usize,
    },
    /// `batchnorm`.
    BatchNorm,
    /// `dropout(P)`.
    Dropout {
        /// The drop probability, in [0, 1].
        p: f64,
    },
    /// `avgpool(K[,s=S][,p=P])`.
    AvgPool {
        /// Window side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding.
        padding: usize,
    },
    /// `tanh`.
    Tanh,
    /// `sigmoid`.
    Sigmoid,
    /// `leakyrelu[(SLOPE)]`.
    LeakyRelu {
        /// The negative slope.
        slope: f64,
    },
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extras = |stride: usize, default_stride: usize, padding: usize| {
            let mut s = String::new();
            if stride != default_stride {
                s += &format!(",s={stride}");
            }
            if padding != 0 {
                s += &format!(",p={padding}");
            }
            s
        };
        match *self {
            LayerSpec::Conv { out, kernel, stride, padding } => {
                write!(f, "conv({out},{kernel}{})", extras(stride, 1, padding))
            }
            LayerSpec::MaxPool { kernel, stride, padding } => {
                write!(f, "maxpool({kernel}{})", extras(stride, kernel, padding))
            }
            LayerSpec::Relu => f.write_str("relu"),
            LayerSpec::Flatten => f.write_str("flatten"),
            LayerSpec::Linear { out } => write!(f, "linear({out})"),
            LayerSpec::BatchNorm => f.write_str("batchnorm"),
            LayerSpec::Dropout { p } => write!(f, "dropout({p})"),
            LayerSpec::AvgPool { kernel, stride, padding } => {
                write!(f, "avgpool({kernel}{})", extras(stride, kernel, padding))
            }
            LayerSpec::Tanh => f.write_str("tanh"),
            LayerSpec::Sigmoid => f.write_str("sigmoid"),
            LayerSpec::LeakyRelu { slope } if slope == LeakyReLU::DEFAULT_SLOPE => f.write_str("leakyrelu"),
            LayerSpec::LeakyRelu { slope } => write!(f, "leakyrelu({slope})"),
        }
    }
}

/// A network: the LeNet-5 preset or a list of layers.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Arch {
    /// [`LeNet5`] (parameters `c1.*` … `f7.*`; input 1×32×32).
    #[default]
    LeNet5,
    /// A [`Sequential`] of these layers (parameters `0.weight`, …).
    Layers(Vec<LayerSpec>),
}

/// Why a spec does not parse or does not fit its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", match (position, text.is_empty()) {
    (Some(p), false) => format!("layer {p} {text:?}: "),
    (Some(p), true) => format!("layer {p}: "),
    (None, _) => String::new(),
})]
pub struct SpecError {
    /// The layer's position, from 1 (none for an error about the whole spec).
    pub position: Option<usize>,
    /// The layer's text.
    pub text: String,
    /// What is wrong, with the shapes involved.
    pub reason: String,
}

mod parse;
pub mod plan;

pub use plan::{LayerPlan, NetworkPlan, plan_layers};

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arch::LeNet5 => f.write_str("lenet5"),
            Arch::Layers(layers) => {
                let text: Vec<String> = layers.iter().map(LayerSpec::to_string).collect();
                f.write_str(&text.join(" "))
            }
        }
    }
}

impl Arch {
    /// The padding that makes the data fit by default: 2 for LeNet-5 (MNIST's 28×28 to its
    /// 32×32), else 0.
    pub fn default_pad(&self) -> usize {
        match self {
            Arch::LeNet5 => 2,
            Arch::Layers(_) => 0,
        }
    }

    /// The network's layers as a spec: [`LENET5_LAYERS`] for the preset (its sizes are
    /// those of [`LeNet5`], whose parameters keep the derivation's names).
    pub fn layers(&self) -> Vec<LayerSpec> {
        match self {
            Arch::LeNet5 => match LENET5_LAYERS.parse() {
                Ok(Arch::Layers(layers)) => layers,
                _ => unreachable!("LENET5_LAYERS is a valid spec of layers"),
            },
            Arch::Layers(layers) => layers.clone(),
        }
    }

    /// The network's sizes for inputs of shape `input = [C, H, W]` and, when given,
    /// `classes` outputs, from shapes alone ([`plan_layers`]): the check [`Arch::build`]
    /// makes before it allocates anything.
    pub fn plan(&self, input: [usize; 3], classes: Option<usize>) -> Result<NetworkPlan, SpecError> {
        let plan = plan_layers(&self.layers(), input, None);
        if *self == Arch::LeNet5 && plan.as_ref().map_or(true, |p| p.output() != [lenet5::CLASSES] || input[0] != 1) {
            let [c, h, w] = input;
            return Err(SpecError {
                position: None,
                text: String::new(),
                reason: format!("LeNet-5 takes 1×32×32 images (pad 28×28 ones by 2), not {c}×{h}×{w}"),
            });
        }
        let plan = plan?;
        if let Some(classes) = classes.filter(|&c| plan.output()[0] < c) {
            return match self {
                Arch::LeNet5 => Err(SpecError {
                    position: None,
                    text: String::new(),
                    reason: format!("LeNet-5 gives {} outputs, the data has {classes} classes", lenet5::CLASSES),
                }),
                Arch::Layers(layers) => plan_layers(layers, input, Some(classes)),
            };
        }
        Ok(plan)
    }

    /// Builds the network for inputs of shape `input = [C, H, W]` and, when given,
    /// `classes` outputs, with weights drawn from `rng` (PyTorch's initialisation), after
    /// checking every layer's sizes ([`Arch::plan`]) so that nothing is allocated for a
    /// spec that does not fit.
    pub fn build<T: Element, R: Rng + ?Sized>(
        &self,
        input: [usize; 3],
        classes: Option<usize>,
        rng: &mut R,
    ) -> Result<Box<dyn Module<T>>, SpecError> {
        let plan = self.plan(input, classes)?;
        match self {
            Arch::LeNet5 => {
                let whole = |reason: String| SpecError { position: None, text: String::new(), reason };
                Ok(Box::new(LeNet5::<T>::new(rng).map_err(|e| whole(e.to_string()))?))
            }
            Arch::Layers(_) => Ok(Box::new(build_planned(&plan, rng)?)),
        }
    }
}

/// LeNet-5 as layers (the sizes of [`LeNet5`]: ReLU, max-pooling, on 1×32×32).
pub const LENET5_LAYERS: &str =
    "conv(6,5) relu maxpool(2) conv(16,5) relu maxpool(2) conv(120,5) relu flatten linear(84) relu linear(10)";

/// The [`Sequential`] of `layers` for inputs `[C, H, W]` and, when given, `classes` outputs:
/// planned first ([`plan_layers`]), so that a spec that does not fit allocates nothing.
pub fn build_layers<T: Element, R: Rng + ?Sized>(
    layers: &[LayerSpec],
    input: [usize; 3],
    classes: Option<usize>,
    rng: &mut R,
) -> Result<Sequential<T>, SpecError> {
    build_planned(&plan_layers(layers, input, classes)?, rng)
}

/// The [`Sequential`] a plan describes, each layer built for its planned input.
fn build_planned<T: Element, R: Rng + ?Sized>(plan: &NetworkPlan, rng: &mut R) -> Result<Sequential<T>, SpecError> {
    let mut net = Sequential::<T>::new();
    let mut shape: &[usize] = &plan.input;
    for (i, (spec, planned)) in plan.layers.iter().enumerate() {
        let err = |e: LayerError| SpecError { position: Some(i + 1), text: spec.to_string(), reason: e.to_string() };
        let layer: Box<dyn Module<T>> = match *spec {
            LayerSpec::Conv { out, kernel, stride, padding } => {
                let config = Conv2dConfig::new(shape[0], out, kernel).stride(stride).padding(padding);
                Box::new(Conv2d::new(config, rng).map_err(err)?)
            }
            LayerSpec::MaxPool { kernel, stride, padding } => {
                Box::new(MaxPool2d::with_window(Window2d::square(kernel, stride, padding)).map_err(err)?)
            }
            LayerSpec::AvgPool { kernel, stride, padding } => {
                Box::new(AvgPool2d::with_window(Window2d::square(kernel, stride, padding)).map_err(err)?)
            }
            LayerSpec::Relu => Box::new(ReLU),
            LayerSpec::Flatten => Box::new(Flatten),
            LayerSpec::BatchNorm if shape.len() == 1 => Box::new(BatchNorm::new_1d(shape[0]).map_err(err)?),
            LayerSpec::BatchNorm => Box::new(BatchNorm::new_2d(shape[0]).map_err(err)?),
            LayerSpec::Dropout { p } => Box::new(Dropout::new(p, i as u64).map_err(err)?),
            LayerSpec::Tanh => Box::new(Tanh),
            LayerSpec::Sigmoid => Box::new(Sigmoid),
            LayerSpec::LeakyRelu { slope } => Box::new(LeakyReLU::new(slope).map_err(err)?),
            LayerSpec::Linear { out } => Box::new(Linear::new(shape[0], out, rng).map_err(err)?),
        };
        net.push_boxed(layer);
        shape = &planned.output;
    }
    Ok(net)
}
