//! Convolution as the derivation's matrix product, fused and blocked for speed:
//! `z = im2col(x)·Wm + 1·bᵀ` with `Wm = reshape(W, [F, C·kh·kw])ᵀ` (a stride view of the
//! PyTorch-layout weight, never copied).
//!
//! The im2col matrix `a` is built a block of images at a time into a small buffer,
//! multiplied, and dropped; the backward pass rebuilds each block instead of keeping the
//! whole matrix (the derivation's "extra memory", bounded to one block). Each block is one
//! product (several images per call: `Wm` packed once per block, not once per image, and
//! fewer partial tiles), written column by column into a scratch `z` whose column f holds,
//! image after image, the plane of filter f; an epilogue pass copies those planes into the
//! N×F×oh×ow output and adds the bias (and applies a fused activation, [`conv2d_activated`],
//! whose VJP masks `∇z` in the pass that gathers it). The VJP, per block:
//! `∇Wmᵀ += ∇zᵀ·a` (which is `∇W` as `[F, C·kh·kw]`), `∇b = 1ᵀ·∇z`, `∇a = ∇z·Wmᵀ`,
//! `∇x = col2im(∇a)`, with `∇z` gathered from ∇y's planes the same way.
//!
//! Layouts are chosen for matrixmultiply's packing, which is a plain copy only along a unit
//! stride: the forward block is stored column by column (`tensor::columns`), the block of
//! the `∇W` product row by row.
//!
//! With one output position whose window is the whole input (LeNet's C5, a fully connected
//! layer written as a convolution), `a` is the input itself seen as `[N, C·H·W]`: no im2col
//! or col2im.
//!
//! For `f32` the forward pass, `∇x` and `∇W` go instead through this crate's direct kernels
//! (`crate::direct`, the same sums in another order) on the [`KernelPath`](crate::KernelPath)
//! the process selected, where they are faster; this matrix form stays the reference they
//! are tested against, the path of f64, and the one `TENSOR_KERNELS=im2col` selects.

use crate::activation::Activation;
use crate::buffer_pool::{filled, take};
use crate::columns::im2col_columns;
use crate::direct::{self, Plan};
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::planes::Workspace;
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Elements of one block of the im2col matrix (256 KiB of f32): small enough to stay in
/// cache between im2col and the product.
const BLOCK_ELEMENTS: usize = 1 << 16;

/// The gradients a convolution's VJP returns, each when asked for.
pub struct Conv2dGrads<T> {
    /// `∇x`, shaped like the input (and laid out like it when the input is dense).
    pub input: Option<Tensor<T>>,
    /// `∇W`, `[F, C, kh, kw]` contiguous.
    pub weight: Option<Tensor<T>>,
    /// `∇b`, `[F]`.
    pub bias: Option<Tensor<T>>,
}

/// The checked sizes of one convolution, and its window with the strides clamped to the
/// input ([`Window2d::clamped`]: the same output, no buffer sized by a huge stride).
pub(crate) struct Geometry {
    pub d: WindowDims,
    pub window: Window2d,
    pub f: usize,
    pub taps: usize,
}

impl Geometry {
    pub(crate) fn new<T: Element>(
        op: &'static str,
        x: &[usize],
        weight: &Tensor<T>,
        window: &Window2d,
    ) -> Result<Self> {
        let d = window.dims(op, x)?;
        let w = weight.shape();
        if w.len() != 4 || w[1] != d.c || [w[2], w[3]] != window.kernel {
            return Err(TensorError::ShapeMismatch { op, lhs: x.to_vec(), rhs: w.to_vec() });
        }
        Ok(Geometry { d, window: window.clamped(&d), f: w[0], taps: d.c * window.kernel_area() })
    }

    /// An error naming `op` unless `bias` is absent or has one entry per filter.
    pub(crate) fn check_bias<T: Element>(
        &self,
        op: &'static str,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
    ) -> Result<()> {
        match bias {
            Some(b) if b.shape() != [self.f] => {
                Err(TensorError::ShapeMismatch { op, lhs: weight.shape().to_vec(), rhs: b.shape().to_vec() })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn images_per_block(&self) -> usize {
        (BLOCK_ELEMENTS / (self.d.positions() * self.taps).max(1)).clamp(1, self.d.n.max(1))
    }

    /// The blocks of images, as ranges.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = std::ops::Range<usize>> + use<> {
        let (n, per_block) = (self.d.n, self.images_per_block());
        (0..n).step_by(per_block).map(move |n0| n0..(n0 + per_block).min(n))
    }
}

/// The convolution of `x: [N, C, H, W]` with `weight: [F, C, kh, kw]` plus `bias: [F]`,
/// giving a contiguous `[N, F, oh, ow]`.
pub fn conv2d<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
) -> Result<Tensor<T>> {
    conv2d_activated(x, weight, bias, window, None)
}

/// `y = act(conv2d(x, W, b))`, the activation applied in the same output pass as the bias:
/// one tensor written (and, on a tape, kept) instead of the pre-activation `z` and `y`.
pub fn conv2d_activated<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
    activation: Option<Activation>,
) -> Result<Tensor<T>> {
    let op = if activation.is_some() { "conv2d_activated" } else { "conv2d" };
    convolve(op, x, weight, bias, window, activation, false)
}

/// [`conv2d_activated`] for inference: the same values, with the weight's packing (or
/// Winograd transform) kept for the next call with the same weight, as the other inference
/// ops keep theirs ([`conv2d_pooled`](crate::conv2d_pooled)). A weight that another tensor
/// holds too is kept by a clone, so the first in-place update after the call copies it.
pub fn conv2d_inference<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
    activation: Option<Activation>,
) -> Result<Tensor<T>> {
    convolve("conv2d_inference", x, weight, bias, window, activation, true)
}

/// The convolution named `op`, the direct kernels' preparations kept when `keep`.
fn convolve<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    window: &Window2d,
    activation: Option<Activation>,
    keep: bool,
) -> Result<Tensor<T>> {
    let g = Geometry::new(op, x.shape(), weight, window)?;
    let window = &g.window;
    g.check_bias(op, weight, bias)?;
    if let Some(k) = Plan::new::<T>(window, &g.d, g.f).forward
        && let Some(y) = direct::forward(k, x, weight, bias, window, &g.d, activation, None, None, None, keep)
    {
        return Ok(y);
    }
    let (n, p, f, taps) = (g.d.n, g.d.positions(), g.f, g.taps);
    let bias = bias.map(|b| b.to_vec()).unwrap_or_else(|| vec![T::zero(); f]);
    // Wm = reshape(W, [F, taps])ᵀ: a stride view of W when the batch is one block (its
    // product packs it once either way), else stored row by row once per call (as a view
    // it would be packed element by element in every block's product). LeNet-5's third
    // layer spent 4 % of its inference storing it.
    let w = weight.to_contiguous();
    let w = w.as_slice().expect("contiguous");
    let transposed = g.blocks().nth(1).is_some().then(|| {
        let mut wm = filled(taps * f, T::zero());
        for (fi, filter) in w.chunks_exact(taps.max(1)).enumerate() {
            for (k, &v) in filter.iter().enumerate() {
                wm[k * f + fi] = v;
            }
        }
        wm
    });
    let (wm, [wm_rs, wm_cs]) = match &transposed {
        Some(wm) => (&wm[..], [f as isize, 1]),
        None => (w, [1, taps as isize]),
    };
    let per_block = g.images_per_block();
    let view = im2col_view(x.strides(), window, &g.d);
    let mut a = if view.is_some() { take(0) } else { filled(per_block * p * taps, T::zero()) };
    let mut z = filled(per_block * p * f, T::zero());
    let mut y = take(n * f * p);
    let mut ws = Workspace::default();
    for images in g.blocks() {
        let rows = images.len() * p;
        let cols = Cols::of(x, view, window, &g.d, images.clone(), (&mut a, &mut ws));
        // SAFETY: the block's im2col matrix is rows×taps at cols.ptr with strides (cols.rs,
        // cols.cs); Wm is taps×f with strides (wm_rs, wm_cs) inside `wm`; z receives rows×f
        // with strides (1, rows), inside its buffer and disjoint from both.
        unsafe {
            T::gemm(
                rows,
                taps,
                f,
                T::one(),
                cols.ptr,
                cols.rs,
                cols.cs,
                wm.as_ptr(),
                wm_rs,
                wm_cs,
                T::zero(),
                z.as_mut_ptr(),
                1,
                rows as isize,
            );
        }
        for b in 0..images.len() {
            for (plane, &bias) in z.chunks_exact(rows).map(|column| &column[b * p..(b + 1) * p]).zip(&bias) {
                match activation {
                    None => y.extend(plane.iter().map(|&v| v + bias)),
                    Some(act) => y.extend(plane.iter().map(|&v| act.apply(v + bias))),
                }
            }
        }
    }
    debug_assert_eq!(y.len(), n * f * p);
    Ok(Tensor::from_vec_unchecked(vec![n, f, g.d.oh, g.d.ow], y))
}

/// Where a block's im2col matrix is read: the column-major block buffer, or `x` itself.
struct Cols<T> {
    ptr: *const T,
    rs: isize,
    cs: isize,
}

impl<T: Element> Cols<T> {
    /// The im2col matrix of images `images`: `x` itself from the first of them on, with
    /// row stride `view` (see [`im2col_view`]), or else built column-major into the block
    /// buffer `a`.
    fn of(
        x: &Tensor<T>,
        view: Option<usize>,
        window: &Window2d,
        d: &WindowDims,
        images: std::ops::Range<usize>,
        (a, ws): (&mut [T], &mut Workspace<T>),
    ) -> Self {
        match view {
            Some(s0) => Cols { ptr: x.storage()[x.offset() + images.start * s0..].as_ptr(), rs: s0 as isize, cs: 1 },
            None => {
                let rows = images.len() * d.positions();
                let block = &mut a[..rows * d.c * window.kernel_area()];
                im2col_columns(x, window, d, images, block, ws);
                Cols { ptr: block.as_ptr(), rs: 1, cs: rows as isize }
            }
        }
    }
}

/// With one output position whose window is the whole unpadded input (a fully connected
/// layer written as a convolution, LeNet's C5), the im2col matrix of a tensor with
/// `strides` is the tensor itself seen as `[N, C·H·W]` when each image is stored
/// contiguously: then its row stride, and no im2col (or col2im) is needed.
pub(crate) fn im2col_view(strides: &[usize], window: &Window2d, d: &WindowDims) -> Option<usize> {
    let inner = [(d.c, strides[1], d.h * d.w), (d.h, strides[2], d.w), (d.w, strides[3], 1)];
    (d.positions() == 1
        && window.padding == [0, 0]
        && window.kernel == [d.h, d.w]
        && inner.iter().all(|&(size, stride, want)| size == 1 || stride == want))
    .then_some(strides[0])
}
