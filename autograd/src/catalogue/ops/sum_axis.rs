//! The entries of `sum_axis` and `mean_axis`.

use proptest::prelude::*;
use tensor::Element;

use super::{dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// Inputs of rank 1 to 4 (axes of 1 to 4), any axis of theirs, `keepdim` or not.
fn axis_cases() -> BoxedStrategy<OpCase<(usize, bool)>> {
    strategies::shape(1..=4, 1..=4)
        .prop_flat_map(|s| (0..s.len(), any::<bool>(), dense(s)))
        .prop_map(|(axis, keepdim, x)| OpCase::new(vec![x], (axis, keepdim)))
        .boxed()
}

/// An axis past the last one.
fn axis_out_of_range() -> Vec<OpCase<(usize, bool)>> {
    vec![zeros(&[&[2, 3]], (2, false)), zeros(&[&[4]], (1, true))]
}

/// `Σₖ x[…, k, …]` over one axis.
pub(super) struct SumAxis;

impl Entry for SumAxis {
    type Args = (usize, bool);

    fn name(&self) -> &'static str {
        "sum_axis"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<(usize, bool)>> {
        axis_cases()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], &(axis, keepdim): &(usize, bool)) -> Result<Var<'t, T>> {
        x[0].sum_axis(axis, keepdim)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<(usize, bool)>> {
        axis_out_of_range()
    }
}

/// `(1/n)·Σₖ x[…, k, …]` over one axis of length `n`.
pub(super) struct MeanAxis;

impl Entry for MeanAxis {
    type Args = (usize, bool);

    fn name(&self) -> &'static str {
        "mean_axis"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<(usize, bool)>> {
        axis_cases()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], &(axis, keepdim): &(usize, bool)) -> Result<Var<'t, T>> {
        x[0].mean_axis(axis, keepdim)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<(usize, bool)>> {
        axis_out_of_range()
    }
}
