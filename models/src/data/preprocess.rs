//! Preprocessing as data: zero-pad each image, then normalise each channel,
//! `x' = (x − mean[c]) / std[c]` (torchvision's `Pad(p) → ToTensor → Normalize(mean, std)`;
//! the padding is 0 before normalising, so it reads `−mean/std` after).
//!
//! The statistics default to the training set's own ([`Preprocess::fit`]: one pass, f64
//! sums of `x` and `x²` per channel; MNIST's give 0.1307 and 0.3081). They travel with the
//! checkpoint ([`Preprocess::metadata`]), so evaluation, prediction and a resumed run use
//! the statistics the network was trained with.

use std::collections::BTreeMap;

use super::{Dataset, Pixels};

/// What is wrong with a preprocessing or the images given to it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PreprocessError {
    /// Means and standard deviations that are not one finite value per channel, or a
    /// standard deviation that is not positive.
    #[error("preprocessing: {0}")]
    Invalid(String),
    /// Images whose channel count differs from the preprocessing's.
    #[error("preprocessing: {channels} channel(s) of mean/std for images of shape {shape:?}")]
    Channels {
        /// Channels of the preprocessing.
        channels: usize,
        /// The image shape `[C, H, W]`.
        shape: [usize; 3],
    },
    /// A metadata entry that is missing or does not parse.
    #[error("preprocessing metadata {key:?}: {reason}")]
    Metadata {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Zero-padding and per-channel normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    pad: usize,
    mean: Vec<f32>,
    std: Vec<f32>,
    /// `lut[c][b] = (b/255 − mean[c]) / std[c]`, for byte images.
    lut: Vec<[f32; 256]>,
}

impl Preprocess {
    /// Padding `pad` on every side and one `mean` and `std` per channel; an error for
    /// lists of different lengths, an empty list, or a value that is not finite (or a std
    /// that is not positive).
    pub fn new(pad: usize, mean: Vec<f32>, std: Vec<f32>) -> Result<Self, PreprocessError> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(PreprocessError::Invalid(format!(
                "{} mean(s) and {} std(s): give one of each per channel",
                mean.len(),
                std.len()
            )));
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(PreprocessError::Invalid(format!("mean {m} is not finite")));
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(PreprocessError::Invalid(format!("std {s} is not a finite number > 0")));
        }
        let lut = mean.iter().zip(&std).map(|(&m, &s)| std::array::from_fn(|b| (b as f32 / 255.0 - m) / s)).collect();
        Ok(Preprocess { pad, mean, std, lut })
    }

    /// MNIST's customary constants (pad 2, mean 0.1307, std 0.3081), for weights files that
    /// carry no preprocessing of their own.
    pub fn mnist() -> Self {
        Preprocess::new(2, vec![0.1307], vec![0.3081]).expect("valid constants")
    }

    /// Padding `pad` and the mean and (population) standard deviation of each channel of
    /// `data`'s pixels, as read (`b/255` for bytes). An error for an empty set or a channel
    /// of constant pixels (std 0).
    pub fn fit(data: &dyn Dataset, pad: usize) -> Result<Self, PreprocessError> {
        let [c, h, w] = data.image_shape();
        let plane = h * w;
        // Bytes are counted per channel and value (four interleaved histograms, so that runs
        // of equal bytes do not wait on one counter), then summed once per value; floats are
        // summed plane by plane.
        let mut counts = vec![[[0u64; 256]; 4]; c];
        let (mut sum, mut sum_sq) = (vec![0f64; c], vec![0f64; c]);
        for i in 0..data.len() {
            match data.pixels(i) {
                Pixels::U8(p) => {
                    for (hist, px) in counts.iter_mut().zip(p.chunks_exact(plane.max(1))) {
                        let quads = px.chunks_exact(4);
                        for &b in quads.remainder() {
                            hist[0][usize::from(b)] += 1;
                        }
                        for q in quads {
                            for (lane, &b) in hist.iter_mut().zip(q) {
                                lane[usize::from(b)] += 1;
                            }
                        }
                    }
                }
                Pixels::F32(p) => {
                    for (k, px) in p.chunks_exact(plane.max(1)).enumerate() {
                        sum[k] += px.iter().map(|&x| f64::from(x)).sum::<f64>();
                        sum_sq[k] += px.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
                    }
                }
            }
        }
        for (k, hist) in counts.iter().enumerate() {
            for b in 0..256 {
                let (n, x) = (hist.iter().map(|lane| lane[b]).sum::<u64>() as f64, b as f64 / 255.0);
                sum[k] += n * x;
                sum_sq[k] += n * x * x;
            }
        }
        let count = (data.len() * plane) as f64;
        if count == 0.0 {
            return Err(PreprocessError::Invalid("no pixels to compute the mean and std from".into()));
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std: Vec<f64> = sum_sq.iter().zip(&mean).map(|(q, m)| (q / count - m * m).max(0.0).sqrt()).collect();
        Preprocess::new(pad, mean.iter().map(|&m| m as f32).collect(), std.iter().map(|&s| s as f32).collect())
    }

    /// The padding on every side.
    pub fn pad(&self) -> usize {
        self.pad
    }

    /// The mean of each channel.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The standard deviation of each channel.
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// What a black pixel (and the padding) of channel `c` becomes: `−mean[c]/std[c]`.
    pub fn background(&self, c: usize) -> f32 {
        -self.mean[c] / self.std[c]
    }

    /// The shape `[C, H + 2·pad, W + 2·pad]` of a preprocessed image, or an error when the
    /// channel count differs or the padded image has more values than a `usize` counts.
    pub fn output_shape(&self, image: [usize; 3]) -> Result<[usize; 3], PreprocessError> {
        if image[0] != self.mean.len() {
            return Err(PreprocessError::Channels { channels: self.mean.len(), shape: image });
        }
        let side = |s: usize| self.pad.checked_mul(2).and_then(|p| s.checked_add(p));
        let shape = match (side(image[1]), side(image[2])) {
            (Some(h), Some(w)) => [image[0], h, w],
            _ => return Err(PreprocessError::Invalid(format!("the padding {} is too large to count", self.pad))),
        };
        if crate::arch::plan::numel(&shape).is_none() {
            return Err(PreprocessError::Invalid(format!("an image padded by {} is too large to count", self.pad)));
        }
        Ok(shape)
    }

    /// Preprocesses one image of shape `shape` into `out` (the output shape's size).
    pub fn apply(&self, pixels: Pixels<'_>, shape: [usize; 3], out: &mut [f32]) {
        let [c, h, w] = shape;
        let (oh, ow, p) = (h + 2 * self.pad, w + 2 * self.pad, self.pad);
        for k in 0..c {
            let plane = &mut out[k * oh * ow..(k + 1) * oh * ow];
            let background = self.background(k);
            if p > 0 {
                plane.fill(background);
            }
            for r in 0..h {
                let dst = &mut plane[(r + p) * ow + p..(r + p) * ow + p + w];
                let at = (k * h + r) * w;
                match pixels {
                    Pixels::U8(src) => {
                        let lut = &self.lut[k];
                        dst.iter_mut().zip(&src[at..at + w]).for_each(|(d, &b)| *d = lut[usize::from(b)]);
                    }
                    Pixels::F32(src) => {
                        let (m, s) = (self.mean[k], self.std[k]);
                        dst.iter_mut().zip(&src[at..at + w]).for_each(|(d, &x)| *d = (x - m) / s);
                    }
                }
            }
        }
    }

    /// Writes the preprocessed images `indices` of `data` into `out` (`N×C×H'×W'`,
    /// row-major) and their labels into `labels`, reusing both buffers.
    pub fn fill_batch(
        &self,
        data: &dyn Dataset,
        indices: &[usize],
        out: &mut Vec<f32>,
        labels: &mut Vec<usize>,
    ) -> Result<(), PreprocessError> {
        let shape = data.image_shape();
        let len: usize = self.output_shape(shape)?.iter().product();
        out.clear();
        out.resize(indices.len() * len, 0.0);
        labels.clear();
        for (&i, dst) in indices.iter().zip(out.chunks_exact_mut(len)) {
            self.apply(data.pixels(i), shape, dst);
            labels.push(data.label(i));
        }
        Ok(())
    }

    /// The metadata entries (`preprocess.pad`, `preprocess.mean`, `preprocess.std`; values
    /// in shortest round-trip notation, comma-separated per channel).
    pub fn metadata(&self) -> Vec<(String, String)> {
        let list = |v: &[f32]| v.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(",");
        vec![
            ("preprocess.pad".into(), self.pad.to_string()),
            ("preprocess.mean".into(), list(&self.mean)),
            ("preprocess.std".into(), list(&self.std)),
        ]
    }

    /// The preprocessing stored in `metadata` by [`Preprocess::metadata`].
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Result<Self, PreprocessError> {
        let get = |key: &str| {
            metadata.get(key).ok_or_else(|| PreprocessError::Metadata { key: key.into(), reason: "missing".into() })
        };
        let bad = |key: &str, reason: String| PreprocessError::Metadata { key: key.into(), reason };
        let pad_text = get("preprocess.pad")?;
        let pad = pad_text.parse().map_err(|_| bad("preprocess.pad", format!("{pad_text:?} is not a whole number")))?;
        let mean = parse_list(get("preprocess.mean")?).map_err(|e| bad("preprocess.mean", e))?;
        let std = parse_list(get("preprocess.std")?).map_err(|e| bad("preprocess.std", e))?;
        Preprocess::new(pad, mean, std)
    }
}

/// `"0.5,0.25"` as numbers; a message naming the item that does not parse.
pub fn parse_list(text: &str) -> Result<Vec<f32>, String> {
    text.split(',').map(|item| item.trim().parse::<f32>().map_err(|_| format!("{item:?} is not a number"))).collect()
}
