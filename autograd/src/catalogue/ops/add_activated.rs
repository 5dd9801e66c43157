//! The entry of `add_activated`, with the kink of its ReLU.

use proptest::prelude::*;
use tensor::{Activation, Element};

use super::{any_shape, dense, on_grid, zeros};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// `relu(a + b)` for `a`, `b` of one shape, the sum away from 0 by at least 0.05 (`a` drawn
/// as that sum minus `b`); at a sum of exactly 0 the subgradient is 0, as `relu`'s.
pub(super) struct AddActivated;

impl Entry for AddActivated {
    type Args = ();

    fn name(&self) -> &'static str {
        "add_activated"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape()
            .prop_flat_map(|s| (strategies::tensor_away_from_zero::<f64>(s.clone(), 0.05), dense(s)))
            .prop_map(|(sum, b)| OpCase::new(vec![sum.sub(&b).expect("one shape"), b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].add_activated(x[1], Activation::Relu)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[2, 3], &[3]], ()), zeros(&[&[2, 3], &[3, 2]], ())]
    }

    fn convention(&self) -> Option<Convention<()>> {
        let cases = any_shape()
            .prop_flat_map(|s| (on_grid(s.clone(), 4), on_grid(s, 4)))
            .prop_map(|(mut a, b)| {
                a.as_mut_slice()[0] = -b.as_slice().expect("contiguous")[0];
                KinkCase { nudged: OpCase::new(vec![nudge(&a, -1e-3), b.clone()], ()), at: OpCase::new(vec![a, b], ()) }
            })
            .boxed();
        Some(Convention { rule: "the subgradient at a sum of 0 is 0 (as relu's)", cases })
    }
}
