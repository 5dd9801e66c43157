//! Batch normalisation in evaluation mode: the running statistics `μ_r`, `σ²_r` (constants)
//! instead of the batch's, so each channel `c` of `x: [N, C, …]` goes through the affine map
//! `y = γ·x̂ + β` with `x̂ = (x − μ_r)/√(σ²_r + ε)`.
//!
//! VJP: the map is diagonal per element, so `∇x = ∇y ⊙ γ/√(σ²_r + ε)` (no coupling across
//! the batch, unlike training mode), `∇γ = Σ ∇y ⊙ x̂`, `∇β = Σ ∇y`, the sums per channel.

use tensor::{Activation, Element, Tensor, TensorError};

use super::batch_norm::{channel_layout, contiguous, for_each_lane, map_lanes, normalise};
use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::tape::Var;

struct BatchNormEval<T> {
    x_hat: Tensor<T>,
    /// `γ_c/√(σ²_r + ε)` per channel.
    gamma_inv_std: Vec<T>,
}

impl<T: Element> Op<T> for BatchNormEval<T> {
    fn name(&self) -> &'static str {
        "batch_norm_eval"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        let shape = self.x_hat.shape();
        let (c, inner) = (shape[1], shape[2..].iter().product());
        let grad = contiguous(grad);
        let (g, xh) = (grad.as_slice().expect("contiguous"), self.x_hat.as_slice().expect("contiguous"));
        let grad_x = if want[0] {
            let grad_x = map_lanes(g, shape, c, inner, |ch, lane, dst| {
                let a = self.gamma_inv_std[ch];
                for (d, &gv) in dst.iter_mut().zip(lane) {
                    *d = gv * a;
                }
            });
            Some(grad_x?)
        } else {
            None
        };
        let (mut sum_g, mut sum_gx) = (vec![T::zero(); c], vec![T::zero(); c]);
        let mut k = 0;
        for_each_lane(g, c, inner, |ch, lane| {
            let (mut sg, mut sgx) = (T::zero(), T::zero());
            for (&gv, &xv) in lane.iter().zip(&xh[k * inner..(k + 1) * inner]) {
                sg += gv;
                sgx += gv * xv;
            }
            sum_g[ch] += sg;
            sum_gx[ch] += sgx;
            k += 1;
        });
        let grad_gamma = if want[1] { Some(Tensor::from_vec(&[c], sum_gx)?) } else { None };
        let grad_beta = if want[2] { Some(Tensor::from_vec(&[c], sum_g)?) } else { None };
        Ok(vec![grad_x, grad_gamma, grad_beta])
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// Batch normalisation in evaluation mode of `x: [N, C, …]`:
    /// `y = γ·(x − μ_r)/√(σ²_r + ε) + β` with the running mean and variance `[C]`
    /// (constants); VJP
    /// `∇x = ∇y ⊙ γ/√(σ²_r + ε)`, `∇γ = Σ ∇y ⊙ x̂`, `∇β = Σ ∇y`. Errors when a running
    /// variance is negative or a shape disagrees.
    pub fn batch_norm_eval(
        self,
        gamma: Var<'t, T>,
        beta: Var<'t, T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        eps: T,
    ) -> Result<Var<'t, T>> {
        self.batch_norm_eval_activated(gamma, beta, running_mean, running_var, eps, None)
    }

    /// [`Var::batch_norm_eval`] followed by `activation`: in the same pass when nothing is
    /// differentiated (inference), else as the activation's own op after it.
    pub fn batch_norm_eval_activated(
        self,
        gamma: Var<'t, T>,
        beta: Var<'t, T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        eps: T,
        activation: Option<Activation>,
    ) -> Result<Var<'t, T>> {
        let op = if activation.is_some() { "batch_norm_eval_activated" } else { "batch_norm_eval" };
        let (x, g, b) = (contiguous(&self.value()), gamma.value(), beta.value());
        let (_, c, inner) = channel_layout(op, x.shape(), g.shape(), b.shape(), eps)?;
        for stat in [running_mean, running_var] {
            if stat.shape() != [c] {
                return Err(
                    TensorError::ShapeMismatch { op, lhs: x.shape().to_vec(), rhs: stat.shape().to_vec() }.into()
                );
            }
        }
        let (mean, var) = (running_mean.to_vec(), running_var.to_vec());
        if let Some(bad) = var.iter().find(|v| v.is_nan() || **v < T::zero()) {
            return Err(AutogradError::InvalidArgument { op, reason: format!("running variance {bad} is negative") });
        }
        let inv_std: Vec<T> = var.iter().map(|&v| T::one() / (v + eps).sqrt()).collect();
        let (gv, bv) = (g.to_vec(), b.to_vec());
        let data = x.as_slice().expect("contiguous");
        let tape = self.tape();
        if !(tape.is_recording() && [self, gamma, beta].iter().any(Var::requires_grad)) {
            // Nothing to differentiate (inference): one pass, no x̂ kept, the same rounding.
            let y = normalise(data, x.shape(), c, inner, [&mean, &inv_std, &gv, &bv], activation)?;
            return Ok(tape.constant(y));
        }
        // Per-channel constants bound before each loop, so that it vectorises.
        let x_hat = map_lanes(data, x.shape(), c, inner, |ch, lane, dst| {
            let (mu, inv) = (mean[ch], inv_std[ch]);
            for (d, &v) in dst.iter_mut().zip(lane) {
                *d = (v - mu) * inv;
            }
        })?;
        let y = map_lanes(x_hat.as_slice().expect("contiguous"), x.shape(), c, inner, |ch, lane, dst| {
            let (gamma, beta) = (gv[ch], bv[ch]);
            for (d, &v) in dst.iter_mut().zip(lane) {
                *d = gamma * v + beta;
            }
        })?;
        let gamma_inv_std = gv.iter().zip(&inv_std).map(|(&g, &s)| g * s).collect();
        let y = self.tape().record(&[self, gamma, beta], y, || BatchNormEval { x_hat, gamma_inv_std })?;
        match activation {
            Some(act) => y.activation(act),
            None => Ok(y),
        }
    }
}
