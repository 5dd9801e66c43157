//! `maxpool(K[,s=S][,p=P])`: the maximum of each window; in the derivation a window matrix
//! (one row per window) and the argmax of each row, where the gradient goes back.

use std::fmt;

#[cfg(feature = "serve")]
use autograd::Var;

use layers::{LayerError, MaxPool2d, Module};
use tensor::Element;

use super::window::Square;
use crate::arch::args::{ArgError, Args};
use crate::arch::plan::LayerPlan;
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward};

/// `maxpool(K[,s=S][,p=P])`: [`MaxPool2d`], the stride defaulting to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool {
    /// Window side.
    pub kernel: usize,
    /// Stride (default: the kernel).
    pub stride: usize,
    /// Padding (at most half the kernel; padding taps are `−∞`).
    pub padding: usize,
}

impl MaxPool {
    fn square(&self) -> Square {
        Square { kernel: self.kernel, stride: self.stride, padding: self.padding }
    }
}

impl Kind for MaxPool {
    const NAME: &'static str = "maxpool";
    const USAGE: &'static str = "maxpool(K[,s=S][,p=P])";
    const LAYER: &'static str = "`MaxPool2d`, stride defaults to K";
    const PYTORCH: &'static str = "nn.MaxPool2d(K, stride=S, padding=P)";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 1, 1, &["s", "p"])?;
        let Square { kernel, stride, padding } = Square::parse(args, 0, None)?;
        Ok(MaxPool { kernel, stride, padding })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "maxpool({}", self.kernel)?;
        self.square().write_extras(f, self.kernel)?;
        f.write_str(")")
    }

    fn check(&self) -> Result<(), String> {
        self.square().check_pool()
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        self.square().pool_plan(Self::NAME, input, true)
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(MaxPool2d::with_window(self.square().window())?))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        let MaxPool { kernel, stride, padding } = *self;
        format!(
            "max-pool {kernel}×{kernel}, stride {stride}, padding {padding}: one row per window, the max of each row \
             (argmax strip on the right)"
        )
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        ("pooling-windows", "s2-1")
    }

    /// The window matrix `a` (padding taps `−∞`) with each row's argmax, and `y` its row
    /// maxima.
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let s = l.sup();
        let window = self.square().window();
        l.link_windows(&window, &x.shape(), true)?;
        let a = l.probe("a", format!("a{s} = windows(x{s})"), x.pool_windows(&window)?)?;
        let (_, argmax) = tensor::max_argmax_rows(&a.value())?;
        l.argmax(argmax.iter().map(|k| k.min(255) as u8).collect());
        let y = a.max_rows()?.reshape(l.output_shape())?;
        l.probe("y", format!("y{s} = max of each row of a{s}"), y)
    }

    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        let s = l.sup();
        l.push("da", format!("∇a{s} = ∇y{s} routed to each row's argmax"), l.grad("a")?);
        Ok(())
    }

    #[cfg(feature = "serve")]
    fn dx(&self, i: &str) -> String {
        format!("∇x{i} = Sᵀ·∇a{i} (the routing)")
    }
}
