//! `relu`: `y = max(x, 0)` element-wise; its subgradient at 0 is 0.

use layers::ReLU;

use crate::arch::plan::LayerPlan;

bare_kind! {
    /// `relu`: [`ReLU`].
    Relu = "relu", layer "`ReLU`", pytorch "nn.ReLU()", module ReLU;

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "ReLU, elementwise".into()
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        ("f6-and-f7", "f6")
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &crate::explorer::Backward<'_, '_>) -> String {
        l.f("∇{x} = ∇{y} ⊙ 1({x} > 0)")
    }
}
