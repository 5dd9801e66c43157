//! Batch normalisation in training mode, per channel `c` of `x: [N, C, …]` (`[N, C]` after
//! a linear layer, `[N, C, H, W]` after a convolution), over the `M = N·H·W` values of the
//! channel in the whole batch:
//! `μ = (1/M)·Σ x`, `σ² = (1/M)·Σ (x − μ)²` (biased), `x̂ = (x − μ)/√(σ² + ε)`,
//! `y = γ·x̂ + β`.
//!
//! VJP (per channel, with `σ` standing for `√(σ² + ε)` and means over the `M` values):
//! `∇β = Σ ∇y`, `∇γ = Σ ∇y ⊙ x̂`, `∇x = (γ/σ)·(∇y − mean(∇y) − x̂ ⊙ mean(∇y ⊙ x̂))`.
//! Why: `∇x̂ = γ·∇y`, and `x̂` depends on every `x` of the channel through `μ` and `σ`;
//! `∂x̂ᵢ/∂xⱼ = (δᵢⱼ − 1/M − x̂ᵢ·x̂ⱼ/M)/σ`, a symmetric matrix, so
//! `∇xⱼ = (1/σ)·(∇x̂ⱼ − mean(∇x̂) − x̂ⱼ·mean(∇x̂ ⊙ x̂))`.
//!
//! Neither `x̂` nor the output is kept: the VJP recomputes `x̂` from `x` (which the tape holds
//! anyway) with the forward's `μ` and `1/σ`, the same numbers. With a fused activation
//! (`y = act(γ·x̂ + β)`, [`Var::batch_norm_train_activated`]) the VJP starts from
//! `∇y ⊙ act'`, with `act'` taken at `y` computed again from `x̂`. The output is registered
//! as recomputable ([`Kept`](crate::Kept)): a convolution after it keeps that recipe, not
//! the output, whose buffer then goes back once the forward pass releases it.
//!
//! **Shards.** When a batch is split across threads, each recording on its own tape, the
//! op takes the shards' [`ReduceGroup`] and normalises with the whole batch's statistics:
//! the forward pass all-reduces per channel `(Σ x, count)` and then `Σ (x − μ)²` (two
//! passes, so no catastrophic cancellation as in `Σx² − Mμ²`), the VJP all-reduces `Σ ∇y`
//! and `Σ ∇y ⊙ x̂`. The sums are taken in f64 and the group adds the shards in a fixed
//! order, so the result depends on the number of shards only through rounding. Each
//! shard's `∇γ`, `∇β` are its own share (the parameter gradients of the shards' tapes add
//! up, as for any op). Every shard must run the same ops and the backward pass: a shard
//! that stops must [`abort`](ReduceGroup::abort) the group, or the others wait for it.

use std::rc::Rc;
use std::sync::Arc;

use tensor::{Activation, Element, ImageSource, Tensor, TensorError};

use crate::collective::ReduceGroup;
use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::tape::Var;

/// The batch statistics a training-mode batch norm computed, per channel, for the running
/// statistics the layer keeps.
#[derive(Debug, Clone)]
pub struct BatchStats<T: Element> {
    /// The batch mean `μ`, `[C]`.
    pub mean: Tensor<T>,
    /// The unbiased batch variance `Σ (x − μ)² / (M − 1)`, `[C]` (PyTorch's running
    /// variance uses it, while the normalisation uses the biased one).
    pub unbiased_var: Tensor<T>,
    /// `M`, the number of values per channel in the whole batch.
    pub count: usize,
}

impl<T: Element> BatchStats<T> {
    /// PyTorch's update of the running statistics: `r ← (1 − momentum)·r + momentum·s` for
    /// the mean and the unbiased variance (momentum 0.1 by PyTorch's default).
    pub fn update_running(&self, running_mean: &mut Tensor<T>, running_var: &mut Tensor<T>, momentum: T) -> Result<()> {
        for (running, stat) in [(running_mean, &self.mean), (running_var, &self.unbiased_var)] {
            if running.shape() != stat.shape() {
                return Err(TensorError::ShapeMismatch {
                    op: "update_running",
                    lhs: running.shape().to_vec(),
                    rhs: stat.shape().to_vec(),
                }
                .into());
            }
            running.scale(T::one() - momentum);
            running.axpy(momentum, stat)?;
        }
        Ok(())
    }
}

/// The output of [`Var::batch_norm_train`]: the normalised values and the batch statistics.
pub struct BatchNormOutput<'t, T: Element> {
    /// `y = γ·x̂ + β`, contiguous, with `x`'s shape.
    pub y: Var<'t, T>,
    /// The whole batch's per-channel statistics.
    pub stats: BatchStats<T>,
}

/// `x: [N, C, …]` split as `(N, C, values per channel per sample)`, with `γ` and `β` of
/// shape `[C]` and a positive finite `ε`.
pub(super) fn channel_layout<T: Element>(
    op: &'static str,
    x: &[usize],
    gamma: &[usize],
    beta: &[usize],
    eps: T,
) -> Result<(usize, usize, usize)> {
    if x.len() < 2 {
        return Err(TensorError::RankMismatch { op, expected: 2, shape: x.to_vec() }.into());
    }
    for p in [gamma, beta] {
        if p != [x[1]] {
            return Err(TensorError::ShapeMismatch { op, lhs: x.to_vec(), rhs: p.to_vec() }.into());
        }
    }
    if !(eps > T::zero() && eps.is_finite()) {
        return Err(AutogradError::InvalidArgument { op, reason: format!("eps {eps} must be positive and finite") });
    }
    Ok((x[0], x[1], x[2..].iter().product()))
}

/// Calls `f(c, lane)` for every `(sample, channel)` lane of a contiguous `[N, C, …]` buffer.
pub(super) fn for_each_lane<U>(data: &[U], c: usize, inner: usize, mut f: impl FnMut(usize, &[U])) {
    if inner == 0 {
        return;
    }
    for (k, lane) in data.chunks_exact(inner).enumerate() {
        f(k % c, lane);
    }
}

/// Like [`for_each_lane`], writing an output of the same layout, `shape` (a tensor from the
/// buffer pool the step has entered, if any).
pub(super) fn map_lanes<T: Element>(
    data: &[T],
    shape: &[usize],
    c: usize,
    inner: usize,
    mut f: impl FnMut(usize, &[T], &mut [T]),
) -> tensor::Result<Tensor<T>> {
    // Lane by lane, each zeroed while in cache (zeroing the whole output first was 2.7 % of
    // the small residual network's training step).
    Tensor::from_chunks(shape, inner, |k, dst| f(k % c, &data[k * inner..(k + 1) * inner], dst))
}

/// `act(γ·((x − μ)·(1/σ)) + β)` per channel of a contiguous `[N, C, …]` buffer, `per_channel`
/// holding `[μ, 1/σ, γ, β]`.
pub(super) fn normalise<T: Element>(
    data: &[T],
    shape: &[usize],
    c: usize,
    inner: usize,
    per_channel: [&[T]; 4],
    activation: Option<Activation>,
) -> tensor::Result<Tensor<T>> {
    map_lanes(data, shape, c, inner, |ch, lane, dst| normalise_lane(ch, lane, dst, per_channel, activation))
}

/// One lane (channel `ch`) of [`normalise`]. The constants are bound before the loop, so
/// that it vectorises (read through a closure's captures, they are reloaded for every
/// element).
fn normalise_lane<T: Element>(ch: usize, lane: &[T], dst: &mut [T], per_channel: [&[T]; 4], act: Option<Activation>) {
    let [mean, inv_std, gamma, beta] = per_channel;
    let (mu, inv, gamma, beta) = (mean[ch], inv_std[ch], gamma[ch], beta[ch]);
    match act {
        None => dst.iter_mut().zip(lane).for_each(|(d, &v)| *d = gamma * ((v - mu) * inv) + beta),
        Some(act) => dst.iter_mut().zip(lane).for_each(|(d, &v)| *d = act.apply(gamma * ((v - mu) * inv) + beta)),
    }
}

/// A tensor's elements in row-major order, without a copy when it is contiguous.
pub(super) fn contiguous<T: Element>(t: &Tensor<T>) -> Tensor<T> {
    if t.as_slice().is_some() { t.clone() } else { t.to_contiguous() }
}

/// What the forward pass normalised and how: enough to compute `x̂` for the VJP and the
/// output again for the next op (see [`Kept`](crate::Kept)), without keeping the output.
struct Normalised<T> {
    /// The input, contiguous (the tape's own value when it was contiguous already).
    x: Tensor<T>,
    /// `μ_c` and `1/σ_c` as the forward used them, and `γ_c`, `β_c`.
    mean: Vec<T>,
    inv_std: Vec<T>,
    gamma: Vec<T>,
    beta: Vec<T>,
    /// The fused activation.
    activation: Option<Activation>,
}

impl<T: Element> Normalised<T> {
    fn layout(&self) -> (usize, usize) {
        let shape = self.x.shape();
        (shape[1], shape[2..].iter().product())
    }
}

/// The output, image by image, as the forward computed it (the same lanes through the same
/// [`normalise_lane`]).
impl<T: Element> ImageSource<T> for Normalised<T> {
    fn shape(&self) -> &[usize] {
        self.x.shape()
    }

    fn image(&self, n: usize, out: &mut [T]) {
        let (c, inner) = self.layout();
        let per_channel = [&self.mean[..], &self.inv_std, &self.gamma, &self.beta];
        let image = &self.x.as_slice().expect("contiguous")[n * c * inner..(n + 1) * c * inner];
        for (ch, (lane, dst)) in image.chunks_exact(inner.max(1)).zip(out.chunks_exact_mut(inner.max(1))).enumerate() {
            normalise_lane(ch, lane, dst, per_channel, self.activation);
        }
    }
}

struct BatchNorm<T> {
    norm: Rc<Normalised<T>>,
    /// `γ_c/σ_c` per channel.
    gamma_inv_std: Vec<T>,
    count: usize,
    group: Option<(Arc<ReduceGroup>, usize)>,
}

impl<T: Element> BatchNorm<T> {
    /// Lane `k` (channel `ch`) of `x̂` into `x_hat`, as the forward computed it, and of the
    /// gradient at `γ·x̂ + β` (through the activation, into `buf`), returned. The
    /// activation's derivative is taken at `act(γ·x̂ + β)` computed again, the forward's
    /// output bit for bit (ReLU: `1(y > 0)`, subgradient 0 at 0).
    fn lane<'a>(&self, k: usize, ch: usize, g: &'a [T], x_hat: &mut [T], buf: &'a mut [T]) -> &'a [T] {
        let n = &*self.norm;
        let at = k * x_hat.len()..(k + 1) * x_hat.len();
        let (mu, inv) = (n.mean[ch], n.inv_std[ch]);
        let x = n.x.as_slice().expect("contiguous");
        for (d, &v) in x_hat.iter_mut().zip(&x[at.clone()]) {
            *d = (v - mu) * inv;
        }
        match n.activation {
            None => &g[at],
            Some(act) => {
                let (gamma, beta) = (n.gamma[ch], n.beta[ch]);
                for ((d, &gv), &xh) in buf.iter_mut().zip(&g[at]).zip(x_hat.iter()) {
                    *d = act.vjp_from_output(gv, act.apply(gamma * xh + beta));
                }
                buf
            }
        }
    }
}

impl<T: Element> Op<T> for BatchNorm<T> {
    fn name(&self) -> &'static str {
        "batch_norm"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let shape = self.norm.x.shape();
        let (c, inner) = self.norm.layout();
        let lanes = self.norm.x.numel().checked_div(inner).unwrap_or(0);
        let grad = contiguous(grad);
        let g = grad.as_slice().expect("contiguous");
        let (mut x_hat, mut buf) = (vec![T::zero(); inner], vec![T::zero(); inner]);
        // [Σ ∇y | Σ ∇y ⊙ x̂] per channel, this shard's.
        let mut sums = vec![0.0f64; 2 * c];
        for k in 0..lanes {
            let ch = k % c;
            let gl = self.lane(k, ch, g, &mut x_hat, &mut buf);
            let (sg, sgx) = tensor::widened_sum_and_dot(gl, &x_hat);
            sums[ch] += sg;
            sums[c + ch] += sgx;
        }
        let local = sums.clone();
        if let Some((group, shard)) = &self.group {
            group.all_reduce_sum(*shard, &mut sums)?;
        }
        let m = self.count as f64;
        let mean_g: Vec<T> = sums[..c].iter().map(|s| T::from_f64_lossy(s / m)).collect();
        let mean_gx: Vec<T> = sums[c..].iter().map(|s| T::from_f64_lossy(s / m)).collect();
        let grad_x = if want[0] {
            let grad_x = Tensor::from_chunks(shape, inner, |k, dst| {
                let ch = k % c;
                let gl = self.lane(k, ch, g, &mut x_hat, &mut buf);
                let (a, mg, mgx) = (self.gamma_inv_std[ch], mean_g[ch], mean_gx[ch]);
                for ((d, &gv), &xv) in dst.iter_mut().zip(gl).zip(&x_hat) {
                    *d = a * (gv - mg - xv * mgx);
                }
            })?;
            Some(grad_x)
        } else {
            None
        };
        let to_tensor = |v: &[f64]| Tensor::from_vec(&[c], v.iter().map(|&s| T::from_f64_lossy(s)).collect());
        let grad_gamma = if want[1] { Some(to_tensor(&local[c..])?) } else { None };
        let grad_beta = if want[2] { Some(to_tensor(&local[..c])?) } else { None };
        Ok(vec![grad_x, grad_gamma, grad_beta])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// Batch normalisation in training mode of `x: [N, C, …]` with `gamma`, `beta: [C]`
    /// and `eps` (PyTorch's 1e-5): `y = γ·(x − μ)/√(σ² + ε) + β` with the batch's mean and
    /// biased variance per channel; VJP `∇x = (γ/σ)·(∇y − mean(∇y) − x̂·mean(∇y ⊙ x̂))`,
    /// `∇γ = Σ ∇y ⊙ x̂`, `∇β = Σ ∇y`. With `group = Some((group, shard))` the statistics
    /// (and the VJP's means) are the whole batch's, all-reduced over the shards. Returns
    /// also the batch mean and unbiased variance. Errors when a channel has fewer than two
    /// values in the whole batch (as PyTorch); any error aborts the group, so that the
    /// other shards return an error instead of waiting.
    pub fn batch_norm_train(
        self,
        gamma: Var<'t, T>,
        beta: Var<'t, T>,
        eps: T,
        group: Option<(Arc<ReduceGroup>, usize)>,
    ) -> Result<BatchNormOutput<'t, T>> {
        self.batch_norm_train_activated(gamma, beta, eps, group, None)
    }

    /// [`Var::batch_norm_train`] followed by `activation`, as one op (the same numbers as
    /// the activation's own op after it): `y = act(γ·x̂ + β)`, keeping `y` only; the VJP
    /// starts with `∇y ⊙ act'` (ReLU: `1(y > 0)`).
    pub fn batch_norm_train_activated(
        self,
        gamma: Var<'t, T>,
        beta: Var<'t, T>,
        eps: T,
        group: Option<(Arc<ReduceGroup>, usize)>,
        activation: Option<Activation>,
    ) -> Result<BatchNormOutput<'t, T>> {
        let result = self.batch_norm_train_inner(gamma, beta, eps, group.clone(), activation);
        if let (Err(e), Some((group, shard))) = (&result, &group) {
            group.abort(&format!("batch_norm failed on shard {shard}: {e}"));
        }
        result
    }

    fn batch_norm_train_inner(
        self,
        gamma: Var<'t, T>,
        beta: Var<'t, T>,
        eps: T,
        group: Option<(Arc<ReduceGroup>, usize)>,
        activation: Option<Activation>,
    ) -> Result<BatchNormOutput<'t, T>> {
        let op = if activation.is_some() { "batch_norm_train_activated" } else { "batch_norm_train" };
        let (x, g, b) = (contiguous(&self.value()), gamma.value(), beta.value());
        let (n, c, inner) = channel_layout(op, x.shape(), g.shape(), b.shape(), eps)?;
        let data = x.as_slice().expect("contiguous");
        let reduce = |values: &mut [f64]| match &group {
            Some((group, shard)) => group.all_reduce_sum(*shard, values),
            None => Ok(()),
        };
        // Pass 1: Σ x per channel and the count.
        let mut sums = vec![0.0f64; c + 1];
        for_each_lane(data, c, inner, |ch, lane| sums[ch] += tensor::widened_sum(lane));
        sums[c] = (n * inner) as f64;
        reduce(&mut sums)?;
        let count = sums[c] as usize;
        if count < 2 {
            return Err(AutogradError::InvalidArgument {
                op,
                reason: format!(
                    "expected more than 1 value per channel in the batch, got {count} (input shape {:?})",
                    x.shape()
                ),
            });
        }
        let m = count as f64;
        let mean: Vec<f64> = sums[..c].iter().map(|s| s / m).collect();
        // Pass 2: Σ (x − μ)² per channel.
        let mut squares = vec![0.0f64; c];
        for_each_lane(data, c, inner, |ch, lane| squares[ch] += tensor::widened_squared_deviations(lane, mean[ch]));
        reduce(&mut squares)?;
        let inv_std: Vec<f64> = squares.iter().map(|s| 1.0 / (s / m + eps.to_f64_exact()).sqrt()).collect();
        let (gv, bv) = (g.to_vec(), b.to_vec());
        let mean_t: Vec<T> = mean.iter().map(|&v| T::from_f64_lossy(v)).collect();
        let inv_std_t: Vec<T> = inv_std.iter().map(|&v| T::from_f64_lossy(v)).collect();
        let y = normalise(data, x.shape(), c, inner, [&mean_t, &inv_std_t, &gv, &bv], activation)?;
        let gamma_inv_std = gv.iter().zip(&inv_std_t).map(|(&g, &s)| g * s).collect();
        let stats = BatchStats {
            mean: Tensor::from_vec(&[c], mean_t.clone())?,
            unbiased_var: Tensor::from_vec(&[c], squares.iter().map(|s| T::from_f64_lossy(s / (m - 1.0))).collect())?,
            count,
        };
        let mut recipe = None;
        let y = self.tape().record(&[self, gamma, beta], y, || {
            let norm = Rc::new(Normalised { x, mean: mean_t, inv_std: inv_std_t, gamma: gv, beta: bv, activation });
            recipe = Some(Rc::clone(&norm) as Rc<dyn ImageSource<T>>);
            BatchNorm { norm, gamma_inv_std, count, group }
        })?;
        if let Some(recipe) = &recipe {
            y.set_recipe(recipe);
        }
        Ok(BatchNormOutput { y, stats })
    }
}
