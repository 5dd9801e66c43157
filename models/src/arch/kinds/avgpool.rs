//! `avgpool(K[,s=S][,p=P])`: the mean of each window, zero padding counted in the divisor
//! (PyTorch's `count_include_pad=True`).

#[cfg(feature = "serve")]
use autograd::Var;
use layers::AvgPool2d;

#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward, sections};

pool_kind! {
    /// `avgpool(K[,s=S][,p=P])`: [`AvgPool2d`], the stride defaulting to the kernel.
    AvgPool = "avgpool", layer "`AvgPool2d`, stride defaults to K", pytorch "nn.AvgPool2d(K, stride=S, padding=P)",
    module AvgPool2d, windows false, padding "Zero padding (at most half the kernel).";

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
        let shape = x.shape();
        let [n, c, h, w] = shape[..] else {
            return Err(ExplorerError::Internal(format!("the input of avgpool layer {}", l.key())));
        };
        let window = self.square().window();
        l.link_windows(&window, &shape, true, &["a"], "y")?;
        let windows = x.reshape(&[n * c, 1, h, w])?.im2col(&window)?;
        let a = l.probe("a", l.f("{a} = windows({x}), zero padding"), windows)?;
        let y = a.mean_axis(1, false)?.reshape(l.output_shape())?;
        l.probe("y", l.f("{y} = mean of each row of {a}"), y)
    }

    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        l.push("da", l.f("∇{a} = ∇{y}/(kh·kw) in every column"), l.grad("a")?);
        Ok(())
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        l.f("∇{x} = Sᵀ·∇{a}")
    }
}
