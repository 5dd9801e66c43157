//! Digits from image files: fit a PNG or JPEG to MNIST's framing, then classify.
//!
//! The image is converted to greyscale (the channels of HWC pixels averaged by the `image`
//! crate's luma weights), inverted when its background is light (MNIST is white on black;
//! the background is judged by the mean of the border pixels), resized to 28×28, and
//! preprocessed as MNIST is (padded to 32×32, normalised).

use std::path::{Path, PathBuf};

use autograd::{Tape, softmax_rows};
use image::imageops::FilterType;
use layers::Module;
use tensor::Tensor;

use crate::lenet5::LeNet5;
use crate::mnist::{INPUT_PIXELS, INPUT_SIDE, MNIST_SIDE, pixel_lut, preprocess_into};

/// Why an image could not be classified.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The file could not be read or decoded as an image.
    #[error("{path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// The image has no pixels.
    #[error("{path}: the image is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The network failed.
    #[error(transparent)]
    Layer(#[from] layers::LayerError),
}

impl From<tensor::TensorError> for PredictError {
    fn from(e: tensor::TensorError) -> Self {
        PredictError::Layer(e.into())
    }
}

/// The 28×28 MNIST-framed pixels of an image file.
pub fn load_digit(path: &Path) -> Result<Vec<u8>, PredictError> {
    let img = image::open(path).map_err(|source| PredictError::Image { path: path.to_path_buf(), source })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(PredictError::Empty { path: path.to_path_buf() });
    }
    let mut grey = img.to_luma8();
    let (w, h) = grey.dimensions();
    let border: Vec<u8> = grey
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x + 1 == w || *y + 1 == h)
        .map(|(_, _, p)| p.0[0])
        .collect();
    let border_mean = border.iter().map(|&b| f64::from(b)).sum::<f64>() / border.len() as f64;
    if border_mean > 127.5 {
        image::imageops::invert(&mut grey);
    }
    let side = MNIST_SIDE as u32;
    let fitted =
        if (w, h) == (side, side) { grey } else { image::imageops::resize(&grey, side, side, FilterType::Triangle) };
    Ok(fitted.into_raw())
}

/// The most likely digit and its probability for each 28×28 image.
pub fn classify(model: &LeNet5<f32>, images: &[Vec<u8>]) -> Result<Vec<(usize, f32)>, PredictError> {
    let lut = pixel_lut();
    let mut x = vec![0.0f32; images.len() * INPUT_PIXELS];
    for (img, out) in images.iter().zip(x.chunks_exact_mut(INPUT_PIXELS)) {
        preprocess_into(img, &lut, out);
    }
    let tape = Tape::no_grad();
    let input = tape.constant(Tensor::from_vec(&[images.len(), 1, INPUT_SIDE, INPUT_SIDE], x)?);
    let logits = model.forward(input)?.value();
    let probs = softmax_rows(&logits)?;
    let best = logits.argmax_axis(1, false)?;
    Ok(best.iter().enumerate().map(|(i, k)| (k, probs.get(&[i, k]).unwrap_or(f32::NAN))).collect())
}
