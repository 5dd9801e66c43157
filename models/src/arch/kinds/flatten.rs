//! `flatten`: one sample's maps as one row, `[C, H, W] → [C·H·W]` (a reshape).

use crate::arch::plan::{LayerPlan, numel, show, too_large};

bare_kind! {
    /// `flatten`: [`Flatten`](layers::Flatten).
    Flatten = "flatten", layer "`Flatten`", pytorch "nn.Flatten()", module layers::Flatten;

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let features = numel(input).ok_or_else(|| too_large(&format!("the input {}", show(input))))?;
        Ok(LayerPlan { output: vec![features], ..LayerPlan::element_wise(input) })
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "flatten: the maps as one row (a reshape)".into()
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        ("c5", "c5-1")
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &crate::explorer::Backward<'_, '_>) -> String {
        l.f("∇{x} = reshape(∇{y})")
    }
}
