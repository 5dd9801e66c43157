//! The pooling of [`conv2d_pooled`](crate::conv2d_pooled) inside a direct convolution's
//! per-image output pass. Without padding, every window lies in the tile kernel's pixels ×
//! filters block, so the windows are reduced there, whole vectors of filters at a time,
//! and only the pooled block is transposed into planes ([`Kernels::pool_block`]). Otherwise
//! (a padded pooling, or Winograd, whose output pass writes planes), the image's planes go
//! to a scratch buffer that stays in cache and are pooled from there by the pooling ops'
//! own kernels.

use std::mem::MaybeUninit;

use super::staging::Source;
use super::winograd::{Conv, Dest};
use crate::activation::Activation;
use crate::avg_pool::avg_pool_into;
use crate::buffer::Buffer;
use crate::buffer_pool::take;
use crate::conv_pool::Pooling;
use crate::kernels::{BlockPool, Kernels, PoolBlock};
use crate::max_pool::pool_into;
use crate::window::{Window2d, WindowDims};

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

    /// One image's planes (`c` contiguous planes of `h × w`) pooled into `out` (`c` planes
    /// of `oh × ow`), through the scratch `pooled`.
    pub(crate) fn planes(&self, planes: &[f32], pooled: &mut Vec<f32>, out: &mut [MaybeUninit<f32>]) {
        let d = &self.dims;
        let s = [d.c * d.h * d.w, d.h * d.w, d.w, 1];
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

/// `pool(act(conv(x, W) + b))` by Winograd's F(2×2, 3×3), N×F×oh×ow (pooled) contiguous:
/// a 2×2 pooling of stride 2 without padding in the output pass itself, whose 2×2 blocks
/// are its windows ([`BlockPool`]); any other image by image through a scratch of one
/// image's planes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn winograd(
    k: Kernels,
    x: Source<'_>,
    weight: impl Fn(usize, usize, usize, usize) -> f32,
    bias: &[f32],
    g: &Window2d,
    d: &WindowDims,
    filters: usize,
    act: Option<Activation>,
    pool: &Pool<'_>,
) -> Buffer<f32> {
    let mut conv = Conv::new(k, weight, g, d, filters);
    let (plane, image) = (d.positions(), filters * pool.plane());
    let len = d.n * image;
    let mut y = take(len);
    let halving = *pool.pooling.window() == Window2d::square(2, 2, 0);
    let block = match pool.pooling {
        Pooling::Max(_) if halving => Some(BlockPool::Max),
        Pooling::Average(_) if halving => Some(BlockPool::Average),
        _ => None,
    };
    if block.is_some() {
        let strides = [image, pool.plane(), pool.dims.ow];
        let mut dest = Dest { out: &mut y.spare_capacity_mut()[..len], strides };
        for n in 0..d.n {
            conv.image(x, n, bias, act, block, &mut dest, n * image);
        }
    } else {
        let mut planes = take(filters * plane);
        let mut pooled = Vec::with_capacity(image);
        for n in 0..d.n {
            planes.clear();
            let mut dest = Dest { out: &mut planes.spare_capacity_mut()[..filters * plane], strides: [0, plane, d.ow] };
            conv.image(x, n, bias, act, None, &mut dest, 0);
            // SAFETY: `Conv::image` wrote every element of the image's F planes.
            unsafe { planes.set_len(filters * plane) };
            pool.planes(&planes, &mut pooled, &mut y.spare_capacity_mut()[n * image..(n + 1) * image]);
        }
    }
    // SAFETY: every image's pooled planes were written, n·F·oh·ow elements in all.
    unsafe { y.set_len(len) };
    y
}
