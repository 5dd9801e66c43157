//! Every matrix of one image's forward and backward pass, as the derivation writes them.
//!
//! The forward pass is the derivation's chain of ops (the chain
//! [`layers::Conv2d::forward_matrix_form`] records, with the pooling windows made explicit)
//! on one recording tape. Each matrix whose gradient the page shows gets a *probe*: a zero
//! leaf added to it, whose gradient the tape reports as the gradient of the matrix
//! (`∂(v + 0)/∂0 = ∂/∂v`). One `tape.backward` of the cross-entropy for the chosen label
//! then gives `∇z⁽⁷⁾ = P − Y` (N = 1), every `∇a`, `∇z` and, from the parameters, `∇W` and
//! `∇b = 1ᵀ·∇z` — the framework's own VJPs, nothing recomputed by hand.

use autograd::Param;
use autograd::{Gradients, Tape, Var, softmax_rows};
use layers::Module;
use serde::Serialize;
use tensor::Tensor;
use tensor::Window2d;

use super::{ExplorerError, Image, Link, Matrix};
use crate::data::Preprocess;
use crate::lenet5::{CLASSES, LeNet5};

/// The result for one image and one label.
#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    /// The label the backward pass is for.
    pub label: usize,
    /// The class with the largest probability (first on ties).
    pub prediction: usize,
    /// `P = softmax(z⁽⁷⁾)`.
    pub probabilities: Vec<f32>,
    /// The cross-entropy `−ln P[label]`.
    pub loss: f32,
    /// The forward matrices, in the derivation's order.
    pub forward: Vec<Matrix>,
    /// The backward matrices, from `∇z⁽⁷⁾ = P − Y` down to `∇a⁽⁰⁾` (for a network of layers,
    /// from `∇y⁽ᴸ⁾ = P − Y` down to `∇x⁽⁰⁾`).
    pub backward: Vec<Matrix>,
    /// Each window layer's row ↔ window ↔ pixel geometry, for the page's links.
    pub links: Vec<Link>,
}

/// A recorded matrix: shown in the forward panels, and (when `grad` names it) its gradient
/// in the backward panels.
struct Probe<'t> {
    zero: Var<'t, f32>,
}

struct Recorder<'t> {
    tape: &'t Tape<f32>,
    forward: Vec<Matrix>,
    probes: Vec<(&'static str, Probe<'t>)>,
}

impl<'t> Recorder<'t> {
    /// Shows `var` as a forward panel (reshaped to `shape`).
    fn show(&mut self, m: Meta, shape: &[usize], var: Var<'t, f32>) {
        self.forward.push(Matrix::new(m.0, m.1, m.2, m.3, shape, &var.value()));
    }

    /// Shows `var` and adds a probe for its gradient.
    fn probe(&mut self, m: Meta, shape: &[usize], var: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let zero = self.tape.leaf(Tensor::zeros(&var.shape())?);
        let var = var.add(zero)?;
        self.show(m, shape, var);
        self.probes.push((m.0, Probe { zero }));
        Ok(var)
    }

    fn grad<'g>(&self, grads: &'g Gradients<f32>, id: &str) -> Result<&'g Tensor<f32>, ExplorerError> {
        let (_, p) = self.probes.iter().find(|(n, _)| *n == id).ok_or_else(|| missing(id))?;
        grads.get(p.zero).ok_or_else(|| missing(id))
    }
}

fn missing(id: &str) -> ExplorerError {
    ExplorerError::Internal(format!("no gradient recorded for {id}"))
}

/// `(id, layer, formula, section)`.
type Meta = (&'static str, &'static str, &'static str, &'static str);

/// `W` of a convolution as the derivation's matrix: `reshape(W, [F, C·kh·kw])ᵀ`.
fn conv_weight<'t>(tape: &'t Tape<f32>, weight: &Param<f32>) -> Result<Var<'t, f32>, ExplorerError> {
    let w = weight.shape();
    Ok(tape.param(weight).reshape(&[w[0], w[1] * w[2] * w[3]])?.t()?)
}

/// The gradient of a parameter, in the derivation's layout (a matrix `[in, out]`).
fn weight_grad(grads: &Gradients<f32>, weight: &Param<f32>) -> Result<Tensor<f32>, ExplorerError> {
    let g = grads.param(weight).ok_or_else(|| missing("weight"))?;
    Ok(match g.shape() {
        [f, c, kh, kw] => g.reshape(&[*f, c * kh * kw])?.t()?,
        [_] => g.clone(),
        _ => g.t()?,
    })
}

/// The first-maximum column of each row of a window matrix.
fn argmax(windows: &Tensor<f32>) -> Result<Vec<u8>, ExplorerError> {
    let (_, idx) = tensor::max_argmax_rows(windows)?;
    Ok(idx.iter().map(|k| k as u8).collect())
}

/// Every matrix of the forward pass of `image` through `model`, and of the backward pass of
/// the cross-entropy for `label` (default: the prediction).
pub fn pass(
    model: &LeNet5<f32>,
    preprocess: &Preprocess,
    image: &Image,
    label: Option<usize>,
) -> Result<Pass, ExplorerError> {
    if let Some(l) = label.filter(|l| *l >= CLASSES) {
        return Err(ExplorerError::Input(format!("label {l} is not a digit 0–9")));
    }
    let x = image.preprocess(preprocess)?;
    let tape = Tape::new();
    let mut r = Recorder { tape: &tape, forward: Vec::new(), probes: Vec::new() };
    let params = model.named_parameters();
    let p = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, p)| *p).ok_or_else(|| missing(name));
    let (conv, pool) = (Window2d::square(5, 1, 0), Window2d::square(2, 2, 0));
    let x = tape.constant(x);
    r.show(("x", "input", "x = normalise(pad(image))", "input"), &[1, 32, 32], x);

    // C1.
    let a0 = r.probe(("a0", "C1", "a⁽⁰⁾ = im2col(x)", "c1"), &[784, 25], x.im2col(&conv)?)?;
    let w1 = conv_weight(&tape, p("c1.weight")?)?;
    r.show(("W1", "C1", "W⁽¹⁾ = reshape(c1.weight, [6, 25])ᵀ", "c1"), &[25, 6], w1);
    let b1 = tape.param(p("c1.bias")?);
    r.show(("b1", "C1", "b⁽¹⁾", "c1"), &[1, 6], b1);
    let z1 = r.probe(("z1", "C1", "z⁽¹⁾ = a⁽⁰⁾·W⁽¹⁾ + b⁽¹⁾", "c1"), &[784, 6], a0.matmul(w1)?.add_bias(b1)?)?;
    let y1 = r.probe(("y1", "C1", "y⁽¹⁾ = relu(z⁽¹⁾)", "c1"), &[784, 6], z1.relu()?)?;
    let out1 = y1.reshape(&[1, 28, 28, 6])?.permute(&[0, 3, 1, 2])?;
    let out1 = r.probe(("out1", "C1", "output⁽¹⁾ = permute(reshape(y⁽¹⁾))", "c1"), &[6, 28, 28], out1)?;

    // S2.
    let a1 = r.probe(("a1", "S2", "a⁽¹⁾ = windows(output⁽¹⁾)", "s2"), &[1176, 4], out1.pool_windows(&pool)?)?;
    let a1_argmax = argmax(&a1.value())?;
    if let Some(m) = r.forward.last_mut() {
        m.argmax = Some(a1_argmax.clone());
    }
    let z2 = r.probe(("z2", "S2", "z⁽²⁾ = max of each row of a⁽¹⁾", "s2"), &[6, 14, 14], a1.max_rows()?)?;
    let out2 = z2.reshape(&[1, 6, 14, 14])?;

    // C3.
    let a2 = r.probe(("a2", "C3", "a⁽²⁾ = im2col(output⁽²⁾)", "c3"), &[100, 150], out2.im2col(&conv)?)?;
    let w3 = conv_weight(&tape, p("c3.weight")?)?;
    r.show(("W3", "C3", "W⁽³⁾ = reshape(c3.weight, [16, 150])ᵀ", "c3"), &[150, 16], w3);
    let b3 = tape.param(p("c3.bias")?);
    r.show(("b3", "C3", "b⁽³⁾", "c3"), &[1, 16], b3);
    let z3 = r.probe(("z3", "C3", "z⁽³⁾ = a⁽²⁾·W⁽³⁾ + b⁽³⁾", "c3"), &[100, 16], a2.matmul(w3)?.add_bias(b3)?)?;
    let y3 = r.probe(("y3", "C3", "y⁽³⁾ = relu(z⁽³⁾)", "c3"), &[100, 16], z3.relu()?)?;
    let out3 = y3.reshape(&[1, 10, 10, 16])?.permute(&[0, 3, 1, 2])?;
    let out3 = r.probe(("out3", "C3", "output⁽³⁾ = permute(reshape(y⁽³⁾))", "c3"), &[16, 10, 10], out3)?;

    // S4.
    let a3 = r.probe(("a3", "S4", "a⁽³⁾ = windows(output⁽³⁾)", "s4"), &[400, 4], out3.pool_windows(&pool)?)?;
    let a3_argmax = argmax(&a3.value())?;
    if let Some(m) = r.forward.last_mut() {
        m.argmax = Some(a3_argmax.clone());
    }
    let z4 = r.probe(("z4", "S4", "z⁽⁴⁾ = max of each row of a⁽³⁾", "s4"), &[16, 5, 5], a3.max_rows()?)?;
    let out4 = z4.reshape(&[1, 16, 5, 5])?;

    // C5: the kernel covers the whole map, so a⁽⁴⁾ is one row.
    let a4 = r.probe(("a4", "C5", "a⁽⁴⁾ = im2col(output⁽⁴⁾)", "c5"), &[1, 400], out4.im2col(&conv)?)?;
    let w5 = conv_weight(&tape, p("c5.weight")?)?;
    r.show(("W5", "C5", "W⁽⁵⁾ = reshape(c5.weight, [120, 400])ᵀ", "c5"), &[400, 120], w5);
    let b5 = tape.param(p("c5.bias")?);
    let z5 = r.probe(("z5", "C5", "z⁽⁵⁾ = a⁽⁴⁾·W⁽⁵⁾ + b⁽⁵⁾", "c5"), &[1, 120], a4.matmul(w5)?.add_bias(b5)?)?;
    let a5 = r.probe(("a5", "C5", "a⁽⁵⁾ = relu(z⁽⁵⁾)", "c5"), &[1, 120], z5.relu()?)?;

    // F6, F7.
    let w6 = tape.param(p("f6.weight")?).t()?;
    r.show(("W6", "F6", "W⁽⁶⁾ = f6.weightᵀ", "f6-and-f7"), &[120, 84], w6);
    let b6 = tape.param(p("f6.bias")?);
    let z6 = r.probe(("z6", "F6", "z⁽⁶⁾ = a⁽⁵⁾·W⁽⁶⁾ + b⁽⁶⁾", "f6-and-f7"), &[1, 84], a5.matmul(w6)?.add_bias(b6)?)?;
    let a6 = r.probe(("a6", "F6", "a⁽⁶⁾ = relu(z⁽⁶⁾)", "f6-and-f7"), &[1, 84], z6.relu()?)?;
    let w7 = tape.param(p("f7.weight")?).t()?;
    r.show(("W7", "F7", "W⁽⁷⁾ = f7.weightᵀ", "f6-and-f7"), &[84, 10], w7);
    let b7 = tape.param(p("f7.bias")?);
    let z7 = r.probe(("z7", "F7", "z⁽⁷⁾ = a⁽⁶⁾·W⁽⁷⁾ + b⁽⁷⁾", "f6-and-f7"), &[1, 10], a6.matmul(w7)?.add_bias(b7)?)?;
    let probs = softmax_rows(&z7.value())?;
    r.forward.push(Matrix::new("P", "softmax", "P = softmax(z⁽⁷⁾)", "softmax-and-the-loss", &[1, 10], &probs));
    let probabilities = probs.to_vec();
    let prediction = first_max(&probabilities);
    let label = label.unwrap_or(prediction);

    // Backward.
    let loss = z7.softmax_cross_entropy(&[label])?;
    let grads = tape.backward(loss)?;
    let g = |id: &str| r.grad(&grads, id);
    let mut back = Vec::new();
    let mut push =
        |m: Meta, shape: &[usize], t: &Tensor<f32>| back.push(Matrix::new(m.0, m.1, m.2, m.3, shape, t).signed());
    push(("dz7", "F7", "∇z⁽⁷⁾ = P − Y", "f7"), &[1, 10], g("z7")?);
    push(("dW7", "F7", "∇W⁽⁷⁾ = a⁽⁶⁾ᵀ·∇z⁽⁷⁾", "f7"), &[84, 10], &weight_grad(&grads, p("f7.weight")?)?);
    push(("db7", "F7", "∇b⁽⁷⁾ = 1ᵀ·∇z⁽⁷⁾", "f7"), &[1, 10], &weight_grad(&grads, p("f7.bias")?)?);
    push(("da6", "F7", "∇a⁽⁶⁾ = ∇z⁽⁷⁾·W⁽⁷⁾ᵀ", "f7"), &[1, 84], g("a6")?);
    push(("dz6", "F6", "∇z⁽⁶⁾ = ∇a⁽⁶⁾ ⊙ 1(z⁽⁶⁾ > 0)", "f6"), &[1, 84], g("z6")?);
    push(("dW6", "F6", "∇W⁽⁶⁾ = a⁽⁵⁾ᵀ·∇z⁽⁶⁾", "f6"), &[120, 84], &weight_grad(&grads, p("f6.weight")?)?);
    push(("db6", "F6", "∇b⁽⁶⁾ = 1ᵀ·∇z⁽⁶⁾", "f6"), &[1, 84], &weight_grad(&grads, p("f6.bias")?)?);
    push(("da5", "F6", "∇a⁽⁵⁾ = ∇z⁽⁶⁾·W⁽⁶⁾ᵀ", "f6"), &[1, 120], g("a5")?);
    push(("dz5", "C5", "∇z⁽⁵⁾ = ∇a⁽⁵⁾ ⊙ 1(z⁽⁵⁾ > 0)", "c5-1"), &[1, 120], g("z5")?);
    push(("dW5", "C5", "∇W⁽⁵⁾ = a⁽⁴⁾ᵀ·∇z⁽⁵⁾", "c5-1"), &[400, 120], &weight_grad(&grads, p("c5.weight")?)?);
    push(("db5", "C5", "∇b⁽⁵⁾ = 1ᵀ·∇z⁽⁵⁾", "c5-1"), &[1, 120], &weight_grad(&grads, p("c5.bias")?)?);
    push(("da4", "C5", "∇a⁽⁴⁾ = ∇z⁽⁵⁾·W⁽⁵⁾ᵀ", "c5-1"), &[1, 400], g("a4")?);
    push(("dz4", "S4", "∇z⁽⁴⁾ = vec(∇a⁽⁴⁾)", "s4-1"), &[16, 5, 5], g("z4")?);
    push(("da3", "S4", "∇a⁽³⁾ = ∇z⁽⁴⁾ routed to each row's argmax", "s4-1"), &[400, 4], g("a3")?);
    push(("dout3", "S4", "∇output⁽³⁾ = Sᵀ·∇a⁽³⁾ (the routing)", "s4-1"), &[16, 10, 10], g("out3")?);
    push(("dy3", "C3", "∇y⁽³⁾ = rows(∇output⁽³⁾)", "c3-1"), &[100, 16], g("y3")?);
    push(("dz3", "C3", "∇z⁽³⁾ = ∇y⁽³⁾ ⊙ 1(z⁽³⁾ > 0)", "c3-1"), &[100, 16], g("z3")?);
    push(("dW3", "C3", "∇W⁽³⁾ = a⁽²⁾ᵀ·∇z⁽³⁾", "c3-1"), &[150, 16], &weight_grad(&grads, p("c3.weight")?)?);
    push(("db3", "C3", "∇b⁽³⁾ = 1ᵀ·∇z⁽³⁾", "c3-1"), &[1, 16], &weight_grad(&grads, p("c3.bias")?)?);
    push(("da2", "C3", "∇a⁽²⁾ = ∇z⁽³⁾·W⁽³⁾ᵀ", "c3-1"), &[100, 150], g("a2")?);
    push(("dz2", "S2", "∇z⁽²⁾ = col2im(∇a⁽²⁾)", "s2-1"), &[6, 14, 14], g("z2")?);
    push(("da1", "S2", "∇a⁽¹⁾ = ∇z⁽²⁾ routed to each row's argmax", "s2-1"), &[1176, 4], g("a1")?);
    push(("dout1", "S2", "∇output⁽¹⁾ = Sᵀ·∇a⁽¹⁾ (the routing)", "s2-1"), &[6, 28, 28], g("out1")?);
    push(("dy1", "C1", "∇y⁽¹⁾ = rows(∇output⁽¹⁾)", "c1-1"), &[784, 6], g("y1")?);
    push(("dz1", "C1", "∇z⁽¹⁾ = ∇y⁽¹⁾ ⊙ 1(z⁽¹⁾ > 0)", "c1-1"), &[784, 6], g("z1")?);
    push(("dW1", "C1", "∇W⁽¹⁾ = a⁽⁰⁾ᵀ·∇z⁽¹⁾", "c1-1"), &[25, 6], &weight_grad(&grads, p("c1.weight")?)?);
    push(("db1", "C1", "∇b⁽¹⁾ = 1ᵀ·∇z⁽¹⁾", "c1-1"), &[1, 6], &weight_grad(&grads, p("c1.bias")?)?);
    push(("da0", "C1", "∇a⁽⁰⁾ = ∇z⁽¹⁾·W⁽¹⁾ᵀ", "c1-1"), &[784, 25], g("a0")?);
    for m in back.iter_mut() {
        if m.id == "da1" {
            m.argmax = Some(a1_argmax.clone());
        } else if m.id == "da3" {
            m.argmax = Some(a3_argmax.clone());
        }
    }
    for m in r.forward.iter_mut().chain(back.iter_mut()) {
        m.scale = MAP_SCALE.iter().find(|(id, _)| *id == m.id).map(|(_, k)| *k);
    }
    for m in r.forward.iter_mut() {
        m.op = OPS.iter().find(|(id, _)| *id == m.id).map(|(_, op)| *op);
    }
    let links = lenet5_links(&conv, &pool);
    Ok(Pass { label, prediction, probabilities, loss: loss.value().item()?, forward: r.forward, backward: back, links })
}

/// The scale each map panel is drawn at.
const MAP_SCALE: [(&str, usize); 9] =
    [("x", 6), ("out1", 3), ("dout1", 4), ("z2", 5), ("dz2", 5), ("out3", 6), ("dout3", 7), ("z4", 10), ("dz4", 10)];

/// The operators between the forward panels, so that each card reads as its formula.
const OPS: [(&str, &str); 21] = [
    ("W1", "·"),
    ("b1", "+"),
    ("z1", "="),
    ("y1", "→"),
    ("out1", "→"),
    ("z2", "→"),
    ("W3", "·"),
    ("b3", "+"),
    ("z3", "="),
    ("y3", "→"),
    ("out3", "→"),
    ("z4", "→"),
    ("W5", "·"),
    ("z5", "+ b ="),
    ("a5", "→"),
    ("W6", "·"),
    ("z6", "+ b ="),
    ("a6", "→"),
    ("W7", "·"),
    ("z7", "+ b ="),
    ("P", "→"),
];

/// LeNet-5's window layers C1, S2, C3, S4 as the page links them (C5's one window is the
/// whole map).
fn lenet5_links(conv: &Window2d, pool: &Window2d) -> Vec<Link> {
    vec![
        Link::new("C1", conv, [1, 32, 32], [6, 28, 28], false)
            .panels(&["a0", "z1", "y1", "da0", "dz1", "dy1"], &["x"], &["out1", "dout1"])
            .note(" of the six C1 maps; its 25 columns are the 5×5 window of x there"),
        Link::new("S2", pool, [6, 28, 28], [6, 14, 14], true)
            .panels(&["a1", "da1"], &["out1", "dout1"], &["z2", "dz2"])
            .note(": the 2×2 block whose max is one S2 pixel"),
        Link::new("C3", conv, [6, 14, 14], [16, 10, 10], false)
            .panels(&["a2", "z3", "y3", "da2", "dz3", "dy3"], &["z2", "dz2"], &["out3", "dout3"])
            .note(" of the 16 C3 maps; 150 columns = 6 maps × 5×5 window"),
        Link::new("S4", pool, [16, 10, 10], [16, 5, 5], true).panels(
            &["a3", "da3"],
            &["out3", "dout3"],
            &["z4", "dz4"],
        ),
    ]
}

/// The index of the first largest value.
pub(crate) fn first_max(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, x)| if *x > v[best] { i } else { best })
}
