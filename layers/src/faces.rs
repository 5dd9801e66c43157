//! The faces a module may show besides its computation, each its own trait, reached from
//! any `&dyn Module` through the parts it lists ([`Part::Activation`], [`Part::Pooling`],
//! [`Part::Fuse`], [`Part::ChannelAffine`], [`Part::FoldAffine`], [`Part::FusePool`],
//! [`Part::TakeConv`], [`Part::TakeDense`], [`Part::FullyConnected`], [`Part::Flatten`],
//! [`Part::MatrixForm`]): fusion (a convolution or batch norm applies the ReLU that follows
//! it in its own output pass; in inference a convolution takes in the batch norm after it,
//! the pooling after that, the convolution after it, or a flatten and the fully connected
//! layer after them) and the
//! derivation's matrices (for shape tables). The description of a module is its `Debug`
//! text.

use autograd::Var;
use tensor::{Activation, Dense, Element, Pooling, SecondConv, Tensor, Window2d};

use crate::error::Result;
use crate::module::Module;
use crate::parts::Part;

/// A layer that can apply an element-wise activation in its own output pass: one op for
/// `act(layer(x))`, the same numbers without a pre-activation tensor kept on the tape (a
/// convolution: [`Var::conv2d_activated`]). Shown as [`Part::Fuse`].
pub trait Fuse<T: Element> {
    /// `act(forward(input))` as one op.
    fn forward_activated<'t>(&self, input: Var<'t, T>, act: Activation) -> Result<Var<'t, T>>;
}

/// A per-channel affine map `y_c = s_c·(x_c − m_c) + t_c` over `[N, C, …]` (batch norm in
/// evaluation: `s = γ/√(σ²_r + ε)`, `m = μ_r`, `t = β`).
#[derive(Debug, Clone, PartialEq)]
pub struct AffineMap<T> {
    /// `s`, one per channel.
    pub scale: Vec<T>,
    /// `m`, one per channel.
    pub center: Vec<T>,
    /// `t`, one per channel.
    pub shift: Vec<T>,
}

impl<T: Element> AffineMap<T> {
    /// The map folded into a layer's weight `W: [F, …]` and bias `b: [F]` (zeros if
    /// absent), so that the layer computes the map of its own output:
    /// `W'_f = s_f·W_f`, `b'_f = s_f·(b_f − m_f) + t_f`. `None` unless `F` is the map's
    /// channel count.
    pub fn fold(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>) -> Option<(Tensor<T>, Tensor<T>)> {
        let f = self.scale.len();
        if weight.shape().first() != Some(&f) || bias.is_some_and(|b| b.shape() != [f]) {
            return None;
        }
        let mut w = weight.to_contiguous();
        let row = w.numel() / f.max(1);
        if row > 0 {
            for (r, &s) in w.as_mut_slice().chunks_exact_mut(row).zip(&self.scale) {
                r.iter_mut().for_each(|v| *v *= s);
            }
        }
        let b = bias.map_or_else(|| vec![T::zero(); f], Tensor::to_vec);
        let b = (0..f).map(|i| self.scale[i] * (b[i] - self.center[i]) + self.shift[i]).collect();
        Some((w, Tensor::from_vec(&[f], b).ok()?))
    }
}

/// A layer that is, in evaluation, an [`AffineMap`] per channel (batch norm with its
/// running statistics), so that a chain can fold it into the convolution before it in
/// inference. Shown as [`Part::ChannelAffine`].
pub trait ChannelAffine<T: Element> {
    /// The map, when the layer is one now (evaluation mode, `[N, C, H, W]` input, valid
    /// statistics); `None` otherwise.
    fn channel_affine(&self) -> Option<AffineMap<T>>;
}

/// A layer that can take in a following [`AffineMap`] ([`AffineMap::fold`]) and an
/// activation: one convolution instead of three passes over the output, with the products
/// rounded differently (a few ulps), so a chain uses it only when nothing is recorded for
/// gradients. Shown as [`Part::FoldAffine`].
pub trait FoldAffine<T: Element> {
    /// The output channels, which a map must have to fold in.
    fn out_channels(&self) -> usize;

    /// `act(map(forward(input)))` as one op; an error when the map's channel count is not
    /// [`FoldAffine::out_channels`].
    fn forward_folded<'t>(&self, input: Var<'t, T>, map: &AffineMap<T>, act: Option<Activation>) -> Result<Var<'t, T>>;
}

/// A layer that can, in inference, pool its own output in its output pass: one op for
/// `pooling(act(map(layer(x))))` (a convolution: [`tensor::conv2d_pooled`]), without the
/// layer's full-size output. Shown as [`Part::FusePool`].
pub trait FusePool<T: Element> {
    /// `pooling(act(map(forward(input))))` as one op when nothing is recorded for
    /// gradients; when the tape records, the same value through the recorded ops. An error
    /// when the map's channel count is not the layer's output channels, or the pooling's
    /// window does not fit the layer's output.
    fn forward_pooled<'t>(
        &self,
        input: Var<'t, T>,
        map: Option<&AffineMap<T>>,
        act: Option<Activation>,
        pooling: &Pooling,
    ) -> Result<Var<'t, T>>;
}

/// A convolution that, in inference, computes the convolution after it from its own
/// output block ([`tensor::conv2d_pair`]: the first convolution's output is never written
/// out in planes and read back), and that can be that second convolution. Shown as
/// [`Part::TakeConv`].
pub trait TakeConv<T: Element> {
    /// The weight and bias, with `map` folded in ([`AffineMap::fold`]), and the window, as
    /// the second convolution of a pair; `None` when the map's channels are not its output
    /// channels.
    fn as_second(&self, map: Option<&AffineMap<T>>) -> Option<SecondWeights<T>>;

    /// `pooling(second(act(map(forward(input)))))` as one op, for inference: an error when
    /// the tape records (nothing is kept for gradients), when the map's channels are not
    /// the layer's output channels, or when `second` or the pooling does not fit.
    fn forward_pair<'t>(
        &self,
        input: Var<'t, T>,
        map: Option<&AffineMap<T>>,
        act: Option<Activation>,
        second: &SecondConv<'_, T>,
        pooling: Option<&Pooling>,
    ) -> Result<Var<'t, T>>;
}

/// A fully connected layer `act(a·Wᵀ + b)` that a convolution chain before it can take into
/// its own pass in inference ([`TakeDense`]) when a flatten is all that lies between.
/// Shown as [`Part::FullyConnected`].
pub trait FullyConnected<T: Element> {
    /// The weight `[O, I]` and bias `[O]`, if any (shared storage).
    fn dense_weights(&self) -> (Tensor<T>, Option<Tensor<T>>);
}

/// A convolution that, in inference, computes the fully connected layer after a flatten
/// from its own output block ([`tensor::conv2d_dense`]: the output is never transposed
/// into planes for the flatten, nor packed for a matrix product). Shown as
/// [`Part::TakeDense`].
pub trait TakeDense<T: Element> {
    /// `dense(flatten(pooling(second(act(map(forward(input)))))))` as one op, for
    /// inference: an error when the tape records (nothing is kept for gradients), when the
    /// map's channels are not the layer's output channels, or when `second`, the pooling or
    /// the layer does not fit.
    fn forward_dense<'t>(
        &self,
        input: Var<'t, T>,
        map: Option<&AffineMap<T>>,
        act: Option<Activation>,
        second: Option<&SecondConv<'_, T>>,
        pooling: Option<&Pooling>,
        dense: &Dense<'_, T>,
    ) -> Result<Var<'t, T>>;
}

/// A convolution's weight, bias and window, as [`TakeConv::as_second`] gives them.
pub struct SecondWeights<T> {
    /// `[F₂, F, kh, kw]`.
    pub weight: Tensor<T>,
    /// `[F₂]`, or none.
    pub bias: Option<Tensor<T>>,
    /// Kernel, stride and padding.
    pub window: Window2d,
}

/// The matrices the derivation builds for a layer (e.g. a convolution's im2col matrix,
/// its weight matrix and their product), each with a label. Shown as [`Part::MatrixForm`].
pub trait MatrixForm {
    /// The labelled shapes for an input of shape `input`; none when it does not fit.
    fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)>;
}

/// The faces of any module, read from its parts (methods of every `dyn Module`, which no
/// module overrides).
impl<'m, T: Element> dyn Module<T> + 'm {
    /// A one-line description with the configuration, e.g. `Conv2d(1→6, 5×5)`:
    /// the module's `Debug` text.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }

    /// The last of the module's parts that `pick` takes.
    fn find_part<'a, R>(&'a self, mut pick: impl FnMut(Part<'a, T>) -> Option<R>) -> Option<R> {
        let mut found = None;
        self.visit(&mut |part| {
            if let Some(r) = pick(part) {
                found = Some(r);
            }
        });
        found
    }

    /// The element-wise activation this module is, if it is one.
    pub fn activation(&self) -> Option<Activation> {
        self.find_part(|part| if let Part::Activation(act) = part { Some(act) } else { None })
    }

    /// The module's fused forward pass, if it has one.
    pub fn fuse(&self) -> Option<&dyn Fuse<T>> {
        self.find_part(|part| if let Part::Fuse(fuse) = part { Some(fuse) } else { None })
    }

    /// `act(forward(input))`: one op when the module can fuse the activation
    /// ([`Fuse`]), else the forward pass and then the activation.
    pub fn forward_activated<'t>(&self, input: Var<'t, T>, act: Activation) -> Result<Var<'t, T>> {
        match self.fuse() {
            Some(fuse) => fuse.forward_activated(input, act),
            None => Ok(self.forward(input)?.activation(act)?),
        }
    }

    /// The pooling this module is, if it is one a layer before it can take in
    /// ([`FusePool`]).
    pub fn pooling(&self) -> Option<Pooling> {
        self.find_part(|part| if let Part::Pooling(pooling) = part { Some(pooling) } else { None })
    }

    /// The module's face for pooling its output in its own output pass, if it has one.
    pub fn fuse_pool(&self) -> Option<&dyn FusePool<T>> {
        self.find_part(|part| if let Part::FusePool(face) = part { Some(face) } else { None })
    }

    /// The per-channel affine map this module is now, if any ([`ChannelAffine`]).
    pub fn channel_affine(&self) -> Option<AffineMap<T>> {
        self.find_part(|part| if let Part::ChannelAffine(face) = part { face.channel_affine() } else { None })
    }

    /// The module's folding face, if it has one ([`FoldAffine`]).
    pub fn fold_affine(&self) -> Option<&dyn FoldAffine<T>> {
        self.find_part(|part| if let Part::FoldAffine(face) = part { Some(face) } else { None })
    }

    /// The module's face for taking in the convolution after it, or being that one, if it
    /// has one ([`TakeConv`]).
    pub fn take_conv(&self) -> Option<&dyn TakeConv<T>> {
        self.find_part(|part| if let Part::TakeConv(face) = part { Some(face) } else { None })
    }

    /// Whether this module is a flatten ([`Part::Flatten`]).
    pub fn is_flatten(&self) -> bool {
        self.find_part(|part| matches!(part, Part::Flatten).then_some(())).is_some()
    }

    /// The module's fully connected face, if it has one ([`FullyConnected`]).
    pub fn fully_connected(&self) -> Option<&dyn FullyConnected<T>> {
        self.find_part(|part| if let Part::FullyConnected(face) = part { Some(face) } else { None })
    }

    /// The module's face for taking in the fully connected layer after a flatten, if it
    /// has one ([`TakeDense`]).
    pub fn take_dense(&self) -> Option<&dyn TakeDense<T>> {
        self.find_part(|part| if let Part::TakeDense(face) = part { Some(face) } else { None })
    }

    /// The derivation's matrices for an input of shape `input` ([`MatrixForm`]); none for a
    /// module without that face.
    pub fn matrix_shapes(&self, input: &[usize]) -> Vec<(String, Vec<usize>)> {
        self.find_part(|part| if let Part::MatrixForm(form) = part { Some(form.matrix_shapes(input)) } else { None })
            .unwrap_or_default()
    }
}
