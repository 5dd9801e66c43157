//! Proptest strategies for property-based gradient tests: tensors, shapes, and valid
//! convolution and pooling geometries.
//!
//! ```
//! use autograd::{gradcheck, strategies, GradcheckConfig};
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(8), |(x in strategies::shape(1..=3, 1..=4)
//!     .prop_flat_map(|s| strategies::tensor_away_from_zero::<f64>(s, 0.05)))| {
//!     let report = gradcheck(|_, v| v[0].relu()?.sum_squares(), &[x], &GradcheckConfig::default());
//!     prop_assert!(report.is_ok(), "{:?}", report);
//! });
//! ```

use std::ops::RangeInclusive;

use proptest::prelude::*;
use tensor::{Element, Tensor, Window2d};

/// Shapes of a rank in `rank` with every axis size in `dim`.
pub fn shape(rank: RangeInclusive<usize>, dim: RangeInclusive<usize>) -> impl Strategy<Value = Vec<usize>> {
    rank.prop_flat_map(move |r| proptest::collection::vec(dim.clone(), r))
}

/// Tensors of `shape` with elements uniform in [−1, 1].
pub fn tensor<T: Element>(shape: Vec<usize>) -> impl Strategy<Value = Tensor<T>> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(-1.0f64..=1.0, n).prop_map(move |v| from_f64(&shape, v))
}

/// Tensors of `shape` with elements in ±[margin, 1]: away from 0, where ReLU has its kink.
pub fn tensor_away_from_zero<T: Element>(shape: Vec<usize>, margin: f64) -> impl Strategy<Value = Tensor<T>> {
    let n: usize = shape.iter().product();
    proptest::collection::vec((margin..=1.0f64, any::<bool>()), n)
        .prop_map(move |v| from_f64(&shape, v.into_iter().map(|(x, neg)| if neg { -x } else { x }).collect()))
}

/// Tensors of `shape` whose elements are pairwise at least `gap` apart (a shuffled grid
/// with jitter), so a max over any subset has a unique winner, also after a perturbation
/// smaller than `gap / 4`.
pub fn distinct_tensor<T: Element>(shape: Vec<usize>, gap: f64) -> impl Strategy<Value = Tensor<T>> {
    let n: usize = shape.iter().product();
    let order = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
    (order, proptest::collection::vec(0.0f64..0.25, n)).prop_map(move |(order, jitter)| {
        let center = (n as f64 - 1.0) / 2.0;
        let values = order.iter().zip(&jitter).map(|(&k, j)| (k as f64 - center + j) * gap).collect();
        from_f64(&shape, values)
    })
}

fn from_f64<T: Element>(shape: &[usize], values: Vec<f64>) -> Tensor<T> {
    Tensor::from_vec(shape, values.into_iter().map(T::from_f64_lossy).collect()).expect("length matches the shape")
}

/// Bounds of the geometries drawn by [`conv_geometry`] and [`pool_geometry`].
#[derive(Debug, Clone)]
pub struct GeometryBounds {
    /// Batch sizes.
    pub batch: RangeInclusive<usize>,
    /// Input channels (and output channels for a convolution).
    pub channels: RangeInclusive<usize>,
    /// Input height and width.
    pub size: RangeInclusive<usize>,
    /// Kernel height and width.
    pub kernel: RangeInclusive<usize>,
    /// Strides.
    pub stride: RangeInclusive<usize>,
    /// Paddings (capped at half the kernel for pooling).
    pub padding: RangeInclusive<usize>,
}

impl Default for GeometryBounds {
    fn default() -> Self {
        GeometryBounds { batch: 1..=3, channels: 1..=4, size: 1..=9, kernel: 1..=5, stride: 1..=3, padding: 0..=2 }
    }
}

/// An N×C×H×W input shape and a window over it with at least one output position.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowCase {
    /// The input shape `[N, C, H, W]`.
    pub input: Vec<usize>,
    /// Kernel, stride, padding.
    pub window: Window2d,
    /// Output channels (for a convolution; ignored by pooling).
    pub out_channels: usize,
}

/// Convolution geometries within `bounds` (kernels may differ per axis, and exceed the
/// unpadded input when padding makes room) with at least one output position.
pub fn conv_geometry(bounds: GeometryBounds) -> impl Strategy<Value = WindowCase> {
    window_case(bounds, false)
}

/// Pooling geometries within `bounds`, with padding at most half the kernel, at least one
/// output position.
pub fn pool_geometry(bounds: GeometryBounds) -> impl Strategy<Value = WindowCase> {
    window_case(bounds, true)
}

fn window_case(b: GeometryBounds, pooling: bool) -> impl Strategy<Value = WindowCase> {
    let dims = (b.batch, b.channels.clone(), b.channels, b.size.clone(), b.size);
    let win = (b.kernel.clone(), b.kernel, b.stride.clone(), b.stride, b.padding.clone(), b.padding);
    (dims, win)
        .prop_map(move |((n, c, f, h, w), (kh, kw, sh, sw, ph, pw))| {
            let (ph, pw) = if pooling { (ph.min(kh / 2), pw.min(kw / 2)) } else { (ph, pw) };
            let window = Window2d { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] };
            WindowCase { input: vec![n, c, h, w], window, out_channels: f }
        })
        .prop_filter("the kernel must fit in the padded input", |case| {
            (0..2).all(|a| case.input[2 + a] + 2 * case.window.padding[a] >= case.window.kernel[a])
        })
}
