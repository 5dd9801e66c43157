//! What a layer kind sees of the generic pass ([`super::layers_pass()`]) when it shows its
//! matrices on the page: [`Forward`] to record and show them, [`Backward`] to show their
//! gradients ([`Kind::show_forward`](crate::arch::Kind::show_forward),
//! [`Kind::show_backward`](crate::arch::Kind::show_backward)).
//!
//! Ids are the page's keys: a kind names a matrix `a`, `W`, `z`, … and layer `i`'s is shown
//! as `a{i}`; its gradient as `da{i}`.

use std::collections::HashMap;

use autograd::{Gradients, Tape, Var};
use tensor::Tensor;

use super::layer_at::LayerAt;
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

/// A panel's shape: `[C, H, W]` for one image's maps, `[1, n]` for a vector.
pub(super) fn panel_shape(shape: &[usize]) -> Vec<usize> {
    match shape {
        [] => vec![1, 1],
        [n] => vec![1, *n],
        [1, c, h, w] => vec![*c, *h, *w],
        s => s.to_vec(),
    }
}

/// The forward matrices of a pass and the probes that give their gradients.
pub(super) struct Recorder<'t> {
    pub(super) tape: &'t Tape<f32>,
    pub(super) forward: Vec<Matrix>,
    probes: HashMap<String, Var<'t, f32>>,
    /// Each max-pool layer's argmax per window row (by layer key), for its `∇a` too.
    pub(super) argmax: HashMap<String, Vec<u8>>,
    /// Each window layer's row ↔ window geometry.
    pub(super) links: Vec<Link>,
}

impl<'t> Recorder<'t> {
    pub(super) fn new(tape: &'t Tape<f32>) -> Self {
        Recorder { tape, forward: Vec::new(), probes: HashMap::new(), argmax: HashMap::new(), links: Vec::new() }
    }

    fn show(
        &mut self,
        id: String,
        layer: &str,
        formula: String,
        section: &'static str,
        t: &Tensor<f32>,
    ) -> &mut Matrix {
        self.forward.push(Matrix::new(&id, layer, &formula, section, &panel_shape(t.shape()), t));
        self.forward.last_mut().expect("just pushed")
    }

    /// Adds a probe (a zero leaf) to `var` for its gradient, under `id`, without showing it.
    fn tap(&mut self, id: String, var: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let zero = self.tape.leaf(Tensor::zeros(&var.shape())?);
        self.probes.insert(id, zero);
        Ok(var.add(zero)?)
    }

    /// Shows `var` and adds a probe (a zero leaf) for its gradient.
    pub(super) fn probe(
        &mut self,
        id: String,
        layer: &str,
        formula: String,
        section: &'static str,
        var: Var<'t, f32>,
    ) -> Result<Var<'t, f32>, ExplorerError> {
        let var = self.tap(id.clone(), var)?;
        self.show(id, layer, formula, section, &var.value());
        Ok(var)
    }

    /// The gradient of the probe `id`.
    pub(super) fn grad<'g>(&self, grads: &'g Gradients<f32>, id: &str) -> Result<&'g Tensor<f32>, ExplorerError> {
        self.probes.get(id).and_then(|p| grads.get(*p)).ok_or_else(|| missing(id))
    }
}

pub(super) fn missing(id: &str) -> ExplorerError {
    ExplorerError::Internal(format!("no gradient recorded for {id}"))
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
        buffer.ok_or_else(|| missing(&format!("{}.{name}", self.at.key)))
    }

    /// Shows `t` as matrix `id` of the layer (page id `{id}{key}`), without a gradient.
    pub fn show(&mut self, id: &str, formula: String, t: &Tensor<f32>) {
        let m = self.r.show(self.at.id(id), &self.at.title, formula, self.at.section, t);
        self.at.place(m);
    }

    /// Shows `var` as matrix `id` of the layer and records its gradient for
    /// [`Backward::grad`]; the same values, to compute on with.
    pub fn probe(&mut self, id: &str, formula: String, var: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let var = self.r.probe(self.at.id(id), &self.at.title, formula, self.at.section, var)?;
        if let Some(m) = self.r.forward.last_mut() {
            self.at.place(m);
        }
        Ok(var)
    }

    /// `x` as the block's `path` reads it, with a probe of its own: in the backward pass the
    /// path's term of `∇x` ([`Backward::path_input_grad`]).
    pub fn path_input(&mut self, path: &str, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        self.r.tap(self.at.path_input(path), x)
    }

    /// `z + b` with the parameter `bias` shown as `b⁽ⁱ⁾`, or `z` for a module without one.
    pub fn bias(&mut self, z: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let Some(b) = self.param("bias") else { return Ok(z) };
        let b = self.tape().param(b);
        let s = self.sup();
        self.show("b", format!("b{s}"), &b.value());
        Ok(z.add_bias(b)?)
    }

    /// Marks the matrix shown last (a window matrix) and its gradient `∇a⁽ⁱ⁾` with the
    /// column of each row's maximum.
    pub fn argmax(&mut self, columns: Vec<u8>) {
        if let Some(m) = self.r.forward.last_mut() {
            m.argmax = Some(columns.clone());
        }
        self.r.argmax.insert(self.at.key.clone(), columns);
    }

    /// Links the rows of the layer's window matrices (`a⁽ⁱ⁾`, and `z⁽ⁱ⁾` for a convolution,
    /// with their gradients) to their `window` in the input maps `[1, C, H, W]` and to their
    /// pixel of the output: one window over every map (`per_channel` false, a convolution)
    /// or over map `c` only (a pooling layer, rows ordered map by map).
    pub fn link_windows(
        &mut self,
        window: &Window2d,
        input_shape: &[usize],
        per_channel: bool,
    ) -> Result<(), ExplorerError> {
        let at = &self.at;
        // Inside a block: `layer 5 res › body 0 conv(…)`, not the block's whole spec.
        let name = match &at.lane {
            Some(lane) => format!("{} › {}", at.title.split('(').next().unwrap_or(&at.title), lane.part),
            None => at.title.clone(),
        };
        let internal = || ExplorerError::Internal(format!("the maps of layer {}", at.key));
        let &[1, c, h, w] = input_shape else { return Err(internal()) };
        let &[1, f, oh, ow] = &self.output_shape[..] else { return Err(internal()) };
        let [kh, kw] = window.kernel;
        let note = if per_channel {
            format!(": a {kh}×{kw} window of that map of {name}'s input")
        } else {
            format!(" of the {f} maps of {name}; {} columns = {c} maps × {kh}×{kw} window", c * kh * kw)
        };
        let rows = ["a", "z", "da", "dz"].map(|id| at.id(id));
        let output = [at.id("y"), at.id("dy"), at.output_grad.clone()];
        let input = at.input.each_ref().map(String::as_str);
        let link = Link::new(&name, window, [c, h, w], [f, oh, ow], per_channel)
            .panels(&rows.each_ref().map(String::as_str), &input, &output.each_ref().map(String::as_str))
            .note(note);
        self.r.links.push(link);
        Ok(())
    }
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
        let dx = inner.r.grad(inner.grads, &inner.at.input_probe)?;
        inner.push("dx", spec.erased().dx(&inner.sup()), dx);
        Ok(())
    }

    /// The gradient of the layer's matrix `id` (one it showed with [`Forward::probe`]).
    pub fn grad(&self, id: &str) -> Result<&'a Tensor<f32>, ExplorerError> {
        self.r.grad(self.grads, &self.at.id(id))
    }

    /// The block's `path`'s term of `∇x`: the gradient of its copy of the input
    /// ([`Forward::path_input`]).
    pub fn path_input_grad(&self, path: &str) -> Result<&'a Tensor<f32>, ExplorerError> {
        self.r.grad(self.grads, &self.at.path_input(path))
    }

    /// The gradient of the module's parameter `name`.
    pub fn param_grad(&self, name: &str) -> Result<Tensor<f32>, ExplorerError> {
        let id = format!("{}.{name}", self.at.key);
        let p = self.param(name).ok_or_else(|| missing(&id))?;
        Ok(self.grads.param(p).ok_or_else(|| missing(&id))?.clone())
    }

    /// Shows `t` as the gradient `id` of the layer (page id `{id}{key}`, e.g. `dW3`).
    pub fn push(&mut self, id: &str, formula: String, t: &Tensor<f32>) {
        let (id, shape) = (self.at.id(id), panel_shape(t.shape()));
        let mut m = Matrix::new(&id, &self.at.title, &formula, self.at.section, &shape, t).signed();
        self.at.place(&mut m);
        self.out.push(m);
    }
}
