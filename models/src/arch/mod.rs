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

use crate::lenet5::LeNet5;

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

    /// Builds the network for inputs of shape `input = [C, H, W]` and, when given,
    /// `classes` outputs, with weights drawn from `rng` (PyTorch's initialisation), checking
    /// every layer's shape on the way.
    pub fn build<T: Element, R: Rng + ?Sized>(
        &self,
        input: [usize; 3],
        classes: Option<usize>,
        rng: &mut R,
    ) -> Result<Box<dyn Module<T>>, SpecError> {
        let whole = |reason: String| SpecError { position: None, text: String::new(), reason };
        match self {
            Arch::LeNet5 => {
                let net = LeNet5::<T>::new(rng).map_err(|e| whole(e.to_string()))?;
                let out = net
                    .output_shape(&[1, input[0], input[1], input[2]])
                    .map_err(|e| whole(format!("LeNet-5 takes 1×32×32 images (pad 28×28 ones by 2): {e}")))?;
                if let Some(classes) = classes.filter(|&c| out[1] < c) {
                    return Err(whole(format!("LeNet-5 gives 10 outputs, the data has {classes} classes")));
                }
                Ok(Box::new(net))
            }
            Arch::Layers(layers) => Ok(Box::new(build_layers(layers, input, classes, rng)?)),
        }
    }
}

/// The [`Sequential`] of `layers` for inputs `[C, H, W]` and, when given, `classes` outputs.
pub fn build_layers<T: Element, R: Rng + ?Sized>(
    layers: &[LayerSpec],
    input: [usize; 3],
    classes: Option<usize>,
    rng: &mut R,
) -> Result<Sequential<T>, SpecError> {
    {
        let mut net = Sequential::<T>::new();
        let mut shape = vec![1, input[0], input[1], input[2]];
        for (i, spec) in layers.iter().enumerate() {
            let err = |reason: String| SpecError { position: Some(i + 1), text: spec.to_string(), reason };
            let need4 = |what: &str| {
                if shape.len() == 4 {
                    Ok(())
                } else {
                    Err(err(format!("{what} needs a 4-D input [N, C, H, W], got {}", show(&shape))))
                }
            };
            let layer: Box<dyn Module<T>> = match *spec {
                LayerSpec::Conv { out, kernel, stride, padding } => {
                    need4("conv")?;
                    let config = Conv2dConfig::new(shape[1], out, kernel).stride(stride).padding(padding);
                    Box::new(Conv2d::new(config, rng).map_err(|e| err(e.to_string()))?)
                }
                LayerSpec::MaxPool { kernel, stride, padding } => {
                    need4("maxpool")?;
                    let window = Window2d::square(kernel, stride, padding);
                    Box::new(MaxPool2d::with_window(window).map_err(|e| err(e.to_string()))?)
                }
                LayerSpec::Relu => Box::new(ReLU),
                LayerSpec::Flatten => Box::new(Flatten),
                LayerSpec::BatchNorm => {
                    let bn = match shape.len() {
                        2 => BatchNorm::new_1d(shape[1]),
                        4 => BatchNorm::new_2d(shape[1]),
                        _ => {
                            return Err(err(format!(
                                "batchnorm needs a 2-D [N, C] or 4-D [N, C, H, W] input, got {}",
                                show(&shape)
                            )));
                        }
                    };
                    Box::new(bn.map_err(|e| err(e.to_string()))?)
                }
                LayerSpec::Dropout { p } => Box::new(Dropout::new(p, i as u64).map_err(|e| err(e.to_string()))?),
                LayerSpec::AvgPool { kernel, stride, padding } => {
                    need4("avgpool")?;
                    let window = Window2d::square(kernel, stride, padding);
                    Box::new(AvgPool2d::with_window(window).map_err(|e| err(e.to_string()))?)
                }
                LayerSpec::Tanh => Box::new(Tanh),
                LayerSpec::Sigmoid => Box::new(Sigmoid),
                LayerSpec::LeakyRelu { slope } => Box::new(LeakyReLU::new(slope).map_err(|e| err(e.to_string()))?),
                LayerSpec::Linear { out } => {
                    if shape.len() != 2 {
                        return Err(err(format!(
                            "linear needs a 2-D input [N, F], got {} (put flatten before it)",
                            show(&shape)
                        )));
                    }
                    Box::new(Linear::new(shape[1], out, rng).map_err(|e| err(e.to_string()))?)
                }
            };
            shape = layer.output_shape(&shape).map_err(|e| match e {
                LayerError::InputShape { .. } => err(format!("does not fit its input {}", show(&shape))),
                other => err(other.to_string()),
            })?;
            net.push_boxed(layer);
        }
        if let Some(classes) = classes.filter(|&c| shape.len() != 2 || shape[1] < c) {
            let last = layers.len();
            return Err(SpecError {
                position: Some(last),
                text: layers[last - 1].to_string(),
                reason: format!(
                    "the network's output is {}, but the data has {classes} classes: end with linear({classes})",
                    show(&shape)
                ),
            });
        }
        Ok(net)
    }
}

/// `[N, 16, 5, 5]` for a shape whose first axis is the batch.
fn show(shape: &[usize]) -> String {
    let rest: Vec<String> = shape.iter().skip(1).map(usize::to_string).collect();
    if rest.is_empty() { "[N]".into() } else { format!("[N, {}]", rest.join(", ")) }
}
