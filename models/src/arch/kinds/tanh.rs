//! `tanh`: LeCun's squashing function, `y = tanh(x)` element-wise.

use std::fmt;

use layers::{LayerError, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::LayerPlan;
use crate::arch::{BuildContext, Kind};

/// `tanh`: [`Tanh`](layers::Tanh).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tanh;

impl Kind for Tanh {
    const NAME: &'static str = "tanh";
    const USAGE: &'static str = "tanh";
    const LAYER: &'static str = "`Tanh`";
    const PYTORCH: &'static str = "nn.Tanh()";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 0, 0, &[])?;
        Ok(Tanh)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAME)
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(layers::Tanh))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "tanh, elementwise".into()
    }

    #[cfg(feature = "serve")]
    fn dx(&self, i: &str) -> String {
        format!("∇x{i} = ∇y{i} ⊙ (1 − y{i}²)")
    }
}
