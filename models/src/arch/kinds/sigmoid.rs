//! `sigmoid`: `y = σ(x) = 1/(1 + e⁻ˣ)` element-wise.

use std::fmt;

#[cfg(feature = "serve")]
use autograd::Var;

use layers::{LayerError, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::LayerPlan;
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::{ExplorerError, Forward};

/// `sigmoid`: [`Sigmoid`](layers::Sigmoid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sigmoid;

impl Kind for Sigmoid {
    const NAME: &'static str = "sigmoid";
    const USAGE: &'static str = "sigmoid";
    const LAYER: &'static str = "`Sigmoid`";
    const PYTORCH: &'static str = "nn.Sigmoid()";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 0, 0, &[])?;
        Ok(Sigmoid)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAME)
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(layers::Sigmoid))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "sigmoid, elementwise".into()
    }

    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let s = l.sup();
        let y = l.layer_forward(x)?;
        l.probe("y", format!("y{s} = σ(x{s})"), y)
    }

    #[cfg(feature = "serve")]
    fn dx(&self, i: &str) -> String {
        format!("∇x{i} = ∇y{i} ⊙ y{i} ⊙ (1 − y{i})")
    }
}
