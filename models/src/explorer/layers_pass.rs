//! Every matrix of one image's forward and backward pass through any network of layers
//! (`lenet5 train --arch SPEC`), each layer in the derivation's matrix form as its kind
//! shows it ([`Kind::show_forward`](crate::arch::Kind::show_forward), in the kind's file).
//!
//! Layer `i` reads `x⁽ⁱ⁾` (the image for `i = 0`, else `y⁽ⁱ⁻¹⁾`) and writes `y⁽ⁱ⁾`: a
//! convolution as `a⁽ⁱ⁾ = im2col(x⁽ⁱ⁾)`, `z⁽ⁱ⁾ = a⁽ⁱ⁾·W⁽ⁱ⁾ + b⁽ⁱ⁾`, `y⁽ⁱ⁾ = maps(z⁽ⁱ⁾)`; a
//! pool as its window matrix; a linear layer as `y⁽ⁱ⁾ = x⁽ⁱ⁾·W⁽ⁱ⁾ + b⁽ⁱ⁾`; a kind that shows
//! nothing of its own as its module's forward pass.
//!
//! As in [`super::pass()`], each shown matrix gets a probe (a zero leaf added to it) so that
//! one `tape.backward` of the cross-entropy gives `∇y⁽ᴸ⁾ = P − Y`, every `∇z`, `∇a`, `∇x`,
//! and from the parameters `∇W`, `∇b`: the framework's own VJPs.

use autograd::{Tape, softmax_rows};
use layers::{Module, Sequential};
use tensor::Tensor;

use super::layer_at::LayerAt;
use super::layer_view::{Backward, Forward, Recorder};
use super::net::layer_title;
use super::pass::first_max;
use super::{ExplorerError, Matrix, Pass};
use crate::arch::LayerSpec;
use crate::notation::sup;

/// Every matrix of the forward pass of `x: [1, C, H, W]` (preprocessed) through `model`
/// (in evaluation mode, built from `specs`), and of the backward pass of the cross-entropy
/// for `label` (default: the prediction).
pub fn layers_pass(
    specs: &[LayerSpec],
    model: &Sequential<f32>,
    x: Tensor<f32>,
    label: Option<usize>,
) -> Result<Pass, ExplorerError> {
    if specs.len() != model.len() {
        return Err(ExplorerError::Internal(format!("{} specs for {} layers", specs.len(), model.len())));
    }
    let layers: Vec<&dyn Module<f32>> = model.layers().collect();
    let titles: Vec<String> = specs.iter().enumerate().map(|(i, spec)| layer_title(i, spec)).collect();
    let tape = Tape::new();
    let mut r = Recorder::new(&tape);
    let mut h = r.probe("x".into(), "input", "x⁽⁰⁾ = normalise(image)".into(), "input", tape.constant(x))?;
    for (i, spec) in specs.iter().enumerate() {
        let output_shape = layers[i].output_shape(&h.shape())?;
        let at = LayerAt::new(i, &titles[i], spec.erased().sections().0, layers[i]);
        h = spec.erased().show_forward(&mut Forward::new(&mut r, at, output_shape), h)?;
    }
    let last = specs.len().checked_sub(1).ok_or_else(|| ExplorerError::Internal("the network has no layers".into()))?;
    let out = h.shape();
    if out.len() != 2 || out[0] != 1 {
        return Err(ExplorerError::Internal(format!("the network's output is {out:?}, expected [1, classes]")));
    }
    if let Some(l) = label.filter(|l| *l >= out[1]) {
        return Err(ExplorerError::Input(format!("label {l} is not a class 0–{}", out[1] - 1)));
    }
    let probs = softmax_rows(&h.value())?;
    let p_formula = format!("P = softmax(y{})", sup(last));
    r.forward.push(Matrix::new("P", "softmax", &p_formula, "softmax-and-the-loss", &[1, out[1]], &probs));
    let probabilities = probs.to_vec();
    let prediction = first_max(&probabilities);
    let label = label.unwrap_or(prediction);
    let loss = h.softmax_cross_entropy(&[label])?;
    let grads = tape.backward(loss)?;

    let mut back = Vec::new();
    for (i, spec) in specs.iter().enumerate().rev() {
        let at = || LayerAt::new(i, &titles[i], spec.erased().sections().1, layers[i]);
        let mut l = Backward::new(&r, &grads, at(), &mut back);
        if i == last {
            l.push("dy", format!("∇y{} = P − Y", sup(i)), r.grad(&grads, &format!("y{i}"))?);
        }
        l.show_layer(at(), spec)?;
    }
    for m in &mut back {
        if let Some(columns) = m.id.strip_prefix("da").and_then(|key| r.argmax.get(key)) {
            m.argmax = Some(columns.clone());
        }
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
