//! The differentiable ops: one file each, holding the forward method on [`Var`](crate::Var),
//! the [`Op`](crate::Op) that carries its VJP, and the VJP's formula in matrix notation.
//!
//! Notation: `∇x = ∂L/∂x` for the scalar loss `L`; `⊙` is the element-wise product; `1` is
//! an all-ones vector; `1(·)` is an indicator; `sum_to(g, shape)` sums `g` over the axes
//! that broadcasting added or stretched; `S` is a 0/1 selection matrix (`vec(a) = S·vec(x)`).
//!
//! Every rule at a glance (each file has the derivation and the conventions at kinks):
//!
//! | file | `Var` method | forward | VJP |
//! |---|---|---|---|
//! | `add.rs` | `add` | `z = a + b`; a residual block's `y = body(x) + x` | `∇a = sum_to(∇z, shape(a))`, `∇b = sum_to(∇z, shape(b))`; a value used twice gets the sum: `∇x = (∂body/∂x)ᵀ·∇y + ∇y` |
//! | `sub.rs` | `sub` | `z = a − b` | `∇a = sum_to(∇z, shape(a))`, `∇b = −sum_to(∇z, shape(b))` |
//! | `mul.rs` | `mul` | `z = a ⊙ b` | `∇a = sum_to(∇z ⊙ b, shape(a))`, `∇b = sum_to(∇z ⊙ a, shape(b))` |
//! | `div.rs` | `div` | `z = a / b` | `∇a = sum_to(∇z / b, shape(a))`, `∇b = −sum_to(∇z ⊙ z / b, shape(b))` |
//! | `scale.rs` | `scale` | `y = c·x` | `∇x = c·∇y` |
//! | `exp.rs` | `exp` | `y = eˣ` | `∇x = ∇y ⊙ y` |
//! | `ln.rs` | `ln` | `y = ln x` | `∇x = ∇y / x` |
//! | `relu.rs` | `relu`, `activation` | `y = max(x, 0)` | `∇x = ∇y ⊙ 1(x > 0)` (0 at 0) |
//! | `leaky_relu.rs` | `leaky_relu` | `y = x` if `x > 0`, else `s·x` | `∇x = ∇y ⊙ (1(x > 0) + s·1(x ≤ 0))` |
//! | `tanh.rs` | `tanh` | `y = tanh x` | `∇x = ∇y ⊙ (1 − y²)` |
//! | `sigmoid.rs` | `sigmoid` | `y = 1/(1 + e⁻ˣ)` | `∇x = ∇y ⊙ y ⊙ (1 − y)` |
//! | `dropout.rs` | `dropout` | `y = x ⊙ m / (1 − p)` | `∇x = ∇y ⊙ m / (1 − p)` |
//! | `sum.rs` | `sum`, `mean` | `s = 1ᵀ·vec(x)`, `m = s / n` | `∇x = ∇s·1`, `∇x = (∇m / n)·1` |
//! | `sum_axis.rs` | `sum_axis`, `mean_axis` | `s = Σₖ x[…, k, …]`, `m = s / n` | `∇x = broadcast(∇s)`, `∇x = broadcast(∇m) / n` |
//! | `sum_squares.rs` | `sum_squares` | `s = Σᵢ xᵢ²` | `∇x = 2·∇s·x` |
//! | `reshape.rs` | `reshape`, `flatten` | `y = reshape(x, shape)` | `∇x = reshape(∇y, shape(x))` |
//! | `permute.rs` | `permute`, `t` | `y = permute(x, p)` | `∇x = permute(∇y, p⁻¹)` |
//! | `matmul.rs` | `matmul` | `z = a·b` | `∇a = ∇z·bᵀ`, `∇b = aᵀ·∇z` |
//! | `add_activated.rs` | `add_activated` | `y = act(a + b)` (a residual block and its ReLU) | `∇a = ∇b = ∇y ⊙ act'(a + b)` |
//! | `add_bias.rs` | `add_bias` | `z = a + 1·bᵀ` | `∇a = ∇z`, `∇b = 1ᵀ·∇z` |
//! | `im2col.rs` | `im2col` | `vec(a) = S·vec(x)` | `∇x = Sᵀ·∇a = col2im(∇a)` |
//! | `conv2d.rs` | `conv2d`, `conv2d_activated` | `z = im2col(x)·Wm + 1·bᵀ`, `y = act(z)` | `∇z = ∇y ⊙ act′(z)`, `∇Wm = aᵀ·∇z`, `∇b = 1ᵀ·∇z`, `∇x = col2im(∇z·Wmᵀ)` |
//! | `pool_windows.rs` | `pool_windows` | `vec(a) = S·vec(x)` | `∇x = Sᵀ·∇a` |
//! | `max_rows.rs` | `max_rows` | `z[r] = maxₖ a[r, k]` | `∇a[r, k] = ∇z[r]·1(k = argmaxₖ a[r, k])` (first maximum) |
//! | `max_pool2d.rs` | `max_pool2d` | `y = max_rows(pool_windows(x))` | `∇x = Sᵀ·(onehot(argmax) ⊙ ∇y)` |
//! | `avg_pool2d.rs` | `avg_pool2d` | `vec(y) = S·vec(x) / (kh·kw)` | `vec(∇x) = Sᵀ·vec(∇y) / (kh·kw)` |
//! | `global_avg_pool2d.rs` | `global_avg_pool2d` | `y[n, c] = (1/(H·W))·Σᵢⱼ x[n, c, i, j]` | `∇x[n, c, i, j] = ∇y[n, c] / (H·W)` |
//! | `batch_norm.rs` | `batch_norm_train`, `_activated` | `y = γ·x̂ + β`, `x̂ = (x − μ)/σ` | `∇x = (γ/σ)·(∇y − mean(∇y) − x̂ ⊙ mean(∇y ⊙ x̂))`, `∇γ = Σ ∇y ⊙ x̂`, `∇β = Σ ∇y` |
//! | `batch_norm_eval.rs` | `batch_norm_eval`, `_activated` | `y = γ·(x − μ_r)/√(σ²_r + ε) + β` | `∇x = ∇y ⊙ γ/√(σ²_r + ε)`, `∇γ = Σ ∇y ⊙ x̂`, `∇β = Σ ∇y` |
//! | `softmax_cross_entropy.rs` | `softmax_cross_entropy`, `_smoothed` | `L = (1/N)·Σᵢ (lseᵢ − Σₖ Qᵢₖ·Zᵢₖ)` | `∇Z = ∇L·(P − Q)/N` |
//!
//! The op catalogue (`catalogue/ops/`, one file per file here) checks every row against
//! central differences.

mod add;
mod add_activated;
mod add_bias;
mod avg_pool2d;
mod batch_norm;
mod batch_norm_eval;
mod conv2d;
mod div;
mod dropout;
mod exp;
mod global_avg_pool2d;
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
