//! Shared helpers of the tensor test suites: naive references written as plain index
//! loops over row-major `Vec`s (never calling the crate's layout code), random views
//! (permuted, narrowed, selected, broadcast, nested), and comparison helpers.
//!
//! Every suite uses a subset of these helpers.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use tensor::{Element, Tensor};

/// The result of a property check.
pub type TestResult = Result<(), TestCaseError>;

/// A tensor and its naive reference.
pub type Pair<T> = (Tensor<T>, Nd<T>);

/// A modest case count (64) so the whole suite runs in seconds, unless `PROPTEST_CASES`
/// asks for more (a soak run); no regression files.
pub fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { 64 };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

/// Stamps each listed property for f32 and f64: `fn name(args in strategies) => check;`
/// becomes `f32_tests::name` and `f64_tests::name`, each calling `check::<T>(args)`.
#[macro_export]
macro_rules! stamp_f32_f64 {
    ($( fn $name:ident( $($arg:ident in $strat:expr),* $(,)? ) => $check:ident; )*) => {
        mod f32_tests {
            use super::*;
            proptest::proptest! {
                #![proptest_config(common::config())]
                $( #[test] fn $name($($arg in $strat),*) { $check::<f32>($($arg),*)?; } )*
            }
        }
        mod f64_tests {
            use super::*;
            proptest::proptest! {
                #![proptest_config(common::config())]
                $( #[test] fn $name($($arg in $strat),*) { $check::<f64>($($arg),*)?; } )*
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// Scalars and tolerances.

/// Converts an f64 to `T` (rounding for f32).
pub fn cast<T: Element>(x: f64) -> T {
    T::from_f64_lossy(x)
}

/// Widens a slice to f64 (exact).
pub fn widen<T: Element>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64_exact()).collect()
}

/// Machine epsilon of `T`, as f64.
pub fn eps<T: Element>() -> f64 {
    T::epsilon().to_f64_exact()
}

/// A relative tolerance: loose for f32, tight for f64.
pub fn rel_tol<T: Element>() -> f64 {
    if T::DTYPE == "F32" { 1e-5 } else { 1e-12 }
}

/// Equal, or both NaN.
pub fn same<T: Element>(a: T, b: T) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

// ---------------------------------------------------------------------------------------
// Shapes and multi-indices, by hand.

/// The product of the sizes.
pub fn numel(shape: &[usize]) -> usize {
    let mut n = 1;
    for &d in shape {
        n *= d;
    }
    n
}

/// The row-major position of a multi-index.
pub fn ravel(index: &[usize], shape: &[usize]) -> usize {
    assert_eq!(index.len(), shape.len(), "index {index:?} for shape {shape:?}");
    let mut pos = 0;
    for (&i, &d) in index.iter().zip(shape) {
        assert!(i < d, "index {index:?} out of shape {shape:?}");
        pos = pos * d + i;
    }
    pos
}

/// Every multi-index of `shape` in row-major order (one empty index for rank 0).
pub fn all_indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if shape.contains(&0) {
        return out;
    }
    let mut index = vec![0usize; shape.len()];
    loop {
        out.push(index.clone());
        let mut axis = shape.len();
        loop {
            if axis == 0 {
                return out;
            }
            axis -= 1;
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
}

/// numpy's broadcast shape of two shapes, or None.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for k in 0..rank {
        let da = if k < a.len() { a[a.len() - 1 - k] } else { 1 };
        let db = if k < b.len() { b[b.len() - 1 - k] } else { 1 };
        out[rank - 1 - k] = if da == db {
            da
        } else if da == 1 {
            db
        } else if db == 1 {
            da
        } else {
            return None;
        };
    }
    Some(out)
}

/// The index into an operand of `shape` that an index of the broadcast output reads.
pub fn source_index(out_index: &[usize], shape: &[usize]) -> Vec<usize> {
    let lead = out_index.len() - shape.len();
    shape.iter().enumerate().map(|(i, &d)| if d == 1 { 0 } else { out_index[lead + i] }).collect()
}

// ---------------------------------------------------------------------------------------
// The naive reference array.

/// A row-major n-dimensional array: the reference every op is checked against.
#[derive(Clone, Debug, PartialEq)]
pub struct Nd<T> {
    /// Sizes.
    pub shape: Vec<usize>,
    /// Elements in row-major order.
    pub data: Vec<T>,
}

impl<T: Copy> Nd<T> {
    pub fn new(shape: &[usize], data: Vec<T>) -> Self {
        assert_eq!(numel(shape), data.len());
        Nd { shape: shape.to_vec(), data }
    }

    pub fn from_fn(shape: &[usize], mut f: impl FnMut(&[usize]) -> T) -> Self {
        let data = all_indices(shape).iter().map(|i| f(i)).collect();
        Nd { shape: shape.to_vec(), data }
    }

    pub fn at(&self, index: &[usize]) -> T {
        self.data[ravel(index, &self.shape)]
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn map<U: Copy>(&self, f: impl Fn(T) -> U) -> Nd<U> {
        Nd { shape: self.shape.clone(), data: self.data.iter().map(|&x| f(x)).collect() }
    }

    pub fn permute(&self, perm: &[usize]) -> Nd<T> {
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        Nd::from_fn(&shape, |idx| {
            let mut src = vec![0; idx.len()];
            for (i, &p) in perm.iter().enumerate() {
                src[p] = idx[i];
            }
            self.at(&src)
        })
    }

    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Nd<T> {
        let mut shape = self.shape.clone();
        shape[axis] = len;
        Nd::from_fn(&shape, |idx| {
            let mut src = idx.to_vec();
            src[axis] += start;
            self.at(&src)
        })
    }

    pub fn select(&self, axis: usize, index: usize) -> Nd<T> {
        let mut shape = self.shape.clone();
        shape.remove(axis);
        Nd::from_fn(&shape, |idx| {
            let mut src = idx.to_vec();
            src.insert(axis, index);
            self.at(&src)
        })
    }

    pub fn broadcast_to(&self, shape: &[usize]) -> Nd<T> {
        assert_eq!(broadcast_shape(&self.shape, shape).as_deref(), Some(shape));
        Nd::from_fn(shape, |idx| self.at(&source_index(idx, &self.shape)))
    }

    /// The lanes along `axis`: for each index of the other axes (row-major), the
    /// elements along the axis.
    pub fn lanes(&self, axis: usize) -> (Vec<usize>, Vec<Vec<T>>) {
        let mut outer = self.shape.clone();
        outer.remove(axis);
        let lanes = all_indices(&outer)
            .iter()
            .map(|o| {
                (0..self.shape[axis])
                    .map(|k| {
                        let mut idx = o.clone();
                        idx.insert(axis, k);
                        self.at(&idx)
                    })
                    .collect()
            })
            .collect();
        (outer, lanes)
    }
}

/// `f(a, b)` over the broadcast of two arrays (None when they do not broadcast).
pub fn zip_broadcast<T: Copy, U: Copy>(a: &Nd<T>, b: &Nd<T>, f: impl Fn(T, T) -> U) -> Option<Nd<U>> {
    let shape = broadcast_shape(&a.shape, &b.shape)?;
    Some(Nd::from_fn(&shape, |idx| f(a.at(&source_index(idx, &a.shape)), b.at(&source_index(idx, &b.shape)))))
}

// ---------------------------------------------------------------------------------------
// Random data and views.

/// A generator seeded from a proptest-drawn seed.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// How random elements are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// Uniform in [−4, 4).
    Uniform,
    /// Pairwise distinct (a shuffled arithmetic progression), so max has no ties.
    Distinct,
    /// Integers in −2..=2: many ties and equalities.
    SmallInts,
}

/// `n` random elements.
pub fn random_values<T: Element>(n: usize, values: Values, rng: &mut StdRng) -> Vec<T> {
    match values {
        Values::Uniform => (0..n).map(|_| cast(rng.random_range(-4.0..4.0))).collect(),
        Values::SmallInts => (0..n).map(|_| cast(f64::from(rng.random_range(-2i32..=2)))).collect(),
        Values::Distinct => {
            let mut ranks: Vec<usize> = (0..n).collect();
            ranks.shuffle(rng);
            let half = n as f64 / 2.0;
            ranks.into_iter().map(|r| cast((r as f64 - half) * 0.25)).collect()
        }
    }
}

/// A fresh contiguous tensor and its reference.
pub fn contiguous<T: Element>(shape: &[usize], values: Values, rng: &mut StdRng) -> Pair<T> {
    let data = random_values::<T>(numel(shape), values, rng);
    (Tensor::from_vec(shape, data.clone()).unwrap(), Nd::new(shape, data))
}

/// A random permutation of `0..rank`.
pub fn random_perm(rank: usize, rng: &mut StdRng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..rank).collect();
    p.shuffle(rng);
    p
}

/// A tensor of exactly `shape` built as `depth` nested random views (permute, narrow,
/// select, broadcast) over a fresh contiguous tensor, and the same views applied to the
/// reference by hand. Depth 0 is a contiguous tensor.
pub fn view<T: Element>(shape: &[usize], depth: usize, values: Values, rng: &mut StdRng) -> Pair<T> {
    if depth == 0 {
        return contiguous(shape, values, rng);
    }
    let rank = shape.len();
    let (t, r) = match rng.random_range(0..4u32) {
        0 => {
            let perm = random_perm(rank, rng);
            let mut base = vec![0; rank];
            for (i, &p) in perm.iter().enumerate() {
                base[p] = shape[i];
            }
            let (bt, br) = view::<T>(&base, depth - 1, values, rng);
            (bt.permute(&perm).unwrap(), br.permute(&perm))
        }
        1 => {
            let cuts: Vec<(usize, usize)> =
                shape.iter().map(|_| (rng.random_range(0..=2usize), rng.random_range(0..=2usize))).collect();
            let base: Vec<usize> = shape.iter().zip(&cuts).map(|(&d, &(a, b))| d + a + b).collect();
            let (mut t, mut r) = view::<T>(&base, depth - 1, values, rng);
            for (axis, &(a, _)) in cuts.iter().enumerate() {
                t = t.narrow(axis, a, shape[axis]).unwrap();
                r = r.narrow(axis, a, shape[axis]);
            }
            (t, r)
        }
        2 => {
            let axis = rng.random_range(0..=rank);
            let extra = rng.random_range(1..=3usize);
            let index = rng.random_range(0..extra);
            let mut base = shape.to_vec();
            base.insert(axis, extra);
            let (bt, br) = view::<T>(&base, depth - 1, values, rng);
            (bt.select(axis, index).unwrap(), br.select(axis, index))
        }
        _ => {
            let base = broadcastable_from(shape, rng);
            let (bt, br) = view::<T>(&base, depth - 1, values, rng);
            (bt.broadcast_to(shape).unwrap(), br.broadcast_to(shape))
        }
    };
    assert_eq!(t.shape(), shape);
    assert_eq!(r.shape, shape);
    (t, r)
}

/// A random view of random depth 0..=3 (a quarter of them contiguous).
pub fn any_view<T: Element>(shape: &[usize], values: Values, rng: &mut StdRng) -> Pair<T> {
    let depth = rng.random_range(0..=3usize);
    view(shape, depth, values, rng)
}

/// A view like [`view`] that never broadcasts (so its elements are all distinct when the
/// values are): permutes, narrows and selects only.
pub fn strided<T: Element>(shape: &[usize], values: Values, rng: &mut StdRng) -> Pair<T> {
    // Narrow a bigger tensor, then permute it into place.
    let perm = random_perm(shape.len(), rng);
    let mut permuted = vec![0; shape.len()];
    for (i, &p) in perm.iter().enumerate() {
        permuted[p] = shape[i];
    }
    let cuts: Vec<usize> = permuted.iter().map(|_| rng.random_range(0..=2usize)).collect();
    let base: Vec<usize> = permuted.iter().zip(&cuts).map(|(&d, &c)| d + 2 * c).collect();
    let (mut t, mut r) = contiguous::<T>(&base, values, rng);
    for (axis, &c) in cuts.iter().enumerate() {
        t = t.narrow(axis, c, permuted[axis]).unwrap();
        r = r.narrow(axis, c, permuted[axis]);
    }
    (t.permute(&perm).unwrap(), r.permute(&perm))
}

/// A shape that broadcasts to `shape`: some leading axes dropped, some axes set to 1.
pub fn broadcastable_from(shape: &[usize], rng: &mut StdRng) -> Vec<usize> {
    let drop = rng.random_range(0..=shape.len());
    shape[drop..].iter().map(|&d| if rng.random_range(0..3u32) == 0 { 1 } else { d }).collect()
}

/// Random shapes: rank 0..=`max_rank`, each size 0..=`max_dim`.
pub fn shapes(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=max_dim, 0..=max_rank)
}

/// Random shapes without empty axes: rank 0..=`max_rank`, each size 1..=`max_dim`.
pub fn nonempty_shapes(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..=max_dim, 0..=max_rank)
}

// ---------------------------------------------------------------------------------------
// Comparisons.

/// The tensor has the reference's shape and exactly its elements (NaN matches NaN).
pub fn assert_exact<T: Element>(got: &Tensor<T>, want: &Nd<T>) -> TestResult {
    prop_assert_eq!(got.shape(), want.shape.as_slice());
    let g = got.to_vec();
    prop_assert_eq!(g.len(), want.data.len());
    for (k, (&a, &b)) in g.iter().zip(&want.data).enumerate() {
        prop_assert!(same(a, b), "element {} of shape {:?}: got {}, want {}", k, want.shape, a, b);
    }
    Ok(())
}

/// The tensor has the reference's shape and each element is within
/// `tol · (scale + 1)` of the reference, where `scale` is the matching element of
/// `scale` (e.g. Σ|terms| of a sum), or |want| when `scale` is None.
pub fn assert_close<T: Element>(got: &Tensor<T>, want: &Nd<f64>, scale: Option<&Nd<f64>>, tol: f64) -> TestResult {
    prop_assert_eq!(got.shape(), want.shape.as_slice());
    let g = widen(&got.to_vec());
    for (k, (&a, &b)) in g.iter().zip(&want.data).enumerate() {
        let s = scale.map_or(b.abs(), |s| s.data[k]);
        prop_assert!(
            (a - b).abs() <= tol * (s + 1.0) || (a.is_nan() && b.is_nan()),
            "element {} of shape {:?}: got {}, want {} (scale {}, tol {})",
            k,
            want.shape,
            a,
            b,
            s,
            tol
        );
    }
    Ok(())
}

/// Whether the layout of `t` is row-major without gaps, by the definition: every index's
/// storage offset is the first offset plus its row-major position.
pub fn naive_is_contiguous<T>(t: &Tensor<T>) -> bool {
    all_indices(t.shape()).iter().all(|idx| {
        let off: usize = idx.iter().zip(t.strides()).map(|(i, s)| i * s).sum();
        off == ravel(idx, t.shape())
    })
}

// ---------------------------------------------------------------------------------------
// Convolution and pooling references (N×C×H×W, row-major).

/// A random window geometry and N×C×H×W input shape.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub window: tensor::Window2d,
}

impl Geometry {
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }

    /// Output height and width, `⌊(in + 2p − k)/s⌋ + 1`.
    pub fn out_hw(&self) -> (usize, usize) {
        let g = &self.window;
        (
            (self.h + 2 * g.padding[0] - g.kernel[0]) / g.stride[0] + 1,
            (self.w + 2 * g.padding[1] - g.kernel[1]) / g.stride[1] + 1,
        )
    }

    /// The input coordinate a window at output `o` reads at tap `k` along `axis`, or None
    /// in the padding.
    pub fn src(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let g = &self.window;
        let size = if axis == 0 { self.h } else { self.w };
        let pos = (o * g.stride[axis] + k) as isize - g.padding[axis] as isize;
        (pos >= 0 && (pos as usize) < size).then_some(pos as usize)
    }
}
