//! What a layer kind sees of the generic pass ([`super::layers_pass()`]) when it shows its
//! matrices on the page: [`Forward`] to record and show them, [`Backward`] to show their
//! gradients ([`Kind::show_forward`](crate::arch::Kind::show_forward),
//! [`Kind::show_backward`](crate::arch::Kind::show_backward)).
//!
//! Ids are the page's keys: a kind names a matrix `a`, `W`, `z`, … and layer `i`'s is shown
//! as `a{i}`; its gradient as `da{i}`.

use std::collections::HashMap;

use autograd::{Gradients, Param, Tape, Var};
use layers::Module;
use tensor::Tensor;

use super::{ExplorerError, Link, Matrix};
use crate::notation::sup;
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
    /// Each max-pool layer's argmax per window row, for its `∇a` too.
    pub(super) argmax: HashMap<usize, Vec<u8>>,
    /// Each window layer's row ↔ window geometry.
    pub(super) links: Vec<Link>,
}

impl<'t> Recorder<'t> {
    pub(super) fn new(tape: &'t Tape<f32>) -> Self {
        Recorder { tape, forward: Vec::new(), probes: HashMap::new(), argmax: HashMap::new(), links: Vec::new() }
    }

    fn show(&mut self, id: String, layer: &str, formula: String, section: &'static str, t: &Tensor<f32>) {
        self.forward.push(Matrix::new(&id, layer, &formula, section, &panel_shape(t.shape()), t));
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
        let zero = self.tape.leaf(Tensor::zeros(&var.shape())?);
        let var = var.add(zero)?;
        self.show(id.clone(), layer, formula, section, &var.value());
        self.probes.insert(id, zero);
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

/// What [`Forward`] and [`Backward`] share (both dereference to it): the layer's position,
/// its title and section on the page, and its module.
pub struct LayerAt<'a> {
    i: usize,
    title: &'a str,
    section: &'static str,
    layer: &'a dyn Module<f32>,
}

impl<'a> LayerAt<'a> {
    pub(super) fn new(i: usize, title: &'a str, section: &'static str, layer: &'a dyn Module<f32>) -> Self {
        LayerAt { i, title, section, layer }
    }

    /// The layer's index, from 0.
    pub fn index(&self) -> usize {
        self.i
    }

    /// `⁽ⁱ⁾`, the layer's superscript in formulas.
    pub fn sup(&self) -> String {
        sup(self.i)
    }

    /// The module's parameter `name` (`weight`, `bias`), if it has one.
    pub fn param(&self, name: &str) -> Option<&'a Param<f32>> {
        self.layer.named_parameters().into_iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// Whether the module has the parameter `name`.
    pub fn has_param(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    /// The module's parameter `name`, which it must have.
    pub fn need(&self, name: &str) -> Result<&'a Param<f32>, ExplorerError> {
        self.param(name).ok_or_else(|| missing(&format!("{}.{name}", self.i)))
    }

    /// The page id `{id}{i}` of the layer's matrix `id`.
    fn id(&self, id: &str) -> String {
        format!("{id}{}", self.i)
    }
}

/// Layer `i`'s forward pass as its kind shows it.
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
        buffer.ok_or_else(|| missing(&format!("{}.{name}", self.at.i)))
    }

    /// Shows `t` as matrix `id` of the layer (page id `{id}{i}`), without a gradient.
    pub fn show(&mut self, id: &str, formula: String, t: &Tensor<f32>) {
        self.r.show(self.at.id(id), self.at.title, formula, self.at.section, t);
    }

    /// Shows `var` as matrix `id` of the layer and records its gradient for
    /// [`Backward::grad`]; the same values, to compute on with.
    pub fn probe(&mut self, id: &str, formula: String, var: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        self.r.probe(self.at.id(id), self.at.title, formula, self.at.section, var)
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
        self.r.argmax.insert(self.at.i, columns);
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
        let (i, title) = (self.at.i, self.at.title);
        let internal = || ExplorerError::Internal(format!("the maps of layer {i}"));
        let &[1, c, h, w] = input_shape else { return Err(internal()) };
        let &[1, f, oh, ow] = &self.output_shape[..] else { return Err(internal()) };
        let [kh, kw] = window.kernel;
        let note = if per_channel {
            format!(": a {kh}×{kw} window of that map of {title}'s input")
        } else {
            format!(" of the {f} maps of {title}; {} columns = {c} maps × {kh}×{kw} window", c * kh * kw)
        };
        let (a, z, da, dz) = (self.at.id("a"), self.at.id("z"), self.at.id("da"), self.at.id("dz"));
        let input = if i == 0 { ["x".to_string(), "dx0".into()] } else { [format!("y{}", i - 1), format!("dx{i}")] };
        let output = [format!("y{i}"), format!("dy{i}"), format!("dx{}", i + 1)];
        let (input, output) = (input.each_ref().map(String::as_str), output.each_ref().map(String::as_str));
        let link = Link::new(title, window, [c, h, w], [f, oh, ow], per_channel)
            .panels(&[&a, &z, &da, &dz], &input, &output)
            .note(note);
        self.r.links.push(link);
        Ok(())
    }
}

/// Layer `i`'s gradients as its kind shows them, after the backward pass.
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

    /// The gradient of the layer's matrix `id` (one it showed with [`Forward::probe`]).
    pub fn grad(&self, id: &str) -> Result<&'a Tensor<f32>, ExplorerError> {
        self.r.grad(self.grads, &self.at.id(id))
    }

    /// The gradient of the module's parameter `name`.
    pub fn param_grad(&self, name: &str) -> Result<Tensor<f32>, ExplorerError> {
        let id = format!("{}.{name}", self.at.i);
        let p = self.param(name).ok_or_else(|| missing(&id))?;
        Ok(self.grads.param(p).ok_or_else(|| missing(&id))?.clone())
    }

    /// Shows `t` as the gradient `id` of the layer (page id `{id}{i}`, e.g. `dW3`).
    pub fn push(&mut self, id: &str, formula: String, t: &Tensor<f32>) {
        let (id, shape) = (self.at.id(id), panel_shape(t.shape()));
        self.out.push(Matrix::new(&id, self.at.title, &formula, self.at.section, &shape, t).signed());
    }
}
