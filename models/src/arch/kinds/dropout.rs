//! `dropout(P)`: zeroes each value with probability P in training and scales the others by
//! 1/(1 − P); the identity in evaluation. Its masks are drawn from a stream keyed by the
//! layer's index, so that a resumed run draws the same ones.

use std::fmt;

#[cfg(feature = "serve")]
use autograd::Var;

use layers::{LayerError, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::LayerPlan;
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward};

/// `dropout(P)`: [`Dropout`](layers::Dropout) with drop probability P.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// The drop probability, in [0, 1].
    pub p: f64,
}

impl Kind for Dropout {
    const NAME: &'static str = "dropout";
    const USAGE: &'static str = "dropout(P)";
    const LAYER: &'static str = "`Dropout` with drop probability P, mask stream keyed by the layer's index";
    const PYTORCH: &'static str = "nn.Dropout(P)";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect("dropout(P) with P in [0, 1]", 1, 1, &[])?;
        Ok(Dropout { p: args.number(0)? })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dropout({})", self.p)
    }

    fn check(&self) -> Result<(), String> {
        let p = self.p;
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("the drop probability {p} is outside [0, 1]"));
        }
        Ok(())
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    fn build<T: Element>(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(layers::Dropout::new(self.p, at.index as u64)?))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        format!("dropout({}): the identity in evaluation", self.p)
    }

    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let y = l.layer_forward(x)?;
        l.probe("y", l.f("{y} = {x} (identity in evaluation)"), y)
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        l.f("∇{x} = ∇{y}")
    }
}
