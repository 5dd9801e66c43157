//! `maxpool(K[,s=S][,p=P])`: the maximum of each window; in the derivation a window matrix
//! (one row per window) and the argmax of each row, where the gradient goes back.

#[cfg(feature = "serve")]
use autograd::Var;
use layers::MaxPool2d;

#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward};

pool_kind! {
    /// `maxpool(K[,s=S][,p=P])`: [`MaxPool2d`], the stride defaulting to the kernel.
    MaxPool = "maxpool", layer "`MaxPool2d`, stride defaults to K", pytorch "nn.MaxPool2d(K, stride=S, padding=P)",
    module MaxPool2d, windows true, padding "Padding (at most half the kernel; padding taps are `−∞`).";

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
        let window = self.square().window();
        l.link_windows(&window, &x.shape(), true, &["a"], "y")?;
        let a = l.probe("a", l.f("{a} = windows({x})"), x.pool_windows(&window)?)?;
        let (_, argmax) = tensor::max_argmax_rows(&a.value())?;
        l.argmax(argmax.iter().map(|k| k.min(255) as u8).collect());
        let y = a.max_rows()?.reshape(l.output_shape())?;
        l.probe("y", l.f("{y} = max of each row of {a}"), y)
    }

    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        l.push("da", l.f("∇{a} = ∇{y} routed to each row's argmax"), l.grad("a")?);
        Ok(())
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        l.f("∇{x} = Sᵀ·∇{a} (the routing)")
    }
}
