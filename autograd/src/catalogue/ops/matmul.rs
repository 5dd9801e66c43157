//! The entry of `matmul`.

use proptest::prelude::*;
use tensor::Element;

use super::{dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
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
