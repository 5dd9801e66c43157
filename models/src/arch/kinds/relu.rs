//! `relu`: `y = max(x, 0)` element-wise; its subgradient at 0 is 0.

use std::fmt;

use layers::{LayerError, Module, ReLU};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::LayerPlan;
use crate::arch::{BuildContext, Kind};

/// `relu`: [`ReLU`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relu;

impl Kind for Relu {
    const NAME: &'static str = "relu";
    const USAGE: &'static str = "relu";
    const LAYER: &'static str = "`ReLU`";
    const PYTORCH: &'static str = "nn.ReLU()";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 0, 0, &[])?;
        Ok(Relu)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAME)
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(ReLU))
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
    fn dx(&self, i: &str) -> String {
        format!("∇x{i} = ∇y{i} ⊙ 1(x{i} > 0)")
    }
}
