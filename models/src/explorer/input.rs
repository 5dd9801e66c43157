//! One input image from a request: the pixels of one `C×H×W` image (784 of a 28×28 one for
//! LeNet-5) on MNIST's 0–255 scale, checked, then preprocessed as the network was trained
//! ([`Preprocess`]: for LeNet-5, pad 2 to 32×32 and normalise).

use serde::Deserialize;
use tensor::Tensor;

use super::ExplorerError;
use crate::data::{Pixels, Preprocess};

/// An image, channels then rows (`C×H×W`, 28×28 for LeNet-5), each pixel in `[0, 255]` (ink
/// high, as in MNIST). Floats come from a drawing; MNIST's bytes are the integer case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Image(pub Vec<f32>);

impl Image {
    /// An image from MNIST's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Image(bytes.iter().map(|&b| f32::from(b)).collect())
    }

    /// Checks the length (`C·H·W` of `shape`) and that every pixel is a finite number in
    /// `[0, 255]`.
    pub fn check_shape(&self, shape: [usize; 3]) -> Result<(), ExplorerError> {
        let n: usize = shape.iter().product();
        if self.0.len() != n {
            let [c, h, w] = shape;
            return Err(ExplorerError::Input(format!("expected {n} pixels ({c}×{h}×{w}), got {}", self.0.len())));
        }
        if let Some((i, v)) = self.0.iter().enumerate().find(|(_, v)| !v.is_finite() || !(0.0..=255.0).contains(*v)) {
            return Err(ExplorerError::Input(format!("pixel {i} is {v}, expected a number in [0, 255]")));
        }
        Ok(())
    }

    /// The input `x: [1, C', H', W']` of a network of `shape = [C, H, W]` images: the pixels
    /// on `[0, 1]`, padded and normalised by `preprocess`.
    pub fn input(&self, preprocess: &Preprocess, shape: [usize; 3]) -> Result<Tensor<f32>, ExplorerError> {
        self.check_shape(shape)?;
        let out = preprocess.output_shape(shape).map_err(|e| ExplorerError::Internal(e.to_string()))?;
        let unit: Vec<f32> = self.0.iter().map(|p| p / 255.0).collect();
        let mut x = vec![0.0; out.iter().product()];
        preprocess.apply(Pixels::F32(&unit), shape, &mut x);
        Ok(Tensor::from_vec(&[1, out[0], out[1], out[2]], x)?)
    }
}
