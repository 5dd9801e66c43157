//! `conv(OUT,K[,s=S][,p=P][,bias=false])`: a 2-D convolution, the derivation's im2col and
//! one matrix product, `z = im2col(x)·W + b` (without `b` and its `bias` key for
//! `bias=false`, PyTorch's `bias=False` before a batch norm).

use std::fmt;

#[cfg(feature = "serve")]
use autograd::Var;

use layers::{Conv2d, Conv2dConfig, LayerError, Module};
use tensor::Element;

use super::window::Square;
use crate::arch::args::{ArgError, Args};
use crate::arch::plan::{Batched, LayerPlan, PlannedMatrix, image, numel, show, too_large};
use crate::arch::{BuildContext, Kind};
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward, sections};

/// `conv(OUT,K[,s=S][,p=P][,bias=false])`: [`Conv2d`] with input channels inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    /// Output channels.
    pub out: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride (default 1).
    pub stride: usize,
    /// Zero padding (default 0).
    pub padding: usize,
    /// Whether a bias is added (default true; `bias=false` leaves it out).
    pub bias: bool,
}

impl Conv {
    fn square(&self) -> Square {
        Square { kernel: self.kernel, stride: self.stride, padding: self.padding }
    }
}

impl Kind for Conv {
    const NAME: &'static str = "conv";
    const USAGE: &'static str = "conv(OUT,K[,s=S][,p=P][,bias=false])";
    const LAYER: &'static str = "`Conv2d`, input channels inferred; `bias=false`: no bias, no `bias` key";
    const PYTORCH: &'static str = "nn.Conv2d(in, OUT, K, stride=S, padding=P, bias=B)";
    const KEYS: &'static [&'static str] = &["weight", "bias"];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 2, 2, &["s", "p", "bias"])?;
        let Square { kernel, stride, padding } = Square::parse(args, 1, Some(1))?;
        let bias = args.switch("bias")?.unwrap_or(true);
        Ok(Conv { out: args.whole(0)?, kernel, stride, padding, bias })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conv({},{}", self.out, self.kernel)?;
        self.square().write_extras(f, 1)?;
        if !self.bias {
            f.write_str(",bias=false")?;
        }
        f.write_str(")")
    }

    fn check(&self) -> Result<(), String> {
        if self.out == 0 || self.kernel == 0 || self.stride == 0 {
            return Err("sizes, kernels and strides must be at least 1".into());
        }
        Ok(())
    }

    /// `[C, H, W] → [OUT, oh, ow]`, `OUT·C·K² + OUT` parameters (`OUT·C·K²` without
    /// bias); the derivation's
    /// `a = im2col(x)` (`N·oh·ow × C·K²`), `W` (`C·K² × OUT`), `z = a·W + b` (`a·W` without
    /// a bias).
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let Conv { out, kernel, .. } = *self;
        let [c, h, w] = image("conv", input)?;
        let [oh, ow] = self.square().output(input, [h, w])?;
        let taps = numel(&[c, kernel, kernel])
            .ok_or_else(|| too_large(&format!("a {kernel}×{kernel} kernel over {c} channels")))?;
        let positions = oh.checked_mul(ow).ok_or_else(|| too_large(&format!("the {oh}×{ow} output")))?;
        let biases = if self.bias { out } else { 0 };
        let parameters =
            taps.checked_mul(out).and_then(|w| w.checked_add(biases)).ok_or_else(|| too_large("the weight"))?;
        let output = vec![out, oh, ow];
        numel(&output).ok_or_else(|| too_large(&format!("the output {}", show(&output))))?;
        let im2col_per_image = positions.checked_mul(taps).ok_or_else(|| too_large("one image's im2col matrix"))?;
        let im2col = PlannedMatrix {
            copies_input: true,
            ..PlannedMatrix::new("a = im2col(input)", vec![positions, taps], Batched::Rows)
        };
        Ok(LayerPlan {
            output,
            parameters,
            buffers: 0,
            matrices: vec![
                im2col,
                PlannedMatrix::new("W", vec![taps, out], Batched::No),
                PlannedMatrix::new(
                    if self.bias { "z = a·W + b" } else { "z = a·W" },
                    vec![positions, out],
                    Batched::Rows,
                ),
            ],
            im2col_per_image,
            inner: 0,
        })
    }

    fn build<T: Element>(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        let config = Conv2dConfig::new(at.input[0], self.out, self.kernel)
            .stride(self.stride)
            .padding(self.padding)
            .bias(self.bias);
        Ok(Box::new(Conv2d::<T>::new(config, &mut *at.rng)?))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        let Conv { out, kernel, stride, padding, bias } = *self;
        let bias = if bias { "bias" } else { "no bias" };
        format!(
            "convolution to {out} maps, {kernel}×{kernel} kernel, stride {stride}, padding {padding}: im2col, one \
             matrix product, {bias}, back to maps"
        )
    }

    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        (sections::CONV, "c3-1")
    }

    /// `a = im2col(x)`, `W = reshape(weight, [F, C·kh·kw])ᵀ`, `z = a·W + b`, the activation
    /// the derivation fuses on the rows, then the rows as maps.
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let window = self.square().window();
        if !l.vector() {
            l.link_windows(&window, &x.shape(), false, &["a", "z", "rows"], "maps")?;
        }
        let a = l.probe("a", l.f("{a} = im2col({x})"), x.im2col(&window)?)?;
        let weight = l.need("weight")?;
        let ws = weight.shape();
        let w = l.tape().param(weight).reshape(&[ws[0], ws[1] * ws[2] * ws[3]])?.t()?;
        l.show(
            "W",
            l.f(&format!("{{W}} = reshape({{param}}.weight, [{}, {}])ᵀ", ws[0], ws[1] * ws[2] * ws[3])),
            &w.value(),
        );
        let plus_b = if l.has_param("bias") { " + {b}" } else { "" };
        let z = l.bias(a.matmul(w)?)?;
        let z = l.probe("z", l.f(&format!("{{z}} = {{a}}·{{W}}{plus_b}")), z)?;
        let rows = l.fused(z)?;
        let [n, c, oh, ow] = l.output_shape()[..] else {
            return Err(ExplorerError::Internal(format!("the output of conv layer {}", l.key())));
        };
        let maps = rows.reshape(&[n, oh, ow, c])?.permute(&[0, 3, 1, 2])?;
        if l.vector() {
            return Ok(maps);
        }
        l.probe("maps", l.f("{maps} = permute(reshape({rows}))"), maps)
    }

    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        if !l.vector() {
            l.push("drows", l.f("∇{rows} = rows(∇{maps})"), l.grad("rows")?);
        }
        l.fused()?;
        let g = l.param_grad("weight")?;
        let gs = g.shape().to_vec();
        l.push("dW", l.f("∇{W} = {a}ᵀ·∇{z}"), &g.reshape(&[gs[0], gs[1] * gs[2] * gs[3]])?.t()?);
        if l.has_param("bias") {
            l.push("db", l.f("∇{b} = 1ᵀ·∇{z}"), &l.param_grad("bias")?);
        }
        l.push("da", l.f("∇{a} = ∇{z}·{W}ᵀ"), l.grad("a")?);
        Ok(())
    }

    /// `col2im`, or `vec` when the one window is the whole unpadded input.
    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        let whole =
            self.padding == 0 && l.input_shape().is_ok_and(|s| s.get(2..) == Some(&[self.kernel, self.kernel][..]));
        l.f(if whole { "∇{x} = vec(∇{a})" } else { "∇{x} = col2im(∇{a})" })
    }

    #[cfg(feature = "serve")]
    fn dx_opens_input_card(&self) -> bool {
        true
    }
}
