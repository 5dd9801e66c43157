//! What the page writes about each layer of a network: its card (title, one line on what it
//! does forward and backward, the derivation's sections), as its kind words it
//! ([`Kind::card`](crate::arch::Kind::card), [`Kind::sections`](crate::arch::Kind::sections)),
//! or as a preset's stages do ([`Preset::cards`](crate::arch::Preset::cards)).

use serde::Serialize;

use super::net::layer_title;
use crate::arch::{Arch, LayerSpec};

/// What a layer's backward card says when its kind says nothing more.
const BACK_WHAT: &str = "the tape's gradients: ∇W, ∇b from the parameters, ∇x sent to the layer before";

/// One layer's card on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerCard {
    /// `layer 3 conv(16,3,p=1)` (`C1` for a preset's stage): the `layer` of its matrices.
    pub title: String,
    /// What the layer does, in a line.
    pub what: String,
    /// The derivation's section on its forward pass (empty when it has none).
    pub section: &'static str,
    /// The backward card's title: `∇ layer 3 conv(16,3,p=1)` (`C1`).
    pub back_title: String,
    /// What its backward pass does, in a line.
    pub back_what: String,
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
            let title = layer_title(i, spec);
            LayerCard {
                back_title: format!("∇ {title}"),
                title,
                what: spec.erased().card(),
                section,
                back_what: BACK_WHAT.into(),
                back_section,
            }
        })
        .collect()
}

/// The cards of `arch`: its preset's stages, else one per layer ([`layer_cards`]).
pub fn arch_cards(arch: &Arch) -> Vec<LayerCard> {
    match arch.named().filter(|p| !p.cards.is_empty()) {
        Some(preset) => preset
            .cards
            .iter()
            .map(|c| LayerCard {
                title: c.title.into(),
                what: c.what.into(),
                section: c.section,
                back_title: c.title.into(),
                back_what: c.back_what.into(),
                back_section: c.back_section,
            })
            .collect(),
        None => layer_cards(arch.layers()),
    }
}
