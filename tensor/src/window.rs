//! The geometry of a 2-D sliding window (convolution or pooling) over N×C×H×W input.

use crate::error::{Result, TensorError};

/// Kernel, stride and zero padding, each per axis as `[height, width]`.
///
/// The output size along an axis is `⌊(in + 2·padding − kernel) / stride⌋ + 1`, as in
/// PyTorch: input rows or columns that no window reaches are skipped (their gradient is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window2d {
    /// Kernel size `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Step between windows `[sh, sw]`.
    pub stride: [usize; 2],
    /// Zeros added on each side `[ph, pw]`.
    pub padding: [usize; 2],
}

/// The sizes of an N×C×H×W input and of the output a window produces over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowDims {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height and width.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// As a layer spec writes it: `3×3, s=2, p=1` (stride and padding left out at 1 and 0;
/// an axis pair such as `s=(1,2)` when the axes differ).
impl std::fmt::Display for Window2d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pair = |[a, b]: [usize; 2]| if a == b { a.to_string() } else { format!("({a},{b})") };
        write!(f, "{}×{}", self.kernel[0], self.kernel[1])?;
        if self.stride != [1, 1] {
            write!(f, ", s={}", pair(self.stride))?;
        }
        if self.padding != [0, 0] {
            write!(f, ", p={}", pair(self.padding))?;
        }
        Ok(())
    }
}

impl WindowDims {
    /// The number of output positions per image and channel, `oh·ow`.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }
}

impl Window2d {
    /// A window with the same kernel, stride and padding along both axes.
    pub fn square(kernel: usize, stride: usize, padding: usize) -> Self {
        Window2d { kernel: [kernel; 2], stride: [stride; 2], padding: [padding; 2] }
    }

    /// `kh·kw`.
    pub fn kernel_area(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Checks the geometry against an N×C×H×W input shape and returns its sizes: an error
    /// when the input is not rank 4, the kernel or stride is 0, the kernel does not fit in
    /// the padded input (no output position), or the output or the im2col matrix
    /// (`N·oh·ow × C·kh·kw`) would have more elements than a `usize` counts.
    pub fn dims(&self, op: &'static str, input: &[usize]) -> Result<WindowDims> {
        let invalid = |reason: String| TensorError::InvalidGeometry { op, input: input.to_vec(), reason };
        if input.len() != 4 {
            return Err(TensorError::RankMismatch { op, expected: 4, shape: input.to_vec() });
        }
        let (n, c, h, w) = (input[0], input[1], input[2], input[3]);
        let mut out = [0usize; 2];
        for (axis, size) in [h, w].into_iter().enumerate() {
            let (k, s, p) = (self.kernel[axis], self.stride[axis], self.padding[axis]);
            if k == 0 || s == 0 {
                return Err(invalid(format!("kernel {:?} and stride {:?} must be positive", self.kernel, self.stride)));
            }
            let padded = p.checked_mul(2).and_then(|p2| size.checked_add(p2));
            match padded {
                Some(padded) if padded >= k => out[axis] = (padded - k) / s + 1,
                None => return Err(invalid(format!("the input padded by {:?} is too large to count", self.padding))),
                Some(_) => {
                    return Err(invalid(format!(
                        "kernel {:?} is larger than the input {}x{} padded by {:?}",
                        self.kernel, h, w, self.padding
                    )));
                }
            }
        }
        let columns = [n, out[0], out[1], c, self.kernel[0], self.kernel[1]];
        if columns.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).is_none() {
            return Err(invalid(format!(
                "the output {n}×{c}×{}×{} or its im2col matrix is too large to count",
                out[0], out[1]
            )));
        }
        Ok(WindowDims { n, c, h, w, oh: out[0], ow: out[1] })
    }

    /// The same windows over an input of sizes `d` (as [`Window2d::dims`] gave them) with
    /// each stride clamped to `padded − kernel + 1`: a larger stride gives the one output
    /// position that this one gives (`⌊(padded − kernel) / stride⌋ + 1 = 1`), so that
    /// nothing sized or looped over by the stride (a phase-split row, its phases) grows
    /// beyond the input whatever stride a caller passes.
    pub(crate) fn clamped(&self, d: &WindowDims) -> Window2d {
        let mut g = *self;
        for (axis, size) in [d.h, d.w].into_iter().enumerate() {
            let reach = size + 2 * self.padding[axis] - self.kernel[axis] + 1;
            g.stride[axis] = g.stride[axis].min(reach);
        }
        g
    }

    /// Like [`Window2d::dims`], and also requires what pooling needs: padding at most half
    /// the kernel, so that every window holds at least one input element.
    pub fn pool_dims(&self, op: &'static str, input: &[usize]) -> Result<WindowDims> {
        let dims = self.dims(op, input)?;
        if dims.h == 0 || dims.w == 0 {
            return Err(TensorError::InvalidGeometry {
                op,
                input: input.to_vec(),
                reason: "the input has no pixel".into(),
            });
        }
        if (0..2).any(|a| self.padding[a] > self.kernel[a] / 2) {
            return Err(TensorError::InvalidGeometry {
                op,
                input: input.to_vec(),
                reason: format!("padding {:?} exceeds half the kernel {:?}", self.padding, self.kernel),
            });
        }
        Ok(dims)
    }

    /// The kernel offsets `lo..hi` that window position `o` reads inside an input of `size`
    /// along `axis` (the others fall in the padding).
    #[inline]
    pub(crate) fn taps_inside(&self, axis: usize, o: usize, size: usize) -> (usize, usize) {
        let start = o * self.stride[axis];
        let (k, p) = (self.kernel[axis], self.padding[axis]);
        let lo = p.saturating_sub(start).min(k);
        let hi = (size + p).saturating_sub(start).min(k).max(lo);
        (lo, hi)
    }

    /// Calls `f(o, corner, rows, cols)` for every output window of a pooling over an
    /// N×C×H×W input with strides `s` whose image 0 starts at `at`, in n, c, oh, ow order (`o`
    /// counts them): the storage index of the window's top-left corner, which may lie in the
    /// padding (taps before `rows.0`, `cols.0` are never read), and the tap ranges inside the
    /// input. For 2×2 and 3×3 windows wholly inside the input the ranges are constants, so
    /// that an `#[inline(always)]` scan of the window unrolls.
    #[inline(always)]
    pub(crate) fn for_each_window(
        &self,
        d: &WindowDims,
        s: [usize; 4],
        at: usize,
        mut f: impl FnMut(usize, usize, (usize, usize), (usize, usize)),
    ) {
        let (sh, sw, ph, pw) = (self.stride[0], self.stride[1], self.padding[0], self.padding[1]);
        let rows: Vec<(usize, usize)> = (0..d.oh).map(|o| self.taps_inside(0, o, d.h)).collect();
        let cols: Vec<(usize, usize)> = (0..d.ow).map(|o| self.taps_inside(1, o, d.w)).collect();
        let k = self.kernel;
        let unrolled = k == [3, 3] || k == [2, 2];
        let mut o = 0;
        for n in 0..d.n {
            for c in 0..d.c {
                let plane = at + n * s[0] + c * s[1];
                for (oh, &(i0, i1)) in rows.iter().enumerate() {
                    let top = (plane + (oh * sh + i0) * s[2]).wrapping_sub((i0 + ph) * s[2]);
                    let full_rows = unrolled && i1 - i0 == k[0];
                    for (ow, &(j0, j1)) in cols.iter().enumerate() {
                        let corner = top.wrapping_add((ow * sw + j0) * s[3]).wrapping_sub((j0 + pw) * s[3]);
                        match (full_rows && j1 - j0 == k[1], k[0]) {
                            (true, 3) => f(o, corner, (0, 3), (0, 3)),
                            (true, _) => f(o, corner, (0, 2), (0, 2)),
                            (false, _) => f(o, corner, (i0, i1), (j0, j1)),
                        }
                        o += 1;
                    }
                }
            }
        }
    }

    /// The input coordinate that window position `o`, kernel offset `k` reads along `axis`,
    /// or None when it falls in the padding.
    #[inline]
    pub(crate) fn source(&self, axis: usize, o: usize, k: usize, size: usize) -> Option<usize> {
        (o * self.stride[axis] + k).checked_sub(self.padding[axis]).filter(|&x| x < size)
    }
}
