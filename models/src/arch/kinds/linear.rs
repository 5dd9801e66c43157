//! `linear(OUT)`: a fully connected layer, `y = x·W + b` with `W = weightᵀ` (LeNet-5's F6,
//! F7).

use std::fmt;

#[cfg(feature = "serve")]
use autograd::Var;

use layers::{LayerError, Linear as LinearLayer, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::{Batched, LayerPlan, PlannedMatrix, show, too_large};
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward};

/// `linear(OUT)`: [`Linear`](layers::Linear) with input features inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linear {
    /// Output features.
    pub out: usize,
}

impl Kind for Linear {
    const NAME: &'static str = "linear";
    const USAGE: &'static str = "linear(OUT)";
    const LAYER: &'static str = "`Linear`, input features inferred";
    const PYTORCH: &'static str = "nn.Linear(in, OUT)";
    const KEYS: &'static [&'static str] = &["weight", "bias"];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 1, 1, &[])?;
        Ok(Linear { out: args.whole(0)? })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linear({})", self.out)
    }

    fn check(&self) -> Result<(), String> {
        if self.out == 0 {
            return Err("sizes, kernels and strides must be at least 1".into());
        }
        Ok(())
    }

    /// `[F] → [OUT]`, `F·OUT + OUT` parameters; `W` (`F × OUT`) and `z = a·W + b`.
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let out = self.out;
        let &[features] = input else {
            return Err(format!("linear needs a 2-D input [N, F], got {} (put flatten before it)", show(input)));
        };
        let parameters = features
            .checked_mul(out)
            .and_then(|w| w.checked_add(out))
            .ok_or_else(|| too_large(&format!("the {features}×{out} weight")))?;
        Ok(LayerPlan {
            output: vec![out],
            parameters,
            buffers: 0,
            matrices: vec![
                PlannedMatrix::new("W", vec![features, out], Batched::No),
                PlannedMatrix::new("z = a·W + b", vec![out], Batched::Axis),
            ],
            im2col_per_image: 0,
            inner: 0,
        })
    }

    fn build<T: Element>(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(LinearLayer::<T>::new(at.input[0], self.out, &mut *at.rng)?))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        format!("fully connected to {}: y = x·W + b with W = weightᵀ", self.out)
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        ("f6-and-f7", "f7")
    }

    /// `W = weightᵀ`, `y = x·W + b`, then the activation the derivation fuses on it.
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let w = l.tape().param(l.need("weight")?).t()?;
        l.show("W", l.f("{W} = {param}.weightᵀ"), &w.value());
        let y = l.bias(x.matmul(w)?)?;
        let y = l.probe("y", l.f("{y} = {x}·{W} + {b}"), y)?;
        l.fused(y)
    }

    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        l.fused()?;
        l.push("dW", l.f("∇{W} = {x}ᵀ·∇{y}"), &l.param_grad("weight")?.t()?);
        if l.has_param("bias") {
            l.push("db", l.f("∇{b} = 1ᵀ·∇{y}"), &l.param_grad("bias")?);
        }
        Ok(())
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        l.f("∇{x} = ∇{y}·{W}ᵀ")
    }
}
