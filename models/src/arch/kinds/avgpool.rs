//! `avgpool(K[,s=S][,p=P])`: the mean of each window, zero padding counted in the divisor
//! (PyTorch's `count_include_pad=True`).

use std::fmt;

#[cfg(feature = "serve")]
use autograd::Var;

use layers::{AvgPool2d, LayerError, Module};
use tensor::Element;

use super::window::Square;
use crate::arch::args::{ArgError, Args};
use crate::arch::plan::LayerPlan;
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward, sections};

/// `avgpool(K[,s=S][,p=P])`: [`AvgPool2d`], the stride defaulting to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool {
    /// Window side.
    pub kernel: usize,
    /// Stride (default: the kernel).
    pub stride: usize,
    /// Zero padding (at most half the kernel).
    pub padding: usize,
}

impl AvgPool {
    fn square(&self) -> Square {
        Square { kernel: self.kernel, stride: self.stride, padding: self.padding }
    }
}

impl Kind for AvgPool {
    const NAME: &'static str = "avgpool";
    const USAGE: &'static str = "avgpool(K[,s=S][,p=P])";
    const LAYER: &'static str = "`AvgPool2d`, stride defaults to K";
    const PYTORCH: &'static str = "nn.AvgPool2d(K, stride=S, padding=P)";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 1, 1, &["s", "p"])?;
        let Square { kernel, stride, padding } = Square::parse(args, 0, None)?;
        Ok(AvgPool { kernel, stride, padding })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "avgpool({}", self.kernel)?;
        self.square().write_extras(f, self.kernel)?;
        f.write_str(")")
    }

    fn check(&self) -> Result<(), String> {
        self.square().check_pool()
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        self.square().pool_plan(Self::NAME, input, false)
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(AvgPool2d::with_window(self.square().window())?))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        let AvgPool { kernel, stride, padding } = *self;
        format!(
            "average pool {kernel}×{kernel}, stride {stride}, padding {padding} (zeros, counted in the divisor): the \
             mean of each window row"
        )
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        (sections::BEYOND, sections::BEYOND)
    }

    /// The window matrix `a` with zero padding, each channel its own image, and `y` its
    /// row means.
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let s = l.sup();
        let shape = x.shape();
        let [n, c, h, w] = shape[..] else {
            return Err(ExplorerError::Internal(format!("the input of avgpool layer {}", l.key())));
        };
        let window = self.square().window();
        l.link_windows(&window, &shape, true)?;
        let windows = x.reshape(&[n * c, 1, h, w])?.im2col(&window)?;
        let a = l.probe("a", format!("a{s} = windows(x{s}), zero padding"), windows)?;
        let y = a.mean_axis(1, false)?.reshape(l.output_shape())?;
        l.probe("y", format!("y{s} = mean of each row of a{s}"), y)
    }

    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        let s = l.sup();
        l.push("da", format!("∇a{s} = ∇y{s}/(kh·kw) in every column"), l.grad("a")?);
        Ok(())
    }

    #[cfg(feature = "serve")]
    fn dx(&self, i: &str) -> String {
        format!("∇x{i} = Sᵀ·∇a{i}")
    }
}
