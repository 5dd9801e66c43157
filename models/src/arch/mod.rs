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
//! `num_batches_tracked` included). A [`Preset`] is a spec with names of its own: the preset
//! `lenet5` ([`LENET5`]) is the same machinery with the derivation's names, so its
//! parameters are `c1.*` … `f7.*`. The preset `lenet5-1998` is LeCun's 1998 network written as
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

/// LeCun's 1998 LeNet-5 as a spec (the preset `lenet5-1998`): tanh squashing and average
/// subsampling, on 1×28×28 inputs (the first convolution's padding stands for the 32×32
/// frame of the paper).
pub const LENET5_1998: &str =
    "conv(6,5,p=2) tanh avgpool(2) conv(16,5) tanh avgpool(2) conv(120,5) tanh flatten linear(84) tanh linear(10)";

/// LeNet-5 as layers (ReLU, max-pooling, on 1×32×32): the spec of the preset [`LENET5`].
pub const LENET5_LAYERS: &str =
    "conv(6,5) relu maxpool(2) conv(16,5) relu maxpool(2) conv(120,5) relu flatten linear(84) relu linear(10)";

/// A named network: a spec whose layers carry names of their own (the derivation's `c1`,
/// `s2`, … `f7` for LeNet-5), so that its parameters are `c1.weight`, … instead of
/// `0.weight`, and the explorer and the shapes table write the derivation's notation.
#[derive(Debug, PartialEq, Eq)]
pub struct Preset {
    /// The token that stands for it in a spec: `lenet5`.
    pub name: &'static str,
    /// How people write it: `LeNet-5`.
    pub title: &'static str,
    /// Its layers in a line, in the derivation's names.
    pub summary: &'static str,
    /// Its layers.
    pub spec: &'static str,
    /// The name of each layer of [`Preset::spec`], as a [`Sequential`] names it: a letter and
    /// the derivation's number for a layer of its own (`c1`: C1, layer 1 of the derivation), the
    /// stage's name and the layer's kind for an activation or a flatten (`c1.relu`).
    pub names: &'static [&'static str],
    /// The one input shape it takes, `[C, H, W]` after preprocessing.
    pub input: [usize; 3],
    /// The padding that makes MNIST's images that input.
    pub pad: usize,
    /// Its cards on the explorer page, one per stage (a layer with the activation and
    /// flatten named after it), in the derivation's words; with cards, the page writes the
    /// derivation's notation (`a⁽ⁿ⁻¹⁾`, `z⁽ⁿ⁾`, `output⁽ⁿ⁾`).
    pub cards: &'static [StageCard],
    /// The integer scale the page draws its input at (0: the page's own choice).
    pub input_scale: usize,
}

/// One stage of a [`Preset`] on the explorer page: its card's title and text, forward and
/// backward, with the sections of `docs/derivation.md` they link to.
#[derive(Debug, PartialEq, Eq)]
pub struct StageCard {
    /// `C1`: the stage's name as the derivation writes it.
    pub title: &'static str,
    /// What the stage does, in a line.
    pub what: &'static str,
    /// The derivation's section on its forward pass.
    pub section: &'static str,
    /// What its backward pass does, in a line.
    pub back_what: &'static str,
    /// The derivation's section on its backward pass.
    pub back_section: &'static str,
    /// The integer scales the page draws the stage's output maps and their gradient at (0:
    /// the page's own choice).
    pub scales: [usize; 2],
}

impl StageCard {
    const fn new(
        title: &'static str,
        (what, section): (&'static str, &'static str),
        (back_what, back_section): (&'static str, &'static str),
        scales: [usize; 2],
    ) -> Self {
        StageCard { title, what, section, back_what, back_section, scales }
    }
}

/// LeNet-5 as the derivation computes it, the preset `lenet5`: parameters `c1.*` … `f7.*`
/// in PyTorch's layouts (the `state_dict` of an `nn.Module` with attributes `c1, c3, c5`,
/// `nn.Conv2d`, and `f6, f7`, `nn.Linear`), on 1×32×32 images (MNIST's padded by 2).
pub const LENET5: Preset = Preset {
    name: "lenet5",
    title: "LeNet-5",
    summary: "LeNet5(C1 6@5×5, S2, C3 16@5×5, S4, C5 120@5×5, F6 84, F7 10)",
    spec: LENET5_LAYERS,
    names: &["c1", "c1.relu", "s2", "c3", "c3.relu", "s4", "c5", "c5.relu", "c5.flatten", "f6", "f6.relu", "f7"],
    input: [1, 32, 32],
    pad: 2,
    input_scale: 6,
    cards: &[
        StageCard::new(
            "C1",
            ("convolution 1→6, 5×5: im2col, one matrix product, bias, ReLU, back to maps", "c1"),
            ("∇W⁽¹⁾ = a⁽⁰⁾ᵀ·∇z⁽¹⁾: 784 rows summed", "c1-1"),
            [3, 4],
        ),
        StageCard::new(
            "S2",
            ("max-pool 2×2, stride 2: one row per window, the max of each row", "s2"),
            ("the max-pool routing on C1's 28×28 maps", "s2-1"),
            [5, 5],
        ),
        StageCard::new(
            "C3",
            ("convolution 6→16, 5×5: each row of a⁽²⁾ holds 6 maps × 25 pixels", "c3"),
            ("col2im adds the overlapping copies back", "c3-1"),
            [6, 7],
        ),
        StageCard::new(
            "S4",
            ("max-pool 2×2, stride 2", "s4"),
            ("the max-pool routing: each window passes its gradient to its argmax (dots), zero elsewhere", "s4-1"),
            [10, 10],
        ),
        StageCard::new(
            "C5",
            ("convolution 16→120, 5×5: the kernel covers the whole 5×5 map, so a⁽⁴⁾ is one row", "c5"),
            ("∇W = aᵀ·∇z, ∇b = column sums of ∇z, ∇a = ∇z·Wᵀ", "c5-1"),
            [0, 0],
        ),
        StageCard::new(
            "F6",
            ("fully connected 120→84, ReLU", "f6-and-f7"),
            ("through the ReLU: keep ∇ where z > 0", "f6"),
            [0, 0],
        ),
        StageCard::new(
            "F7",
            ("fully connected 84→10: the logits", "f6-and-f7"),
            ("∇z⁽⁷⁾ = P − Y starts it all (N = 1)", "f7"),
            [0, 0],
        ),
    ],
};

/// A network: a list of layers, named by their positions (`0.weight`, …) or, for a
/// [`Preset`], by its names.
#[derive(Debug, Clone, PartialEq)]
pub struct Arch {
    layers: Vec<LayerSpec>,
    preset: Option<&'static Preset>,
}

impl Default for Arch {
    /// LeNet-5.
    fn default() -> Self {
        Arch::preset(&LENET5)
    }
}

impl From<Vec<LayerSpec>> for Arch {
    fn from(layers: Vec<LayerSpec>) -> Self {
        Arch { layers, preset: None }
    }
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
pub use parse::MAX_NESTING;
pub use plan::{LayerPlan, NetworkPlan, plan_layers};

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(preset) = self.preset {
            return f.write_str(preset.name);
        }
        let text: Vec<String> = self.layers.iter().map(LayerSpec::to_string).collect();
        f.write_str(&text.join(" "))
    }
}

impl Arch {
    /// LeNet-5, the preset [`LENET5`].
    pub fn lenet5() -> Self {
        Arch::preset(&LENET5)
    }

    /// The network `preset` names.
    pub fn preset(preset: &'static Preset) -> Self {
        match Kinds::builtin().parse(preset.spec) {
            Ok(arch) => Arch { layers: arch.layers, preset: Some(preset) },
            Err(e) => unreachable!("the preset {}'s spec is valid: {e}", preset.name),
        }
    }

    /// The preset this network is, if any.
    pub fn named(&self) -> Option<&'static Preset> {
        self.preset
    }

    /// Whether it is LeNet-5 (the preset [`LENET5`]).
    pub fn is_lenet5(&self) -> bool {
        self.preset == Some(&LENET5)
    }

    /// The network in a message: the preset's title (`LeNet-5`), or the spec in quotes.
    pub fn title(&self) -> String {
        self.preset.map_or_else(|| format!("\"{self}\""), |p| p.title.to_string())
    }

    /// The padding that makes the data fit by default: the preset's (2 for LeNet-5:
    /// MNIST's 28×28 to its 32×32), else 0.
    pub fn default_pad(&self) -> usize {
        self.preset.map_or(0, |p| p.pad)
    }

    /// The input shape `[C, H, W]` assumed when none is given: the preset's, else MNIST's
    /// 1×28×28.
    pub fn default_input(&self) -> [usize; 3] {
        self.preset.map_or([1, 28, 28], |p| p.input)
    }

    /// The network's layers.
    pub fn layers(&self) -> &[LayerSpec] {
        &self.layers
    }

    /// The name of layer `i` in the built network: the preset's, else its position.
    pub fn layer_name(&self, i: usize) -> String {
        self.preset.and_then(|p| p.names.get(i)).map_or_else(|| i.to_string(), |n| n.to_string())
    }

    /// The network's sizes for inputs of shape `input = [C, H, W]` and, when given,
    /// `classes` outputs, from shapes alone ([`plan_layers`]): the check [`Arch::build`]
    /// makes before it allocates anything. A preset takes its own input only.
    pub fn plan(&self, input: [usize; 3], classes: Option<usize>) -> Result<NetworkPlan, SpecError> {
        if let Some(preset) = self.preset.filter(|p| p.input != input) {
            let ([c, h, w], [pc, ph, pw]) = (input, preset.input);
            return Err(SpecError::whole(format!(
                "{} takes {pc}×{ph}×{pw} images (pad 28×28 ones by {}), not {c}×{h}×{w}",
                preset.title, preset.pad
            )));
        }
        Ok(NetworkPlan { preset: self.preset, ..plan_layers(&self.layers, input, classes)? })
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
        Ok(Box::new(self.build_sequential(input, classes, rng)?))
    }

    /// [`Arch::build`] as the [`Sequential`] it is, its layers named by [`Arch::layer_name`].
    pub fn build_sequential<T: Element, R: Rng + ?Sized>(
        &self,
        input: [usize; 3],
        classes: Option<usize>,
        rng: &mut R,
    ) -> Result<Sequential<T>, SpecError> {
        let plan = self.plan(input, classes)?;
        let mut rng = rng;
        let mut net = Sequential::<T>::new();
        let mut shape: &[usize] = &plan.input;
        for (i, (spec, planned)) in plan.layers.iter().enumerate() {
            let mut at = BuildContext { index: i, input: shape, rng: &mut rng };
            let layer = spec.build(&mut at).map_err(|e| SpecError::at(i + 1, spec, e.to_string()))?;
            net.push_named(&self.layer_name(i), layer);
            shape = &planned.output;
        }
        Ok(net)
    }
}

/// The [`Sequential`] of `layers` (named by their positions) for inputs `[C, H, W]` and,
/// when given, `classes` outputs: planned first ([`plan_layers`]), so that a spec that does
/// not fit allocates nothing.
pub fn build_layers<T: Element, R: Rng + ?Sized>(
    layers: &[LayerSpec],
    input: [usize; 3],
    classes: Option<usize>,
    rng: &mut R,
) -> Result<Sequential<T>, SpecError> {
    Arch::from(layers.to_vec()).build_sequential(input, classes, rng)
}
