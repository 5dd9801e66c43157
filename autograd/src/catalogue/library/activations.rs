//! Entries of the activations other than ReLU: tanh, sigmoid, leaky ReLU.

use proptest::prelude::*;
use tensor::Element;

use super::{any_shape, dense, on_grid};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge};
use crate::error::Result;
use crate::strategies;
use crate::tape::Var;

/// `tanh x` for `x` in [−3, 3] (into the saturating tails, where `1 − y²` is small).
pub(super) struct Tanh;

impl Entry for Tanh {
    type Args = ();

    fn name(&self) -> &'static str {
        "tanh"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x.mul_scalar(3.0)], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].tanh()
    }
}

/// `σ(x) = 1/(1 + e⁻ˣ)` for `x` in [−6, 6] (both branches of the overflow-free form).
pub(super) struct Sigmoid;

impl Entry for Sigmoid {
    type Args = ();

    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        any_shape().prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x.mul_scalar(6.0)], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        x[0].sigmoid()
    }
}

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
        vec![super::zeros(&[&[2, 3]], f64::NAN), super::zeros(&[&[2, 3]], f64::INFINITY)]
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
