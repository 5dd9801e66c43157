//! The pooling of [`conv2d_pooled`](crate::conv2d_pooled) inside a direct convolution's
//! per-image output pass. Without padding, every window lies in the tile kernel's pixels ×
//! filters block, so the windows are reduced there, whole vectors of filters at a time,
//! and only the pooled block is transposed into planes ([`Kernels::pool_block`]). Otherwise
//! (a padded pooling, or Winograd, whose output pass writes planes), the image's planes go
//! to a scratch buffer that stays in cache and are pooled from there by the pooling ops'
//! own kernels.

use std::mem::MaybeUninit;

use crate::activation::Activation;
use crate::avg_pool::avg_pool_into;
use crate::conv_pool::Pooling;
use crate::kernels::{Kernels, PoolBlock};
use crate::max_pool::pool_into;
use crate::window::WindowDims;

/// A pooling of each image's convolution output, and its dims over one image (`n = 1`,
/// `c` the filters, `h × w` the convolution's output, `oh × ow` the pooled one).
pub(crate) struct Pool<'a> {
    pub pooling: &'a Pooling,
    pub dims: WindowDims,
}

impl Pool<'_> {
    /// Pooled outputs per plane.
    pub(crate) fn plane(&self) -> usize {
        self.dims.positions()
    }

    /// Whether [`Pool::block`] takes it: every window inside the block (no padding).
    pub(crate) fn in_block(&self) -> bool {
        self.pooling.window().padding == [0, 0]
    }

    /// The pooled block of `act(z + bias)` (see [`PoolBlock`]): `z` holds the image's
    /// `h` rows of `z_width` pixels, `stride` floats per pixel; `out` gets `oh·ow` pixels of
    /// `stride` floats.
    pub(crate) fn block(
        &self,
        k: Kernels,
        z: &[f32],
        [z_width, stride]: [usize; 2],
        bias: &[f32],
        act: Option<Activation>,
        out: &mut [f32],
    ) {
        let w = self.pooling.window();
        let scale = match self.pooling {
            Pooling::Max(_) => None,
            Pooling::Average(w) => Some(1.0 / w.kernel_area() as f32),
        };
        let (rows, cols) = (self.dims.oh, self.dims.ow);
        k.pool_block(PoolBlock {
            z,
            z_width,
            stride,
            bias,
            act,
            scale,
            kernel: w.kernel,
            step: w.stride,
            rows,
            cols,
            out,
        });
    }

    /// One image's planes (`c` planes of `h × w`, `plane` and `row` floats apart) pooled into
    /// `out` (`c` planes of `oh × ow`), through the scratch `pooled`.
    pub(crate) fn planes(
        &self,
        planes: &[f32],
        [plane, row]: [usize; 2],
        pooled: &mut Vec<f32>,
        out: &mut [MaybeUninit<f32>],
    ) {
        let d = &self.dims;
        let s = [d.c * plane, plane, row, 1];
        let len = d.c * d.positions();
        pooled.clear();
        match self.pooling {
            Pooling::Max(w) => {
                pooled.resize(len, f32::NEG_INFINITY);
                pool_into(planes, &s, w, d, pooled, &mut [], &mut (Vec::new(), Vec::new()));
            }
            Pooling::Average(w) => {
                pooled.resize(len, 0.0);
                avg_pool_into(planes, 0, &s, w, d, pooled);
            }
        }
        for (o, &v) in out.iter_mut().zip(pooled.iter()) {
            o.write(v);
        }
    }
}
