//! The entry of `relu`, with its kink.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, on_grid};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

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
