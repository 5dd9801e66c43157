//! The entry of `softmax_cross_entropy` (and its smoothed form).

use proptest::prelude::*;
use tensor::Element;

use super::{dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// The mean softmax cross-entropy of logits `[N, K]` (uniform in [−3, 3]) against labels,
/// with label smoothing 0 or drawn from [0, 1].
pub(super) struct SoftmaxCrossEntropy;

impl Entry for SoftmaxCrossEntropy {
    type Args = (Vec<usize>, f64);

    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<(Vec<usize>, f64)>> {
        (1..=4usize, 1..=5usize)
            .prop_flat_map(|(n, k)| {
                let smoothing = prop_oneof![Just(0.0), 0.0..=1.0f64];
                (dense(vec![n, k]), proptest::collection::vec(0..k, n), smoothing)
            })
            .prop_map(|(z, labels, smoothing)| OpCase::new(vec![z.mul_scalar(3.0)], (labels, smoothing)))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], (labels, smoothing): &(Vec<usize>, f64)) -> Result<Var<'t, T>> {
        if *smoothing == 0.0 {
            x[0].softmax_cross_entropy(labels)
        } else {
            x[0].softmax_cross_entropy_smoothed(labels, T::from_f64_lossy(*smoothing))
        }
    }

    fn wrong_shapes(&self) -> Vec<OpCase<(Vec<usize>, f64)>> {
        vec![zeros(&[&[3]], (vec![0], 0.0)), zeros(&[&[2, 3]], (vec![0], 0.0)), zeros(&[&[2, 3]], (vec![0, 1, 2], 0.1))]
    }
}
