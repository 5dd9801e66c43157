//! Every matrix of one image's forward and backward pass through any network of layers,
//! LeNet-5 included, each layer in the derivation's matrix form as its kind shows it
//! ([`Kind::show_forward`](crate::arch::Kind::show_forward), in the kind's file).
//!
//! Layer `i` reads `x⁽ⁱ⁾` (the image for `i = 0`, else `y⁽ⁱ⁻¹⁾`) and writes `y⁽ⁱ⁾`: a
//! convolution as `a⁽ⁱ⁾ = im2col(x⁽ⁱ⁾)`, `z⁽ⁱ⁾ = a⁽ⁱ⁾·W⁽ⁱ⁾ + b⁽ⁱ⁾`, `y⁽ⁱ⁾ = maps(z⁽ⁱ⁾)`; a
//! pool as its window matrix; a linear layer as `y⁽ⁱ⁾ = x⁽ⁱ⁾·W⁽ⁱ⁾ + b⁽ⁱ⁾`; a kind that shows
//! nothing of its own as its module's forward pass. A preset with stage cards (LeNet-5) is
//! shown stage by stage in the derivation's notation (`explorer/names.rs`): the same kinds,
//! named `a⁽⁰⁾`, `z⁽¹⁾`, `output⁽¹⁾`, … because the preset's names say so.
//!
//! Each shown matrix gets a *probe*: a zero leaf added to it, whose gradient the tape
//! reports as the gradient of the matrix (`∂(v + 0)/∂0 = ∂/∂v`). One `tape.backward` of the
//! cross-entropy for the chosen label then gives `∇y⁽ᴸ⁾ = P − Y` (N = 1), every `∇z`, `∇a`,
//! `∇x`, and from the parameters `∇W`, `∇b`: the framework's own VJPs, nothing recomputed by
//! hand.

use autograd::{Tape, softmax_rows};
use layers::{Module, Sequential};
use serde::Serialize;
use tensor::Tensor;

use super::layer_at::LayerAt;
use super::layer_view::{Backward, Forward};
use super::names::{Names, Stage, stages};
use super::net::layer_title;
use super::recorder::Recorder;
use super::{ExplorerError, Link, Matrix};
use crate::arch::kinds::Flatten;
use crate::arch::{Arch, LayerSpec};

/// The result for one image and one label.
#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    /// The label the backward pass is for.
    pub label: usize,
    /// The class with the largest probability (first on ties).
    pub prediction: usize,
    /// `P = softmax(y⁽ᴸ⁾)`.
    pub probabilities: Vec<f32>,
    /// The cross-entropy `−ln P[label]`.
    pub loss: f32,
    /// The forward matrices, in order.
    pub forward: Vec<Matrix>,
    /// The backward matrices, from `∇y⁽ᴸ⁾ = P − Y` (LeNet-5: `∇z⁽⁷⁾`) down to the first
    /// layer's.
    pub backward: Vec<Matrix>,
    /// Each window layer's row ↔ window ↔ pixel geometry, for the page's links.
    pub links: Vec<Link>,
}

/// Every matrix of the forward pass of `x: [1, C, H, W]` (preprocessed) through `model`
/// (in evaluation mode, built from `specs`), and of the backward pass of the cross-entropy
/// for `label` (default: the prediction), each layer named by its position.
pub fn layers_pass(
    specs: &[LayerSpec],
    model: &Sequential<f32>,
    x: Tensor<f32>,
    label: Option<usize>,
) -> Result<Pass, ExplorerError> {
    pass(&Arch::from(specs.to_vec()), model, x, label)
}

/// Every matrix of the forward pass of `x: [1, C, H, W]` (preprocessed) through `model`
/// (in evaluation mode, built from `arch`), and of the backward pass of the cross-entropy
/// for `label` (default: the prediction); in the derivation's notation when `arch` is a
/// preset with stage cards (LeNet-5).
pub fn pass(arch: &Arch, model: &Sequential<f32>, x: Tensor<f32>, label: Option<usize>) -> Result<Pass, ExplorerError> {
    let specs = arch.layers();
    if specs.len() != model.len() {
        return Err(ExplorerError::Internal(format!("{} specs for {} layers", specs.len(), model.len())));
    }
    let layers: Vec<&dyn Module<f32>> = model.layers().collect();
    let preset = arch.named();
    let stages = stages(specs, preset)
        .ok_or_else(|| ExplorerError::Internal("the preset's names do not fit its layers".into()))?;
    let derivation = stages.first().is_some_and(|s| s.card.is_some());
    let tape = Tape::new();
    let mut r = Recorder::new(&tape);
    let input = match preset.filter(|_| derivation) {
        Some(p) if p.pad > 0 => "x = normalise(pad(image))",
        Some(_) => "x = normalise(image)",
        None => "x⁽⁰⁾ = normalise(image)",
    };
    let mut h = r.probe("x".into(), "input", input.into(), "input", tape.constant(x))?;
    let mut heads = Vec::with_capacity(stages.len());
    let mut previous: Option<(usize, (String, String), bool)> = None;
    for (k, stage) in stages.iter().enumerate() {
        let i = stage.layers.start;
        let output_shape = layers[i].output_shape(&h.shape())?;
        let at = head(stage, k.checked_sub(1).map(|p| &stages[p]), specs, &layers, &output_shape, &previous, &r)?;
        h = specs[i].erased().show_forward(&mut Forward::new(&mut r, at.clone(), output_shape), h)?;
        for j in stage.layers.clone().skip(1) {
            if specs[j].is::<Flatten>() {
                h = layers[j].forward(h)?;
            }
        }
        if let Some((_, n, _)) = stage.card {
            previous = Some((n, r.output.clone(), r.output_maps));
        }
        heads.push((at, stage, r.output.0.clone()));
    }
    let out = h.shape();
    if out.len() != 2 || out[0] != 1 {
        return Err(ExplorerError::Internal(format!("the network's output is {out:?}, expected [1, classes]")));
    }
    if let Some(l) = label.filter(|l| *l >= out[1]) {
        return Err(ExplorerError::Input(format!("label {l} is not a class 0–{}", out[1] - 1)));
    }
    let probs = softmax_rows(&h.value())?;
    let p_formula = format!("P = softmax({})", r.output.1);
    let mut p = Matrix::new("P", "softmax", &p_formula, "softmax-and-the-loss", &[1, out[1]], &probs);
    p.op = Some("→");
    r.forward.push(p);
    let probabilities = probs.to_vec();
    let prediction = first_max(&probabilities);
    let label = label.unwrap_or(prediction);
    let loss = h.softmax_cross_entropy(&[label])?;
    let grads = tape.backward(loss)?;

    let mut back = Vec::new();
    let last = heads.len().checked_sub(1).ok_or_else(|| ExplorerError::Internal("the network has no layers".into()))?;
    for (k, (at, stage, _)) in heads.iter().enumerate().rev() {
        let i = stage.layers.start;
        let section = stage.card.map_or_else(|| specs[i].erased().sections().1, |(card, _, _)| card.back_section);
        let at = LayerAt { section, ..at.clone() };
        let mut l = Backward::new(&r, &grads, at.clone(), &mut back);
        if k == last {
            l.push("dy", l.f("∇{y} = P − Y"), r.grad(&grads, &at.id("y"))?);
        }
        l.show_layer(at, &specs[i])?;
    }
    for m in &mut back {
        if let Some(columns) = m.id.strip_prefix('d').and_then(|id| r.argmax.get(id)) {
            m.argmax = Some(columns.clone());
        }
    }
    if let Some(preset) = preset.filter(|_| derivation) {
        scale(&mut r.forward, &mut back, preset.input_scale, &heads);
    }
    Ok(Pass {
        label,
        prediction,
        probabilities,
        loss: loss.value().item()?,
        forward: r.forward,
        backward: back,
        links: r.links,
    })
}

/// The head layer of `stage` (after `before`), named by position or, with a preset's card,
/// in the derivation's notation: reading the output of the stage before (`previous`: its
/// number, panel and whether it is maps), its activation fused on its rows.
fn head<'a>(
    stage: &Stage<'_>,
    before: Option<&Stage<'_>>,
    specs: &'a [LayerSpec],
    layers: &[&'a dyn Module<f32>],
    output_shape: &[usize],
    previous: &Option<(usize, (String, String), bool)>,
    r: &Recorder<'_>,
) -> Result<LayerAt<'a>, ExplorerError> {
    let i = stage.layers.start;
    let (spec, layer) = (&specs[i], layers[i]);
    let Some((card, n, name)) = stage.card else {
        let key = i.to_string();
        let mut at = LayerAt::new(
            Names::by_position(&key, &key, &r.output.0),
            &layer_title(i, spec),
            spec.erased().sections().0,
            layer,
        );
        at.output_grad = format!("dx{}", i + 1);
        return Ok(at);
    };
    let mut fused = stage.layers.clone().skip(1).filter(|j| !specs[*j].is::<Flatten>());
    let activation = fused.next();
    if fused.next().is_some() {
        return Err(ExplorerError::Internal(format!("stage {} fuses more than one activation", card.title)));
    }
    let vector = output_shape.len() == 2 || output_shape.iter().skip(2).product::<usize>() == 1;
    let input = previous.as_ref().map(|(m, panel, maps)| (*m, panel, *maps));
    let names = Names::derivation(n, name, input, activation.is_some(), vector);
    let mut at = LayerAt::new(names, card.title, card.section, layer);
    at.fused = activation.map(|j| (&specs[j], layers[j]));
    at.input_card = before.and_then(|b| b.card).map(|(card, _, _)| (card.title.to_string(), card.back_section));
    Ok(at)
}

/// The preset's scales: its input's, and each stage's output maps and their gradient.
fn scale(forward: &mut [Matrix], back: &mut [Matrix], input: usize, heads: &[(LayerAt<'_>, &Stage<'_>, String)]) {
    let some = |k: usize| (k > 0).then_some(k);
    for (_, stage, output) in heads {
        let Some((card, _, _)) = stage.card else { continue };
        let gradient = format!("d{output}");
        forward.iter_mut().filter(|m| m.id == *output).for_each(|m| m.scale = some(card.scales[0]));
        back.iter_mut().filter(|m| m.id == gradient).for_each(|m| m.scale = some(card.scales[1]));
    }
    forward.iter_mut().filter(|m| m.id == "x").for_each(|m| m.scale = some(input));
}

/// The index of the first largest value.
pub(crate) fn first_max(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, x)| if *x > v[best] { i } else { best })
}
