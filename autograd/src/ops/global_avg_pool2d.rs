//! Global average pooling, PyTorch's `nn.AdaptiveAvgPool2d(1)`: each map's mean,
//! `y[n, c] = (1/(H·W))·Σᵢⱼ x[n, c, i, j]`, as an `[N, C, 1, 1]` tensor.
//!
//! Per map the pooling is the row vector `(1/(H·W))·1ᵀ` applied to `vec(x[n, c])`, so the
//! VJP is its transpose: `∇x[n, c, i, j] = ∇y[n, c]/(H·W)`, each map's gradient spread
//! evenly over its `H·W` positions.

use tensor::{Element, Tensor, TensorError};

use super::wanted;
use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

const NAME: &str = "global_avg_pool2d";

struct GlobalAvgPool2d {
    input_shape: Vec<usize>,
}

impl<T: Element> Op<T> for GlobalAvgPool2d {
    fn name(&self) -> &'static str {
        NAME
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![wanted(want[0], || {
            let area = self.input_shape[2] * self.input_shape[3];
            let scale = T::one() / T::from_usize(area).unwrap_or_else(T::nan);
            // Each map filled at once (a flattened iterator of repeats went element by
            // element: 2.6 % of the small residual network's training step), in a buffer
            // of the step's pool; the maps come in order, as `grad`'s elements.
            let mut g = grad.iter();
            Tensor::from_chunks(&self.input_shape, area, |_, map| map.fill(g.next().unwrap_or_else(T::nan) * scale))
        })?])
    }
}

/// `[N, C, 1, 1]` of each `H×W` map's mean, or an error for a rank other than 4 or maps of
/// no position.
fn map_means<T: Element>(x: &Tensor<T>) -> tensor::Result<Tensor<T>> {
    let &[n, c, h, w] = x.shape() else {
        return Err(TensorError::RankMismatch { op: NAME, expected: 4, shape: x.shape().to_vec() });
    };
    let area = h * w;
    if area == 0 {
        return Err(TensorError::InvalidGeometry {
            op: NAME,
            input: x.shape().to_vec(),
            reason: "maps of no position have no mean".into(),
        });
    }
    let scale = T::one() / T::from_usize(area).unwrap_or_else(T::nan);
    let copy;
    let values = match x.as_slice() {
        Some(values) => values,
        None => {
            copy = x.to_vec();
            &copy
        }
    };
    let means = values.chunks_exact(area).map(|map| tensor::lane_sum(map) * scale).collect();
    Tensor::from_vec(&[n, c, 1, 1], means)
}

impl<'t, T: Element> Var<'t, T> {
    /// Each map's mean, `x: [N, C, H, W] → [N, C, 1, 1]` (PyTorch's
    /// `AdaptiveAvgPool2d(1)`); VJP `∇x[n, c, i, j] = ∇y[n, c]/(H·W)`.
    pub fn global_avg_pool2d(self) -> Result<Var<'t, T>> {
        let x = self.value();
        let y = map_means(&x)?;
        self.tape().record(&[self], y, || GlobalAvgPool2d { input_shape: x.shape().to_vec() })
    }
}
