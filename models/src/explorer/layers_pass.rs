//! Every matrix of one image's forward and backward pass through any network of layers
//! (`lenet5 train --arch SPEC`), each layer in the derivation's matrix form.
//!
//! Layer `i` reads `x⁽ⁱ⁾` (the image for `i = 0`, else `y⁽ⁱ⁻¹⁾`) and writes `y⁽ⁱ⁾`:
//!
//! - a convolution is `a⁽ⁱ⁾ = im2col(x⁽ⁱ⁾)`, `W⁽ⁱ⁾ = reshape(weight, [F, C·kh·kw])ᵀ`,
//!   `z⁽ⁱ⁾ = a⁽ⁱ⁾·W⁽ⁱ⁾ + b⁽ⁱ⁾`, `y⁽ⁱ⁾ = maps(z⁽ⁱ⁾)` (reshape and permute to `C×H×W`);
//! - a max-pool is the window matrix `a⁽ⁱ⁾` (one row per window, padding taps `−∞`) with each
//!   row's argmax, and `y⁽ⁱ⁾` its row maxima; an average pool is the window matrix with zero
//!   padding (counted in the divisor, as PyTorch) and `y⁽ⁱ⁾` its row means;
//! - a linear layer is `y⁽ⁱ⁾ = x⁽ⁱ⁾·W⁽ⁱ⁾ + b⁽ⁱ⁾` with `W⁽ⁱ⁾ = weightᵀ` (LeNet-5's F6, F7);
//! - activations, batch norm (its running statistics, evaluation mode), dropout (the
//!   identity in evaluation) and flatten are the layer's own `forward`.
//!
//! As in [`super::pass()`], each shown matrix gets a probe (a zero leaf added to it) so that
//! one `tape.backward` of the cross-entropy gives `∇y⁽ᴸ⁾ = P − Y`, every `∇z`, `∇a`, `∇x`,
//! and from the parameters `∇W`, `∇b`: the framework's own VJPs.

use std::collections::HashMap;

use autograd::{Gradients, Param, Tape, Var, softmax_rows};
use layers::{Module, Sequential};
use tensor::{Tensor, Window2d};

use super::layer_text::{Formulas, sup};
use super::net::layer_title;
use super::pass::first_max;
use super::{ExplorerError, Matrix, Pass};
use crate::arch::LayerSpec;

struct Recorder<'t> {
    tape: &'t Tape<f32>,
    forward: Vec<Matrix>,
    probes: HashMap<String, Var<'t, f32>>,
}

/// A panel's shape: `[C, H, W]` for one image's maps, `[1, n]` for a vector.
fn panel_shape(shape: &[usize]) -> Vec<usize> {
    match shape {
        [] => vec![1, 1],
        [n] => vec![1, *n],
        [1, c, h, w] => vec![*c, *h, *w],
        s => s.to_vec(),
    }
}

impl<'t> Recorder<'t> {
    fn show(&mut self, id: String, layer: &str, formula: String, section: &'static str, t: &Tensor<f32>) {
        self.forward.push(Matrix::new(&id, layer, &formula, section, &panel_shape(t.shape()), t));
    }

    /// Shows `var` and adds a probe (a zero leaf) for its gradient.
    fn probe(
        &mut self,
        id: String,
        layer: &str,
        formula: String,
        section: &'static str,
        var: Var<'t, f32>,
    ) -> Result<Var<'t, f32>, ExplorerError> {
        let zero = self.tape.leaf(Tensor::zeros(&var.shape())?);
        let var = var.add(zero)?;
        self.show(id.clone(), layer, formula, section, &var.value());
        self.probes.insert(id, zero);
        Ok(var)
    }

    fn grad<'g>(&self, grads: &'g Gradients<f32>, id: &str) -> Result<&'g Tensor<f32>, ExplorerError> {
        self.probes.get(id).and_then(|p| grads.get(*p)).ok_or_else(|| missing(id))
    }
}

fn missing(id: &str) -> ExplorerError {
    ExplorerError::Internal(format!("no gradient recorded for {id}"))
}

/// The parameters of `model` by name (`3.weight`, …).
fn params(model: &Sequential<f32>) -> HashMap<String, &Param<f32>> {
    model.named_parameters().into_iter().collect()
}

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
    let params = params(model);
    let param = |i: usize, name: &str| params.get(&format!("{i}.{name}")).copied();
    let need = |i: usize, name: &str| param(i, name).ok_or_else(|| missing(&format!("{i}.{name}")));
    let tape = Tape::new();
    let mut r = Recorder { tape: &tape, forward: Vec::new(), probes: HashMap::new() };
    let mut h = r.probe("x".into(), "input", "x⁽⁰⁾ = normalise(image)".into(), "input", tape.constant(x))?;
    let mut argmax: HashMap<usize, Vec<u8>> = HashMap::new();
    for (i, (spec, layer)) in specs.iter().zip(model.layers()).enumerate() {
        let key = layer_title(i, spec);
        let f = Formulas::new(i, spec);
        let out_shape = layer.output_shape(&h.shape())?;
        let s = sup(i);
        h = match *spec {
            LayerSpec::Conv { kernel, stride, padding, .. } => {
                let window = Window2d::square(kernel, stride, padding);
                let a = r.probe(format!("a{i}"), &key, f.a(), f.section, h.im2col(&window)?)?;
                let w = need(i, "weight")?;
                let ws = w.shape();
                let wm = tape.param(w).reshape(&[ws[0], ws[1] * ws[2] * ws[3]])?.t()?;
                r.show(format!("W{i}"), &key, f.w(), f.section, &wm.value());
                let mut z = a.matmul(wm)?;
                if let Some(b) = param(i, "bias") {
                    let b = tape.param(b);
                    r.show(format!("b{i}"), &key, format!("b{s}"), f.section, &b.value());
                    z = z.add_bias(b)?;
                }
                let z = r.probe(format!("z{i}"), &key, f.z(), f.section, z)?;
                let [n, c, oh, ow] = out_shape[..] else { return Err(missing(&format!("conv output of layer {i}"))) };
                let y = z.reshape(&[n, oh, ow, c])?.permute(&[0, 3, 1, 2])?;
                r.probe(format!("y{i}"), &key, f.y(), f.section, y)?
            }
            LayerSpec::MaxPool { kernel, stride, padding } => {
                let window = Window2d::square(kernel, stride, padding);
                let a = r.probe(format!("a{i}"), &key, f.a(), f.section, h.pool_windows(&window)?)?;
                let (_, idx) = tensor::max_argmax_rows(&a.value())?;
                let idx: Vec<u8> = idx.iter().map(|k| k.min(255) as u8).collect();
                if let Some(m) = r.forward.last_mut() {
                    m.argmax = Some(idx.clone());
                }
                argmax.insert(i, idx);
                r.probe(format!("y{i}"), &key, f.y(), f.section, a.max_rows()?.reshape(&out_shape)?)?
            }
            LayerSpec::AvgPool { kernel, stride, padding } => {
                let window = Window2d::square(kernel, stride, padding);
                let shape = h.shape();
                let [n, c, hh, ww] = shape[..] else { return Err(missing(&format!("avgpool input of layer {i}"))) };
                let windows = h.reshape(&[n * c, 1, hh, ww])?.im2col(&window)?;
                let a = r.probe(format!("a{i}"), &key, f.a(), f.section, windows)?;
                r.probe(format!("y{i}"), &key, f.y(), f.section, a.mean_axis(1, false)?.reshape(&out_shape)?)?
            }
            LayerSpec::Linear { .. } => {
                let wm = tape.param(need(i, "weight")?).t()?;
                r.show(format!("W{i}"), &key, f.w(), f.section, &wm.value());
                let mut z = h.matmul(wm)?;
                if let Some(b) = param(i, "bias") {
                    let b = tape.param(b);
                    r.show(format!("b{i}"), &key, format!("b{s}"), f.section, &b.value());
                    z = z.add_bias(b)?;
                }
                r.probe(format!("y{i}"), &key, f.y(), f.section, z)?
            }
            LayerSpec::BatchNorm => {
                r.show(format!("g{i}"), &key, format!("γ{s}"), f.section, &need(i, "weight")?.value);
                r.show(format!("be{i}"), &key, format!("β{s}"), f.section, &need(i, "bias")?.value);
                for (id, name, symbol) in [("mu", "running_mean", "μ_r"), ("var", "running_var", "σ²_r")] {
                    let buffer = layer.named_buffers().into_iter().find(|(n, _)| n == name).map(|(_, b)| b.get());
                    let value = buffer.ok_or_else(|| missing(&format!("{i}.{name}")))?;
                    r.show(format!("{id}{i}"), &key, format!("{symbol}{s}"), f.section, &value);
                }
                r.probe(format!("y{i}"), &key, f.y(), f.section, layer.forward(h)?)?
            }
            LayerSpec::Relu
            | LayerSpec::Tanh
            | LayerSpec::Sigmoid
            | LayerSpec::LeakyRelu { .. }
            | LayerSpec::Dropout { .. }
            | LayerSpec::Flatten => r.probe(format!("y{i}"), &key, f.y(), f.section, layer.forward(h)?)?,
        };
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
        let key = layer_title(i, spec);
        let f = Formulas::new(i, spec);
        let mut push = |id: String, formula: String, t: &Tensor<f32>| {
            back.push(Matrix::new(&id, &key, &formula, f.back_section, &panel_shape(t.shape()), t).signed());
        };
        let input = if i == 0 { "x".to_string() } else { format!("y{}", i - 1) };
        if i == last {
            push(format!("dy{i}"), format!("∇y{} = P − Y", sup(i)), r.grad(&grads, &format!("y{i}"))?);
        }
        let param_grad = |name: &str| -> Result<Tensor<f32>, ExplorerError> {
            let p = need(i, name)?;
            Ok(grads.param(p).ok_or_else(|| missing(&format!("{i}.{name}")))?.clone())
        };
        match spec {
            LayerSpec::Conv { .. } => {
                push(format!("dz{i}"), f.dz(), r.grad(&grads, &format!("z{i}"))?);
                let g = param_grad("weight")?;
                let s = g.shape().to_vec();
                push(format!("dW{i}"), f.dw(), &g.reshape(&[s[0], s[1] * s[2] * s[3]])?.t()?);
                if param(i, "bias").is_some() {
                    push(format!("db{i}"), f.db(), &param_grad("bias")?);
                }
                push(format!("da{i}"), f.da(), r.grad(&grads, &format!("a{i}"))?);
            }
            LayerSpec::MaxPool { .. } | LayerSpec::AvgPool { .. } => {
                push(format!("da{i}"), f.da(), r.grad(&grads, &format!("a{i}"))?);
            }
            LayerSpec::Linear { .. } => {
                push(format!("dW{i}"), f.dw(), &param_grad("weight")?.t()?);
                if param(i, "bias").is_some() {
                    push(format!("db{i}"), f.db(), &param_grad("bias")?);
                }
            }
            LayerSpec::BatchNorm => {
                push(format!("dg{i}"), format!("∇γ{s} = Σ ∇y{s} ⊙ x̂ per channel", s = sup(i)), &param_grad("weight")?);
                push(format!("dbe{i}"), format!("∇β{s} = Σ ∇y{s} per channel", s = sup(i)), &param_grad("bias")?);
            }
            _ => {}
        }
        push(format!("dx{i}"), f.dx(), r.grad(&grads, &input)?);
    }
    for m in &mut back {
        if let Some(idx) = m.id.strip_prefix("da").and_then(|i| i.parse().ok()).and_then(|i: usize| argmax.get(&i)) {
            m.argmax = Some(idx.clone());
        }
    }
    Ok(Pass { label, prediction, probabilities, loss: loss.value().item()?, forward: r.forward, backward: back })
}
