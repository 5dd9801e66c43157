//! Convolution as the derivation's matrix product, fused and blocked for speed:
//! `z = im2col(x)·Wm + 1·bᵀ` with `Wm = reshape(W, [F, C·kh·kw])ᵀ` (a stride view of the
//! PyTorch-layout weight, never copied).
//!
//! The im2col matrix `a` is built a block of images at a time into a small buffer, stored
//! column by column (so each run of a column is one copy of an input row), multiplied, and
//! dropped; the backward pass rebuilds each block instead of keeping the whole matrix (the
//! derivation's "extra memory", bounded to one block). Each image's product is written
//! through strides straight into N×F×oh×ow order: `z_n = a_n·Wm` is `[oh·ow, F]`, stored
//! as its transpose, so no permute or copy follows. The VJP, per image:
//! `∇Wmᵀ += ∇z_nᵀ·a_n` (which is `∇W` as `[F, C·kh·kw]`), `∇b = 1ᵀ·∇z`,
//! `∇a_n = ∇z_n·Wmᵀ`, `∇x = col2im(∇a)`; `∇z_n` is read from ∇y through strides too.

use crate::element::Element;
use crate::error::{Result, TensorError};
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

/// The checked sizes of one convolution.
struct Geometry {
    d: WindowDims,
    f: usize,
    taps: usize,
}

impl Geometry {
    fn new<T: Element>(op: &'static str, x: &Tensor<T>, weight: &Tensor<T>, window: &Window2d) -> Result<Self> {
        let d = window.dims(op, x.shape())?;
        let w = weight.shape();
        if w.len() != 4 || w[1] != d.c || [w[2], w[3]] != window.kernel {
            return Err(TensorError::ShapeMismatch { op, lhs: x.shape().to_vec(), rhs: w.to_vec() });
        }
        Ok(Geometry { d, f: w[0], taps: d.c * window.kernel_area() })
    }

    fn images_per_block(&self) -> usize {
        (BLOCK_ELEMENTS / (self.d.positions() * self.taps).max(1)).clamp(1, self.d.n.max(1))
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
    const OP: &str = "conv2d";
    let g = Geometry::new(OP, x, weight, window)?;
    if let Some(b) = bias
        && b.shape() != [g.f]
    {
        return Err(TensorError::ShapeMismatch { op: OP, lhs: weight.shape().to_vec(), rhs: b.shape().to_vec() });
    }
    let (n, p, f, taps) = (g.d.n, g.d.positions(), g.f, g.taps);
    let mut y = vec![T::zero(); n * f * p];
    let beta = match bias {
        Some(b) => {
            let b = b.to_vec();
            for (plane, &v) in y.chunks_exact_mut(p).zip(b.iter().cycle()) {
                plane.fill(v);
            }
            T::one()
        }
        None => T::zero(),
    };
    let w = weight.to_contiguous();
    let wd = w.as_slice().expect("contiguous");
    let per_block = g.images_per_block();
    let mut a = vec![T::zero(); per_block * p * taps];
    for n0 in (0..n).step_by(per_block) {
        let n1 = (n0 + per_block).min(n);
        let block_rows = (n1 - n0) * p;
        im2col_columns(x, window, &g.d, n0..n1, &mut a[..block_rows * taps]);
        for (b, image) in (n0..n1).enumerate() {
            // SAFETY: a_n = rows b·p.. of the column-major block (strides 1, block_rows),
            // p×taps; Wm[k, f] = w[f·taps + k] is taps×f with strides (1, taps); z_n goes
            // to image n's F×P plane block as p×f with strides (1, p), disjoint from both.
            unsafe {
                T::gemm(
                    p,
                    taps,
                    f,
                    T::one(),
                    a[b * p..].as_ptr(),
                    1,
                    block_rows as isize,
                    wd.as_ptr(),
                    1,
                    taps as isize,
                    beta,
                    y[image * f * p..].as_mut_ptr(),
                    1,
                    p as isize,
                );
            }
        }
    }
    Tensor::from_vec(&[n, f, g.d.oh, g.d.ow], y)
}

/// The VJP of [`conv2d`]: given `grad = ∇y` of shape `[N, F, oh, ow]` (any layout), the
/// gradients of the input, weight and bias for which `want` (in that order) is true.
pub fn conv2d_backward<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    window: &Window2d,
    grad: &Tensor<T>,
    want: [bool; 3],
) -> Result<Conv2dGrads<T>> {
    const OP: &str = "conv2d_backward";
    let g = Geometry::new(OP, x, weight, window)?;
    let (n, p, f, taps) = (g.d.n, g.d.positions(), g.f, g.taps);
    if grad.shape() != [n, f, g.d.oh, g.d.ow] {
        return Err(TensorError::ShapeMismatch { op: OP, lhs: grad.shape().to_vec(), rhs: vec![n, f, g.d.oh, g.d.ow] });
    }
    // ∇z_n[p, f] = ∇y[n, f, p]: strided reads of a contiguous ∇y, no transpose.
    let gy = grad.to_contiguous();
    let gyd = gy.as_slice().expect("contiguous");
    let bias = want[2].then(|| {
        let mut sums = vec![T::zero(); f];
        for (plane, s) in gyd.chunks_exact(p).zip((0..f).cycle()) {
            sums[s] += plane.iter().copied().sum::<T>();
        }
        Tensor::from_vec(&[f], sums)
    });
    let w = weight.to_contiguous();
    let wd = w.as_slice().expect("contiguous");
    let per_block = g.images_per_block();
    let mut a = vec![T::zero(); per_block * p * taps];
    let mut gw = want[1].then(|| vec![T::zero(); f * taps]);
    let mut gx = want[0].then(|| zeros_like_layout(x));
    for n0 in (0..n).step_by(per_block) {
        let n1 = (n0 + per_block).min(n);
        let block_rows = (n1 - n0) * p;
        if let Some(gw) = gw.as_mut() {
            im2col_columns(x, window, &g.d, n0..n1, &mut a[..block_rows * taps]);
            for (b, image) in (n0..n1).enumerate() {
                // SAFETY: ∇z_nᵀ is image n's F×P plane block, f×p row-major; a_n is p×taps
                // column-major inside the block; gw is f×taps row-major, disjoint.
                unsafe {
                    T::gemm(
                        f,
                        p,
                        taps,
                        T::one(),
                        gyd[image * f * p..].as_ptr(),
                        p as isize,
                        1,
                        a[b * p..].as_ptr(),
                        1,
                        block_rows as isize,
                        T::one(),
                        gw.as_mut_ptr(),
                        taps as isize,
                        1,
                    );
                }
            }
        }
        if let Some(gx) = gx.as_mut() {
            for (b, image) in (n0..n1).enumerate() {
                // SAFETY: ∇z_n is p×f with strides (1, p) in image n's plane block; Wmᵀ is
                // w as f×taps row-major; ∇a_n goes to rows b·p.. of the column-major block.
                unsafe {
                    T::gemm(
                        p,
                        f,
                        taps,
                        T::one(),
                        gyd[image * f * p..].as_ptr(),
                        1,
                        p as isize,
                        wd.as_ptr(),
                        taps as isize,
                        1,
                        T::zero(),
                        a[b * p..].as_mut_ptr(),
                        1,
                        block_rows as isize,
                    );
                }
            }
            add_col2im_columns(&a[..block_rows * taps], window, &g.d, n0..n1, gx);
        }
    }
    Ok(Conv2dGrads {
        input: gx,
        weight: gw.map(|v| Tensor::from_vec(weight.shape(), v)).transpose()?,
        bias: bias.transpose()?,
    })
}

/// Zeros of `x`'s shape, laid out like `x` when it is dense (contiguous otherwise).
fn zeros_like_layout<T: Element>(x: &Tensor<T>) -> Tensor<T> {
    let zeros = vec![T::zero(); x.numel()];
    if x.is_dense() { x.with_dense_data(zeros) } else { Tensor::from_vec_unchecked(x.shape().to_vec(), zeros) }
}

/// The im2col matrix of images `images` (rows n, oh, ow; columns c, i, j), read through
/// `x`'s strides, into `out` stored column by column (`out[k·rows + r]`): along a column,
/// consecutive output positions read consecutive input pixels, so each (n, oh) run of a
/// column is one strided copy.
pub(crate) fn im2col_columns<T: Element>(
    x: &Tensor<T>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut [T],
) {
    let src = x.storage();
    let s = x.strides();
    let rows = images.len() * d.positions();
    let [kh, kw] = g.kernel;
    let mut k = 0;
    for c in 0..d.c {
        for i in 0..kh {
            for j in 0..kw {
                let column = &mut out[k * rows..(k + 1) * rows];
                let (lo, hi) = valid_range(g, 1, j, d.w, d.ow);
                for (b, n) in images.clone().enumerate() {
                    for oh in 0..d.oh {
                        let run = &mut column[(b * d.oh + oh) * d.ow..(b * d.oh + oh + 1) * d.ow];
                        let Some(h) = g.source(0, oh, i, d.h) else {
                            run.fill(T::zero());
                            continue;
                        };
                        run[..lo].fill(T::zero());
                        run[hi..].fill(T::zero());
                        if lo == hi {
                            continue;
                        }
                        let start =
                            x.offset() + n * s[0] + c * s[1] + h * s[2] + (lo * g.stride[1] + j - g.padding[1]) * s[3];
                        let step = g.stride[1] * s[3];
                        let dst = &mut run[lo..hi];
                        if step == 1 {
                            dst.copy_from_slice(&src[start..start + dst.len()]);
                        } else {
                            for (v, &x) in dst.iter_mut().zip(src[start..].iter().step_by(step)) {
                                *v = x;
                            }
                        }
                    }
                }
                k += 1;
            }
        }
    }
}

/// The output positions `lo..hi` along `axis` whose kernel offset `k` reads inside the
/// input (of `size`), for `out` positions.
fn valid_range(g: &Window2d, axis: usize, k: usize, size: usize, out: usize) -> (usize, usize) {
    let (s, p) = (g.stride[axis], g.padding[axis]);
    // o·s + k − p ≥ 0  ⇔  o ≥ ⌈(p − k)/s⌉;  o·s + k − p < size  ⇔  o < ⌈(size + p − k)/s⌉.
    let lo = p.saturating_sub(k).div_ceil(s).min(out);
    let hi = (size + p).saturating_sub(k).div_ceil(s).min(out).max(lo);
    (lo, hi)
}

/// The adjoint of [`im2col_columns`]: adds each entry of the column-major block `cols`
/// (images `images`) to the element of `out` (shaped like the convolution input) it came
/// from.
fn add_col2im_columns<T: Element>(
    cols: &[T],
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut Tensor<T>,
) {
    let s = out.strides().to_vec();
    let dst = out.dense_mut_slice().expect("a dense gradient");
    let rows = images.len() * d.positions();
    let [kh, kw] = g.kernel;
    let mut k = 0;
    for c in 0..d.c {
        for i in 0..kh {
            for j in 0..kw {
                let column = &cols[k * rows..(k + 1) * rows];
                let (lo, hi) = valid_range(g, 1, j, d.w, d.ow);
                for (b, n) in images.clone().enumerate() {
                    for oh in 0..d.oh {
                        let Some(h) = g.source(0, oh, i, d.h) else { continue };
                        if lo == hi {
                            continue;
                        }
                        let run = &column[(b * d.oh + oh) * d.ow..(b * d.oh + oh + 1) * d.ow];
                        let start = n * s[0] + c * s[1] + h * s[2] + (lo * g.stride[1] + j - g.padding[1]) * s[3];
                        let step = g.stride[1] * s[3];
                        let src = &run[lo..hi];
                        if step == 1 {
                            for (d, &v) in dst[start..start + src.len()].iter_mut().zip(src) {
                                *d += v;
                            }
                        } else {
                            for (d, &v) in dst[start..].iter_mut().step_by(step).zip(src) {
                                *d += v;
                            }
                        }
                    }
                }
                k += 1;
            }
        }
    }
}
