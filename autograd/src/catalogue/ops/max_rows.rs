//! The entry of `max_rows`, with its ties.

use proptest::prelude::*;
use tensor::Element;

use super::{on_grid, tie_step, zeros};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge_toward_first};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

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
