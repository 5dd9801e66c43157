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
//!
//! With one output position whose window is the whole input (LeNet's C5, a fully connected
//! layer written as a convolution), `a` is the input itself seen as `[N, C·H·W]`: no im2col
//! or col2im, and one product per block of images rather than a `1×F` product (with its
//! packing of all of `Wm`) per image.

use crate::columns::{add_col2im_columns, im2col_columns};
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
    // The bias is written first and the products added to it (β = 1): one pass over y.
    let (mut y, beta) = match bias {
        Some(b) => {
            let b = b.to_vec();
            let mut y = Vec::with_capacity(n * f * p);
            for _ in 0..n {
                for &v in &b {
                    y.extend(std::iter::repeat_n(v, p));
                }
            }
            (y, T::one())
        }
        None => (vec![T::zero(); n * f * p], T::zero()),
    };
    let w = weight.to_contiguous();
    let wd = w.as_slice().expect("contiguous");
    let per_block = g.images_per_block();
    let view = im2col_view(x.strides(), window, &g.d);
    let mut a = if view.is_some() { Vec::new() } else { vec![T::zero(); per_block * p * taps] };
    for n0 in (0..n).step_by(per_block) {
        let n1 = (n0 + per_block).min(n);
        let cols = Cols::of(x, view, window, &g.d, n0..n1, &mut a);
        for z in products(p, f, n0..n1) {
            // SAFETY: a_z = rows z.a_row.. of the block's im2col matrix (strides cols.rs,
            // cols.cs), z.rows×taps; Wm[k, f] = w[f·taps + k] is taps×f with strides
            // (1, taps); z goes to y at z.at as z.rows×f with strides (z.rs, z.cs), disjoint
            // from both.
            unsafe {
                T::gemm(
                    z.rows,
                    taps,
                    f,
                    T::one(),
                    cols.row(z.a_row),
                    cols.rs,
                    cols.cs,
                    wd.as_ptr(),
                    1,
                    taps as isize,
                    beta,
                    y[z.at..].as_mut_ptr(),
                    z.rs,
                    z.cs,
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
            sums[s] += lane_sum(plane);
        }
        Tensor::from_vec(&[f], sums)
    });
    let w = weight.to_contiguous();
    let wd = w.as_slice().expect("contiguous");
    let per_block = g.images_per_block();
    let mut gw = want[1].then(|| vec![T::zero(); f * taps]);
    let mut gx = want[0].then(|| zeros_like_layout(x));
    let x_view = im2col_view(x.strides(), window, &g.d);
    let gx_view = gx.as_ref().and_then(|gx| im2col_view(gx.strides(), window, &g.d));
    let block_needed = (gw.is_some() && x_view.is_none()) || (gx.is_some() && gx_view.is_none());
    let mut a = if block_needed { vec![T::zero(); per_block * p * taps] } else { Vec::new() };
    for n0 in (0..n).step_by(per_block) {
        let n1 = (n0 + per_block).min(n);
        let block_rows = (n1 - n0) * p;
        if let Some(gw) = gw.as_mut() {
            let cols = Cols::of(x, x_view, window, &g.d, n0..n1, &mut a);
            for z in products(p, f, n0..n1) {
                // SAFETY: ∇z_zᵀ is f×z.rows at z.at with strides (z.cs, z.rs); a_z is
                // z.rows×taps at cols.row(z.a_row); gw is f×taps row-major, disjoint.
                unsafe {
                    T::gemm(
                        f,
                        z.rows,
                        taps,
                        T::one(),
                        gyd[z.at..].as_ptr(),
                        z.cs,
                        z.rs,
                        cols.row(z.a_row),
                        cols.rs,
                        cols.cs,
                        T::one(),
                        gw.as_mut_ptr(),
                        taps as isize,
                        1,
                    );
                }
            }
        }
        if let Some(gx) = gx.as_mut() {
            // ∇a goes straight into ∇x when the im2col matrix is a view (each input element
            // is read once), else into the block and through col2im.
            let dense = gx.dense_mut_slice().expect("a dense gradient");
            let (out, rs, cs) = match gx_view {
                Some(s0) => (dense[n0 * s0..].as_mut_ptr(), s0 as isize, 1),
                None => (a.as_mut_ptr(), 1, block_rows as isize),
            };
            for z in products(p, f, n0..n1) {
                // SAFETY: ∇z_z is z.rows×f at z.at with strides (z.rs, z.cs); Wmᵀ is w as
                // f×taps row-major; ∇a_z goes to row z.a_row of the block (or ∇x's view),
                // z.rows×taps with strides (rs, cs), inside that buffer and disjoint.
                unsafe {
                    T::gemm(
                        z.rows,
                        f,
                        taps,
                        T::one(),
                        gyd[z.at..].as_ptr(),
                        z.rs,
                        z.cs,
                        wd.as_ptr(),
                        taps as isize,
                        1,
                        T::zero(),
                        out.offset(z.a_row as isize * rs),
                        rs,
                        cs,
                    );
                }
            }
            if gx_view.is_none() {
                add_col2im_columns(&a[..block_rows * taps], window, &g.d, n0..n1, gx);
            }
        }
    }
    Ok(Conv2dGrads {
        input: gx,
        weight: gw.map(|v| Tensor::from_vec(weight.shape(), v)).transpose()?,
        bias: bias.transpose()?,
    })
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
        a: &mut [T],
    ) -> Self {
        match view {
            Some(s0) => Cols { ptr: x.storage()[x.offset() + images.start * s0..].as_ptr(), rs: s0 as isize, cs: 1 },
            None => {
                let rows = images.len() * d.positions();
                let block = &mut a[..rows * d.c * window.kernel_area()];
                im2col_columns(x, window, d, images, block);
                Cols { ptr: block.as_ptr(), rs: 1, cs: rows as isize }
            }
        }
    }

    /// The start of row `r`.
    fn row(&self, r: usize) -> *const T {
        self.ptr.wrapping_offset(r as isize * self.rs)
    }
}

/// With one output position whose window is the whole unpadded input (a fully connected
/// layer written as a convolution, LeNet's C5), the im2col matrix of a tensor with
/// `strides` is the tensor itself seen as `[N, C·H·W]` when each image is stored
/// contiguously: then its row stride, and no im2col (or col2im) is needed.
fn im2col_view(strides: &[usize], window: &Window2d, d: &WindowDims) -> Option<usize> {
    let inner = [(d.c, strides[1], d.h * d.w), (d.h, strides[2], d.w), (d.w, strides[3], 1)];
    (d.positions() == 1
        && window.padding == [0, 0]
        && window.kernel == [d.h, d.w]
        && inner.iter().all(|&(size, stride, want)| size == 1 || stride == want))
    .then_some(strides[0])
}

/// `Σ v` in eight interleaved partial sums, which the compiler keeps in one vector register
/// (a single running sum is a chain of dependent scalar adds).
fn lane_sum<T: Element>(v: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder().iter().copied().sum::<T>();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    lanes.iter().copied().sum::<T>() + tail
}

/// One matrix product of a block: rows `a_row..a_row + rows` of the block's im2col matrix
/// times `Wm`, whose `[rows, F]` result sits in the N×F×oh×ow output at `at` with row and
/// column strides `rs`, `cs`.
struct Product {
    rows: usize,
    a_row: usize,
    at: usize,
    rs: isize,
    cs: isize,
}

/// The products of images `images` with `p` output positions and `f` filters. An image's
/// `[p, F]` block is its F×p plane block transposed (strides `(1, p)`), one product per
/// image; with one position (`p = 1`, a fully connected layer as a convolution) the rows of
/// consecutive images are `F` apart, so the whole block is one product instead of one
/// `1×F` product (and one packing of `Wm`) per image.
fn products(p: usize, f: usize, images: std::ops::Range<usize>) -> impl Iterator<Item = Product> {
    let n0 = images.start;
    let (groups, rows) = if p == 1 { (usize::from(!images.is_empty()), images.len()) } else { (images.len(), p) };
    (0..groups).map(move |b| Product {
        rows,
        a_row: b * p,
        at: (n0 + b) * f * p,
        rs: if p == 1 { f as isize } else { 1 },
        cs: p as isize,
    })
}

/// Zeros of `x`'s shape, laid out like `x` when it is dense (contiguous otherwise).
fn zeros_like_layout<T: Element>(x: &Tensor<T>) -> Tensor<T> {
    let zeros = vec![T::zero(); x.numel()];
    if x.is_dense() { x.with_dense_data(zeros) } else { Tensor::from_vec_unchecked(x.shape().to_vec(), zeros) }
}
