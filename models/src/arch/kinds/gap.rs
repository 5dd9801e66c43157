//! `gap`: global average pooling, each map's mean, `[C, H, W] → [C, 1, 1]` (PyTorch's
//! `nn.AdaptiveAvgPool2d(1)`, the head of a ResNet before `flatten` and `linear`).

use std::fmt;

use layers::{GlobalAvgPool2d, LayerError, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::{LayerPlan, image};
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::sections;

/// `gap`: [`GlobalAvgPool2d`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap;

impl Kind for Gap {
    const NAME: &'static str = "gap";
    const USAGE: &'static str = "gap";
    const LAYER: &'static str = "`GlobalAvgPool2d`, each map's mean (to C×1×1)";
    const PYTORCH: &'static str = "nn.AdaptiveAvgPool2d(1)";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 0, 0, &[])?;
        Ok(Gap)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAME)
    }

    /// `[C, H, W] → [C, 1, 1]`, nothing to train, no matrix.
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let [c, h, w] = image(Self::NAME, input)?;
        if h == 0 || w == 0 {
            return Err(format!("gap needs maps of at least one position, got [{c}, {h}, {w}]"));
        }
        Ok(LayerPlan { output: vec![c, 1, 1], ..LayerPlan::element_wise(input) })
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(GlobalAvgPool2d))
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
    fn dx(&self, i: &str) -> String {
        format!("∇x{i}[c, h, w] = ∇y{i}[c] / (H·W)")
    }
}
