//! The entries of `reshape` and `flatten`.

use proptest::prelude::*;
use tensor::Element;

use super::{dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// `reshape(x, target)`: the target is the input's axes shuffled, the first two merged or
/// not (the same number of elements, another shape).
pub(super) struct Reshape;

impl Entry for Reshape {
    type Args = Vec<usize>;

    fn name(&self) -> &'static str {
        "reshape"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Vec<usize>>> {
        strategies::shape(1..=4, 1..=4)
            .prop_flat_map(|s| (dense(s.clone()), Just(s).prop_shuffle(), any::<bool>()))
            .prop_map(|(x, mut target, merge)| {
                if merge && target.len() >= 2 {
                    let first = target.remove(0);
                    target[0] *= first;
                }
                OpCase::new(vec![x], target)
            })
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], target: &Vec<usize>) -> Result<Var<'t, T>> {
        x[0].reshape(target)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Vec<usize>>> {
        vec![zeros(&[&[2, 3]], vec![7]), zeros(&[&[2, 3]], vec![2, 2])]
    }
}

/// `[N, …] → [N, ∏…]`.
pub(super) struct Flatten;

impl Entry for Flatten {
    type Args = ();

    fn name(&self) -> &'static str {
        "flatten"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        strategies::shape(1..=4, 1..=4).prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].flatten()
    }
}
