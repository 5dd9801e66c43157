//! What a layer kind sees of the generic pass ([`super::layers_pass()`]) when it shows its
//! matrices on the page: [`Forward`] to record and show them, [`Backward`] to show their
//! gradients ([`Kind::show_forward`](crate::arch::Kind::show_forward),
//! [`Kind::show_backward`](crate::arch::Kind::show_backward)).
//!
//! A kind names a matrix by its role (`a`, `W`, `z`, `y`, …) and writes formulas with roles
//! in braces (`{z} = {a}·{W} + {b}`); the layer's names (`explorer/names.rs`) give the page id
//! (`a3`, its gradient `da3`) and the symbols (`a⁽³⁾`, or the derivation's `a⁽²⁾` in stage 3).

use autograd::{Gradients, Tape, Var};
use tensor::Tensor;

use super::layer_at::LayerAt;
use super::recorder::{Recorder, Shown, missing, panel_shape};
use super::{ExplorerError, Link, Matrix};
use crate::arch::LayerSpec;
use tensor::Window2d;

/// Anchors of `docs/derivation.md` that several kinds share.
pub mod sections {
    /// The convolution as im2col and one product.
    pub const CONV: &str = "im2col-a-convolution-becomes-one-matrix-product";
    /// Batch norm and average pooling.
    pub const BEYOND: &str = "beyond-lenet-5-batch-normalisation-and-average-pooling";
}

/// A layer's forward pass as its kind shows it.
pub struct Forward<'a, 't> {
    at: LayerAt<'a>,
    r: &'a mut Recorder<'t>,
    output_shape: Vec<usize>,
}

impl<'a> std::ops::Deref for Forward<'a, '_> {
    type Target = LayerAt<'a>;
    fn deref(&self) -> &LayerAt<'a> {
        &self.at
    }
}

impl<'a, 't> Forward<'a, 't> {
    pub(super) fn new(r: &'a mut Recorder<'t>, at: LayerAt<'a>, output_shape: Vec<usize>) -> Self {
        Forward { at, r, output_shape }
    }

    /// Shows the forward pass of `x` through `spec`, the layer `at` (an inner layer of this
    /// one, [`LayerAt::inner`]), as its kind shows it; its output.
    pub fn show_layer(
        &mut self,
        at: LayerAt<'_>,
        spec: &LayerSpec,
        x: Var<'t, f32>,
    ) -> Result<Var<'t, f32>, ExplorerError> {
        let output_shape = at.layer.output_shape(&x.shape())?;
        let mut inner = Forward { at, r: &mut *self.r, output_shape };
        spec.erased().show_forward(&mut inner, x)
    }

    /// The activation the derivation applies to this layer's rows `z` (`y⁽¹⁾ = relu(z⁽¹⁾)`),
    /// shown in its card; `z` itself when there is none.
    pub fn fused(&mut self, z: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        match self.at.fused_at() {
            Some((spec, at)) => self.show_layer(at, spec, z),
            None => Ok(z),
        }
    }

    /// `template` in the pass's notation (`explorer/names.rs`): `{z} = {a}·{W}` →
    /// `z⁽³⁾ = a⁽³⁾·W⁽³⁾` (`z⁽³⁾ = a⁽²⁾·W⁽³⁾` in the derivation's).
    pub fn f(&self, template: &str) -> String {
        self.at.names.fill(template, false)
    }

    /// The tape the pass records on.
    pub fn tape(&self) -> &'t Tape<f32> {
        self.r.tape
    }

    /// The built module's own forward pass.
    pub fn layer_forward(&self, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        Ok(self.at.layer.forward(x)?)
    }

    /// The layer's output shape for this image, `[1, …]`.
    pub fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    /// The value of the module's buffer `name` (`running_mean`, …).
    pub fn buffer(&self, name: &str) -> Result<Tensor<f32>, ExplorerError> {
        let buffer = self.at.layer.named_buffers().into_iter().find(|(n, _)| n == name).map(|(_, b)| b.get());
        buffer.ok_or_else(|| missing(&format!("{}.{name}", self.at.names.param)))
    }

    /// Files the matrix just added under this layer's card, with the operator that reads
    /// it after the one before (`·` before a weight, `+` before a bias, `=` before the
    /// product, `→` after a computed matrix).
    fn place(&mut self, shown: Shown, role: &str) {
        let card = (self.at.title.clone(), self.at.lane.as_ref().map(|l| l.part.clone()));
        let before = self.r.last.as_ref().filter(|(c, _)| *c == card).map(|(_, s)| *s);
        let op = match (shown, role, before) {
            (Shown::Factor, "W", _) => Some("·"),
            (Shown::Factor, _, _) => Some("+"),
            (Shown::Probe, _, Some(Shown::Factor)) => Some("="),
            (Shown::Probe, _, Some(Shown::HiddenBias)) => Some("+ b ="),
            (Shown::Probe, _, Some(Shown::Probe)) => Some("→"),
            _ => None,
        };
        if let Some(m) = self.r.forward.last_mut().filter(|_| shown != Shown::HiddenBias) {
            self.at.place(m);
            m.op = op;
        }
        self.r.last = Some((card, shown));
    }

    /// Shows `t` as the layer's matrix in role `role` (page id `{role}{key}`), without a
    /// gradient.
    pub fn show(&mut self, role: &str, formula: String, t: &Tensor<f32>) {
        self.r.show(self.at.id(role), &self.at.title, formula, self.at.section, t);
        self.place(if role == "W" { Shown::Factor } else { Shown::Value }, role);
    }

    /// Shows `var` as the layer's matrix in role `role` and records its gradient for
    /// [`Backward::grad`]; the same values, to compute on with.
    pub fn probe(&mut self, role: &str, formula: String, var: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let id = self.at.id(role);
        let symbol = self.at.names.role(role).1;
        let var = self.r.probe(id.clone(), &self.at.title, formula, self.at.section, var)?;
        self.place(Shown::Probe, role);
        self.r.output = (id, symbol);
        self.r.output_maps = var.shape().len() == 4;
        Ok(var)
    }

    /// `x` as the block's `path` reads it, with a probe of its own: in the backward pass the
    /// path's term of `∇x` ([`Backward::path_input_grad`]).
    pub fn path_input(&mut self, path: &str, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        self.r.tap(self.at.path_input(path), x)
    }

    /// `z + b` with the parameter `bias` shown as `b⁽ⁱ⁾` (said in the product's operator
    /// instead when the output is [`LayerAt::vector`]), or `z` for a module without one.
    pub fn bias(&mut self, z: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let Some(b) = self.param("bias") else { return Ok(z) };
        let b = self.tape().param(b);
        if self.at.vector() {
            self.place(Shown::HiddenBias, "b");
        } else {
            self.r.show(self.at.id("b"), &self.at.title, self.f("{b}"), self.at.section, &b.value());
            self.place(Shown::Factor, "b");
        }
        Ok(z.add_bias(b)?)
    }

    /// Marks the matrix shown last (a window matrix) and its gradient `∇a⁽ⁱ⁾` with the
    /// column of each row's maximum.
    pub fn argmax(&mut self, columns: Vec<u8>) {
        if let Some(m) = self.r.forward.last_mut() {
            m.argmax = Some(columns.clone());
        }
        self.r.argmax.insert(self.at.id("a"), columns);
    }

    /// Links the rows of the layer's window matrices (those of `rows`, roles such as `a`,
    /// `z`, with their gradients) to their `window` in the input maps `[1, C, H, W]` and to
    /// their pixel of the output, the matrix of role `output`: one window over every map
    /// (`per_channel` false, a convolution) or over map `c` only (a pooling layer, rows
    /// ordered map by map).
    pub fn link_windows(
        &mut self,
        window: &Window2d,
        input_shape: &[usize],
        per_channel: bool,
        rows: &[&str],
        output: &str,
    ) -> Result<(), ExplorerError> {
        let at = &self.at;
        let internal = || ExplorerError::Internal(format!("the maps of layer {}", at.key()));
        let &[1, c, h, w] = input_shape else { return Err(internal()) };
        let &[1, f, oh, ow] = &self.output_shape[..] else { return Err(internal()) };
        let [kh, kw] = window.kernel;
        // Inside a block: `layer 5 res › body 0 conv(…)`, not the block's whole spec.
        let name = match &at.lane {
            Some(lane) => format!("{} › {}", at.title.split('(').next().unwrap_or(&at.title), lane.part),
            None => at.title.clone(),
        };
        let note = match (at.derivation(), per_channel) {
            (true, true) => format!(": the {kh}×{kw} block whose max is one {name} pixel"),
            (true, false) if c == 1 => format!(
                " of the {} {name} maps; its {} columns are the {kh}×{kw} window of {} there",
                count(f),
                kh * kw,
                at.names.x.1
            ),
            (true, false) => format!(" of the {f} {name} maps; {} columns = {c} maps × {kh}×{kw} window", c * kh * kw),
            (false, true) => format!(": a {kh}×{kw} window of that map of {name}'s input"),
            (false, false) => {
                format!(" of the {f} maps of {name}; {} columns = {c} maps × {kh}×{kw} window", c * kh * kw)
            }
        };
        let ids = |list: &mut Vec<String>, id: String| {
            if !list.contains(&id) {
                list.push(id);
            }
        };
        let mut row_ids = Vec::new();
        for prefix in ["", "d"] {
            for role in rows {
                ids(&mut row_ids, at.id(&format!("{prefix}{role}")));
            }
        }
        let mut output_ids = Vec::new();
        for id in [at.id(output), at.id(&format!("d{output}")), at.output_grad.clone()] {
            ids(&mut output_ids, id);
        }
        output_ids.retain(|id| !id.is_empty());
        let input: Vec<&str> = [Some(at.names.x.0.as_str()), at.names.dx.as_deref()].into_iter().flatten().collect();
        let link = Link::new(&name, window, [c, h, w], [f, oh, ow], per_channel)
            .panels(&strs(&row_ids), &input, &strs(&output_ids))
            .note(note);
        self.r.links.push(link);
        Ok(())
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `six` for 6: a count below ten in words, as the derivation writes it.
fn count(n: usize) -> String {
    const WORDS: [&str; 10] = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    WORDS.get(n).map_or_else(|| n.to_string(), |w| w.to_string())
}

/// A layer's gradients as its kind shows them, after the backward pass.
pub struct Backward<'a, 't> {
    at: LayerAt<'a>,
    r: &'a Recorder<'t>,
    grads: &'a Gradients<f32>,
    out: &'a mut Vec<Matrix>,
}

impl<'a> std::ops::Deref for Backward<'a, '_> {
    type Target = LayerAt<'a>;
    fn deref(&self) -> &LayerAt<'a> {
        &self.at
    }
}

impl<'a, 't> Backward<'a, 't> {
    pub(super) fn new(
        r: &'a Recorder<'t>,
        grads: &'a Gradients<f32>,
        at: LayerAt<'a>,
        out: &'a mut Vec<Matrix>,
    ) -> Self {
        Backward { at, r, grads, out }
    }

    /// Shows the gradients of `spec`, the layer `at` (this one or an inner layer,
    /// [`LayerAt::inner`]), as its kind shows them, then the `∇x` it sends back
    /// ([`Kind::dx`](crate::arch::Kind::dx)).
    pub fn show_layer(&mut self, at: LayerAt<'_>, spec: &LayerSpec) -> Result<(), ExplorerError> {
        let mut inner = Backward { at, r: self.r, grads: self.grads, out: &mut *self.out };
        spec.erased().show_backward(&mut inner)?;
        let Some(id) = inner.at.names.dx.clone() else { return Ok(()) };
        let dx = inner.r.grad(inner.grads, &inner.at.input_probe)?;
        let formula = spec.erased().dx(&inner);
        let (title, section) = match &inner.at.input_card {
            Some((title, section)) if spec.erased().dx_opens_input_card() => (title.clone(), *section),
            _ => (inner.at.title.clone(), inner.at.section),
        };
        let mut m = Matrix::new(&id, &title, &formula, section, &panel_shape(dx.shape()), dx).signed();
        inner.at.place(&mut m);
        inner.out.push(m);
        Ok(())
    }

    /// The gradients through the activation the derivation applies to this layer's rows
    /// ([`Forward::fused`]): `∇z⁽¹⁾ = ∇y⁽¹⁾ ⊙ 1(z⁽¹⁾ > 0)`.
    pub fn fused(&mut self) -> Result<(), ExplorerError> {
        match self.at.fused_at() {
            Some((spec, at)) => self.show_layer(at, spec),
            None => Ok(()),
        }
    }

    /// `template` in the pass's notation, the input as the backward pass names it
    /// ([`Forward::f`]).
    pub fn f(&self, template: &str) -> String {
        self.at.names.fill(template, true)
    }

    /// The shape of the layer's input, `[1, …]`.
    pub fn input_shape(&self) -> Result<&'a [usize], ExplorerError> {
        Ok(self.r.grad(self.grads, &self.at.input_probe)?.shape())
    }

    /// The gradient of the layer's matrix in role `role` (one it showed with
    /// [`Forward::probe`]).
    pub fn grad(&self, role: &str) -> Result<&'a Tensor<f32>, ExplorerError> {
        self.r.grad(self.grads, &self.at.id(role))
    }

    /// The block's `path`'s term of `∇x`: the gradient of its copy of the input
    /// ([`Forward::path_input`]).
    pub fn path_input_grad(&self, path: &str) -> Result<&'a Tensor<f32>, ExplorerError> {
        self.r.grad(self.grads, &self.at.path_input(path))
    }

    /// The gradient of the module's parameter `name`.
    pub fn param_grad(&self, name: &str) -> Result<Tensor<f32>, ExplorerError> {
        let id = format!("{}.{name}", self.at.names.param);
        let p = self.param(name).ok_or_else(|| missing(&id))?;
        Ok(self.grads.param(p).ok_or_else(|| missing(&id))?.clone())
    }

    /// Shows `t` as the gradient in role `role` of the layer (`dW`: page id `dW3`).
    pub fn push(&mut self, role: &str, formula: String, t: &Tensor<f32>) {
        let (id, shape) = (self.at.id(role), panel_shape(t.shape()));
        let mut m = Matrix::new(&id, &self.at.title, &formula, self.at.section, &shape, t).signed();
        self.at.place(&mut m);
        self.out.push(m);
    }
}
