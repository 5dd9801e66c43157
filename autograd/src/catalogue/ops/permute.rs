//! The entries of `permute` and `t`.

use proptest::prelude::*;
use tensor::Element;

use super::{dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// `permute(x, perm)` for a random permutation of up to 4 axes.
pub(super) struct Permute;

impl Entry for Permute {
    type Args = Vec<usize>;

    fn name(&self) -> &'static str {
        "permute"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Vec<usize>>> {
        strategies::shape(1..=4, 1..=4)
            .prop_flat_map(|s| {
                let r = s.len();
                (dense(s), Just((0..r).collect::<Vec<_>>()).prop_shuffle())
            })
            .prop_map(|(x, perm)| OpCase::new(vec![x], perm))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], perm: &Vec<usize>) -> Result<Var<'t, T>> {
        x[0].permute(perm)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Vec<usize>>> {
        vec![zeros(&[&[2, 3]], vec![0, 1, 2]), zeros(&[&[2, 3]], vec![1, 1])]
    }
}

/// The transpose of a matrix.
pub(super) struct Transpose;

impl Entry for Transpose {
    type Args = ();

    fn name(&self) -> &'static str {
        "t"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=5usize, 1..=5usize)
            .prop_flat_map(|(m, n)| dense(vec![m, n]))
            .prop_map(|x| OpCase::new(vec![x], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].t()
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[2, 3, 4]], ()), zeros(&[&[3]], ())]
    }
}
