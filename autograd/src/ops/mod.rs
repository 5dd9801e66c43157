//! The differentiable ops: one file each, holding the forward method on [`Var`](crate::Var),
//! the [`Op`](crate::Op) that carries its VJP, and the VJP's formula in matrix notation.
//!
//! Notation: `∇x = ∂L/∂x` for the scalar loss `L`; `⊙` is the element-wise product; `1` is
//! an all-ones vector; `1(·)` is an indicator.

mod add;
mod add_bias;
mod avg_pool2d;
mod batch_norm;
mod batch_norm_eval;
mod conv2d;
mod div;
mod dropout;
mod exp;
mod im2col;
mod leaky_relu;
mod ln;
mod matmul;
mod max_pool2d;
mod max_rows;
mod mul;
mod permute;
mod pool_windows;
mod relu;
mod reshape;
mod scale;
mod sigmoid;
mod softmax_cross_entropy;
mod sub;
mod sum;
mod sum_axis;
mod sum_squares;
mod tanh;

pub use batch_norm::{BatchNormOutput, BatchStats};
pub use softmax_cross_entropy::softmax_rows;

use tensor::{Element, Tensor};

use crate::error::Result;

/// `Some(f())` when the input's gradient is wanted, else `None` without calling `f`.
pub(crate) fn wanted<T: Element>(
    wanted: bool,
    f: impl FnOnce() -> std::result::Result<Tensor<T>, tensor::TensorError>,
) -> Result<Option<Tensor<T>>> {
    Ok(if wanted { Some(f()?) } else { None })
}
