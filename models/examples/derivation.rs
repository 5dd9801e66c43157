//! The batched-matrix derivation of LeNet-5, run step by step on two images.
//!
//! ```sh
//! cargo run --release -p models --example derivation
//! ```
//!
//! 1. **Forward.** The derivation's ops, called one by one on a `Tape<f64>` with the
//!    parameters of a `models::LeNet5<f64>`: im2col, the product with the reshaped and
//!    transposed weight, the bias, ReLU, the reshape/permute back to N×C×H×W, the pooling
//!    windows and their row maxima, … , softmax cross-entropy plus `0.5·reg·Σ‖W‖²`. Each
//!    matrix is printed with its shape and its top-left corner, and the logits are checked
//!    against `LeNet5::forward` (the layers' own code path).
//! 2. **Backward.** Every gradient of the derivation, in its order (∇z⁽⁷⁾, ∇W⁽⁷⁾, ∇b⁽⁷⁾,
//!    ∇a⁽⁶⁾, …, ∇b⁽¹⁾), computed by its hand-derived matrix formula with plain tensor
//!    operations, and compared with the tape's gradient of the same matrix.
//! 3. **Finite differences.** Every parameter gradient against central differences of the
//!    loss (50 sampled elements per weight, every bias element), with the largest relative
//!    error per parameter; the run fails (exit status 1) above 1e-5.
//! 4. **The bias erratum.** The column-sum bias gradient next to the derivation's
//!    `(1/M)·Σ` version and the finite difference.
//!
//! The guide that walks through the same steps is `docs/derivation.md`.

use std::error::Error;

use autograd::Param;
use autograd::{Gradients, Tape, Var, softmax_rows};
use layers::Module;
use models::LeNet5;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Tensor, Window2d};

type Res<T> = Result<T, Box<dyn Error>>;

/// Images in the batch.
const N: usize = 2;
/// The derivation's L2 coefficient `reg` in `regLoss = 0.5·reg·Σ‖W‖²`.
const REG: f64 = 1e-3;
/// A draw of the input is kept only if every ReLU input is at least this far from 0 and
/// every pooling window's maximum leads the runner-up by this much (away from the kinks,
/// where finite differences and the subgradient disagree by design).
const MARGIN: f64 = 1e-5;
/// The finite-difference step.
const STEP: f64 = 1e-6;
/// Weight elements checked per weight tensor (biases are checked whole).
const SAMPLES: usize = 50;
/// Largest relative error accepted between the tape and the finite differences.
const MAX_REL: f64 = 1e-5;
/// Relative errors are taken against `max(|numeric|, FLOOR)`: for a gradient element
/// near 0 the finite difference's own rounding error (about 1e-10) would dominate.
const FLOOR: f64 = 1e-3;
/// Largest difference accepted between a hand-computed formula and the tape.
const FORMULA_TOL: f64 = 1e-12;

/// Convolution windows 5×5, stride 1, no padding (C1, C3, C5).
fn conv_window() -> Window2d {
    Window2d::square(5, 1, 0)
}

/// Pooling windows 2×2, stride 2 (S2, S4).
fn pool_window() -> Window2d {
    Window2d::square(2, 2, 0)
}

/// One printed line of the forward pass.
struct Step<'t> {
    layer: &'static str,
    what: &'static str,
    shape: &'static str,
    var: Var<'t, f64>,
}

/// The forward pass: the derivation's matrices, by name.
struct Pass<'t> {
    steps: Vec<Step<'t>>,
    /// `(name, zero leaf)`: a zero matrix added to a matrix so that the tape reports the
    /// gradient of that matrix (the gradient of `v + 0` w.r.t. the `0` is `∇v`).
    probes: Vec<(&'static str, Var<'t, f64>)>,
    a0: Var<'t, f64>,
    z1: Var<'t, f64>,
    a1: Var<'t, f64>,
    a2: Var<'t, f64>,
    z3: Var<'t, f64>,
    a3: Var<'t, f64>,
    a4: Var<'t, f64>,
    z5: Var<'t, f64>,
    a5: Var<'t, f64>,
    z6: Var<'t, f64>,
    a6: Var<'t, f64>,
    z7: Var<'t, f64>,
    data_loss: Var<'t, f64>,
    loss: Var<'t, f64>,
}

impl<'t> Pass<'t> {
    /// The tape's gradient of the matrix named `name`.
    fn grad<'g>(&self, grads: &'g Gradients<f64>, name: &str) -> Res<&'g Tensor<f64>> {
        let (_, leaf) = self.probes.iter().find(|(n, _)| *n == name).ok_or(format!("no probe {name}"))?;
        Ok(grads.get(*leaf).ok_or(format!("no gradient for {name}"))?)
    }
}

/// Records a matrix for printing and, on a recording tape, adds its probe.
struct Recorder<'t> {
    tape: &'t Tape<f64>,
    steps: Vec<Step<'t>>,
    probes: Vec<(&'static str, Var<'t, f64>)>,
}

impl<'t> Recorder<'t> {
    fn show(&mut self, layer: &'static str, what: &'static str, shape: &'static str, var: Var<'t, f64>) {
        self.steps.push(Step { layer, what, shape, var });
    }

    /// `show`, plus a probe named `name` whose gradient is the gradient of this matrix.
    fn mark(
        &mut self,
        name: &'static str,
        (layer, what, shape): (&'static str, &'static str, &'static str),
        var: Var<'t, f64>,
    ) -> Res<Var<'t, f64>> {
        let var = if self.tape.is_recording() {
            let zero = self.tape.leaf(Tensor::zeros(&var.shape())?);
            self.probes.push((name, zero));
            var.add(zero)?
        } else {
            var
        };
        self.show(layer, what, shape, var);
        Ok(var)
    }
}

/// `W` of a convolution as the derivation's matrix: `reshape(W, [F, C·kh·kw])ᵀ`.
fn conv_weight<'t>(tape: &'t Tape<f64>, weight: &Param<f64>) -> Res<Var<'t, f64>> {
    let w = weight.shape();
    Ok(tape.param(weight).reshape(&[w[0], w[1] * w[2] * w[3]])?.t()?)
}

/// `W` of a linear layer as the derivation's matrix: PyTorch's `[out, in]` transposed.
fn linear_weight<'t>(tape: &'t Tape<f64>, weight: &Param<f64>) -> Res<Var<'t, f64>> {
    Ok(tape.param(weight).t()?)
}

/// The parameter `name` (`c1.weight`) of the network.
fn param<'m>(m: &'m LeNet5<f64>, name: &str) -> Res<&'m Param<f64>> {
    let found = m.named_parameters().into_iter().find(|(n, _)| n == name);
    Ok(found.ok_or_else(|| format!("LeNet-5 has no parameter {name}"))?.1)
}

/// The bias of a layer that has one.
fn bias<'t>(tape: &'t Tape<f64>, bias: Option<&autograd::Param<f64>>) -> Res<Var<'t, f64>> {
    Ok(tape.param(bias.ok_or("the layer has no bias")?))
}

/// LeNet-5's forward pass written with the derivation's ops, for `x: [N, 1, 32, 32]`.
fn forward<'t>(tape: &'t Tape<f64>, m: &LeNet5<f64>, x: &Tensor<f64>, labels: &[usize]) -> Res<Pass<'t>> {
    let n = x.shape()[0];
    let mut r = Recorder { tape, steps: Vec::new(), probes: Vec::new() };
    let x = tape.constant(x.clone());
    r.show("input", "x", "N×1×32×32", x);

    // C1: a⁽⁰⁾ = im2col(x), z⁽¹⁾ = a⁽⁰⁾·W⁽¹⁾ + b⁽¹⁾, y⁽¹⁾ = relu(z⁽¹⁾), back to N×6×28×28.
    let a0 = r.mark("a0", ("C1", "a⁽⁰⁾ = im2col(x)", "(N·784)×25"), x.im2col(&conv_window())?)?;
    let w1 = conv_weight(tape, param(m, "c1.weight")?)?;
    r.show("C1", "W⁽¹⁾ = reshape(W,[6,25])ᵀ", "25×6", w1);
    let z1 = a0.matmul(w1)?.add_bias(bias(tape, param(m, "c1.bias").ok())?)?;
    let z1 = r.mark("z1", ("C1", "z⁽¹⁾ = a⁽⁰⁾·W⁽¹⁾ + b⁽¹⁾", "(N·784)×6"), z1)?;
    let y1 = r.mark("y1", ("C1", "y⁽¹⁾ = relu(z⁽¹⁾)", "(N·784)×6"), z1.relu()?)?;
    // Rows of y⁽¹⁾ are (n, oh, ow) and columns are channels: reshape to N×28×28×6, then
    // move the channel axis forward. A plain reshape to N×6×28×28 would mix them up.
    let out1 = y1.reshape(&[n, 28, 28, 6])?.permute(&[0, 3, 1, 2])?;
    r.show("C1", "output⁽¹⁾ = permute(y⁽¹⁾)", "N×6×28×28", out1);

    // S2: one row per 2×2 window (rows n, c, oh, ow), z⁽²⁾ = max of each row.
    let a1 = r.mark("a1", ("S2", "a⁽¹⁾ = windows(output⁽¹⁾)", "(N·1176)×4"), out1.pool_windows(&pool_window())?)?;
    let z2 = r.mark("z2", ("S2", "z⁽²⁾ = max(a⁽¹⁾) per row", "N·1176"), a1.max_rows()?)?;
    let out2 = z2.reshape(&[n, 6, 14, 14])?; // rows were already in (n, c, oh, ow) order
    r.show("S2", "output⁽²⁾ = reshape(z⁽²⁾)", "N×6×14×14", out2);

    // C3.
    let a2 = r.mark("a2", ("C3", "a⁽²⁾ = im2col(output⁽²⁾)", "(N·100)×150"), out2.im2col(&conv_window())?)?;
    let w3 = conv_weight(tape, param(m, "c3.weight")?)?;
    r.show("C3", "W⁽³⁾ = reshape(W,[16,150])ᵀ", "150×16", w3);
    let z3 = a2.matmul(w3)?.add_bias(bias(tape, param(m, "c3.bias").ok())?)?;
    let z3 = r.mark("z3", ("C3", "z⁽³⁾ = a⁽²⁾·W⁽³⁾ + b⁽³⁾", "(N·100)×16"), z3)?;
    let y3 = r.mark("y3", ("C3", "y⁽³⁾ = relu(z⁽³⁾)", "(N·100)×16"), z3.relu()?)?;
    let out3 = y3.reshape(&[n, 10, 10, 16])?.permute(&[0, 3, 1, 2])?;
    r.show("C3", "output⁽³⁾ = permute(y⁽³⁾)", "N×16×10×10", out3);

    // S4.
    let a3 = r.mark("a3", ("S4", "a⁽³⁾ = windows(output⁽³⁾)", "(N·400)×4"), out3.pool_windows(&pool_window())?)?;
    let z4 = r.mark("z4", ("S4", "z⁽⁴⁾ = max(a⁽³⁾) per row", "N·400"), a3.max_rows()?)?;
    let out4 = z4.reshape(&[n, 16, 5, 5])?;
    r.show("S4", "output⁽⁴⁾ = reshape(z⁽⁴⁾)", "N×16×5×5", out4);

    // C5: the 5×5 kernel covers the whole 5×5 map, so im2col is one row per image.
    let a4 = r.mark("a4", ("C5", "a⁽⁴⁾ = im2col(output⁽⁴⁾)", "N×400"), out4.im2col(&conv_window())?)?;
    let w5 = conv_weight(tape, param(m, "c5.weight")?)?;
    r.show("C5", "W⁽⁵⁾ = reshape(W,[120,400])ᵀ", "400×120", w5);
    let z5 = a4.matmul(w5)?.add_bias(bias(tape, param(m, "c5.bias").ok())?)?;
    let z5 = r.mark("z5", ("C5", "z⁽⁵⁾ = a⁽⁴⁾·W⁽⁵⁾ + b⁽⁵⁾", "N×120"), z5)?;
    let a5 = r.mark("a5", ("C5", "a⁽⁵⁾ = y⁽⁵⁾ = relu(z⁽⁵⁾)", "N×120"), z5.relu()?)?;

    // F6 and F7.
    let w6 = linear_weight(tape, param(m, "f6.weight")?)?;
    r.show("F6", "W⁽⁶⁾ = (f6.weight)ᵀ", "120×84", w6);
    let z6 = a5.matmul(w6)?.add_bias(bias(tape, param(m, "f6.bias").ok())?)?;
    let z6 = r.mark("z6", ("F6", "z⁽⁶⁾ = a⁽⁵⁾·W⁽⁶⁾ + b⁽⁶⁾", "N×84"), z6)?;
    let a6 = r.mark("a6", ("F6", "a⁽⁶⁾ = y⁽⁶⁾ = relu(z⁽⁶⁾)", "N×84"), z6.relu()?)?;
    let w7 = linear_weight(tape, param(m, "f7.weight")?)?;
    r.show("F7", "W⁽⁷⁾ = (f7.weight)ᵀ", "84×10", w7);
    let z7 = a6.matmul(w7)?.add_bias(bias(tape, param(m, "f7.bias").ok())?)?;
    let z7 = r.mark("z7", ("F7", "z⁽⁷⁾ = a⁽⁶⁾·W⁽⁷⁾ + b⁽⁷⁾", "N×10"), z7)?;

    // J = dataLoss + regLoss.
    let data_loss = z7.softmax_cross_entropy(labels)?;
    r.show("loss", "dataLoss = −(1/N)·1ᵀ·ln(p_y)", "scalar", data_loss);
    let mut squares = w1.sum_squares()?;
    for w in [w3, w5, w6, w7] {
        squares = squares.add(w.sum_squares()?)?;
    }
    let reg_loss = squares.scale(0.5 * REG)?;
    r.show("loss", "regLoss = 0.5·reg·Σ‖W‖²", "scalar", reg_loss);
    let loss = data_loss.add(reg_loss)?;
    r.show("loss", "J = dataLoss + regLoss", "scalar", loss);

    Ok(Pass { steps: r.steps, probes: r.probes, a0, z1, a1, a2, z3, a3, a4, z5, a5, z6, a6, z7, data_loss, loss })
}

/// The distance of this forward pass from the nearest kink: the smallest |ReLU input|, and
/// the smallest lead of a pooling window's maximum over its runner-up (windows whose
/// maximum is 0 are all-zero ReLU outputs: their gradient is 0 whichever tap wins).
fn distance_to_kinks(pass: &Pass<'_>) -> f64 {
    let mut d = f64::INFINITY;
    for z in [pass.z1, pass.z3, pass.z5, pass.z6] {
        d = z.value().iter().fold(d, |d, v| d.min(v.abs()));
    }
    for a in [pass.a1, pass.a3] {
        let rows = a.value().to_vec();
        for row in rows.chunks(4) {
            let mut sorted = row.to_vec();
            sorted.sort_by(|p, q| q.total_cmp(p));
            if sorted[0] > 0.0 {
                d = d.min(sorted[0] - sorted[1]);
            }
        }
    }
    d
}

/// A matrix's top-left 2×3 corner (the first 3 entries of a vector, the first row of the
/// first channel of an N×C×H×W tensor).
fn corner(t: &Tensor<f64>) -> String {
    let f = |v: f64| format!("{v:+.4}");
    match t.shape() {
        [] => f(t.item().unwrap_or(f64::NAN)),
        [len] => format!(
            "[{} …]",
            (0..3.min(*len)).map(|i| f(t.get(&[i]).unwrap_or(f64::NAN))).collect::<Vec<_>>().join(" ")
        ),
        [rows, cols] => {
            let row = |r: usize| (0..3.min(*cols)).map(|c| f(t.get(&[r, c]).unwrap_or(f64::NAN))).collect::<Vec<_>>();
            let rows: Vec<String> = (0..2.min(*rows)).map(|r| format!("[{} …]", row(r).join(" "))).collect();
            rows.join(" ")
        }
        [_, _, _, w] => format!(
            "[[[[{} …",
            (0..3.min(*w)).map(|j| f(t.get(&[0, 0, 0, j]).unwrap_or(f64::NAN))).collect::<Vec<_>>().join(" ")
        ),
        _ => String::new(),
    }
}

fn dims(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".into();
    }
    shape.iter().map(usize::to_string).collect::<Vec<_>>().join("×")
}

/// The largest `|a − b|` of two same-shaped tensors.
fn max_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> Res<f64> {
    if a.shape() != b.shape() {
        return Err(format!("shape {:?} vs {:?}", a.shape(), b.shape()).into());
    }
    Ok(a.iter().zip(b.iter()).fold(0.0, |m, (x, y)| m.max((x - y).abs())))
}

/// The gradient `∇a` of the window matrix `a: [R, 4]` from `∇z: [R]`, `z = max(a)` per row:
/// each row's gradient to its first maximum, 0 elsewhere.
fn route_to_argmax(a: &Tensor<f64>, dz: &Tensor<f64>) -> Res<Tensor<f64>> {
    let (_, argmax) = tensor::max_argmax_rows(a)?;
    let cols = a.shape()[1];
    let mut out = vec![0.0; a.numel()];
    for ((r, k), g) in argmax.iter().enumerate().zip(dz.iter()) {
        out[r * cols + k] = g;
    }
    Ok(Tensor::from_vec(a.shape(), out)?)
}

/// The derivation's backward pass by its formulas, each compared with the tape's gradient
/// of the same matrix; returns the largest difference.
fn backward_by_hand(m: &LeNet5<f64>, pass: &Pass<'_>, grads: &Gradients<f64>, labels: &[usize]) -> Res<f64> {
    let n = labels.len();
    let mut worst = 0.0f64;
    let mut report = |layer: &str, what: &str, hand: &Tensor<f64>, tape: &Tensor<f64>| -> Res<()> {
        let d = max_diff(hand, tape)?;
        worst = worst.max(d);
        println!("{layer:<5} {what:<42} {:<12} {d:>9.1e}", dims(hand.shape()));
        Ok(())
    };
    // The tape's gradients of the parameters, in the derivation's matrix layout.
    let conv_w = |w: &Param<f64>| -> Res<Tensor<f64>> {
        let g = grads.param(w).ok_or("no weight gradient")?;
        let s = g.shape();
        Ok(g.reshape(&[s[0], s[1] * s[2] * s[3]])?.t()?)
    };
    let linear_w = |w: &Param<f64>| -> Res<Tensor<f64>> { Ok(grads.param(w).ok_or("no weight gradient")?.t()?) };
    let bias_of = |b: Option<&autograd::Param<f64>>| -> Res<Tensor<f64>> {
        Ok(grads.param(b.ok_or("no bias")?).ok_or("no bias gradient")?.clone())
    };
    let wm = |w: &Param<f64>| -> Res<Tensor<f64>> {
        let s = w.shape();
        Ok(w.value.reshape(&[s[0], s[1] * s[2] * s[3]])?.t()?)
    };
    let relu_mask = |z: Var<'_, f64>| z.value().gt_scalar(0.0);
    let (pool, conv) = (pool_window(), conv_window());

    // F7: ∇z⁽⁷⁾ = (probs − Y)/N, probs = exp(z)/(exp(z)·A·Bᵀ).
    let probs = softmax_rows(&pass.z7.value())?;
    let y = Tensor::from_fn(&[n, 10], |i| if labels[i[0]] == i[1] { 1.0 } else { 0.0 })?;
    let dz7 = probs.sub(&y)?.div_scalar(n as f64);
    report("F7", "∇z⁽⁷⁾ = (probs − Y)/N", &dz7, pass.grad(grads, "z7")?)?;
    let w7 = param(m, "f7.weight")?.value.t()?;
    let dw7 = pass.a6.value().t()?.matmul(&dz7)?.add(&w7.mul_scalar(REG))?;
    report("F7", "∇W⁽⁷⁾ = a⁽⁶⁾ᵀ·∇z⁽⁷⁾ + reg·W⁽⁷⁾", &dw7, &linear_w(param(m, "f7.weight")?)?)?;
    report("F7", "∇b⁽⁷⁾ = 1ᵀ·∇z⁽⁷⁾", &dz7.sum_axis(0, false)?, &bias_of(param(m, "f7.bias").ok())?)?;
    let da6 = dz7.matmul(&w7.t()?)?;
    report("F7", "∇a⁽⁶⁾ = ∇z⁽⁷⁾·W⁽⁷⁾ᵀ", &da6, pass.grad(grads, "a6")?)?;

    // F6.
    let dz6 = da6.mul(&relu_mask(pass.z6))?;
    report("F6", "∇z⁽⁶⁾ = ∇a⁽⁶⁾ ⊙ 1(z⁽⁶⁾ > 0)", &dz6, pass.grad(grads, "z6")?)?;
    let w6 = param(m, "f6.weight")?.value.t()?;
    let dw6 = pass.a5.value().t()?.matmul(&dz6)?.add(&w6.mul_scalar(REG))?;
    report("F6", "∇W⁽⁶⁾ = a⁽⁵⁾ᵀ·∇z⁽⁶⁾ + reg·W⁽⁶⁾", &dw6, &linear_w(param(m, "f6.weight")?)?)?;
    report("F6", "∇b⁽⁶⁾ = 1ᵀ·∇z⁽⁶⁾", &dz6.sum_axis(0, false)?, &bias_of(param(m, "f6.bias").ok())?)?;
    let da5 = dz6.matmul(&w6.t()?)?;
    report("F6", "∇a⁽⁵⁾ = ∇z⁽⁶⁾·W⁽⁶⁾ᵀ", &da5, pass.grad(grads, "a5")?)?;

    // C5.
    let dz5 = da5.mul(&relu_mask(pass.z5))?;
    report("C5", "∇z⁽⁵⁾ = ∇a⁽⁵⁾ ⊙ 1(z⁽⁵⁾ > 0)", &dz5, pass.grad(grads, "z5")?)?;
    let w5 = wm(param(m, "c5.weight")?)?;
    let dw5 = pass.a4.value().t()?.matmul(&dz5)?.add(&w5.mul_scalar(REG))?;
    report("C5", "∇W⁽⁵⁾ = a⁽⁴⁾ᵀ·∇z⁽⁵⁾ + reg·W⁽⁵⁾", &dw5, &conv_w(param(m, "c5.weight")?)?)?;
    report("C5", "∇b⁽⁵⁾ = 1ᵀ·∇z⁽⁵⁾", &dz5.sum_axis(0, false)?, &bias_of(param(m, "c5.bias").ok())?)?;
    let da4 = dz5.matmul(&w5.t()?)?;
    report("C5", "∇a⁽⁴⁾ = ∇z⁽⁵⁾·W⁽⁵⁾ᵀ", &da4, pass.grad(grads, "a4")?)?;

    // S4: ∇z⁽⁴⁾ = vec(∇a⁽⁴⁾) (C5's window is the whole map), then to the argmax.
    let dz4 = da4.reshape(&[n * 400])?;
    report("S4", "∇z⁽⁴⁾ = vec(∇a⁽⁴⁾)", &dz4, pass.grad(grads, "z4")?)?;
    let da3 = route_to_argmax(&pass.a3.value(), &dz4)?;
    report("S4", "∇a⁽³⁾ = ∇z⁽⁴⁾ ⊙ 1(a⁽³⁾ is the max)", &da3, pass.grad(grads, "a3")?)?;

    // C3: windows back to N×16×10×10 (scatter-add), then to (N·100)×16 rows.
    let dout3 = tensor::pool_windows_adjoint(&da3, &[n, 16, 10, 10], &pool)?;
    let dy3 = dout3.permute(&[0, 2, 3, 1])?.reshape(&[n * 100, 16])?;
    report("C3", "∇y⁽³⁾ = rows(Sᵀ·∇a⁽³⁾)", &dy3, pass.grad(grads, "y3")?)?;
    let dz3 = dy3.mul(&relu_mask(pass.z3))?;
    report("C3", "∇z⁽³⁾ = ∇y⁽³⁾ ⊙ 1(z⁽³⁾ > 0)", &dz3, pass.grad(grads, "z3")?)?;
    let w3 = wm(param(m, "c3.weight")?)?;
    let dw3 = pass.a2.value().t()?.matmul(&dz3)?.add(&w3.mul_scalar(REG))?;
    report("C3", "∇W⁽³⁾ = a⁽²⁾ᵀ·∇z⁽³⁾ + reg·W⁽³⁾", &dw3, &conv_w(param(m, "c3.weight")?)?)?;
    report("C3", "∇b⁽³⁾ = 1ᵀ·∇z⁽³⁾", &dz3.sum_axis(0, false)?, &bias_of(param(m, "c3.bias").ok())?)?;
    let da2 = dz3.matmul(&w3.t()?)?;
    report("C3", "∇a⁽²⁾ = ∇z⁽³⁾·W⁽³⁾ᵀ", &da2, pass.grad(grads, "a2")?)?;

    // S2: im2col's adjoint (col2im adds the overlapping copies), then to the argmax.
    let dz2 = tensor::col2im(&da2, &[n, 6, 14, 14], &conv)?.reshape(&[n * 1176])?;
    report("S2", "∇z⁽²⁾ = vec(col2im(∇a⁽²⁾))", &dz2, pass.grad(grads, "z2")?)?;
    let da1 = route_to_argmax(&pass.a1.value(), &dz2)?;
    report("S2", "∇a⁽¹⁾ = ∇z⁽²⁾ ⊙ 1(a⁽¹⁾ is the max)", &da1, pass.grad(grads, "a1")?)?;

    // C1.
    let dout1 = tensor::pool_windows_adjoint(&da1, &[n, 6, 28, 28], &pool)?;
    let dy1 = dout1.permute(&[0, 2, 3, 1])?.reshape(&[n * 784, 6])?;
    report("C1", "∇y⁽¹⁾ = rows(Sᵀ·∇a⁽¹⁾)", &dy1, pass.grad(grads, "y1")?)?;
    let dz1 = dy1.mul(&relu_mask(pass.z1))?;
    report("C1", "∇z⁽¹⁾ = ∇y⁽¹⁾ ⊙ 1(z⁽¹⁾ > 0)", &dz1, pass.grad(grads, "z1")?)?;
    let w1 = wm(param(m, "c1.weight")?)?;
    let dw1 = pass.a0.value().t()?.matmul(&dz1)?.add(&w1.mul_scalar(REG))?;
    report("C1", "∇W⁽¹⁾ = a⁽⁰⁾ᵀ·∇z⁽¹⁾ + reg·W⁽¹⁾", &dw1, &conv_w(param(m, "c1.weight")?)?)?;
    report("C1", "∇b⁽¹⁾ = 1ᵀ·∇z⁽¹⁾", &dz1.sum_axis(0, false)?, &bias_of(param(m, "c1.bias").ok())?)?;
    let da0 = dz1.matmul(&w1.t()?)?;
    report("C1", "∇a⁽⁰⁾ = ∇z⁽¹⁾·W⁽¹⁾ᵀ", &da0, pass.grad(grads, "a0")?)?;
    Ok(worst)
}

/// The loss J on a no-grad tape.
fn loss_of(m: &LeNet5<f64>, x: &Tensor<f64>, labels: &[usize]) -> Res<f64> {
    let tape = Tape::no_grad();
    Ok(forward(&tape, m, x, labels)?.loss.value().item()?)
}

/// The central difference of J in element `i` of parameter `k` (in `named_parameters`
/// order), perturbing the model's parameter in place and restoring it.
fn central_difference(m: &mut LeNet5<f64>, k: usize, i: usize, x: &Tensor<f64>, labels: &[usize]) -> Res<f64> {
    let nudge = |m: &mut LeNet5<f64>, delta: f64| m.named_parameters_mut()[k].1.value.as_mut_slice()[i] += delta;
    nudge(m, STEP);
    let plus = loss_of(m, x, labels)?;
    nudge(m, -2.0 * STEP);
    let minus = loss_of(m, x, labels)?;
    nudge(m, STEP);
    Ok((plus - minus) / (2.0 * STEP))
}

fn main() -> Res<()> {
    let mut rng = StdRng::seed_from_u64(5);
    let mut model = models::lenet5::new::<f64, _>(&mut rng)?;
    let labels = [3, 7];

    // Draw inputs until no ReLU input or pooling maximum sits near a kink.
    let (x, draws, distance) = {
        let mut draw = 0;
        loop {
            draw += 1;
            let x = Tensor::rand_normal(&[N, 1, 32, 32], 0.0, 1.0, &mut StdRng::seed_from_u64(100 + draw))?;
            let tape = Tape::no_grad();
            let d = distance_to_kinks(&forward(&tape, &model, &x, &labels)?);
            if d > MARGIN {
                break (x, draw, d);
            }
            if draw == 1000 {
                return Err("no input away from the kinks in 1000 draws".into());
            }
        }
    };

    // 1. Forward.
    let tape = Tape::new();
    let pass = forward(&tape, &model, &x, &labels)?;
    println!("LeNet-5 forward pass, N = {N}, reg = {REG}, labels {labels:?}");
    println!("(input: standard normal, draw {draws}; nearest ReLU kink or pooling tie at {distance:.1e})");
    let relu_inputs: Vec<f64> = [pass.z1, pass.z3, pass.z5, pass.z6].iter().flat_map(|z| z.value().to_vec()).collect();
    let zeros = relu_inputs.iter().filter(|v| **v == 0.0).count();
    println!("(ReLU inputs exactly 0, where 1(z ≥ 0) and 1(z > 0) differ: {zeros} of {})\n", relu_inputs.len());
    println!("{:<5} {:<32} {:<26} top-left corner", "layer", "matrix", "shape");
    for s in &pass.steps {
        let value = s.var.value();
        let actual = dims(value.shape());
        let shape = if actual == s.shape { actual } else { format!("{} = {actual}", s.shape) };
        println!("{:<5} {:<32} {:<26} {}", s.layer, s.what, shape, corner(&value));
    }
    let logits = {
        let t = Tape::no_grad();
        model.forward(t.constant(x.clone()))?.value()
    };
    let same = max_diff(&logits, &pass.z7.value())?;
    println!("\nz⁽⁷⁾ against LeNet5::forward (the layers' code path): max |difference| = {same:.1e}");
    if same > FORMULA_TOL {
        return Err(format!("the derivation's ops and LeNet5::forward differ by {same:e}").into());
    }

    // 2. Backward: the derivation's formulas against the tape.
    let grads = tape.backward(pass.loss)?;
    println!("\nBackward pass: each gradient by its formula (plain tensor ops), against the tape");
    println!("{:<5} {:<42} {:<12} {:>9}", "layer", "gradient", "shape", "max |Δ|");
    let worst = backward_by_hand(&model, &pass, &grads, &labels)?;
    if worst > FORMULA_TOL {
        return Err(format!("a formula differs from the tape by {worst:e}").into());
    }
    let data_loss = pass.data_loss.value().item()?;
    let analytic: Vec<(String, Tensor<f64>)> = model
        .named_parameters()
        .into_iter()
        .map(|(name, p)| Ok((name, grads.param(p).ok_or("missing gradient")?.to_contiguous())))
        .collect::<Res<_>>()?;
    drop(pass);
    drop(tape);

    // 3. Central differences.
    println!("\ndataLoss = {data_loss:.6}");
    println!(
        "\nParameter gradients against central differences (h = {STEP:e}; {SAMPLES} sampled elements per weight, every bias element)"
    );
    println!("{:<10} {:<10} {:>7} {:>14} {:>14}", "parameter", "shape", "checked", "max rel error", "max |Δ|");
    let mut pick = StdRng::seed_from_u64(11);
    let mut failures = Vec::new();
    let mut numeric_biases = Vec::new();
    for (k, (name, grad)) in analytic.iter().enumerate() {
        let numel = grad.numel();
        let elements: Vec<usize> = if name.ends_with("bias") || numel <= SAMPLES {
            (0..numel).collect()
        } else {
            rand::seq::index::sample(&mut pick, numel, SAMPLES).into_vec()
        };
        let (mut rel, mut abs) = (0.0f64, 0.0f64);
        let mut numeric = Vec::new();
        for &i in &elements {
            let num = central_difference(&mut model, k, i, &x, &labels)?;
            let a = grad.as_slice().ok_or("gradient not contiguous")?[i];
            abs = abs.max((a - num).abs());
            rel = rel.max((a - num).abs() / num.abs().max(FLOOR));
            numeric.push((i, num));
        }
        println!("{name:<10} {:<10} {:>7} {rel:>14.2e} {abs:>14.2e}", dims(grad.shape()), elements.len());
        if rel > MAX_REL {
            failures.push(format!("{name}: max relative error {rel:e}"));
        }
        if name.ends_with("bias") {
            numeric_biases.push((name.clone(), grad.clone(), numeric));
        }
    }

    // 4. The bias erratum: column sum against the derivation's (1/M)·column sum.
    println!("\nBias gradients: the column sum 1ᵀ·∇z against the derivation's (1/M)·1ᵀ·∇z (largest element of each)");
    println!(
        "{:<8} {:>6} {:>14} {:>14} {:>14} {:>14}",
        "bias", "M", "central diff.", "1ᵀ·∇z", "(1/M)·1ᵀ·∇z", "diff./(1/M)"
    );
    for ((name, grad, numeric), m) in numeric_biases.iter().zip([N * 784, N * 100, N, N, N]) {
        let &(i, num) = numeric.iter().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).ok_or("empty bias")?;
        let sum = grad.as_slice().ok_or("gradient not contiguous")?[i];
        let mean = sum / m as f64;
        println!("{name:<8} {m:>6} {num:>14.6e} {sum:>14.6e} {mean:>14.6e} {:>14.1}", num / mean);
        if ((num / mean) / m as f64 - 1.0).abs() > 1e-4 {
            failures.push(format!("{name}: the (1/M) version is off by {} rather than M = {m}", num / mean));
        }
    }

    if failures.is_empty() {
        println!(
            "\nAll formulas agree with the tape (max |Δ| {worst:.1e}) and all gradients with central differences."
        );
        Ok(())
    } else {
        Err(failures.join("; ").into())
    }
}
