//! One matrix of the derivation, ready to draw: its name, formula, shape and values.

use serde::Serialize;
use tensor::Tensor;

/// A matrix (or a stack of feature maps) with what the page needs to draw and explain it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    /// A short id the page keys on (`a0`, `W1`, `dz7`, …).
    pub id: String,
    /// The layer (`input`, `C1`, `S2`, … `F7`, `softmax` for LeNet-5; `layer 0 conv(16,3,p=1)`,
    /// … for a network of layers).
    pub layer: String,
    /// The formula as the derivation writes it, e.g. `z⁽¹⁾ = a⁽⁰⁾·W⁽¹⁾ + b⁽¹⁾`.
    pub formula: String,
    /// The anchor of its section in `docs/derivation.md` (e.g. `c1`, `c1-1`).
    pub section: &'static str,
    /// `[rows, cols]` for a matrix, `[C, H, W]` for feature maps.
    pub shape: Vec<usize>,
    /// The values, row-major (a max-pool window's taps in the padding are `−∞`, which JSON
    /// carries as `null`).
    pub data: Vec<f32>,
    /// Whether the values take both signs (drawn on a diverging scale centred on 0).
    pub signed: bool,
    /// For a pooling window matrix: the column of each row's first maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argmax: Option<Vec<u8>>,
    /// Inside a residual block: the path and inner layer the matrix belongs to (the page
    /// draws the block's two paths side by side, its sum below them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<Lane>,
    /// For feature maps: the integer scale they are drawn at (none: the page keeps a map
    /// near 100 pixels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<usize>,
    /// The operator drawn before the panel in its row (`·`, `+`, `=`, `→`), when the
    /// panels of a card read as one formula.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<&'static str>,
}

/// Where in a residual block a matrix sits: on which path, of which inner layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lane {
    /// `body` or `shortcut` (a block nested in a path keeps the outer path).
    pub path: &'static str,
    /// The inner layer: `body 1 batchnorm` (`body 2 res(…) › body 0 conv(…)` when nested).
    pub part: String,
    /// What the inner layer does, in a line (its card text).
    pub what: String,
}

impl Matrix {
    /// A matrix from a tensor, reshaped to `shape` (same number of elements).
    pub fn new(id: &str, layer: &str, formula: &str, section: &'static str, shape: &[usize], t: &Tensor<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), t.numel(), "{id}");
        let data = t.to_vec();
        let signed = data.iter().any(|v| *v < 0.0 && v.is_finite());
        Matrix {
            id: id.into(),
            layer: layer.into(),
            formula: formula.into(),
            section,
            shape: shape.to_vec(),
            data,
            signed,
            argmax: None,
            lane: None,
            scale: None,
            op: None,
        }
    }

    /// Marks the matrix as signed whatever its values (weights and gradients).
    pub fn signed(mut self) -> Self {
        self.signed = true;
        self
    }

    /// The value at `[row, col]` of a 2-D matrix.
    pub fn at(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.shape[1] + col]
    }
}
