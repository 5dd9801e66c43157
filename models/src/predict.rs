//! Images from files: fit a PNG or JPEG to the network's input, then classify.
//!
//! For a network of 1-channel images the image is converted to greyscale (the channels of
//! HWC pixels averaged by the `image` crate's luma weights) and inverted when its background
//! is light (MNIST is white on black; the background is judged by the mean of the border
//! pixels); for 3 channels it is converted to RGB. It is then resized to the network's
//! image size and preprocessed as in training (the checkpoint's padding and normalisation).
//!
//! Files from outside are read defensively: at most [`MAX_IMAGE_FILE_BYTES`] are read, and
//! the decoder runs under [`limits`] (at most [`MAX_IMAGE_SIDE`] pixels a side and
//! [`MAX_DECODE_BYTES`] allocated) after the header is checked for at most
//! [`MAX_IMAGE_PIXELS`], so a crafted header cannot make it allocate gigabytes or decode
//! for long.

use std::io::Read;
use std::path::Path;

use autograd::softmax_rows;
use image::imageops::FilterType;
use layers::{Module, WithPath};
use tensor::Tensor;

use crate::data::{Pixels, Preprocess, PreprocessError};
use crate::mnist::MNIST_SIDE;

/// The largest image file read, in bytes.
pub const MAX_IMAGE_FILE_BYTES: u64 = 64 << 20;
/// The largest width or height decoded.
pub const MAX_IMAGE_SIDE: u32 = 10_000;
/// The most pixels decoded (a 48-megapixel photo fits): decoding and resizing take time in
/// proportion, so a 400-byte file declaring 10 000 × 10 000 pixels is refused up front.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// The most the decoder may allocate, in bytes.
pub const MAX_DECODE_BYTES: u64 = 256 << 20;

/// The decoder's limits: [`MAX_IMAGE_SIDE`] a side, [`MAX_DECODE_BYTES`] allocated.
pub fn limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// Why an image could not be classified.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The image file could not be read or decoded, or is too large.
    #[error(transparent)]
    File(#[from] WithPath<ImageFault>),
    /// The network failed.
    #[error(transparent)]
    Layer(#[from] layers::LayerError),
    /// The images do not fit the preprocessing.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
}

/// What is wrong with an image file (named by [`PredictError::File`]'s `path`).
#[derive(Debug, thiserror::Error)]
pub enum ImageFault {
    /// The file could not be read or decoded as an image.
    #[error(transparent)]
    Image(image::ImageError),
    /// The file could not be read.
    #[error(transparent)]
    Io(std::io::Error),
    /// The file is larger than [`MAX_IMAGE_FILE_BYTES`].
    #[error("the file is larger than {MAX_IMAGE_FILE_BYTES} bytes, too large for an image of a digit")]
    TooLarge,
    /// The image declares more than [`MAX_IMAGE_PIXELS`] pixels.
    #[error("the image is {width}×{height} pixels, more than {MAX_IMAGE_PIXELS}; scale it down")]
    TooManyPixels {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// The image has no pixels.
    #[error("the image is empty")]
    Empty,
}

impl From<tensor::TensorError> for PredictError {
    fn from(e: tensor::TensorError) -> Self {
        PredictError::Layer(e.into())
    }
}

/// The 28×28 MNIST-framed pixels of an image file (PNG or JPEG, told by its content).
pub fn load_digit(path: &Path) -> Result<Vec<u8>, PredictError> {
    load_image(path, [1, MNIST_SIDE, MNIST_SIDE])
}

/// The pixels of an image file fitted to `shape = [C, H, W]` (C = 1: greyscale,
/// MNIST-framed; C = 3: RGB), channel after channel.
pub fn load_image(path: &Path, shape: [usize; 3]) -> Result<Vec<u8>, PredictError> {
    let io = |source| WithPath::new(path, ImageFault::Io(source));
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_IMAGE_FILE_BYTES {
        return Err(WithPath::new(path, ImageFault::TooLarge).into());
    }
    image_from_bytes(&bytes, path, shape)
}

/// The 28×28 MNIST-framed pixels of the bytes of an image file (PNG or JPEG, told by the
/// content), decoded under [`limits`]; `path` names the file in errors.
pub fn digit_from_bytes(bytes: &[u8], path: &Path) -> Result<Vec<u8>, PredictError> {
    image_from_bytes(bytes, path, [1, MNIST_SIDE, MNIST_SIDE])
}

/// [`load_image`] from the bytes of an image file.
pub fn image_from_bytes(bytes: &[u8], path: &Path, shape: [usize; 3]) -> Result<Vec<u8>, PredictError> {
    if shape[0] != 1 && shape[0] != 3 {
        return Err(PreprocessError::Invalid(format!(
            "images of {} channels: only 1 (grey) and 3 (RGB) are read from files",
            shape[0]
        ))
        .into());
    }
    let image_err = |source| WithPath::new(path, ImageFault::Image(source));
    let reader = || -> Result<image::ImageReader<std::io::Cursor<&[u8]>>, PredictError> {
        let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| image_err(image::ImageError::IoError(e)))?;
        reader.limits(limits());
        Ok(reader)
    };
    // The header first: refuse too many pixels before decoding any.
    let (width, height) = reader()?.into_dimensions().map_err(image_err)?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(WithPath::new(path, ImageFault::TooManyPixels { width, height }).into());
    }
    let img = reader()?.decode().map_err(image_err)?;
    if img.width() == 0 || img.height() == 0 {
        return Err(WithPath::new(path, ImageFault::Empty).into());
    }
    let (side_w, side_h) = (shape[2] as u32, shape[1] as u32);
    if shape[0] == 3 {
        let rgb = img.to_rgb8();
        let fitted = if rgb.dimensions() == (side_w, side_h) {
            rgb
        } else {
            image::imageops::resize(&rgb, side_w, side_h, FilterType::Triangle)
        };
        return Ok((0..3).flat_map(|c| fitted.pixels().map(move |p| p.0[c])).collect());
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
    let fitted = if (w, h) == (side_w, side_h) {
        grey
    } else {
        image::imageops::resize(&grey, side_w, side_h, FilterType::Triangle)
    };
    Ok(fitted.into_raw())
}

/// The most likely class and its probability for each image (`C·H·W` bytes of `shape`,
/// as [`load_image`] gives them), preprocessed by `preprocess`.
pub fn classify<M: Module<f32> + ?Sized>(
    model: &M,
    preprocess: &Preprocess,
    shape: [usize; 3],
    images: &[Vec<u8>],
) -> Result<Vec<(usize, f32)>, PredictError> {
    let input = preprocess.output_shape(shape)?;
    let len: usize = input.iter().product();
    let mut x = vec![0.0f32; images.len() * len];
    for (img, out) in images.iter().zip(x.chunks_exact_mut(len)) {
        preprocess.apply(Pixels::U8(img), shape, out);
    }
    let logits = model.predict(&Tensor::from_vec(&[images.len(), input[0], input[1], input[2]], x)?)?;
    let probs = softmax_rows(&logits)?;
    let best = logits.argmax_axis(1, false)?;
    Ok(best.iter().enumerate().map(|(i, k)| (k, probs.get(&[i, k]).unwrap_or(f32::NAN))).collect())
}
