//! What the windowed kinds (a convolution and the pools) share: `K[,s=S][,p=P]` read and
//! written, and the output side of a window, `⌊(size + 2·padding − kernel) / stride⌋ + 1`,
//! in checked arithmetic.

use std::fmt;

use crate::arch::args::{ArgError, Args};
use crate::arch::plan::{Batched, LayerPlan, PlannedMatrix, image, numel, show, too_large};

/// A square window: `K`, `s=S`, `p=P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Square {
    pub(super) kernel: usize,
    pub(super) stride: usize,
    pub(super) padding: usize,
}

impl Square {
    /// The window whose kernel is positional argument `i`, the stride `s` (default
    /// `default_stride`, or the kernel when `None`) and the padding `p` (default 0).
    pub(super) fn parse(args: &Args, i: usize, default_stride: Option<usize>) -> Result<Square, ArgError> {
        let kernel = args.whole(i)?;
        let stride = args.key("s")?.unwrap_or(default_stride.unwrap_or(kernel));
        Ok(Square { kernel, stride, padding: args.key("p")?.unwrap_or(0) })
    }

    /// `,s=S,p=P`, each left out at its default.
    pub(super) fn write_extras(&self, f: &mut fmt::Formatter<'_>, default_stride: usize) -> fmt::Result {
        if self.stride != default_stride {
            write!(f, ",s={}", self.stride)?;
        }
        if self.padding != 0 {
            write!(f, ",p={}", self.padding)?;
        }
        Ok(())
    }

    /// `[oh, ow]` over the `[C, H, W]` input `input`, or why the window does not fit.
    pub(super) fn output(&self, input: &[usize], [h, w]: [usize; 2]) -> Result<[usize; 2], String> {
        Ok([self.side(input, h)?, self.side(input, w)?])
    }

    fn side(&self, input: &[usize], size: usize) -> Result<usize, String> {
        let Square { kernel, stride, padding } = *self;
        let padded = padding
            .checked_mul(2)
            .and_then(|p| size.checked_add(p))
            .ok_or_else(|| format!("the padding {padding} makes the input {} too large to count", show(input)))?;
        if padded < kernel {
            return Err(format!(
                "does not fit its input {}: the kernel {kernel} is larger than {size} padded by {padding} on each side",
                show(input)
            ));
        }
        Ok((padded - kernel) / stride + 1)
    }

    /// What a pool can be told without an input: a kernel and stride of at least 1, a
    /// padding of at most half the kernel (every window holds an input value).
    pub(super) fn check_pool(&self) -> Result<(), String> {
        let Square { kernel, stride, padding } = *self;
        if kernel == 0 || stride == 0 {
            return Err("sizes, kernels and strides must be at least 1".into());
        }
        if padding > kernel / 2 {
            return Err(format!("the padding {padding} exceeds half the kernel {kernel}"));
        }
        Ok(())
    }

    /// A pool `name` of this window: `[C, H, W] → [C, oh, ow]`, nothing to train; with
    /// `windows`, the window matrix (`N·C·oh·ow × K²`) and the maximum of each row as its
    /// matrices.
    pub(super) fn pool_plan(&self, name: &str, input: &[usize], windows: bool) -> Result<LayerPlan, String> {
        let kernel = self.kernel;
        let [c, h, w] = image(name, input)?;
        let [oh, ow] = self.output(input, [h, w])?;
        let output = vec![c, oh, ow];
        let count = numel(&output).ok_or_else(|| too_large(&format!("the output {}", show(&output))))?;
        let area = kernel.checked_mul(kernel).ok_or_else(|| too_large(&format!("a {kernel}×{kernel} window")))?;
        count.checked_mul(area).ok_or_else(|| too_large("one image's window matrix"))?;
        let matrices = if windows {
            vec![
                PlannedMatrix { copies_input: true, ..PlannedMatrix::new("windows", vec![count, area], Batched::Rows) },
                PlannedMatrix::new("max of each row", output.clone(), Batched::Axis),
            ]
        } else {
            Vec::new()
        };
        Ok(LayerPlan { output, parameters: 0, buffers: 0, matrices, im2col_per_image: 0, inner: 0 })
    }

    /// The window as the tensor ops take it.
    pub(super) fn window(&self) -> tensor::Window2d {
        tensor::Window2d::square(self.kernel, self.stride, self.padding)
    }
}
