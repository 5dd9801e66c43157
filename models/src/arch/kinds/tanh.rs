//! `tanh`: LeCun's squashing function, `y = tanh(x)` element-wise.

use crate::arch::plan::LayerPlan;

bare_kind! {
    /// `tanh`: [`Tanh`](layers::Tanh).
    Tanh = "tanh", layer "`Tanh`", pytorch "nn.Tanh()", module layers::Tanh;

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "tanh, elementwise".into()
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &crate::explorer::Backward<'_, '_>) -> String {
        l.f("∇{x} = ∇{y} ⊙ (1 − {y}²)")
    }
}
