//! What the page writes about each layer of a network of layers: its card (title, one line
//! on what it does, the derivation's sections), as its kind words it
//! ([`Kind::card`](crate::arch::Kind::card), [`Kind::sections`](crate::arch::Kind::sections)).

use serde::Serialize;

use super::net::layer_title;
use crate::arch::LayerSpec;

/// One layer's card on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerCard {
    /// `layer 3 conv(16,3,p=1)`: the `layer` of its matrices.
    pub title: String,
    /// What the layer does, in a line.
    pub what: String,
    /// The derivation's section on its forward pass (empty when it has none).
    pub section: &'static str,
    /// The derivation's section on its backward pass (empty when it has none).
    pub back_section: &'static str,
}

/// The cards of every layer of `specs`.
pub fn layer_cards(specs: &[LayerSpec]) -> Vec<LayerCard> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let (section, back_section) = spec.erased().sections();
            LayerCard { title: layer_title(i, spec), what: spec.erased().card(), section, back_section }
        })
        .collect()
}
