//! Entries of the matrix ops: product, bias, row-wise max, softmax cross-entropy.

use proptest::prelude::*;
use tensor::Element;

use super::{dense, on_grid, tie_step, zeros};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge_toward_first};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// `a·b` for `[m, k]·[k, n]`, sizes 1 to 5.
pub(super) struct Matmul;

impl Entry for Matmul {
    type Args = ();

    fn name(&self) -> &'static str {
        "matmul"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=5usize, 1..=5usize, 1..=5usize)
            .prop_flat_map(|(m, k, n)| (dense(vec![m, k]), dense(vec![k, n])))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].matmul(x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[2, 3], &[4, 2]], ()), zeros(&[&[2, 3, 1], &[3, 2]], ()), zeros(&[&[2, 3], &[3]], ())]
    }
}

/// `a + 1·bᵀ` for `a: [m, n]`, `b: [n]`.
pub(super) struct AddBias;

impl Entry for AddBias {
    type Args = ();

    fn name(&self) -> &'static str {
        "add_bias"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=5usize, 1..=5usize)
            .prop_flat_map(|(m, n)| (dense(vec![m, n]), dense(vec![n])))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].add_bias(x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[2, 3], &[4]], ()), zeros(&[&[3], &[3]], ()), zeros(&[&[2, 3], &[1, 3]], ())]
    }
}

/// The maximum of each row of `[R, K]`, values pairwise 0.05 apart; ties go to the first
/// maximum.
pub(super) struct MaxRows;

impl Entry for MaxRows {
    type Args = ();

    fn name(&self) -> &'static str {
        "max_rows"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=5usize, 1..=5usize)
            .prop_flat_map(|(r, k)| strategies::distinct_tensor::<f64>(vec![r, k], 0.05))
            .prop_map(|x| OpCase::new(vec![x], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].max_rows()
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[3]], ()), zeros(&[&[2, 0]], ())]
    }

    fn convention(&self) -> Option<Convention<()>> {
        let cases = (1..=5usize, 2..=5usize)
            .prop_flat_map(|(r, k)| on_grid(vec![r, k], 2))
            .prop_map(|x| {
                let nudged = nudge_toward_first(&x, tie_step(&x));
                KinkCase { at: OpCase::new(vec![x], ()), nudged: OpCase::new(vec![nudged], ()) }
            })
            .boxed();
        Some(Convention { rule: "ties go to the first maximum", cases })
    }
}

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
