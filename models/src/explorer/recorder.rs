//! The forward matrices of the page's pass and the probes that give their gradients
//! ([`Recorder`]), which [`super::Forward`] and [`super::Backward`] share.

use std::collections::HashMap;

use autograd::{Gradients, Tape, Var};
use tensor::Tensor;

use super::names::Sym;
use super::{ExplorerError, Link, Matrix};

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
    /// The last matrix shown and its card, for the operator before the next one.
    pub(super) last: Option<(Card, Shown)>,
    /// The last probe: the page id and symbol of the output of the layer shown last, and
    /// whether it is maps.
    pub(super) output: Sym,
    pub(super) output_maps: bool,
}

/// A card, or a part of a residual block's card: its title and lane.
pub(super) type Card = (String, Option<String>);

/// What was shown last in a card, which decides the operator before the next panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shown {
    /// A matrix computed from the one before it (`→` before the next).
    Probe,
    /// A weight matrix, or the bias (`=` before the product).
    Factor,
    /// A bias said in the product's operator (`+ b =`).
    HiddenBias,
    /// A value shown for reference (no operator).
    Value,
}

impl<'t> Recorder<'t> {
    pub(super) fn new(tape: &'t Tape<f32>) -> Self {
        Recorder {
            tape,
            forward: Vec::new(),
            probes: HashMap::new(),
            argmax: HashMap::new(),
            links: Vec::new(),
            last: None,
            output: ("x".into(), "x".into()),
            output_maps: true,
        }
    }

    pub(super) fn show(
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
    pub(super) fn tap(&mut self, id: String, var: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
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
