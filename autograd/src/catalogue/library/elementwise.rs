//! Entries of the element-wise ops and the reductions to a scalar.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, broadcast_shapes, dense, on_grid, zeros};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// `a + b` with broadcasting ([`broadcast_shapes`]).
pub(super) struct Add;

impl Entry for Add {
    type Args = ();

    fn name(&self) -> &'static str {
        "add"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        broadcast_shapes()
            .prop_flat_map(|(a, b)| (dense(a), dense(b)))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].add(x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[2, 3], &[4]], ()), zeros(&[&[2, 3], &[3, 3]], ())]
    }
}

/// `c·x` for a constant `c` in [−2, 2].
pub(super) struct Scale;

impl Entry for Scale {
    type Args = f64;

    fn name(&self) -> &'static str {
        "scale"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<f64>> {
        (any_shape().prop_flat_map(dense), -2.0..=2.0f64).prop_map(|(x, c)| OpCase::new(vec![x], c)).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], c: &f64) -> Result<Var<'t, T>> {
        x[0].scale(T::from_f64_lossy(*c))
    }
}

/// `max(x, 0)`, away from 0 by at least 0.05; at exactly 0 the subgradient is 0.
pub(super) struct Relu;

impl Entry for Relu {
    type Args = ();

    fn name(&self) -> &'static str {
        "relu"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape()
            .prop_flat_map(|s| strategies::tensor_away_from_zero::<f64>(s, 0.05))
            .prop_map(|x| OpCase::new(vec![x], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].relu()
    }

    fn convention(&self) -> Option<Convention<()>> {
        let cases = any_shape()
            .prop_flat_map(|s| on_grid(s, 4))
            .prop_map(|mut x| {
                x.as_mut_slice()[0] = 0.0;
                KinkCase { nudged: OpCase::new(vec![nudge(&x, -1e-3)], ()), at: OpCase::new(vec![x], ()) }
            })
            .boxed();
        Some(Convention { rule: "the subgradient at 0 is 0 (the gradient from the left)", cases })
    }
}

/// `Σᵢ xᵢ`.
pub(super) struct Sum;

impl Entry for Sum {
    type Args = ();

    fn name(&self) -> &'static str {
        "sum"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].sum()
    }
}

/// `(1/n)·Σᵢ xᵢ`.
pub(super) struct Mean;

impl Entry for Mean {
    type Args = ();

    fn name(&self) -> &'static str {
        "mean"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].mean()
    }
}

/// `Σᵢ xᵢ²`.
pub(super) struct SumSquares;

impl Entry for SumSquares {
    type Args = ();

    fn name(&self) -> &'static str {
        "sum_squares"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].sum_squares()
    }
}
