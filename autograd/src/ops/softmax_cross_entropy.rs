//! Softmax cross-entropy over a batch, fused and numerically stable, from class indices.
//!
//! For logits `Z: [N, K]`, labels `yᵢ` and targets `Q = (1−ε)·Y + ε/K` (`Y` one-hot, `ε` the
//! label smoothing, 0 by default):
//! `P = softmax(Z)` row-wise, `L = −(1/N)·1ᵀ·(Q ⊙ ln P)·1 = (1/N)·Σᵢ (lseᵢ − Σₖ Qᵢₖ·Zᵢₖ)`,
//! with `lseᵢ = ln Σₖ exp(Zᵢₖ)` computed as `m + ln Σₖ exp(Zᵢₖ − m)` for the row maximum `m`.
//!
//! VJP: `∇Z = ∇L·(P − Q)/N`. The `1/N` of the mean lives here, once; the layers below pass
//! it on through `∇W = aᵀ·∇z` and the bias column sums.

use tensor::{Element, Tensor, TensorError};

use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::tape::Var;

struct SoftmaxCrossEntropy<T> {
    probs: Tensor<T>,
    labels: Vec<usize>,
    smoothing: T,
}

impl<T: Element> Op<T> for SoftmaxCrossEntropy<T> {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        if !want[0] {
            return Ok(vec![None]);
        }
        let (n, k) = (self.probs.shape()[0], self.probs.shape()[1]);
        let scale = grad.item()? / T::from_usize(n).unwrap_or_else(T::nan);
        let off = self.smoothing / T::from_usize(k).unwrap_or_else(T::nan);
        let on = T::one() - self.smoothing + off;
        let mut g = self.probs.to_vec();
        for (row, &label) in g.chunks_mut(k).zip(&self.labels) {
            for (c, p) in row.iter_mut().enumerate() {
                let q = if c == label { on } else { off };
                *p = (*p - q) * scale;
            }
        }
        Ok(vec![Some(Tensor::from_vec(&[n, k], g)?)])
    }
}

/// Row-wise softmax of a matrix, `Pᵢₖ = exp(Zᵢₖ − lseᵢ)` (stable for large logits).
pub fn softmax_rows<T: Element>(logits: &Tensor<T>) -> tensor::Result<Tensor<T>> {
    let lse = logits.logsumexp_rows()?;
    logits.sub(&lse.unsqueeze(1)?).map(|d| d.exp())
}

impl<'t, T: Element> Var<'t, T> {
    /// The mean softmax cross-entropy of logits `[N, K]` against class indices `labels`
    /// (`N` of them, each below `K`), a scalar; VJP `∇Z = ∇L·(P − Y)/N`.
    pub fn softmax_cross_entropy(self, labels: &[usize]) -> Result<Var<'t, T>> {
        self.softmax_cross_entropy_smoothed(labels, T::zero())
    }

    /// [`Var::softmax_cross_entropy`] against label-smoothed targets
    /// `Q = (1−ε)·Y + ε/K`, `ε ∈ [0, 1]`; VJP `∇Z = ∇L·(P − Q)/N`.
    pub fn softmax_cross_entropy_smoothed(self, labels: &[usize], smoothing: T) -> Result<Var<'t, T>> {
        const OP: &str = "softmax_cross_entropy";
        let z = self.value();
        if z.rank() != 2 {
            return Err(TensorError::RankMismatch { op: OP, expected: 2, shape: z.shape().to_vec() }.into());
        }
        let (n, k) = (z.shape()[0], z.shape()[1]);
        if labels.len() != n || n == 0 || k == 0 {
            return Err(AutogradError::InvalidArgument {
                op: OP,
                reason: format!(
                    "{} labels for logits of shape {:?} (need one per row, at least one row and class)",
                    labels.len(),
                    z.shape()
                ),
            });
        }
        if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= k) {
            return Err(AutogradError::InvalidLabel { op: OP, row, label, classes: k });
        }
        if !(smoothing >= T::zero() && smoothing <= T::one()) {
            return Err(AutogradError::InvalidArgument {
                op: OP,
                reason: format!("label smoothing {smoothing} is outside [0, 1]"),
            });
        }
        let lse = z.logsumexp_rows()?;
        let kf = T::from_usize(k).unwrap_or_else(T::nan);
        let mut total = T::zero();
        // Rows of a contiguous copy, summed in order: no view (and its shape and strides
        // allocated) per sample.
        let zc = z.to_contiguous();
        let rows = zc.as_slice().expect("contiguous").chunks_exact(k);
        for ((row, &label), l) in rows.zip(labels).zip(lse.iter()) {
            let target = (T::one() - smoothing) * row[label] + smoothing * row.iter().copied().sum::<T>() / kf;
            total += l - target;
        }
        let loss = Tensor::scalar(total / T::from_usize(n).unwrap_or_else(T::nan));
        let probs = z.sub(&lse.unsqueeze(1)?)?.map(|d| d.exp());
        self.tape().record(&[self], loss, || SoftmaxCrossEntropy { probs, labels: labels.to_vec(), smoothing })
    }
}
