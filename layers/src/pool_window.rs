//! What a pooling layer checks and reports about its window, written once for
//! [`crate::MaxPool2d`] and [`crate::AvgPool2d`].

use tensor::{Window2d, WindowDims};

use crate::error::{LayerError, Result};

/// A pooling layer's validated window and its name (`MaxPool2d`, `AvgPool2d`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PoolWindow {
    name: &'static str,
    pub(crate) window: Window2d,
}

impl PoolWindow {
    /// An error for a zero kernel or stride or padding over half the kernel.
    pub(crate) fn new(name: &'static str, window: Window2d) -> Result<Self> {
        if window.kernel.contains(&0)
            || window.stride.contains(&0)
            || (0..2).any(|a| window.padding[a] > window.kernel[a] / 2)
        {
            return Err(LayerError::Config {
                what: format!("{name}({window:?})"),
                reason: "kernel and stride must be positive and padding at most half the kernel".into(),
            });
        }
        Ok(PoolWindow { name, window })
    }

    /// The sizes for an input shape, or an error naming the layer.
    pub(crate) fn check(&self, input: &[usize]) -> Result<WindowDims> {
        self.window.pool_dims(self.name, input).map_err(|_| LayerError::InputShape {
            module: self.describe(),
            expected: "[N, C, H, W] with H, W large enough for the window".into(),
            got: input.to_vec(),
        })
    }

    /// `[N, C, oh, ow]` for an input shape.
    pub(crate) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let d = self.check(input)?;
        Ok(vec![d.n, d.c, d.oh, d.ow])
    }

    /// The layer with its window.
    pub(crate) fn describe(&self) -> String {
        format!("{}({})", self.name, self.window)
    }
}
