//! `sigmoid`: `y = σ(x) = 1/(1 + e⁻ˣ)` element-wise.

#[cfg(feature = "serve")]
use autograd::Var;

use crate::arch::plan::LayerPlan;
#[cfg(feature = "serve")]
use crate::explorer::{ExplorerError, Forward};

bare_kind! {
    /// `sigmoid`: [`Sigmoid`](layers::Sigmoid).
    Sigmoid = "sigmoid", layer "`Sigmoid`", pytorch "nn.Sigmoid()", module layers::Sigmoid;

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "sigmoid, elementwise".into()
    }

    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let y = l.layer_forward(x)?;
        l.probe("y", l.f("{y} = σ({x})"), y)
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &crate::explorer::Backward<'_, '_>) -> String {
        l.f("∇{x} = ∇{y} ⊙ {y} ⊙ (1 − {y})")
    }
}
