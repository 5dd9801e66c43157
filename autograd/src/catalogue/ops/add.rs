//! The entries of `add`: a [`BinaryOp`] of the shared broadcasting entry, and the add of a
//! residual block, where one value feeds both terms.

use proptest::prelude::*;
use tensor::Element;

use super::{BinaryOp, dense};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `a + b` with broadcasting.
pub(super) struct Add;

impl BinaryOp for Add {
    const NAME: &'static str = "add";

    fn call<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> Result<Var<'t, T>> {
        a.add(b)
    }
}

/// The residual add `y = x + tanh(x·W)` (a block whose body is `tanh(x·W)`, `x` of `[n, d]`
/// and `W` of `[d, d]`, sizes 1 to 4): `x` feeds both terms, so its gradient is the sum of
/// the two paths' VJPs, `∇x = ∇y + (∇y ⊙ (1 − tanh²(x·W)))·Wᵀ`, the identity path passing
/// `∇y` whole. The tape adds what reaches a value from each of its uses; this entry checks
/// that sum against central differences.
pub(super) struct ResidualAdd;

impl Entry for ResidualAdd {
    type Args = ();

    fn name(&self) -> &'static str {
        "add (residual: x + tanh(x·W))"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=4usize, 1..=4usize)
            .prop_flat_map(|(n, d)| (dense(vec![n, d]), dense(vec![d, d])))
            .prop_map(|(x, w)| OpCase::new(vec![x, w], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].add(x[0].matmul(x[1])?.tanh()?)
    }
}
