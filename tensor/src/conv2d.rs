//! Convolution as the derivation's matrix product, fused and blocked for speed:
//! `z = im2col(x)·Wm + 1·bᵀ` with `Wm = reshape(W, [F, C·kh·kw])ᵀ` (a stride view of the
//! PyTorch-layout weight, never copied).
//!
//! `z: [N·oh·ow, F]` is stored as it is, so the output is channels-last in memory and is
//! returned as its N×F×oh×ow view (strides `[oh·ow·F, 1, ow·F, F]`): no transpose. The
//! im2col matrix is built a block of images at a time into a small buffer, multiplied, and
//! dropped; the backward pass rebuilds each block instead of keeping the whole matrix
//! (the derivation's "extra memory", bounded to one block). The VJP:
//! `∇Wm = Σ_blocks aᵀ·∇z` (computed as `∇Wmᵀ = ∇zᵀ·a`, which is `∇W` in `[F, C·kh·kw]`),
//! `∇b = 1ᵀ·∇z`, `∇a = ∇z·Wmᵀ`, `∇x = col2im(∇a)`.

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
/// giving `[N, F, oh, ow]` stored channels-last (see the module docs).
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
    let (p, f, taps) = (g.d.positions(), g.f, g.taps);
    let rows = g.d.n * p;
    let mut z = vec![T::zero(); rows * f];
    let beta = match bias {
        Some(b) => {
            let b = b.to_vec();
            for row in z.chunks_exact_mut(f) {
                row.copy_from_slice(&b);
            }
            T::one()
        }
        None => T::zero(),
    };
    let w = weight.to_contiguous();
    let wd = w.as_slice().expect("contiguous");
    let per_block = g.images_per_block();
    let mut a = vec![T::zero(); per_block * p * taps];
    for n0 in (0..g.d.n).step_by(per_block) {
        let n1 = (n0 + per_block).min(g.d.n);
        let block_rows = (n1 - n0) * p;
        im2col_rows(x, window, &g.d, n0..n1, &mut a[..block_rows * taps]);
        // SAFETY: a is block_rows×taps row-major; Wm[k, f] = w[f·taps + k] is taps×f with
        // strides (1, taps) inside w; the z block is block_rows×f row-major, disjoint.
        unsafe {
            T::gemm(
                block_rows,
                taps,
                f,
                T::one(),
                a.as_ptr(),
                taps as isize,
                1,
                wd.as_ptr(),
                1,
                taps as isize,
                beta,
                z[n0 * p * f..].as_mut_ptr(),
                f as isize,
                1,
            );
        }
    }
    let (oh, ow) = (g.d.oh, g.d.ow);
    Tensor::from_vec(&[g.d.n, oh, ow, f], z)?.permute(&[0, 3, 1, 2])
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
    // ∇z as the row-major [N·oh·ow, F] matrix: a view when ∇y is channels-last already.
    let gz = grad.permute(&[0, 2, 3, 1])?.to_contiguous();
    let gzd = gz.as_slice().expect("contiguous");
    let bias = want[2].then(|| {
        let mut sums = vec![T::zero(); f];
        for row in gzd.chunks_exact(f) {
            for (s, &v) in sums.iter_mut().zip(row) {
                *s += v;
            }
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
        let gz_block = gzd[n0 * p * f..].as_ptr();
        if let Some(gw) = gw.as_mut() {
            im2col_rows(x, window, &g.d, n0..n1, &mut a[..block_rows * taps]);
            // SAFETY: ∇zᵀ of the block is f×block_rows with strides (1, f) inside gz; a is
            // block_rows×taps row-major; gw is f×taps row-major and disjoint from both.
            unsafe {
                T::gemm(
                    f,
                    block_rows,
                    taps,
                    T::one(),
                    gz_block,
                    1,
                    f as isize,
                    a.as_ptr(),
                    taps as isize,
                    1,
                    T::one(),
                    gw.as_mut_ptr(),
                    taps as isize,
                    1,
                );
            }
        }
        if let Some(gx) = gx.as_mut() {
            // SAFETY: the ∇z block is block_rows×f row-major; Wmᵀ = w as f×taps row-major;
            // a (the ∇a block) is block_rows×taps row-major and disjoint.
            unsafe {
                T::gemm(
                    block_rows,
                    f,
                    taps,
                    T::one(),
                    gz_block,
                    f as isize,
                    1,
                    wd.as_ptr(),
                    taps as isize,
                    1,
                    T::zero(),
                    a.as_mut_ptr(),
                    taps as isize,
                    1,
                );
            }
            add_col2im_rows(&a[..block_rows * taps], window, &g.d, n0..n1, gx);
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

/// The rows of the im2col matrix for images `images` (rows n, oh, ow; columns c, i, j),
/// read through `x`'s strides, into `out` (row-major).
pub(crate) fn im2col_rows<T: Element>(
    x: &Tensor<T>,
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut [T],
) {
    let src = x.storage();
    let s = x.strides();
    let [kh, kw] = g.kernel;
    let taps = d.c * kh * kw;
    let mut rows = out.chunks_exact_mut(taps);
    for n in images {
        for oh in 0..d.oh {
            for ow in 0..d.ow {
                let row = rows.next().expect("out holds every row");
                let (h0, w0) = (oh * g.stride[0], ow * g.stride[1]);
                let interior = h0 >= g.padding[0]
                    && w0 >= g.padding[1]
                    && h0 + kh <= d.h + g.padding[0]
                    && w0 + kw <= d.w + g.padding[1];
                let mut k = 0;
                for c in 0..d.c {
                    let base = x.offset() + n * s[0] + c * s[1];
                    if interior {
                        let (h, w) = (h0 - g.padding[0], w0 - g.padding[1]);
                        for i in 0..kh {
                            let start = base + (h + i) * s[2] + w * s[3];
                            let dst = &mut row[k..k + kw];
                            if s[3] == 1 {
                                dst.copy_from_slice(&src[start..start + kw]);
                            } else {
                                for (j, v) in dst.iter_mut().enumerate() {
                                    *v = src[start + j * s[3]];
                                }
                            }
                            k += kw;
                        }
                    } else {
                        for i in 0..kh {
                            let h = g.source(0, oh, i, d.h);
                            for j in 0..kw {
                                row[k] = match (h, g.source(1, ow, j, d.w)) {
                                    (Some(h), Some(w)) => src[base + h * s[2] + w * s[3]],
                                    _ => T::zero(),
                                };
                                k += 1;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col_rows`]: adds each entry of the row-major block `rows` (images
/// `images`) to the element of `out` (shaped like the convolution input) it came from.
fn add_col2im_rows<T: Element>(
    rows: &[T],
    g: &Window2d,
    d: &WindowDims,
    images: std::ops::Range<usize>,
    out: &mut Tensor<T>,
) {
    let s = out.strides().to_vec();
    let dst = out.dense_mut_slice().expect("a dense gradient");
    let [kh, kw] = g.kernel;
    let taps = d.c * kh * kw;
    let mut it = rows.chunks_exact(taps);
    for n in images {
        for oh in 0..d.oh {
            for ow in 0..d.ow {
                let row = it.next().expect("rows hold every row");
                let (h0, w0) = (oh * g.stride[0], ow * g.stride[1]);
                let interior = h0 >= g.padding[0]
                    && w0 >= g.padding[1]
                    && h0 + kh <= d.h + g.padding[0]
                    && w0 + kw <= d.w + g.padding[1];
                let mut k = 0;
                for c in 0..d.c {
                    let base = n * s[0] + c * s[1];
                    if interior {
                        let (h, w) = (h0 - g.padding[0], w0 - g.padding[1]);
                        for i in 0..kh {
                            let start = base + (h + i) * s[2] + w * s[3];
                            for (j, &v) in row[k..k + kw].iter().enumerate() {
                                dst[start + j * s[3]] += v;
                            }
                            k += kw;
                        }
                    } else {
                        for i in 0..kh {
                            let h = g.source(0, oh, i, d.h);
                            for j in 0..kw {
                                if let (Some(h), Some(w)) = (h, g.source(1, ow, j, d.w)) {
                                    dst[base + h * s[2] + w * s[3]] += row[k];
                                }
                                k += 1;
                            }
                        }
                    }
                }
            }
        }
    }
}
