//! `leakyrelu[(SLOPE)]`: `y = x` above 0, `SLOPE·x` at or below it, element-wise.

use std::fmt;

use layers::{LayerError, LeakyReLU, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::LayerPlan;
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::Backward;

/// `leakyrelu[(SLOPE)]`: [`LeakyReLU`], the slope defaulting to 0.01.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    /// The negative slope.
    pub slope: f64,
}

impl Kind for LeakyRelu {
    const NAME: &'static str = "leakyrelu";
    const USAGE: &'static str = "leakyrelu[(SLOPE)]";
    const LAYER: &'static str = "`LeakyReLU`, slope defaults to 0.01";
    const PYTORCH: &'static str = "nn.LeakyReLU(SLOPE)";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect("leakyrelu or leakyrelu(SLOPE)", 0, 1, &[])?;
        let slope = if args.is_empty() { LeakyReLU::DEFAULT_SLOPE } else { args.number(0)? };
        Ok(LeakyRelu { slope })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.slope == LeakyReLU::DEFAULT_SLOPE {
            f.write_str(Self::NAME)
        } else {
            write!(f, "leakyrelu({})", self.slope)
        }
    }

    /// A slope that is a finite `f32` (the element type training uses: 1e39 is infinite
    /// there).
    fn check(&self) -> Result<(), String> {
        let slope = self.slope;
        if !(slope as f32).is_finite() {
            return Err(format!("the slope {slope:e} is not a finite 32-bit float (at most ±{:e})", f32::MAX));
        }
        Ok(())
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(LeakyReLU::new(self.slope)?))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        format!("leaky ReLU with slope {} below 0, elementwise", self.slope)
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        l.f(&format!("∇{{x}} = ∇{{y}} ⊙ (1({{x}} > 0) + {}·1({{x}} ≤ 0))", self.slope))
    }
}
