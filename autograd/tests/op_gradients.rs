//! Per-op property tests: for random shapes and window geometries, each op's VJP agrees
//! with central finite differences (`autograd::gradcheck`, f64). A non-scalar output is
//! reduced to a scalar by a fixed random weighting (`common::weighted_sum`), so that the
//! check sees every output element.

use crate::common;

use autograd::Tape;
use autograd::strategies::{
    self, GeometryBounds, WindowCase, conv_geometry, distinct_tensor, pool_geometry, shape, tensor_away_from_zero,
};
use common::*;
use proptest::prelude::*;
use tensor::{Tensor, Window2d};

/// Small geometries: at most 2·3·6·6 = 216 input elements, kernels up to 4 (non-square),
/// strides up to 3, padding up to 2.
fn small_bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=2, channels: 1..=3, size: 1..=6, kernel: 1..=4, stride: 1..=3, padding: 0..=2 }
}

fn matrix_shape(max: usize) -> impl Strategy<Value = (usize, usize)> {
    (1..=max, 1..=max)
}

fn dense(s: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    strategies::tensor::<f64>(s)
}

/// Two shapes that broadcast together: a common shape, each operand taking size 1 on some
/// axes and dropping some leading axes (either side may be the smaller one, down to rank 0).
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(1..=3, 1..=4)
        .prop_flat_map(|s| {
            let r = s.len();
            (
                Just(s),
                proptest::collection::vec(any::<bool>(), r),
                proptest::collection::vec(any::<bool>(), r),
                0..=r,
                0..=r,
            )
        })
        .prop_map(|(s, ones_a, ones_b, drop_a, drop_b)| {
            let side = |ones: &[bool], drop: usize| -> Vec<usize> {
                s.iter().zip(ones).skip(drop).map(|(&d, &one)| if one { 1 } else { d }).collect()
            };
            (side(&ones_a, drop_a), side(&ones_b, drop_b))
        })
}

/// The seed of the fixed random weighting of an op's output.
fn weights_seed() -> impl Strategy<Value = u64> {
    any::<u64>()
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn matmul(
        (a, b) in (1..=5usize, 1..=5usize, 1..=5usize).prop_flat_map(|(m, k, n)| (dense(vec![m, k]), dense(vec![k, n]))),
        seed in weights_seed(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].matmul(v[1])?, seed), &[a, b])?;
    }

    #[test]
    fn add_bias(
        (a, b) in matrix_shape(5).prop_flat_map(|(m, n)| (dense(vec![m, n]), dense(vec![n]))),
        seed in weights_seed(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].add_bias(v[1])?, seed), &[a, b])?;
    }

    #[test]
    fn add_with_broadcasting(
        (a, b) in broadcast_pair().prop_flat_map(|(sa, sb)| (dense(sa), dense(sb))),
        seed in weights_seed(),
    ) {
        let report = check_gradients(|_, v| weighted_sum(v[0].add(v[1])?, seed), &[a.clone(), b.clone()])?;
        // Both sides were checked, whichever one was broadcast.
        prop_assert_eq!(report.inputs[0].checked, a.numel());
        prop_assert_eq!(report.inputs[1].checked, b.numel());
    }

    #[test]
    fn relu_away_from_zero(
        x in shape(1..=3, 1..=5).prop_flat_map(|s| tensor_away_from_zero::<f64>(s, 0.01)),
        seed in weights_seed(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].relu()?, seed), &[x])?;
    }

    #[test]
    fn im2col(
        (case, x) in conv_geometry(small_bounds()).prop_flat_map(|c| { let s = c.input.clone(); (Just(c), dense(s)) }),
        seed in weights_seed(),
    ) {
        let window = case.window;
        check_gradients(|_, v| weighted_sum(v[0].im2col(&window)?, seed), &[x])?;
    }

    #[test]
    fn reshape_contiguous_and_from_a_permuted_view(
        (x, target, perm) in shape(1..=4, 1..=4).prop_flat_map(|s| {
            let r = s.len();
            (dense(s.clone()), Just(s).prop_shuffle(), Just((0..r).collect::<Vec<_>>()).prop_shuffle())
        }),
        seed in weights_seed(),
    ) {
        let t = target.clone();
        check_gradients(|_, v| weighted_sum(v[0].reshape(&t)?, seed), std::slice::from_ref(&x))?;
        // From a strided view the reshape copies; the gradient must still land in place.
        check_gradients(|_, v| weighted_sum(v[0].permute(&perm)?.reshape(&target)?, seed), &[x])?;
    }

    #[test]
    fn flatten(x in shape(1..=4, 1..=4).prop_flat_map(dense), seed in weights_seed()) {
        check_gradients(|_, v| weighted_sum(v[0].flatten()?, seed), &[x])?;
    }

    #[test]
    fn permute(
        (x, perm) in shape(1..=4, 1..=4).prop_flat_map(|s| {
            let r = s.len();
            (dense(s), Just((0..r).collect::<Vec<_>>()).prop_shuffle())
        }),
        seed in weights_seed(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].permute(&perm)?, seed), &[x])?;
    }

    #[test]
    fn transpose(x in matrix_shape(6).prop_flat_map(|(m, n)| dense(vec![m, n])), seed in weights_seed()) {
        check_gradients(|_, v| weighted_sum(v[0].t()?, seed), &[x])?;
    }

    #[test]
    fn pool_windows_without_padding(
        (case, x) in pool_geometry(GeometryBounds { padding: 0..=0, ..small_bounds() })
            .prop_flat_map(|c| { let s = c.input.clone(); (Just(c), dense(s)) }),
        seed in weights_seed(),
    ) {
        let window = case.window;
        check_gradients(|_, v| weighted_sum(v[0].pool_windows(&window)?, seed), &[x])?;
    }

    /// With padding the window matrix holds −∞ in the padding taps, so no weighting of all
    /// its entries is finite; instead the VJP for a random seed (non-zero on padding taps
    /// too) is compared with finite differences of the finite entries.
    #[test]
    fn pool_windows_with_padding(
        (case, x) in pool_geometry(GeometryBounds { padding: 1..=2, kernel: 2..=5, ..small_bounds() })
            .prop_flat_map(|c| { let s = c.input.clone(); (Just(c), dense(s)) }),
        seed in weights_seed(),
    ) {
        let window = case.window;
        let tape = Tape::<f64>::new();
        let xv = tape.leaf(x.clone());
        let a = xv.pool_windows(&window)?;
        let g = random_tensor(&a.shape(), seed);
        let grads = tape.backward_with_seed(a, g.clone())?;
        let expected = finite_difference_vjp(|t| tensor::pool_windows(t, &window).unwrap(), &x, &g.to_vec());
        prop_close(&grads.get(xv).unwrap().to_vec(), &expected, 1e-6)?;
    }

    #[test]
    fn max_rows_distinct(
        x in matrix_shape(6).prop_flat_map(|(r, k)| distinct_tensor::<f64>(vec![r, k], 0.05)),
        seed in weights_seed(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].max_rows()?, seed), &[x])?;
    }

    /// pool_windows → max_rows, the derivation's two-step max-pool, padding included.
    #[test]
    fn pool_windows_then_max_rows(
        (case, x) in pool_geometry(small_bounds())
            .prop_flat_map(|c| { let s = c.input.clone(); (Just(c), distinct_tensor::<f64>(s, 0.01)) }),
        seed in weights_seed(),
    ) {
        let window = case.window;
        check_gradients(|_, v| weighted_sum(v[0].pool_windows(&window)?.max_rows()?, seed), &[x])?;
    }

    #[test]
    fn max_pool2d_distinct(
        (case, x) in pool_geometry(small_bounds())
            .prop_flat_map(|c| { let s = c.input.clone(); (Just(c), distinct_tensor::<f64>(s, 0.01)) }),
        seed in weights_seed(),
    ) {
        let window = case.window;
        check_gradients(|_, v| weighted_sum(v[0].max_pool2d(&window)?, seed), &[x])?;
    }

    /// Overlapping windows (kernel 3, stride 2) with padding 1: an input can win several
    /// windows and must receive the sum of their gradients.
    #[test]
    fn max_pool2d_overlapping_padded(
        x in (1..=2usize, 1..=2usize, 3..=7usize, 3..=7usize)
            .prop_flat_map(|(n, c, h, w)| distinct_tensor::<f64>(vec![n, c, h, w], 0.01)),
        seed in weights_seed(),
    ) {
        let window = Window2d::square(3, 2, 1);
        check_gradients(|_, v| weighted_sum(v[0].max_pool2d(&window)?, seed), &[x])?;
    }

    /// Window ops read strided inputs: a channels-last tensor permuted to N×C×H×W, as the
    /// convolution output is before pooling.
    #[test]
    fn window_ops_on_a_permuted_view(
        (case, x) in pool_geometry(small_bounds()).prop_flat_map(|c| {
            let [n, ch, h, w] = [c.input[0], c.input[1], c.input[2], c.input[3]];
            (Just(c), distinct_tensor::<f64>(vec![n, h, w, ch], 0.01))
        }),
        seed in weights_seed(),
    ) {
        let window = case.window;
        check_gradients(|_, v| weighted_sum(v[0].permute(&[0, 3, 1, 2])?.max_pool2d(&window)?, seed), std::slice::from_ref(&x))?;
        check_gradients(|_, v| weighted_sum(v[0].permute(&[0, 3, 1, 2])?.im2col(&window)?, seed), &[x])?;
    }

    #[test]
    fn softmax_cross_entropy(
        (z, labels) in (1..=5usize, 1..=6usize).prop_flat_map(|(n, k)| {
            (dense(vec![n, k]).prop_map(|t| t.mul_scalar(3.0)), proptest::collection::vec(0..k, n))
        }),
    ) {
        check_gradients(|_, v| v[0].softmax_cross_entropy(&labels), &[z])?;
    }

    #[test]
    fn softmax_cross_entropy_smoothed(
        (z, labels) in (1..=5usize, 1..=6usize).prop_flat_map(|(n, k)| {
            (dense(vec![n, k]).prop_map(|t| t.mul_scalar(3.0)), proptest::collection::vec(0..k, n))
        }),
        smoothing in 0.0..=1.0f64,
    ) {
        check_gradients(|_, v| v[0].softmax_cross_entropy_smoothed(&labels, smoothing), &[z])?;
    }

    #[test]
    fn sum_squares(x in shape(0..=3, 1..=5).prop_flat_map(dense)) {
        check_gradients(|_, v| v[0].sum_squares(), &[x])?;
    }

    #[test]
    fn sum(x in shape(0..=3, 1..=5).prop_flat_map(dense)) {
        check_gradients(|_, v| v[0].sum(), &[x])?;
    }

    #[test]
    fn mean(x in shape(0..=3, 1..=5).prop_flat_map(dense)) {
        check_gradients(|_, v| v[0].mean(), &[x])?;
    }

    #[test]
    fn scale(x in shape(0..=3, 1..=5).prop_flat_map(dense), c in -3.0..3.0f64, seed in weights_seed()) {
        check_gradients(|_, v| weighted_sum(v[0].scale(c)?, seed), &[x])?;
    }

    /// The fused max-pool and the two-step pool_windows → max_rows give the same values and
    /// the same gradient, for any geometry (two independent code paths).
    #[test]
    fn max_pool2d_matches_two_step_pooling(
        (case, x) in pool_geometry(small_bounds())
            .prop_flat_map(|c| { let s = c.input.clone(); (Just(c), distinct_tensor::<f64>(s, 0.01)) }),
        seed in weights_seed(),
    ) {
        let WindowCase { window, .. } = case;
        let tape = Tape::<f64>::new();
        let xv = tape.leaf(x);
        let fused = xv.max_pool2d(&window)?;
        let two_step = xv.pool_windows(&window)?.max_rows()?.reshape(&fused.shape())?;
        prop_assert_eq!(fused.value().to_vec(), two_step.value().to_vec());
        let g = random_tensor(&fused.shape(), seed);
        let a = tape.backward_with_seed(fused, g.clone())?.get(xv).unwrap().to_vec();
        let b = tape.backward_with_seed(two_step, g)?.get(xv).unwrap().to_vec();
        prop_close(&a, &b, 1e-12)?;
    }
}

/// The geometries the issue names, each at least once whatever proptest draws: stride > 1,
/// padding > 0, non-square kernels and strides.
#[test]
fn im2col_named_geometries() {
    let cases = [
        (vec![1, 1, 5, 5], Window2d { kernel: [3, 2], stride: [2, 1], padding: [1, 2] }),
        (vec![2, 2, 4, 6], Window2d { kernel: [2, 3], stride: [1, 3], padding: [0, 1] }),
        (vec![1, 3, 3, 3], Window2d { kernel: [4, 4], stride: [2, 2], padding: [1, 1] }),
        (vec![1, 1, 6, 4], Window2d { kernel: [1, 4], stride: [3, 1], padding: [2, 0] }),
    ];
    for (k, (shape, window)) in cases.into_iter().enumerate() {
        let x = random_tensor(&shape, k as u64);
        let report = autograd::gradcheck(
            |_, v| weighted_sum(v[0].im2col(&window)?, 100 + k as u64),
            std::slice::from_ref(&x),
            &autograd::GradcheckConfig::default(),
        )
        .unwrap_or_else(|e| panic!("{window:?} on {shape:?}: {e}"));
        assert_eq!(report.inputs[0].checked, x.numel());
    }
}
