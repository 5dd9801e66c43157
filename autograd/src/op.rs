//! The interface every differentiable op implements: its vector-Jacobian product.

use tensor::{Element, Tensor};

use crate::error::Result;

/// The backward half of a recorded op. The forward half is a method on [`Var`](crate::Var)
/// that computes the value and hands the tape an `Op` holding what the VJP needs.
///
/// For an op `y = f(x₁, …, xₖ)` and the gradient `∇y = ∂L/∂y` of a scalar loss `L`,
/// [`Op::vjp`] returns `∇xᵢ = (∂y/∂xᵢ)ᵀ·∇y` for each input, each with its input's shape.
///
/// Users may implement `Op` for ops of their own and record them with
/// [`Tape::record`](crate::Tape::record); [`gradcheck`](crate::gradcheck()) checks them.
pub trait Op<T: Element> {
    /// The op's name, used in error messages.
    fn name(&self) -> &'static str;

    /// The gradient of each input given the output's gradient `grad` (which has the
    /// output's shape). `wanted[i]` is false when input `i` needs no gradient; the VJP may
    /// then return `None` for it and skip the work.
    fn vjp(&self, grad: &Tensor<T>, wanted: &[bool]) -> Result<Vec<Option<Tensor<T>>>>;

    /// [`Op::vjp`] for the last time: a backward pass that does not retain the graph (see
    /// [`Tape::set_retain_graph`](crate::Tape::set_retain_graph)) calls this and drops the
    /// op after. An op may override it to let go of a saved tensor as soon as the gradients
    /// left to compute no longer read it, so that their buffers can reuse its memory (the
    /// matrix product computes `∇b = aᵀ·∇z`, then drops `a` before `∇a = ∇z·bᵀ` takes a
    /// buffer of `a`'s size). The same numbers as [`Op::vjp`].
    fn vjp_last(self: Box<Self>, grad: &Tensor<T>, wanted: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        self.vjp(grad, wanted)
    }

    /// [`Op::vjp_last`], given the gradient the tape has summed so far for each input:
    /// `acc[i]`, or `None` when there is none yet (or the op reads that value twice). An op
    /// may add its contribution to input `i` into `acc[i]` itself, `acc[i] + ∇xᵢ` element by
    /// element as the tape would, and return `None` for it: the contribution then needs no
    /// buffer of its own (a convolution adds `∇x` image by image into the gradient the
    /// residual path left). The backward pass calls this when it does not retain the graph
    /// and the tape holds a sum for some input (else [`Op::vjp_last`]).
    fn vjp_last_adding(
        self: Box<Self>,
        grad: &Tensor<T>,
        wanted: &[bool],
        acc: &mut [Option<&mut Tensor<T>>],
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let _ = acc;
        self.vjp_last(grad, wanted)
    }
}
