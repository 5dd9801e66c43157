//! Convolution in one op: `y = conv2d(x, W, b)`, the derivation's
//! `z = im2col(x)·Wm + 1·bᵀ` with `Wm = reshape(W, [F, C·kh·kw])ᵀ`, fused and blocked
//! (`tensor::conv2d`): the same numbers as the chain `im2col → matmul → add_bias → reshape
//! → permute`, without materialising the whole im2col matrix or transposing the output.
//!
//! VJP, with `∇z` the gradient read as the `[N·oh·ow, F]` matrix:
//! `∇Wm = aᵀ·∇z` (returned as `∇W = reshape(∇Wmᵀ, [F, C, kh, kw])`), `∇b = 1ᵀ·∇z`,
//! `∇x = col2im(∇z·Wmᵀ)`. The im2col blocks `a` are rebuilt from `x` in the backward pass.
//!
//! With a fused activation, `y = act(z)` in the same output pass, and the VJP starts with
//! `∇z = ∇y ⊙ act'(z)`, read from `y` (for ReLU `1(y > 0)`): `z` is never kept.

use tensor::{Activation, Element, Tensor, Window2d};

use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

struct Conv2d<T> {
    x: Tensor<T>,
    weight: Tensor<T>,
    window: Window2d,
    has_bias: bool,
    /// The fused activation and the op's output.
    activated: Option<(Activation, Tensor<T>)>,
}

impl<T: Element> Op<T> for Conv2d<T> {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let want_bias = self.has_bias && want[2];
        let activated = self.activated.as_ref().map(|(act, y)| (*act, y));
        let want = [want[0], want[1], want_bias];
        let g = tensor::conv2d_activated_backward(&self.x, &self.weight, &self.window, grad, activated, want)?;
        let mut out = vec![g.input, g.weight];
        if self.has_bias {
            out.push(g.bias);
        }
        Ok(out)
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// The convolution of `x: [N, C, H, W]` with `weight: [F, C, kh, kw]` (PyTorch's
    /// layout) and an optional `bias: [F]`, giving a contiguous `[N, F, oh, ow]`;
    /// VJP `∇W = (aᵀ·∇z)ᵀ`, `∇b = 1ᵀ·∇z`, `∇x = col2im(∇z·Wmᵀ)`.
    pub fn conv2d(self, weight: Var<'t, T>, bias: Option<Var<'t, T>>, window: &Window2d) -> Result<Var<'t, T>> {
        self.conv2d_activated(weight, bias, window, None)
    }

    /// `y = act(conv2d(x, W, b))` as one op (the same numbers as [`Var::conv2d`] followed by
    /// the activation's own op, e.g. [`Var::relu`]), keeping `y` but not `z`; VJP
    /// `∇z = ∇y ⊙ act'(z)` (ReLU: `1(y > 0)`, subgradient 0 at 0), then as [`Var::conv2d`].
    pub fn conv2d_activated(
        self,
        weight: Var<'t, T>,
        bias: Option<Var<'t, T>>,
        window: &Window2d,
        activation: Option<Activation>,
    ) -> Result<Var<'t, T>> {
        let (x, w) = (self.value(), weight.value());
        let b = bias.map(|b| b.value());
        let y = tensor::conv2d_activated(&x, &w, b.as_ref(), window, activation)?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let kept = activation.map(|act| (act, y.clone()));
        self.tape().record(&inputs, y, || Conv2d {
            x,
            weight: w,
            window: *window,
            has_bias: bias.is_some(),
            activated: kept,
        })
    }
}
