//! One input image from a request: 784 pixels of a 28×28 image on MNIST's 0–255 scale,
//! checked, then preprocessed exactly as [`crate::mnist`] does (pad 2 to 32×32, normalise).

use serde::Deserialize;
use tensor::Tensor;

use super::ExplorerError;
use crate::mnist::{MNIST_SIDE, NORMALIZE};

/// The network's input side (32).
pub const INPUT_SIDE: usize = crate::mnist::INPUT_SIDE;

/// A 28×28 image, row-major, each pixel in `[0, 255]` (ink high, as in MNIST). Floats come
/// from a drawing; MNIST's bytes are the integer case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Image(pub Vec<f32>);

impl Image {
    /// An image from MNIST's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Image(bytes.iter().map(|&b| f32::from(b)).collect())
    }

    /// Checks the length (784) and that every pixel is a finite number in `[0, 255]`.
    pub fn check(&self) -> Result<(), ExplorerError> {
        let n = MNIST_SIDE * MNIST_SIDE;
        if self.0.len() != n {
            return Err(ExplorerError::Input(format!("expected {n} pixels (28×28), got {}", self.0.len())));
        }
        if let Some((i, v)) = self.0.iter().enumerate().find(|(_, v)| !v.is_finite() || !(0.0..=255.0).contains(*v)) {
            return Err(ExplorerError::Input(format!("pixel {i} is {v}, expected a number in [0, 255]")));
        }
        Ok(())
    }

    /// The network's input `x: [1, 1, 32, 32]`: padded with 2 background pixels on each side
    /// and normalised, `(p/255 − 0.1307)/0.3081`, the same arithmetic as
    /// [`crate::mnist::pixel_lut`].
    pub fn preprocess(&self) -> Result<Tensor<f32>, ExplorerError> {
        self.check()?;
        let (mean, std) = NORMALIZE;
        let norm = |p: f32| (p / 255.0 - mean) / std;
        let pad = (INPUT_SIDE - MNIST_SIDE) / 2;
        let mut out = vec![norm(0.0); INPUT_SIDE * INPUT_SIDE];
        for (r, row) in self.0.chunks_exact(MNIST_SIDE).enumerate() {
            for (c, &p) in row.iter().enumerate() {
                out[(r + pad) * INPUT_SIDE + c + pad] = norm(p);
            }
        }
        Ok(Tensor::from_vec(&[1, 1, INPUT_SIDE, INPUT_SIDE], out)?)
    }
}
