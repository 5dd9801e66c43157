//! The in-memory data sets: images as bytes ([`ImageSet`]) or as floats ([`TensorSet`]).

use tensor::Tensor;

use super::{Dataset, Pixels};

/// Images as bytes, `C×H×W` each, with their labels and class names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// `[C, H, W]` of every image.
    pub shape: [usize; 3],
    /// `len() · C·H·W` bytes, image after image.
    pub images: Vec<u8>,
    /// One class index per image.
    pub labels: Vec<u16>,
    /// The class names, by index (their count is the number of classes).
    pub class_names: Vec<String>,
}

impl ImageSet {
    /// The bytes of one image.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The raw bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let len = self.image_len();
        &self.images[i * len..(i + 1) * len]
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Classes named by their numbers, `"0"`, `"1"`, ….
    pub fn numbered_classes(count: usize) -> Vec<String> {
        (0..count).map(|c| c.to_string()).collect()
    }
}

impl Dataset for ImageSet {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn image_shape(&self) -> [usize; 3] {
        self.shape
    }

    fn classes(&self) -> usize {
        self.class_names.len()
    }

    fn label(&self, index: usize) -> usize {
        usize::from(self.labels[index])
    }

    fn pixels(&self, index: usize) -> Pixels<'_> {
        Pixels::U8(self.image(index))
    }

    fn class_name(&self, class: usize) -> String {
        self.class_names.get(class).cloned().unwrap_or_else(|| class.to_string())
    }
}

/// Images as `f32` values (used as they are), with their labels.
#[derive(Debug, Clone)]
pub struct TensorSet {
    shape: [usize; 3],
    values: Vec<f32>,
    labels: Vec<usize>,
    classes: usize,
}

impl TensorSet {
    /// A set from `images: [N, C, H, W]` and N labels below `classes`; an error message for
    /// a rank other than 4, a label count other than N, or a label out of range.
    pub fn new(images: &Tensor<f32>, labels: Vec<usize>, classes: usize) -> Result<Self, String> {
        let &[n, c, h, w] = images.shape() else {
            return Err(format!("TensorSet: images must be [N, C, H, W], got {:?}", images.shape()));
        };
        if labels.len() != n {
            return Err(format!("TensorSet: {n} images but {} labels", labels.len()));
        }
        if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(format!("TensorSet: label {l} of image {i} is not below {classes} classes"));
        }
        Ok(TensorSet { shape: [c, h, w], values: images.to_vec(), labels, classes })
    }
}

impl Dataset for TensorSet {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn image_shape(&self) -> [usize; 3] {
        self.shape
    }

    fn classes(&self) -> usize {
        self.classes
    }

    fn label(&self, index: usize) -> usize {
        self.labels[index]
    }

    fn pixels(&self, index: usize) -> Pixels<'_> {
        let len: usize = self.shape.iter().product();
        Pixels::F32(&self.values[index * len..(index + 1) * len])
    }
}
