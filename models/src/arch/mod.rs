//! Networks described by a line of text: `lenet5 train --arch SPEC`.
//!
//! A spec is layers separated by whitespace (spaces inside parentheses allowed), each a
//! layer of one [`Kind`], e.g. `conv(16,3,p=1) relu conv(32,3,s=2,p=1) relu maxpool(3,s=2)
//! flatten linear(64) relu linear(10)`. Each kind is one file of [`kinds`] (its token and
//! arguments, parser, canonical text, sizes, builder, PyTorch module and, for the explorer
//! page, its matrices), listed once in [`Kinds::builtin`]; [`Kinds::markdown_table`] is the
//! table of them the README shows. A kind of your own joins a copy of the list
//! ([`Kinds::register`]) and parses with [`Kinds::parse`]; `docs/adding-a-layer.md` walks
//! through one.
//!
//! The network is a [`Sequential`] whose parameters are named by position (`0.weight`,
//! `0.bias`, `2.weight`, …), so PyTorch's `nn.Sequential` of the same layers loads its
//! checkpoint with `strict=True` (batch norm's buffers `running_mean`, `running_var` and
//! `num_batches_tracked` included). The preset `lenet5` is [`LeNet5`], whose parameters keep
//! their names `c1.*` … `f7.*`. The preset `lenet5-1998` is LeCun's 1998 network written as
//! layers ([`LENET5_1998`]): tanh squashing and average subsampling, the first convolution
//! padded by 2 so that MNIST's 28×28 images need no other padding.
//!
//! A spec that does not parse, or does not fit its input (a kernel larger than its map,
//! `linear` on a 4-D output, a last layer without one output per class), is a [`SpecError`]
//! naming the layer's position, its text and the shapes.

use std::fmt;

use layers::{Module, Sequential};
use rand::Rng;
use tensor::Element;

use crate::lenet5::{self, LeNet5};

/// LeCun's 1998 LeNet-5 as a spec (the preset `lenet5-1998`): tanh squashing and average
/// subsampling, on 1×28×28 inputs (the first convolution's padding stands for the 32×32
/// frame of the paper).
pub const LENET5_1998: &str =
    "conv(6,5,p=2) tanh avgpool(2) conv(16,5) tanh avgpool(2) conv(120,5) tanh flatten linear(84) tanh linear(10)";

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

impl SpecError {
    /// An error about the whole spec (no layer's position).
    pub fn whole(reason: impl Into<String>) -> Self {
        SpecError { position: None, text: String::new(), reason: reason.into() }
    }

    /// An error about layer `layer` (at `position`, from 1).
    pub fn at(position: usize, layer: &LayerSpec, reason: impl Into<String>) -> Self {
        SpecError { position: Some(position), text: layer.to_string(), reason: reason.into() }
    }
}

pub mod args;
mod kind;
pub mod kinds;
mod parse;
pub mod plan;
pub mod resnet;

pub use args::{ArgError, Args};
pub use kind::{BuildContext, Kind, LayerSpec};
pub use kinds::{KindEntry, KindError, Kinds};
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
        // LeNet-5's C5 covers the whole 5×5 map of a 32×32 input: any other size would plan
        // an F6 that `LeNet5` does not have.
        if *self == Arch::LeNet5 && input != [1, 32, 32] {
            let [c, h, w] = input;
            return Err(SpecError::whole(format!(
                "LeNet-5 takes 1×32×32 images (pad 28×28 ones by 2), not {c}×{h}×{w}"
            )));
        }
        let plan = plan?;
        if let Some(classes) = classes.filter(|&c| plan.output()[0] < c) {
            return match self {
                Arch::LeNet5 => Err(SpecError::whole(format!(
                    "LeNet-5 gives {} outputs, the data has {classes} classes",
                    lenet5::CLASSES
                ))),
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
            Arch::LeNet5 => Ok(Box::new(LeNet5::<T>::new(rng).map_err(|e| SpecError::whole(e.to_string()))?)),
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
    let mut rng = rng;
    let mut net = Sequential::<T>::new();
    let mut shape: &[usize] = &plan.input;
    for (i, (spec, planned)) in plan.layers.iter().enumerate() {
        let mut at = BuildContext { index: i, input: shape, rng: &mut rng };
        net.push_boxed(spec.build(&mut at).map_err(|e| SpecError::at(i + 1, spec, e.to_string()))?);
        shape = &planned.output;
    }
    Ok(net)
}
