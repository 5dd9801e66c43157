//! The element-wise and pooling ops of issue 13 against central finite differences
//! (`autograd::gradcheck`, f64) on random shapes: mul, sub, div with broadcasting, exp,
//! ln, sum and mean over an axis, tanh, sigmoid, leaky ReLU, average pooling and dropout;
//! their forward values against the definitions; the tape's step context.

use crate::common;

use std::sync::Arc;

use autograd::strategies::{self, GeometryBounds, pool_geometry, shape, tensor_away_from_zero};
use autograd::{AutogradError, ReduceGroup, StepContext, Tape};
use common::*;
use proptest::prelude::*;
use tensor::{CounterRng, Tensor, Window2d};

fn dense(s: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    strategies::tensor::<f64>(s)
}

/// Elements in [lo, hi]: away from the poles of `ln` and `div`.
fn positive(s: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = s.iter().product();
    proptest::collection::vec(lo..=hi, n).prop_map(move |v| Tensor::from_vec(&s, v).unwrap())
}

/// Two shapes that broadcast together (either side smaller, down to rank 0), as in
/// `op_gradients.rs`.
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

fn small_bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=2, channels: 1..=3, size: 1..=6, kernel: 1..=4, stride: 1..=3, padding: 0..=2 }
}

/// Each element of `got` against `f` of the matching element of `x`, to `tol`.
fn assert_elementwise(got: &Tensor<f64>, x: &Tensor<f64>, f: impl Fn(f64) -> f64, tol: f64) -> TestResult {
    prop_assert_eq!(got.shape(), x.shape());
    let want: Vec<f64> = x.iter().map(f).collect();
    prop_close(&got.to_vec(), &want, tol)
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn mul_with_broadcasting(
        (a, b) in broadcast_pair().prop_flat_map(|(sa, sb)| (dense(sa), dense(sb))),
        seed in any::<u64>(),
    ) {
        let report = check_gradients(|_, v| weighted_sum(v[0].mul(v[1])?, seed), &[a.clone(), b.clone()])?;
        prop_assert_eq!(report.inputs[1].checked, b.numel());
        let tape = Tape::new();
        let z = tape.leaf(a.clone()).mul(tape.leaf(b.clone()))?.value();
        prop_close(&z.to_vec(), &a.mul(&b)?.to_vec(), 0.0)?;
    }

    #[test]
    fn sub_with_broadcasting(
        (a, b) in broadcast_pair().prop_flat_map(|(sa, sb)| (dense(sa), dense(sb))),
        seed in any::<u64>(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].sub(v[1])?, seed), &[a, b])?;
    }

    #[test]
    fn div_with_broadcasting(
        (a, b) in broadcast_pair().prop_flat_map(|(sa, sb)| (dense(sa), positive(sb, 0.5, 2.0))),
        seed in any::<u64>(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].div(v[1])?, seed), &[a, b])?;
    }

    #[test]
    fn exp_and_ln(
        (x, p) in shape(1..=4, 1..=4).prop_flat_map(|s| (dense(s.clone()), positive(s, 0.2, 3.0))),
        seed in any::<u64>(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].exp()?, seed), std::slice::from_ref(&x))?;
        check_gradients(|_, v| weighted_sum(v[0].ln()?, seed), std::slice::from_ref(&p))?;
        let tape = Tape::new();
        assert_elementwise(&tape.leaf(x.clone()).exp()?.value(), &x, f64::exp, 1e-15)?;
        assert_elementwise(&tape.leaf(p.clone()).ln()?.value(), &p, f64::ln, 1e-15)?;
    }

    #[test]
    fn sum_and_mean_over_an_axis(
        (x, axis) in shape(1..=4, 1..=4).prop_flat_map(|s| { let r = s.len(); (dense(s), 0..r) }),
        keepdim in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].sum_axis(axis, keepdim)?, seed), std::slice::from_ref(&x))?;
        check_gradients(|_, v| weighted_sum(v[0].mean_axis(axis, keepdim)?, seed), std::slice::from_ref(&x))?;
        // Against a loop over the axis.
        let tape = Tape::new();
        let s = tape.leaf(x.clone()).sum_axis(axis, keepdim)?.value();
        let m = tape.leaf(x.clone()).mean_axis(axis, keepdim)?.value();
        let mut out_shape = x.shape().to_vec();
        let len = out_shape[axis];
        if keepdim { out_shape[axis] = 1 } else { out_shape.remove(axis); }
        prop_assert_eq!(s.shape(), &out_shape[..]);
        prop_assert_eq!(m.shape(), &out_shape[..]);
        let (outer, inner): (usize, usize) = (x.shape()[..axis].iter().product(), x.shape()[axis + 1..].iter().product());
        let data = x.to_vec();
        let want: Vec<f64> = (0..outer * inner)
            .map(|o| (0..len).map(|k| data[(o / inner * len + k) * inner + o % inner]).sum())
            .collect();
        prop_close(&s.to_vec(), &want, 1e-14)?;
        let want_mean: Vec<f64> = want.iter().map(|v| v / len as f64).collect();
        prop_close(&m.to_vec(), &want_mean, 1e-14)?;
    }

    #[test]
    fn tanh_and_sigmoid(x in shape(1..=4, 1..=4).prop_flat_map(dense), seed in any::<u64>()) {
        // Spread the inputs over [−4, 4] so the saturating tails are checked too.
        let x = x.mul_scalar(4.0);
        check_gradients(|_, v| weighted_sum(v[0].tanh()?, seed), std::slice::from_ref(&x))?;
        check_gradients(|_, v| weighted_sum(v[0].sigmoid()?, seed), std::slice::from_ref(&x))?;
        let tape = Tape::new();
        assert_elementwise(&tape.leaf(x.clone()).tanh()?.value(), &x, f64::tanh, 1e-15)?;
        assert_elementwise(&tape.leaf(x.clone()).sigmoid()?.value(), &x, |v| 1.0 / (1.0 + (-v).exp()), 1e-15)?;
    }

    #[test]
    fn leaky_relu_away_from_zero(
        x in shape(1..=4, 1..=4).prop_flat_map(|s| tensor_away_from_zero::<f64>(s, 0.01)),
        slope in -0.5f64..0.5,
        seed in any::<u64>(),
    ) {
        check_gradients(|_, v| weighted_sum(v[0].leaky_relu(slope)?, seed), std::slice::from_ref(&x))?;
        let tape = Tape::new();
        let y = tape.leaf(x.clone()).leaky_relu(slope)?.value();
        assert_elementwise(&y, &x, |v| if v > 0.0 { v } else { slope * v }, 0.0)?;
    }

    #[test]
    fn avg_pool2d(
        (case, x) in pool_geometry(small_bounds()).prop_flat_map(|c| { let s = c.input.clone(); (Just(c), dense(s)) }),
        seed in any::<u64>(),
    ) {
        let window = case.window;
        check_gradients(|_, v| weighted_sum(v[0].avg_pool2d(&window)?, seed), &[x])?;
    }

    /// Overlapping padded windows (kernel 3, stride 2, padding 1) and LeNet's 2×2 stride 2.
    #[test]
    fn avg_pool2d_overlapping_and_lenet(
        x in (1..=2usize, 1..=3usize, 2..=7usize, 2..=7usize).prop_flat_map(|(n, c, h, w)| dense(vec![n, c, h, w])),
        seed in any::<u64>(),
    ) {
        for window in [Window2d::square(3, 2, 1), Window2d::square(2, 2, 0)] {
            check_gradients(|_, v| weighted_sum(v[0].avg_pool2d(&window)?, seed), std::slice::from_ref(&x))?;
        }
    }

    #[test]
    fn dropout_with_a_drawn_mask(
        x in shape(1..=4, 1..=5).prop_flat_map(dense),
        p in 0.0f64..0.9,
        key in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let mask = CounterRng::new(key).keep_mask::<f64>(x.shape(), p, 0)?;
        check_gradients(|_, v| weighted_sum(v[0].dropout(&mask, p)?, seed), std::slice::from_ref(&x))?;
        let tape = Tape::new();
        let y = tape.leaf(x.clone()).dropout(&mask, p)?.value();
        let want: Vec<f64> = x.iter().zip(mask.iter()).map(|(v, m)| if m == 1.0 { v / (1.0 - p) } else { 0.0 }).collect();
        prop_close(&y.to_vec(), &want, 1e-15)?;
    }
}

/// At exactly 0 the subgradient is the slope (PyTorch's `x > 0 ? g : g·slope`).
#[test]
fn leaky_relu_subgradient_at_zero_is_the_slope() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(&[3], vec![-1.0, 0.0, 2.0]).unwrap());
    let grads = tape.backward(x.leaky_relu(0.1).unwrap().sum().unwrap()).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![0.1, 0.1, 1.0]);
    assert!(matches!(x.leaky_relu(f64::NAN), Err(AutogradError::InvalidArgument { op: "leaky_relu", .. })));
}

#[test]
fn dropout_rejects_bad_masks_and_probabilities() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::ones(&[2, 2]).unwrap());
    let mask = Tensor::ones(&[2, 2]).unwrap();
    assert!(matches!(x.dropout(&Tensor::ones(&[4]).unwrap(), 0.5), Err(AutogradError::Tensor(_))));
    assert!(matches!(x.dropout(&mask.mul_scalar(0.5), 0.5), Err(AutogradError::InvalidArgument { op: "dropout", .. })));
    for p in [-0.1, 1.1, f32::NAN] {
        assert!(matches!(x.dropout(&mask, p), Err(AutogradError::InvalidArgument { op: "dropout", .. })));
    }
    // p = 1 drops everything, with a zero gradient.
    let y = x.dropout(&mask, 1.0).unwrap();
    assert_eq!(y.value().to_vec(), vec![0.0; 4]);
    assert_eq!(tape.backward(y.sum().unwrap()).unwrap().get(x).unwrap().to_vec(), vec![0.0; 4]);
}

#[test]
fn sum_axis_out_of_range_is_an_error() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::ones(&[2, 3]).unwrap());
    assert!(matches!(x.sum_axis(2, false), Err(AutogradError::Tensor(_))));
    assert!(matches!(x.mean_axis(5, true), Err(AutogradError::Tensor(_))));
}

/// A layer finds the step context on the tape of its input; a plain tape has none, and the
/// context survives a reset.
#[test]
fn the_tape_carries_the_step_context() {
    let group = Arc::new(ReduceGroup::new(2).unwrap());
    let context = StepContext { shard: 1, shards: 2, first_sample: 16, group: Some(group.clone()), seed: 7, step: 42 };
    let mut tape = Tape::<f32>::with_context(context);
    let x = tape.leaf(Tensor::zeros(&[2]).unwrap());
    let seen = x.tape().context().expect("a context");
    assert_eq!((seen.shard, seen.shards, seen.first_sample, seen.seed, seen.step), (1, 2, 16, 7, 42));
    let (g, shard) = seen.shard_of_group().expect("a group");
    assert!(Arc::ptr_eq(&g, &group));
    assert_eq!(shard, 1);
    assert_eq!(seen.stream(3), CounterRng::from_words(&[7, 42, 3]));
    assert_ne!(seen.stream(3), seen.stream(4));
    tape.reset();
    assert_eq!(tape.context().map(|c| c.step), Some(42));
    tape.set_context(Some(StepContext::single(7, 43)));
    assert!(tape.context().unwrap().group.is_none());
    assert!(Tape::<f32>::new().context().is_none());
}

/// The shards' dropout masks, drawn from their contexts, are the rows of the whole batch's
/// mask, whatever the split.
#[test]
fn dropout_masks_do_not_depend_on_the_split() {
    let whole = StepContext::single(11, 5).dropout_mask::<f32>(2, &[7, 3, 2, 2], 0.3).unwrap();
    for cuts in [vec![0, 7], vec![0, 3, 7], vec![0, 1, 2, 7], vec![0, 4, 4, 7]] {
        let shards = cuts.len() - 1;
        let mut joined = Vec::new();
        for shard in 0..shards {
            let rows = cuts[shard + 1] - cuts[shard];
            let context = StepContext { shard, shards, first_sample: cuts[shard], group: None, seed: 11, step: 5 };
            joined.extend(context.dropout_mask::<f32>(2, &[rows, 3, 2, 2], 0.3).unwrap().to_vec());
        }
        assert_eq!(joined, whole.to_vec(), "cuts {cuts:?}");
    }
    let other_step = StepContext::single(11, 6).dropout_mask::<f32>(2, &[7, 3, 2, 2], 0.3).unwrap();
    let other_layer = StepContext::single(11, 5).dropout_mask::<f32>(3, &[7, 3, 2, 2], 0.3).unwrap();
    assert_ne!(other_step.to_vec(), whole.to_vec());
    assert_ne!(other_layer.to_vec(), whole.to_vec());
}
