//! The geometry behind the page's links: which input window a row of a window matrix
//! (im2col, pooling windows) is, and which output pixel it makes. The page reads these from
//! the pass instead of knowing any network's shapes.
//!
//! Row `r` of a window matrix is output pixel `(i, j)` with `r = i·Wₒ + j` (a convolution:
//! the window spans every input map) or map `c` of it with `r = c·Hₒ·Wₒ + i·Wₒ + j`
//! (`per_channel`, a pooling layer: the window lies in map `c` only); its window's top-left
//! corner in the input maps is `(i·sh − ph, j·sw − pw)`, of size `kh×kw`.

use serde::Serialize;
use tensor::Window2d;

/// One layer's row ↔ window ↔ pixel geometry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The rows' space as the page's text names it (`C1`, `layer 0 conv(16,3,p=1)`).
    pub name: String,
    /// The ids of the matrices whose row `r` is window `r` (`a0`, `z1`, `da0`, …).
    pub rows: Vec<String>,
    /// The ids of the input's feature-map panels (the maps the windows lie in).
    pub input: Vec<String>,
    /// The ids of the output's feature-map panels (one pixel per row).
    pub output: Vec<String>,
    /// `[C, H, W]` of the input maps, unpadded.
    pub input_shape: [usize; 3],
    /// `[C, Hₒ, Wₒ]` of the output maps.
    pub output_shape: [usize; 3],
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// `[ph, pw]`, zeros on each side.
    pub padding: [usize; 2],
    /// Whether a row is one map's window (pooling) rather than all maps' (convolution).
    pub per_channel: bool,
    /// Said after a row's position in the hover text (`: the 2×2 block whose max is …`).
    pub note: String,
}

impl Link {
    /// The link of a layer with `window` from maps `input_shape` to maps `output_shape`.
    pub fn new(
        name: &str,
        window: &Window2d,
        input_shape: [usize; 3],
        output_shape: [usize; 3],
        per_channel: bool,
    ) -> Self {
        Link {
            name: name.to_string(),
            rows: Vec::new(),
            input: Vec::new(),
            output: Vec::new(),
            input_shape,
            output_shape,
            kernel: window.kernel,
            stride: window.stride,
            padding: window.padding,
            per_channel,
            note: String::new(),
        }
    }

    /// The panels: the window matrices, the input maps and the output maps.
    pub fn panels(mut self, rows: &[&str], input: &[&str], output: &[&str]) -> Self {
        let own = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
        (self.rows, self.input, self.output) = (own(rows), own(input), own(output));
        self
    }

    /// The text said after a row's position.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}
