//! `gap`: global average pooling, each map's mean, `[C, H, W] → [C, 1, 1]` (PyTorch's
//! `nn.AdaptiveAvgPool2d(1)`, the head of a ResNet before `flatten` and `linear`).

use layers::GlobalAvgPool2d;

use crate::arch::plan::{LayerPlan, image};
#[cfg(feature = "serve")]
use crate::explorer::sections;

bare_kind! {
    /// `gap`: [`GlobalAvgPool2d`].
    Gap = "gap", layer "`GlobalAvgPool2d`, each map's mean (to C×1×1)", pytorch "nn.AdaptiveAvgPool2d(1)", module GlobalAvgPool2d;

    /// `[C, H, W] → [C, 1, 1]`, nothing to train, no matrix.
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let [c, h, w] = image(Self::NAME, input)?;
        if h == 0 || w == 0 {
            return Err(format!("gap needs maps of at least one position, got [{c}, {h}, {w}]"));
        }
        Ok(LayerPlan { output: vec![c, 1, 1], ..LayerPlan::element_wise(input) })
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "global average pool: the mean of each map, one value per channel".into()
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        (sections::BEYOND, sections::BEYOND)
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &crate::explorer::Backward<'_, '_>) -> String {
        l.f("∇{x}[c, h, w] = ∇{y}[c] / (H·W)")
    }
}
