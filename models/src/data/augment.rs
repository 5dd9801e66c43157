//! Augmentation of training images on the fly, as the batch is filled: a random crop after
//! zero padding (torchvision's `RandomCrop(size, padding=P)`) and a horizontal flip with
//! probability ½ (`RandomHorizontalFlip()`), written `crop:P,flip`.
//!
//! Every draw is a pure function of `(seed, epoch, image index)` through a counter-based
//! stream ([`CounterRng`]), not of a generator's state: the same image in the same epoch
//! gets the same crop and flip whatever the batch size, the shuffle, the thread count or
//! where a resumed run picked up, so a resumed run is bit-identical to one run straight
//! through. Evaluation never augments.
//!
//! It works on the preprocessed image (after [`Preprocess`] padded and normalised it), the
//! padding of the crop being the value a black pixel normalises to (`−mean/std`), as
//! torchvision's pipeline pads bytes with 0 before `Normalize`. For an image padded and
//! cropped at offset `(top, left)` in `0..=2P` and flipped: `out[c, y, x] = padded[c, top + y,
//! left + x′]` with `x′ = W − 1 − x` when flipped, else `x`.

use std::fmt;
use std::str::FromStr;

use tensor::CounterRng;

use super::{Preprocess, PreprocessError};

/// The word that keys augmentation's streams apart from the other uses of the run's seed.
const STREAM: u64 = u64::from_le_bytes(*b"augment\0");

/// The augmentation of a run's training images: none by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Augment {
    /// Zero padding `P` before a random crop back to the image's size (`crop:P`).
    pub crop: Option<usize>,
    /// A horizontal flip with probability ½ (`flip`).
    pub flip: bool,
}

/// What one image gets: where its crop starts in the padded image, and whether it is
/// flipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    /// The crop's first row in the padded image, in `0..=2P` (`P` with no crop).
    pub top: usize,
    /// The crop's first column in the padded image, in `0..=2P`.
    pub left: usize,
    /// Whether the image is flipped left to right.
    pub flip: bool,
}

impl Augment {
    /// No augmentation.
    pub const NONE: Augment = Augment { crop: None, flip: false };

    /// The largest crop padding accepted (a padding over the image's size is allowed: the
    /// crop may then hold nothing of it).
    pub const MAX_CROP: usize = 1024;

    /// Whether this changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Augment::NONE
    }

    /// The draw of image `index` in epoch `epoch` (from 0) of a run seeded `seed`: the two
    /// 32-bit halves of the stream's first word give the crop's row and column
    /// (`⌊h·(2P + 1)/2³²⌋`), its second word (as a uniform number below ½) the flip.
    pub fn draw(&self, seed: u64, epoch: usize, index: usize) -> Draw {
        let stream = CounterRng::from_words(&[STREAM, seed, epoch as u64, index as u64]);
        let p = self.crop.unwrap_or(0);
        let side = 2 * p as u64 + 1;
        let word = stream.u64_at(0);
        let offset = |half: u64| ((half * side) >> 32) as usize;
        let (top, left) = if self.crop.is_some() { (offset(word >> 32), offset(word & 0xFFFF_FFFF)) } else { (p, p) };
        Draw { top, left, flip: self.flip && stream.uniform_at(1) < 0.5 }
    }

    /// Crops and flips one preprocessed image `image` of shape `[C, H, W]` as `draw` says,
    /// in place; `background(c)` is the padding's value in channel `c`.
    pub fn apply(&self, draw: Draw, shape: [usize; 3], background: impl Fn(usize) -> f32, image: &mut [f32]) {
        let [_, h, w] = shape;
        let p = self.crop.unwrap_or(0);
        // out[y][x] = in[y + dy][x + dx], in bounds, else the background.
        let (dy, dx) = (draw.top as isize - p as isize, draw.left as isize - p as isize);
        for (c, plane) in image.chunks_exact_mut(h * w).enumerate() {
            if dy != 0 || dx != 0 {
                shift(plane, [h, w], [dy, dx], background(c));
            }
            if draw.flip {
                plane.chunks_exact_mut(w).for_each(<[f32]>::reverse);
            }
        }
    }

    /// Augments each image of a batch filled by [`Preprocess::fill_batch`] (`batch`, the
    /// images `indices` of a data set of shape `image`) for epoch `epoch` of a run seeded
    /// `seed`; nothing when this is [`Augment::NONE`].
    pub fn apply_batch(
        &self,
        batch: &mut [f32],
        indices: &[usize],
        image: [usize; 3],
        preprocess: &Preprocess,
        seed: u64,
        epoch: usize,
    ) -> Result<(), PreprocessError> {
        if self.is_none() {
            return Ok(());
        }
        let shape = preprocess.output_shape(image)?;
        let len: usize = shape.iter().product();
        for (x, &i) in batch.chunks_exact_mut(len).zip(indices) {
            self.apply(self.draw(seed, epoch, i), shape, |c| preprocess.background(c), x);
        }
        Ok(())
    }
}

/// `plane[y][x] = plane[y + dy][x + dx]` where that is inside the `h×w` plane, else
/// `background`, in place: rows are visited in the order that reads each source row before
/// it is overwritten, and each row's span moves as one (overlapping) copy.
fn shift(plane: &mut [f32], [h, w]: [usize; 2], [dy, dx]: [isize; 2], background: f32) {
    let (hi, wi) = (h as isize, w as isize);
    let (x0, x1) = ((-dx).clamp(0, wi), (wi - dx).clamp(0, wi));
    for k in 0..hi {
        let y = if dy >= 0 { k } else { hi - 1 - k };
        let (sy, row) = (y + dy, (y * wi) as usize);
        if sy < 0 || sy >= hi || x0 >= x1 {
            plane[row..row + w].fill(background);
            continue;
        }
        let from = (sy * wi + x0 + dx) as usize;
        plane.copy_within(from..from + (x1 - x0) as usize, row + x0 as usize);
        plane[row..row + x0 as usize].fill(background);
        plane[row + x1 as usize..row + w].fill(background);
    }
}

/// `none`, or its parts comma-separated, crop first: `crop:4,flip`.
impl fmt::Display for Augment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = self.crop {
            parts.push(format!("crop:{p}"));
        }
        if self.flip {
            parts.push("flip".to_string());
        }
        f.write_str(if parts.is_empty() { "none" } else { "" })?;
        f.write_str(&parts.join(","))
    }
}

/// `none`, or `crop:P` and `flip` comma-separated (each at most once, in any order); the
/// error names the part that is wrong.
impl FromStr for Augment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = "none, or crop:P and flip, comma-separated";
        if s.trim() == "none" {
            return Ok(Augment::NONE);
        }
        let mut augment = Augment::NONE;
        for part in s.split(',').map(str::trim) {
            let twice = || format!("{part:?} is given twice");
            match part.split_once(':') {
                None if part == "flip" => {
                    if augment.flip {
                        return Err(twice());
                    }
                    augment.flip = true;
                }
                Some(("crop", p)) => {
                    if augment.crop.is_some() {
                        return Err(twice());
                    }
                    let p: usize = p.trim().parse().map_err(|_| format!("crop:{p}: P is a whole number"))?;
                    if p == 0 || p > Augment::MAX_CROP {
                        return Err(format!("crop:{p}: P must be 1 to {}", Augment::MAX_CROP));
                    }
                    augment.crop = Some(p);
                }
                None if part == "crop" => return Err("crop needs its padding: crop:P (e.g. crop:4)".into()),
                _ => return Err(format!("{part:?} is not an augmentation ({usage})")),
            }
        }
        Ok(augment)
    }
}
