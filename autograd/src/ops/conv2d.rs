//! Convolution in one op: `y = conv2d(x, W, b)`, the derivation's
//! `z = im2col(x)·Wm + 1·bᵀ` with `Wm = reshape(W, [F, C·kh·kw])ᵀ`, fused and blocked
//! (`tensor::conv2d`): the same numbers as the chain `im2col → matmul → add_bias → reshape
//! → permute`, without materialising the whole im2col matrix or transposing the output.
//!
//! VJP, with `∇z` the gradient read as the `[N·oh·ow, F]` matrix:
//! `∇Wm = aᵀ·∇z` (returned as `∇W = reshape(∇Wmᵀ, [F, C, kh, kw])`), `∇b = 1ᵀ·∇z`,
//! `∇x = col2im(∇z·Wmᵀ)`. The im2col blocks `a` are rebuilt from `x` in the backward pass;
//! after a batch norm, `x` itself is computed again there, image by image, from the batch
//! norm's input ([`Kept`]), so the forward pass need not keep it. When the tape has summed a
//! gradient of `x` already (a residual block's input), `∇x` is added into it image by image.
//!
//! With a fused activation, `y = act(z)` in the same output pass, and the VJP starts with
//! `∇z = ∇y ⊙ act'(z)`, read from `y` (for ReLU `1(y > 0)`): `z` is never kept.

use tensor::{Activation, Element, Tensor, Window2d};

use crate::error::Result;
use crate::kept::Kept;
use crate::op::Op;
use crate::tape::Var;

struct Conv2d<T: Element> {
    /// The input, or its recipe when the op that made it registered one (batch norm).
    x: Kept<T>,
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
        self.grads(grad, want, None)
    }

    /// With a gradient of `x` summed already (a residual block's input, read by the
    /// shortcut too), `∇x` is added into that sum image by image.
    fn vjp_last_adding(
        self: Box<Self>,
        grad: &Tensor<T>,
        want: &[bool],
        acc: &mut [Option<&mut Tensor<T>>],
    ) -> Result<Vec<Option<Tensor<T>>>> {
        self.grads(grad, want, acc.first_mut().and_then(Option::take))
    }
}

impl<T: Element> Conv2d<T> {
    /// `[∇x, ∇W(, ∇b)]` as `want` asks, `∇x` added into `sum` instead when given. `x` is read
    /// as kept: the tensor, or computed again image by image.
    fn grads(&self, grad: &Tensor<T>, want: &[bool], sum: Option<&mut Tensor<T>>) -> Result<Vec<Option<Tensor<T>>>> {
        let want = [want[0], want[1], self.has_bias && want[2]];
        let activated = self.activated.as_ref().map(|(act, y)| (*act, y));
        let (x, w) = (self.x.conv_input(), &self.weight);
        let g = tensor::conv2d_activated_backward_with(x, w, &self.window, grad, activated, want, sum)?;
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
        drop(x);
        self.tape().record(&inputs, y, || Conv2d {
            x: self.kept(),
            weight: w,
            window: *window,
            has_bias: bias.is_some(),
            activated: kept,
        })
    }
}
