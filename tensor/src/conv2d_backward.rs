//! The convolution's VJP (see [`conv2d`](crate::conv2d) for the matrix form): `∇Wmᵀ += ∇zᵀ·a`,
//! `∇b = 1ᵀ·∇z`, `∇a = ∇z·Wmᵀ`, `∇x = col2im(∇a)` per block of images, or the direct
//! kernels' same sums for `f32`, image by image.
//!
//! Two things a tape can ask of it ([`conv2d_activated_backward_with`]) so that a training
//! step holds fewer buffers of an activation's size:
//! - the input given image by image ([`ImageSource`]), computed when `∇W` reads it, instead of
//!   kept (a convolution after a batch norm keeps the batch norm's input, which that keeps
//!   anyway, and computes its own input again image by image);
//! - `∇x` added into the gradient the tape has summed so far (a residual block's input, read
//!   by the shortcut too), image by image, instead of returned in a buffer of its own.

use crate::activation::Activation;
use crate::buffer_pool::{filled, take};
use crate::columns::{add_col2im_columns, im2col_rows};
use crate::conv2d::{Conv2dGrads, Geometry, im2col_view};
use crate::direct::{self, Plan};
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::planes::Workspace;
use crate::reduce::lane_sum;
use crate::tensor::Tensor;
use crate::window::Window2d;

/// A convolution's input `[N, C, H, W]` given image by image, computed when read.
pub trait ImageSource<T> {
    /// The input's shape, `[N, C, H, W]`.
    fn shape(&self) -> &[usize];

    /// Image `n` (`C×H×W`, contiguous) into `out`, bit for bit the same on every call.
    fn image(&self, n: usize, out: &mut [T]);

    /// Every image gathered into one contiguous tensor of [`shape`](ImageSource::shape).
    fn gather(&self) -> Result<Tensor<T>>
    where
        T: Element,
    {
        let shape = self.shape();
        let numel = crate::layout::checked_numel("ImageSource::gather", shape)?;
        let mut data = filled(numel, T::zero());
        let per_image = numel.checked_div(shape.first().copied().unwrap_or(1)).unwrap_or(0);
        if per_image > 0 {
            for (n, image) in data.chunks_exact_mut(per_image).enumerate() {
                self.image(n, image);
            }
        }
        Ok(Tensor::from_vec_unchecked(shape.to_vec(), data))
    }
}

/// A tensor's own images, in any layout (for tests, and to give a kept tensor as a source).
impl<T: Element> ImageSource<T> for Tensor<T> {
    fn shape(&self) -> &[usize] {
        Tensor::shape(self)
    }

    /// # Panics
    ///
    /// If `n` is not below the batch size, or `out` is not one image long.
    fn image(&self, n: usize, out: &mut [T]) {
        let image = self.select(0, n).expect("image index below the batch size").to_contiguous();
        out.copy_from_slice(image.as_slice().expect("contiguous"));
    }
}

/// The input a convolution's VJP reads (for `∇W`; `∇x` reads only its shape).
#[derive(Clone, Copy)]
pub enum ConvInput<'a, T> {
    /// The input itself, in any layout (`∇x` is laid out like it when it is dense).
    Tensor(&'a Tensor<T>),
    /// The input image by image (`∇x` contiguous).
    Images(&'a dyn ImageSource<T>),
}

impl<'a, T: Element> ConvInput<'a, T> {
    /// The input's shape.
    pub fn shape(&self) -> &'a [usize] {
        match *self {
            ConvInput::Tensor(x) => x.shape(),
            ConvInput::Images(x) => x.shape(),
        }
    }

    /// The strides `∇x` is laid out with: the input's when it is a dense tensor, else
    /// contiguous.
    pub(crate) fn grad_strides(&self) -> Vec<usize> {
        match *self {
            ConvInput::Tensor(x) if x.is_dense() => x.strides().to_vec(),
            _ => crate::contiguous_strides(self.shape()),
        }
    }

    pub(crate) fn is_contiguous(&self) -> bool {
        match *self {
            ConvInput::Tensor(x) => x.is_contiguous(),
            ConvInput::Images(_) => true,
        }
    }

    pub(crate) fn numel(&self) -> usize {
        self.shape().iter().product()
    }
}

/// The VJP of [`conv2d`](crate::conv2d): given `grad = ∇y` of shape `[N, F, oh, ow]` (any
/// layout), the gradients of the input, weight and bias for which `want` (in that order) is
/// true.
pub fn conv2d_backward<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    window: &Window2d,
    grad: &Tensor<T>,
    want: [bool; 3],
) -> Result<Conv2dGrads<T>> {
    conv2d_activated_backward(x, weight, window, grad, None, want)
}

/// The VJP of [`conv2d_activated`](crate::conv2d_activated) given its output `y`
/// (`activated = (act, y)`): `∇z = act'(∇y, y)` (for ReLU `∇y ⊙ 1(y > 0)`), applied while
/// `∇z` is gathered block by block, then [`conv2d_backward`]'s rules. `None` is
/// [`conv2d_backward`].
pub fn conv2d_activated_backward<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    window: &Window2d,
    grad: &Tensor<T>,
    activated: Option<(Activation, &Tensor<T>)>,
    want: [bool; 3],
) -> Result<Conv2dGrads<T>> {
    backward(ConvInput::Tensor(x), weight, window, grad, activated, want, None)
}

/// [`conv2d_activated_backward`] with the input given as a [`ConvInput`] (a tensor, or its
/// images computed when read), and `∇x`, when `add_into` is given, added into it (`acc += ∇x`,
/// `acc` of the input's shape) instead of returned: the same numbers as adding the returned
/// `∇x`. On the direct kernels (`f32`) with a contiguous `acc`, `∇x` is added image by image
/// and an image source is read image by image: no buffer of the input's size is taken for
/// either.
pub fn conv2d_activated_backward_with<T: Element>(
    x: ConvInput<'_, T>,
    weight: &Tensor<T>,
    window: &Window2d,
    grad: &Tensor<T>,
    activated: Option<(Activation, &Tensor<T>)>,
    want: [bool; 3],
    add_into: Option<&mut Tensor<T>>,
) -> Result<Conv2dGrads<T>> {
    let Some(acc) = add_into.filter(|_| want[0]) else {
        return backward(x, weight, window, grad, activated, want, None);
    };
    if acc.shape() != x.shape() {
        let (lhs, rhs) = (acc.shape().to_vec(), x.shape().to_vec());
        return Err(TensorError::ShapeMismatch { op: "conv2d_backward", lhs, rhs });
    }
    let mut grads = match acc.is_contiguous() {
        true => backward(x, weight, window, grad, activated, want, Some(acc.as_mut_slice()))?,
        false => backward(x, weight, window, grad, activated, want, None)?,
    };
    if let Some(gx) = grads.input.take() {
        acc.add_assign(&gx)?;
    }
    Ok(grads)
}

/// The gradients `want` asks for; `∇x` added into `add_into` instead of returned when the
/// direct kernels computed it (and returned otherwise).
#[allow(clippy::too_many_arguments)]
fn backward<T: Element>(
    x: ConvInput<'_, T>,
    weight: &Tensor<T>,
    window: &Window2d,
    grad: &Tensor<T>,
    activated: Option<(Activation, &Tensor<T>)>,
    want: [bool; 3],
    add_into: Option<&mut [T]>,
) -> Result<Conv2dGrads<T>> {
    const OP: &str = "conv2d_backward";
    let g = Geometry::new(OP, x.shape(), weight, window)?;
    let window = &g.window;
    let (n, f) = (g.d.n, g.f);
    let out_shape = [n, f, g.d.oh, g.d.ow];
    for t in std::iter::once(grad).chain(activated.map(|(_, y)| y)) {
        if t.shape() != out_shape {
            return Err(TensorError::ShapeMismatch { op: OP, lhs: t.shape().to_vec(), rhs: out_shape.to_vec() });
        }
    }
    let gy = grad.to_contiguous();
    let gyd = gy.as_slice().expect("contiguous");
    let y = activated.map(|(act, y)| (act, y.to_contiguous()));
    let y = y.as_ref().map(|(act, y)| (*act, y.as_slice().expect("contiguous")));
    let plan = Plan::new::<T>(window, &g.d, f);
    let kernels = [plan.input_grad.filter(|_| want[0]), plan.weight_grad.filter(|_| want[1])];
    if kernels.iter().all(Option::is_none) {
        return blocked_backward(x, weight, window, &g, gyd, y, want);
    }
    let added = add_into.is_some() && kernels[0].is_some();
    let Some(direct) = direct::backward(kernels, x, weight, gyd, y, window, &g.d, want[2], add_into) else {
        return blocked_backward(x, weight, window, &g, gyd, y, want);
    };
    let rest = [want[0] && direct.input.is_none() && !added, want[1] && direct.weight.is_none(), false];
    let rest = blocked_backward(x, weight, window, &g, gyd, y, rest)?;
    Ok(Conv2dGrads {
        input: direct.input.or(rest.input),
        weight: direct.weight.or(rest.weight),
        bias: direct.bias.map(|sums| Tensor::from_vec(&[f], sums)).transpose()?,
    })
}

/// The VJP through im2col blocks and matrix products, for the parts `want` asks for.
fn blocked_backward<T: Element>(
    x: ConvInput<'_, T>,
    weight: &Tensor<T>,
    window: &Window2d,
    g: &Geometry,
    gyd: &[T],
    y: Option<(Activation, &[T])>,
    want: [bool; 3],
) -> Result<Conv2dGrads<T>> {
    let (p, f, taps) = (g.d.positions(), g.f, g.taps);
    let mut bias_sums = want[2].then(|| vec![T::zero(); f]);
    let w = weight.to_contiguous();
    let wd = w.as_slice().expect("contiguous");
    let per_block = g.images_per_block();
    let mut gw = want[1].then(|| filled(f * taps, T::zero()));
    let mut gx = want[0].then(|| zeros_like_layout(x));
    let gathered = match x {
        ConvInput::Images(source) if want[1] => Some(source.gather()?),
        _ => None,
    };
    let values = match x {
        ConvInput::Tensor(x) => Some(x),
        ConvInput::Images(_) => gathered.as_ref(),
    };
    let x_view = values.and_then(|x| im2col_view(x.strides(), window, &g.d));
    let gx_view = gx.as_ref().and_then(|gx| im2col_view(gx.strides(), window, &g.d));
    let block_needed = (gw.is_some() && x_view.is_none()) || (gx.is_some() && gx_view.is_none());
    let mut a = if block_needed { filled(per_block * p * taps, T::zero()) } else { take(0) };
    let any = want.iter().any(|&w| w);
    let mut gz = if any { filled(per_block * p * f, T::zero()) } else { take(0) };
    let mut ws = Workspace::default();
    let gx_strides = gx.as_ref().map(|gx| gx.strides().to_vec()).unwrap_or_default();
    let mut gx_data = gx.as_mut().map(|gx| gx.dense_mut_slice().expect("a dense gradient"));
    for images in g.blocks().filter(|_| any) {
        let rows = images.len() * p;
        // ∇z of the block, column by column: column f holds the images' planes ∇y[n, f]
        // (through the activation's VJP); ∇b sums them plane by plane, image after image.
        for (fi, column) in gz[..rows * f].chunks_exact_mut(rows).enumerate() {
            for (b, plane) in images.clone().zip(column.chunks_exact_mut(p)) {
                let at = (b * f + fi) * p..(b * f + fi + 1) * p;
                match y {
                    None => plane.copy_from_slice(&gyd[at]),
                    Some((act, yd)) => {
                        for ((d, &g), &y) in plane.iter_mut().zip(&gyd[at.clone()]).zip(&yd[at]) {
                            *d = act.vjp_from_output(g, y);
                        }
                    }
                }
                if let Some(sums) = bias_sums.as_mut() {
                    sums[fi] += lane_sum(plane);
                }
            }
        }
        if let Some(gw) = gw.as_mut() {
            let x = values.expect("gathered when ∇W is wanted");
            let (a_ptr, a_rs) = match x_view {
                Some(s0) => (x.storage()[x.offset() + images.start * s0..].as_ptr(), s0),
                None => {
                    im2col_rows(x, window, &g.d, images.clone(), &mut a, &mut ws);
                    (a.as_ptr(), taps)
                }
            };
            // SAFETY: ∇zᵀ is f×rows with strides (rows, 1) in gz; the block is rows×taps row
            // by row (row stride a_rs, unit column stride); gw is f×taps row-major, disjoint.
            unsafe {
                T::gemm(
                    f,
                    rows,
                    taps,
                    T::one(),
                    gz.as_ptr(),
                    rows as isize,
                    1,
                    a_ptr,
                    a_rs as isize,
                    1,
                    T::one(),
                    gw.as_mut_ptr(),
                    taps as isize,
                    1,
                );
            }
        }
        if let Some(dense) = gx_data.as_deref_mut() {
            // ∇a goes straight into ∇x when the im2col matrix is a view (each input element
            // is read once), else into the block (column by column) and through col2im.
            let (out, rs, cs) = match gx_view {
                Some(s0) => (dense[images.start * s0..].as_mut_ptr(), s0 as isize, 1),
                None => (a.as_mut_ptr(), 1, rows as isize),
            };
            // SAFETY: ∇z is rows×f with strides (1, rows) in gz; Wmᵀ is w as f×taps
            // row-major; ∇a is rows×taps with strides (rs, cs) inside its buffer, disjoint.
            unsafe {
                T::gemm(
                    rows,
                    f,
                    taps,
                    T::one(),
                    gz.as_ptr(),
                    1,
                    rows as isize,
                    wd.as_ptr(),
                    taps as isize,
                    1,
                    T::zero(),
                    out,
                    rs,
                    cs,
                );
            }
            if gx_view.is_none() {
                add_col2im_columns(&a[..rows * taps], window, &g.d, images, (dense, &gx_strides), &mut ws);
            }
        }
    }
    Ok(Conv2dGrads {
        input: gx,
        weight: gw.map(|v| Tensor::from_vec_unchecked(weight.shape().to_vec(), v)),
        bias: bias_sums.map(|sums| Tensor::from_vec(&[f], sums)).transpose()?,
    })
}

/// Zeros of `x`'s shape, laid out like `x` when it is dense (contiguous otherwise).
fn zeros_like_layout<T: Element>(x: ConvInput<'_, T>) -> Tensor<T> {
    let zeros = filled(x.numel(), T::zero());
    match x {
        ConvInput::Tensor(x) if x.is_dense() => x.with_dense_data(zeros),
        _ => Tensor::from_vec_unchecked(x.shape().to_vec(), zeros),
    }
}
