//! The entry of `leaky_relu`.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, on_grid, zeros};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// Negative slopes: PyTorch's default 0.01, 0 (ReLU), or any in [0, 1].
fn slope() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.01), Just(0.0), 0.0..=1.0f64]
}

/// `x` where `x > 0`, `s·x` elsewhere, away from 0 by at least 0.05; at exactly 0 the
/// subgradient is the slope `s` (as PyTorch).
pub(super) struct LeakyRelu;

impl Entry for LeakyRelu {
    type Args = f64;

    fn name(&self) -> &'static str {
        "leaky_relu"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<f64>> {
        (any_shape().prop_flat_map(|s| strategies::tensor_away_from_zero::<f64>(s, 0.05)), slope())
            .prop_map(|(x, s)| OpCase::new(vec![x], s))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], slope: &f64) -> Result<Var<'t, T>> {
        x[0].leaky_relu(T::from_f64_lossy(*slope))
    }

    /// A slope that is not finite (the shapes fit; the argument does not).
    fn wrong_shapes(&self) -> Vec<OpCase<f64>> {
        vec![zeros(&[&[2, 3]], f64::NAN), zeros(&[&[2, 3]], f64::INFINITY)]
    }

    fn convention(&self) -> Option<Convention<f64>> {
        let cases = (any_shape().prop_flat_map(|s| on_grid(s, 4)), slope())
            .prop_map(|(mut x, s)| {
                x.as_mut_slice()[0] = 0.0;
                KinkCase { nudged: OpCase::new(vec![nudge(&x, -1e-3)], s), at: OpCase::new(vec![x], s) }
            })
            .boxed();
        Some(Convention { rule: "the subgradient at 0 is the slope (the gradient from the left)", cases })
    }
}
