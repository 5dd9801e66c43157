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
//!
//! e.g. `conv(16,3,p=1) relu conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu
//! linear(10)`. The network is a [`Sequential`] whose parameters are named by position
//! (`0.weight`, `0.bias`, `2.weight`, …), so PyTorch's `nn.Sequential` of the same layers
//! loads its checkpoint with `strict=True`. The preset `lenet5` is [`LeNet5`], whose
//! parameters keep their names `c1.*` … `f7.*`.
//!
//! A spec that does not parse, or does not fit its input (a kernel larger than its map,
//! `linear` on a 4-D output, a last layer without one output per class), is a [`SpecError`]
//! naming the layer's position, its text and the shapes.

use std::fmt;
use std::str::FromStr;

use layers::{Conv2d, Conv2dConfig, Flatten, LayerError, Linear, MaxPool2d, Module, ReLU, Sequential};
use rand::Rng;
use tensor::{Element, Window2d};

use crate::lenet5::LeNet5;

/// One layer of a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        }
    }
}

/// A network: the LeNet-5 preset or a list of layers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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

const NAMES: [&str; 6] = ["conv", "maxpool", "relu", "flatten", "linear", "lenet5"];

impl FromStr for Arch {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let tokens = tokens(spec)?;
        if tokens.is_empty() {
            return Err(SpecError { position: None, text: String::new(), reason: "the spec has no layer".into() });
        }
        if tokens.len() == 1 && tokens[0] == "lenet5" {
            return Ok(Arch::LeNet5);
        }
        let layers = tokens.iter().enumerate().map(|(i, t)| parse_layer(i + 1, t)).collect::<Result<_, _>>()?;
        Ok(Arch::Layers(layers))
    }
}

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

/// Splits a spec at whitespace outside parentheses.
fn tokens(spec: &str) -> Result<Vec<String>, SpecError> {
    let (mut out, mut current, mut depth) = (Vec::new(), String::new(), 0i32);
    for ch in spec.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            let position = Some(out.len() + 1);
            return Err(SpecError { position, text: format!("{current})"), reason: "a ')' without its '('".into() });
        }
        if ch.is_whitespace() && depth == 0 {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else if !(ch.is_whitespace() && depth > 0) {
            current.push(ch);
        }
    }
    if depth != 0 {
        return Err(SpecError { position: Some(out.len() + 1), text: current, reason: "a '(' without its ')'".into() });
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

fn parse_layer(position: usize, token: &str) -> Result<LayerSpec, SpecError> {
    let err = |reason: String| SpecError { position: Some(position), text: token.to_string(), reason };
    let (name, args) = match token.split_once('(') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix(')').ok_or_else(|| err("text after the closing ')'".into()))?;
            (name, Some(inner))
        }
        None => (token, None),
    };
    let (positional, named) = match args {
        Some(inner) => arguments(inner).map_err(&err)?,
        None => (Vec::new(), Vec::new()),
    };
    let expect = |usage: &str, min: usize, max: usize, keys: &[&str]| -> Result<(), SpecError> {
        if args.is_some() && max == 0 {
            return Err(err(format!("{name} takes no arguments (expected {usage})")));
        }
        if positional.len() < min || positional.len() > max || args.is_none() && min > 0 {
            return Err(err(format!("expected {usage}")));
        }
        if let Some((k, _)) = named.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
            return Err(err(format!("unknown argument {k:?} (expected {usage})")));
        }
        Ok(())
    };
    let key = |k: &str| named.iter().rev().find(|(n, _)| n == k).map(|(_, v)| *v);
    let layer = match name {
        "conv" => {
            expect("conv(OUT,K[,s=S][,p=P])", 2, 2, &["s", "p"])?;
            LayerSpec::Conv {
                out: positional[0],
                kernel: positional[1],
                stride: key("s").unwrap_or(1),
                padding: key("p").unwrap_or(0),
            }
        }
        "maxpool" => {
            expect("maxpool(K[,s=S][,p=P])", 1, 1, &["s", "p"])?;
            let kernel = positional[0];
            LayerSpec::MaxPool { kernel, stride: key("s").unwrap_or(kernel), padding: key("p").unwrap_or(0) }
        }
        "relu" => {
            expect("relu", 0, 0, &[])?;
            LayerSpec::Relu
        }
        "flatten" => {
            expect("flatten", 0, 0, &[])?;
            LayerSpec::Flatten
        }
        "linear" => {
            expect("linear(OUT)", 1, 1, &[])?;
            LayerSpec::Linear { out: positional[0] }
        }
        "lenet5" => return Err(err("the preset lenet5 stands alone: it is the whole network".into())),
        other => {
            let near = NAMES.iter().min_by_key(|n| edit_distance(n, other)).filter(|n| edit_distance(n, other) <= 2);
            let hint = near.map(|n| format!("; did you mean {n}?")).unwrap_or_default();
            return Err(err(format!("unknown layer {other:?} (layers: {}){hint}", NAMES.join(", "))));
        }
    };
    let zero = match layer {
        LayerSpec::Conv { out, kernel, stride, .. } => out == 0 || kernel == 0 || stride == 0,
        LayerSpec::MaxPool { kernel, stride, .. } => kernel == 0 || stride == 0,
        LayerSpec::Linear { out } => out == 0,
        _ => false,
    };
    if zero {
        return Err(err("sizes, kernels and strides must be at least 1".into()));
    }
    Ok(layer)
}

/// Positional and named arguments of a layer.
type Arguments = (Vec<usize>, Vec<(String, usize)>);

/// `"16, 3, s=2"` → `([16, 3], [("s", 2)])`.
fn arguments(inner: &str) -> Result<Arguments, String> {
    let (mut positional, mut named) = (Vec::new(), Vec::new());
    for item in inner.split(',').map(str::trim) {
        let number = |v: &str| v.trim().parse::<usize>().map_err(|_| format!("{v:?} is not a whole number"));
        match item.split_once('=') {
            Some((k, v)) => named.push((k.trim().to_string(), number(v)?)),
            None if !named.is_empty() => return Err(format!("{item:?}: positional arguments come first")),
            None if item.is_empty() => return Err("an empty argument".into()),
            None => positional.push(number(item)?),
        }
    }
    Ok((positional, named))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
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
