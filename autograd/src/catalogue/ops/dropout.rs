//! The entry of `dropout` with a given keep-mask.

use proptest::prelude::*;
use tensor::{Element, Tensor};

use super::{any_shape, cast_arg, dense, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::tape::Var;

/// `x ⊙ m / (1 − p)` for a drawn 0/1 keep-mask `m` and `p` of 0, 1 (all dropped) or in
/// [0, 0.9]. The mask is an argument, not an input: it is not differentiated, and it is
/// given contiguous or strided.
pub(super) struct Dropout;

/// The keep-mask, `p`, and whether the mask is given as a strided view ([`cast_arg`]).
type Masked = (Tensor<f64>, f64, bool);

impl Entry for Dropout {
    type Args = Masked;

    fn name(&self) -> &'static str {
        "dropout"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Masked>> {
        any_shape()
            .prop_flat_map(|s| {
                let (n, shape): (usize, _) = (s.iter().product(), s.clone());
                let mask = proptest::collection::vec(any::<bool>(), n).prop_map(move |keep| {
                    Tensor::from_vec(&shape, keep.into_iter().map(f64::from).collect()).expect("n elements")
                });
                let p = prop_oneof![Just(0.0), Just(1.0), 0.0..=0.9f64];
                (dense(s), mask, p, any::<bool>())
            })
            .prop_map(|(x, mask, p, strided)| OpCase::new(vec![x], (mask, p, strided)))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], (mask, p, strided): &Masked) -> Result<Var<'t, T>> {
        x[0].dropout(&cast_arg(mask, *strided)?, T::from_f64_lossy(*p))
    }

    /// Masks of another shape, broadcastable or not: the mask must have the input's shape.
    fn wrong_shapes(&self) -> Vec<OpCase<Masked>> {
        let mask = |s: &[usize]| Tensor::ones(s).expect("a small shape");
        vec![zeros(&[&[2, 3]], (mask(&[3, 2]), 0.5, false)), zeros(&[&[2, 3]], (mask(&[3]), 0.5, true))]
    }
}
