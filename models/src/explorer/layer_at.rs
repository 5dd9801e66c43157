//! Where a layer sits in the page's pass ([`LayerAt`]): its key and card, its place in a
//! residual block, its module, and the panels of its input, for [`super::Forward`] and
//! [`super::Backward`].

use autograd::Param;
use layers::{Module, Part};

use super::ExplorerError;
use super::matrix::{Lane, Matrix};
use super::names::Names;
use super::recorder::missing;
use crate::arch::LayerSpec;
use crate::notation::{inner_key, sup_key};

/// What [`Forward`](super::Forward) and [`Backward`](super::Backward) share (both dereference to it): the layer's key and
/// card on the page, its place in a residual block, its module, and the panels of its
/// input.
///
/// A top-level layer `i` has the key `i` (its matrices are `a3`, `∇W` is `dW3`, formulas
/// say `⁽³⁾`); layer `j` of block `i`'s body has `{i}b{j}` (`a3b1`, `⁽³ᵇ¹⁾`), of its
/// shortcut `{i}s{j}`. In the derivation's notation the key is the stage's number (`1` for
/// C1) and its window matrix takes the number before (`a0`): the layer's
/// names (`explorer/names.rs`).
#[derive(Clone)]
pub struct LayerAt<'a> {
    pub(super) names: Names,
    pub(super) title: String,
    pub(super) lane: Option<Lane>,
    pub(super) section: &'static str,
    pub(super) layer: &'a dyn Module<f32>,
    /// The probe whose gradient is this layer's `∇x`: the input's own, or (first layer of
    /// a block's path) the path's copy of the block's input.
    pub(super) input_probe: String,
    /// The page id of the output's gradient as the next layer shows it (its `∇x`).
    pub(super) output_grad: String,
    /// In the derivation's notation: the card (title, backward section) of the stage before,
    /// where a kind whose `∇x` opens that card shows it ([`Kind::dx_opens_input_card`](crate::arch::Kind::dx_opens_input_card)).
    pub(super) input_card: Option<(String, &'static str)>,
    /// In the derivation's notation: the activation applied to the layer's rows, in its card
    /// ([`Forward::fused`](super::Forward::fused)).
    pub(super) fused: Option<(&'a LayerSpec, &'a dyn Module<f32>)>,
}

impl<'a> LayerAt<'a> {
    /// A top-level layer (or a stage's head), named by `names`.
    pub(super) fn new(names: Names, title: &str, section: &'static str, layer: &'a dyn Module<f32>) -> Self {
        LayerAt {
            input_probe: names.x.0.clone(),
            output_grad: String::new(),
            names,
            title: title.to_string(),
            lane: None,
            section,
            layer,
            input_card: None,
            fused: None,
        }
    }

    /// The activation fused on this layer's rows, reading `z` and writing the rows, in this
    /// layer's card.
    pub(super) fn fused_at(&self) -> Option<(&'a LayerSpec, LayerAt<'a>)> {
        let (spec, layer) = self.fused?;
        let names = self.names.fused();
        let at =
            LayerAt { input_probe: names.x.0.clone(), names, layer, fused: None, input_card: None, ..self.clone() };
        Some((spec, at))
    }

    /// Layer `j` (`spec`, built as `layer`) of this block's `path` (`body` or `shortcut`),
    /// shown in that lane of the block's card.
    pub fn inner(
        &self,
        path: &'static str,
        j: usize,
        spec: &LayerSpec,
        layer: &'a dyn Module<f32>,
        section: &'static str,
    ) -> LayerAt<'a> {
        let key = inner_key(self.key(), path, j);
        let part = format!("{path} {j} {spec}");
        let lane = match &self.lane {
            Some(outer) => {
                Lane { path: outer.path, part: format!("{} › {part}", outer.part), what: spec.erased().card() }
            }
            None => Lane { path, part, what: spec.erased().card() },
        };
        let (input, input_probe) = match j {
            0 => (self.names.x.0.clone(), self.path_input(path)),
            _ => {
                let previous = format!("y{}", inner_key(self.key(), path, j - 1));
                (previous.clone(), previous)
            }
        };
        LayerAt {
            names: self.names.inner(&key, path, j, &input),
            title: self.title.clone(),
            lane: Some(lane),
            section,
            layer,
            input_probe,
            output_grad: format!("dx{}", inner_key(self.key(), path, j + 1)),
            input_card: None,
            fused: None,
        }
    }

    /// The probe of this block's input as `path` reads it.
    pub(super) fn path_input(&self, path: &str) -> String {
        format!("x{}{}", self.names.key, path.get(..1).unwrap_or(""))
    }

    /// The layer's key: `3`, or `3b1` inside block 3.
    pub fn key(&self) -> &str {
        &self.names.key
    }

    /// `⁽³⁾`, the layer's superscript in formulas (`⁽³ᵇ¹⁾` inside a block).
    pub fn sup(&self) -> String {
        sup_key(&self.names.key)
    }

    /// The modules of the child `path` of the layer's module (a residual block's `body`,
    /// `shortcut`), in order; none when it has no such child.
    pub fn path_layers(&self, path: &str) -> Vec<&'a dyn Module<f32>> {
        let mut found = None;
        self.layer.visit(&mut |part| {
            if let Part::Child(name, child) = part
                && name == path
            {
                found = Some(child);
            }
        });
        let mut layers = Vec::new();
        if let Some(path) = found {
            path.visit(&mut |part| {
                if let Part::Child(_, layer) = part {
                    layers.push(layer);
                }
            });
        }
        layers
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
        self.param(name).ok_or_else(|| missing(&format!("{}.{name}", self.names.param)))
    }

    /// The page id of the layer's matrix in role `role` ([`Names::id`]): `a3`, `dW3`.
    pub(super) fn id(&self, role: &str) -> String {
        self.names.id(role)
    }

    /// Whether the page writes the derivation's notation (a preset's stages).
    pub fn derivation(&self) -> bool {
        self.names.derivation
    }

    /// Whether the layer's output is drawn as one row only (the derivation's stage whose
    /// output is a vector): its maps are not drawn, its bias is said in the product.
    pub fn vector(&self) -> bool {
        self.names.vector
    }

    pub(super) fn place(&self, m: &mut Matrix) {
        m.lane.clone_from(&self.lane);
    }
}
