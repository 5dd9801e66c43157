//! Global average pooling, PyTorch's `nn.AdaptiveAvgPool2d(1)`: each map's mean,
//! `y[n, c] = (1/(H·W))·Σᵢⱼ x[n, c, i, j]`, so `∇x[n, c, i, j] = ∇y[n, c]/(H·W)` (the op
//! `Var::global_avg_pool2d`). The head of a ResNet: whatever the maps' size, one value per
//! channel, before `Flatten` and the last linear layer.

use autograd::Var;
use tensor::Element;

use crate::error::{LayerError, Result};
use crate::module::Module;

/// `[N, C, H, W] → [N, C, 1, 1]`, the mean of each map; nothing to train.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobalAvgPool2d;

impl GlobalAvgPool2d {
    /// `[N, C, 1, 1]` for an input `[N, C, H, W]` with `H, W ≥ 1`, else an error naming the
    /// shape (callable without naming the element type).
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match *input {
            [n, c, h, w] if h > 0 && w > 0 => Ok(vec![n, c, 1, 1]),
            _ => Err(LayerError::InputShape {
                module: "GlobalAvgPool2d".into(),
                expected: "[N, C, H, W] with H, W ≥ 1".into(),
                got: input.to_vec(),
            }),
        }
    }
}

impl<T: Element> Module<T> for GlobalAvgPool2d {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        GlobalAvgPool2d::output_shape(self, &x.shape())?;
        Ok(x.global_avg_pool2d()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        GlobalAvgPool2d::output_shape(self, input)
    }

    crate::parts!(T);
}
