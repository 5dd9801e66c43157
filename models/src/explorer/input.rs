//! One input image from a request: the pixels of one `C×H×W` image (784 of a 28×28 one for
//! LeNet-5) on MNIST's 0–255 scale, checked, then preprocessed as the network was trained
//! ([`Preprocess`]: for LeNet-5, pad 2 to 32×32 and normalise).

use serde::Deserialize;
use tensor::Tensor;

use super::ExplorerError;
use crate::data::{Pixels, Preprocess};
use crate::mnist::MNIST_SIDE;

/// The network's input side (32).
pub const INPUT_SIDE: usize = 32;

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

    /// Checks the length (784) and that every pixel is a finite number in `[0, 255]`.
    pub fn check(&self) -> Result<(), ExplorerError> {
        self.check_shape([1, MNIST_SIDE, MNIST_SIDE])
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

    /// The network's input `x: [1, 1, 32, 32]`: the pixels on `[0, 1]` (`p/255`, as
    /// `ToTensor`), padded and normalised by `preprocess`, e.g. `(p/255 − 0.1307)/0.3081`
    /// with 2 background pixels on each side.
    pub fn preprocess(&self, preprocess: &Preprocess) -> Result<Tensor<f32>, ExplorerError> {
        let x = self.input(preprocess, [1, MNIST_SIDE, MNIST_SIDE])?;
        if x.shape() != [1, 1, INPUT_SIDE, INPUT_SIDE] {
            // The network was planned for this preprocessing when it was loaded: a bug.
            return Err(ExplorerError::Internal(format!(
                "the preprocessing makes {:?}, LeNet-5 takes [1, 32, 32]",
                &x.shape()[1..]
            )));
        }
        Ok(x)
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
