//! Entries of the broadcasting arithmetic (product, difference, quotient) and of the
//! exponential and the logarithm.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, broadcast_shapes, dense, uniform, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// The wrong-shape calls of a broadcasting binary op: a trailing axis that differs and is
/// not 1, and a leading one.
fn unbroadcastable() -> Vec<OpCase<()>> {
    vec![zeros(&[&[2, 3], &[4]], ()), zeros(&[&[2, 3], &[3, 3]], ()), zeros(&[&[2, 3, 1], &[4, 1]], ())]
}

/// `a ⊙ b` with broadcasting.
pub(super) struct Mul;

impl Entry for Mul {
    type Args = ();

    fn name(&self) -> &'static str {
        "mul"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        broadcast_shapes()
            .prop_flat_map(|(a, b)| (dense(a), dense(b)))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].mul(x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        unbroadcastable()
    }
}

/// `a − b` with broadcasting.
pub(super) struct Sub;

impl Entry for Sub {
    type Args = ();

    fn name(&self) -> &'static str {
        "sub"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        broadcast_shapes()
            .prop_flat_map(|(a, b)| (dense(a), dense(b)))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].sub(x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        unbroadcastable()
    }
}

/// `a / b` with broadcasting, the divisor in ±[0.5, 1]: away from its pole at 0, where
/// `∂z/∂b = −a/b²` would grow faster than central differences can follow (a zero divisor
/// gives infinities, as in PyTorch; that is not a case).
pub(super) struct Div;

impl Entry for Div {
    type Args = ();

    fn name(&self) -> &'static str {
        "div"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        broadcast_shapes()
            .prop_flat_map(|(a, b)| (dense(a), strategies::tensor_away_from_zero::<f64>(b, 0.5)))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].div(x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        unbroadcastable()
    }
}

/// `eˣ` for `x` in [−3, 3].
pub(super) struct Exp;

impl Entry for Exp {
    type Args = ();

    fn name(&self) -> &'static str {
        "exp"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x.mul_scalar(3.0)], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].exp()
    }
}

/// `ln x` for `x` in [0.1, 3]: inside its domain and away from the pole of `1/x` at 0
/// (`x ≤ 0` gives −∞ or NaN, as in PyTorch; not a case).
pub(super) struct Ln;

impl Entry for Ln {
    type Args = ();

    fn name(&self) -> &'static str {
        "ln"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(|s| uniform(s, 0.1, 3.0)).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].ln()
    }
}
