//! `flatten`: one sample's maps as one row, `[C, H, W] → [C·H·W]` (a reshape).

use std::fmt;

use layers::{LayerError, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::{LayerPlan, numel, show, too_large};
use crate::arch::{BuildContext, Kind};

/// `flatten`: [`Flatten`](layers::Flatten).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten;

impl Kind for Flatten {
    const NAME: &'static str = "flatten";
    const USAGE: &'static str = "flatten";
    const LAYER: &'static str = "`Flatten`";
    const PYTORCH: &'static str = "nn.Flatten()";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 0, 0, &[])?;
        Ok(Flatten)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAME)
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let features = numel(input).ok_or_else(|| too_large(&format!("the input {}", show(input))))?;
        Ok(LayerPlan { output: vec![features], ..LayerPlan::element_wise(input) })
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(layers::Flatten))
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
    fn dx(&self, i: &str) -> String {
        format!("∇x{i} = reshape(∇y{i})")
    }
}
