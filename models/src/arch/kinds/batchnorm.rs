//! `batchnorm`: batch normalisation over the channels, 1d after a 2-D output and 2d after a
//! 4-D one; a scale `γ` and shift `β` per channel, the running mean and variance (and the
//! batch count) as buffers, as PyTorch keeps them.

use std::fmt;

#[cfg(feature = "serve")]
use autograd::Var;

use layers::{LayerError, Module};
use tensor::Element;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::{LayerPlan, show, too_large};
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward, sections};

/// `batchnorm`: [`BatchNorm`](layers::BatchNorm), channels inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchNorm;

impl Kind for BatchNorm {
    const NAME: &'static str = "batchnorm";
    const USAGE: &'static str = "batchnorm";
    const LAYER: &'static str = "`BatchNorm`, 1d after a 2-D output, 2d after a 4-D one, channels inferred";
    const PYTORCH: &'static str = "nn.BatchNorm1d(C) / nn.BatchNorm2d(C)";
    const KEYS: &'static [&'static str] = &["weight", "bias", "running_mean", "running_var", "num_batches_tracked"];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 0, 0, &[])?;
        Ok(BatchNorm)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAME)
    }

    /// The shape unchanged; a scale and a shift per channel, and the running mean and
    /// variance per channel plus the batch count as buffers.
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let channels = match *input {
            [c] | [c, _, _] => c,
            _ => return Err(format!("batchnorm needs a 2-D [N, C] or 4-D [N, C, H, W] input, got {}", show(input))),
        };
        let parameters = channels.checked_mul(2).ok_or_else(|| too_large("its scale and shift"))?;
        let buffers = parameters.checked_add(1).ok_or_else(|| too_large("its running statistics"))?;
        Ok(LayerPlan { parameters, buffers, ..LayerPlan::element_wise(input) })
    }

    fn build<T: Element>(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(match at.input.len() {
            1 => layers::BatchNorm::<T>::new_1d(at.input[0])?,
            _ => layers::BatchNorm::<T>::new_2d(at.input[0])?,
        }))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        "batch normalisation with the running statistics (evaluation mode)".into()
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        (sections::BEYOND, sections::BEYOND)
    }

    /// `γ`, `β`, the running statistics, and `y = γ·(x − μ_r)/√(σ²_r + ε) + β`.
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let gamma = l.need("weight")?.value.clone();
        l.show("g", l.f("{γ}"), &gamma);
        let beta = l.need("bias")?.value.clone();
        l.show("be", l.f("{β}"), &beta);
        for (id, name, symbol) in [("mu", "running_mean", "μ_r"), ("var", "running_var", "σ²_r")] {
            let value = l.buffer(name)?;
            l.show(id, l.f(&format!("{symbol}{{s}}")), &value);
        }
        let y = l.layer_forward(x)?;
        l.probe("y", l.f("{y} = {γ}·({x} − μ_r)/√(σ²_r + ε) + {β}"), y)
    }

    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        l.push("dg", l.f("∇{γ} = Σ ∇{y} ⊙ x̂ per channel"), &l.param_grad("weight")?);
        l.push("dbe", l.f("∇{β} = Σ ∇{y} per channel"), &l.param_grad("bias")?);
        Ok(())
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        l.f("∇{x} = ∇{y} ⊙ {γ}/√(σ²_r + ε)")
    }

    #[cfg(feature = "serve")]
    fn symbol(&self, parameter: &str) -> (&'static str, &'static str) {
        if parameter == "bias" { ("be", "β") } else { ("g", "γ") }
    }
}
