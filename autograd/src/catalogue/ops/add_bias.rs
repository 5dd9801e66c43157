//! The entry of `add_bias`.

use proptest::prelude::*;
use tensor::Element;

use super::{dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

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
