//! The op catalogue: every op declares its sample inputs once, and one generic suite checks
//! them all the same way (after PyTorch's OpInfo database).
//!
//! An [`Entry`] names an op, gives a proptest strategy of [`OpCase`]s (input tensors in f64,
//! kept away from kinks and ties, plus the op's other arguments) and calls the op on
//! [`Var`]s of either element type. [`run_suite`] then checks, for every drawn case:
//!
//! - **gradients**: [`gradcheck()`](crate::gradcheck()) in f64 of every input, through a fixed
//!   random weighting of the output's elements (a scalar that sees each of them);
//! - **f32**: the forward pass in f32 agrees with the one in f64 to [`SuiteConfig::f32`];
//! - **layouts**: each input given as a transposed, sliced or broadcast [`View`] gives the
//!   same values and gradients as its contiguous copy;
//!
//! and, once per entry, that every call in [`Entry::wrong_shapes`] returns an error naming the
//! op and a shape (never a panic, never a value), and that the cases of
//! [`Entry::convention`] (at a kink or a tie) follow the op's stated rule: the gradient
//! there equals the gradient at the case nudged in the rule's direction.
//!
//! A failure is shrunk by proptest to a minimal case and reported as a [`SuiteFailure`]:
//! the op, the check, the case, and the input and element with analytic versus numeric (or
//! view versus copy, f32 versus f64) values.
//!
//! The library's own ops are listed by [`entries`]. A crate with an op of its own writes an
//! `Entry` for it and runs the same suite:
//!
//! ```
//! use autograd::catalogue::{self, Entry, OpCase};
//! use autograd::{strategies, Var};
//! use proptest::prelude::*;
//! use tensor::Element;
//!
//! /// `y = ‖x‖² − x` element-wise broadcast, a composite standing in for a user's op.
//! struct SquaredNormMinus;
//!
//! impl Entry for SquaredNormMinus {
//!     type Args = ();
//!     fn name(&self) -> &'static str {
//!         "squared_norm_minus"
//!     }
//!     fn cases(&self) -> BoxedStrategy<OpCase<()>> {
//!         strategies::shape(1..=3, 1..=4)
//!             .prop_flat_map(strategies::tensor::<f64>)
//!             .prop_map(|x| OpCase::new(vec![x], ()))
//!             .boxed()
//!     }
//!     fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> autograd::Result<Var<'t, T>> {
//!         x[0].sum_squares()?.add(x[0].scale(-T::one())?)
//!     }
//! }
//!
//! let report = catalogue::run_suite(&SquaredNormMinus, &catalogue::SuiteConfig::quick())?;
//! assert_eq!(report.cases, 8);
//! # Ok::<(), catalogue::SuiteFailure>(())
//! ```

mod failure;
mod ops;
mod suite;
mod views;

use std::fmt::Debug;

use proptest::strategy::BoxedStrategy;
use tensor::{Element, Tensor};

use crate::error::Result;
use crate::gradcheck::GradcheckConfig;
use crate::tape::Var;

pub use failure::{Check, Compared, Failure, SuiteFailure};
pub use ops::entries;
pub use suite::{SuiteReport, run_suite};
pub use views::View;

/// One op in the catalogue: its name, its sample inputs, and how to call it.
///
/// Every [`Var`] input is differentiable and gradchecked; anything else the op takes
/// (geometry, axes, labels, constants) goes in [`Entry::Args`].
pub trait Entry {
    /// The op's arguments other than its input tensors.
    type Args: Clone + Debug + 'static;

    /// The op's name, as its errors spell it.
    fn name(&self) -> &'static str;

    /// Sample inputs: shapes, geometries and values where the op is differentiable (away
    /// from kinks and ties; those go in [`Entry::convention`]).
    fn cases(&self) -> BoxedStrategy<OpCase<Self::Args>>;

    /// Calls the op on `inputs` (one `Var` per tensor of the case, in order), in f32 or f64.
    fn call<'t, T: Element>(&self, inputs: &[Var<'t, T>], args: &Self::Args) -> Result<Var<'t, T>>;

    /// Calls with wrong shapes (or arguments that do not fit the shapes): each must return
    /// an error whose message names the op and an input's shape (or the arguments). Empty
    /// for an op that accepts every shape.
    fn wrong_shapes(&self) -> Vec<OpCase<Self::Args>> {
        Vec::new()
    }

    /// The op's rule at its kinks or ties, with cases exactly there; `None` for a smooth op.
    fn convention(&self) -> Option<Convention<Self::Args>> {
        None
    }
}

/// Sample inputs of an op: its input tensors (f64; the suite converts them for f32) and its
/// other arguments.
#[derive(Clone)]
pub struct OpCase<A> {
    /// The input tensors, one per `Var` the op takes.
    pub inputs: Vec<Tensor<f64>>,
    /// The other arguments.
    pub args: A,
}

impl<A> OpCase<A> {
    /// A case of `inputs` with `args`.
    pub fn new(inputs: Vec<Tensor<f64>>, args: A) -> Self {
        OpCase { inputs, args }
    }

    /// The shapes of the inputs.
    pub fn shapes(&self) -> Vec<Vec<usize>> {
        self.inputs.iter().map(|x| x.shape().to_vec()).collect()
    }
}

impl<A: Debug> Debug for OpCase<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, x) in self.inputs.iter().enumerate() {
            write!(f, "input {i}: {x:.6}")?;
            writeln!(f)?;
        }
        write!(f, "args: {:?}", self.args)
    }
}

/// What an op does where it is not differentiable (ReLU at 0, equal maxima), stated as a
/// direction: at each case `at`, the op's gradient must equal its gradient at `nudged`, the
/// same case moved slightly the way the rule breaks the tie (where the op is smooth, so
/// that the nudged gradient is itself checked against central differences).
pub struct Convention<A> {
    /// The rule, in words (it is quoted in a failure).
    pub rule: &'static str,
    /// Cases at the kinks or ties, each with its nudged twin.
    pub cases: BoxedStrategy<KinkCase<A>>,
}

/// A case exactly at a kink or tie, and the same case nudged in the direction of the rule.
#[derive(Clone)]
pub struct KinkCase<A> {
    /// The case at the kink.
    pub at: OpCase<A>,
    /// The nudged case.
    pub nudged: OpCase<A>,
}

impl<A: Debug> Debug for KinkCase<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "at the kink:")?;
        writeln!(f, "{:?}", self.at)?;
        writeln!(f, "nudged:")?;
        write!(f, "{:?}", self.nudged)
    }
}

/// `x − step·i` for the element of row-major index `i`: among equal elements the first one
/// becomes the largest, the nudge of "ties go to the first maximum" (for `step` times the
/// number of elements below the gap between distinct values).
pub fn nudge_toward_first(x: &Tensor<f64>, step: f64) -> Tensor<f64> {
    let values = x.iter().enumerate().map(|(i, v)| v - step * i as f64).collect();
    Tensor::from_vec(x.shape(), values).expect("same shape")
}

/// `x + delta` element-wise: the nudge of a one-sided rule (ReLU's subgradient 0 at 0 is
/// its gradient from the left, `delta < 0`).
pub fn nudge(x: &Tensor<f64>, delta: f64) -> Tensor<f64> {
    x.add_scalar(delta)
}

/// Tolerance of a comparison: `|actual − expected| ≤ atol + rtol·|expected|`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute part.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

impl Tolerance {
    /// Whether `actual` is within tolerance of `expected` (equal infinities agree; a NaN
    /// never does).
    pub fn accepts(&self, actual: f64, expected: f64) -> bool {
        actual == expected || (actual - expected).abs() <= self.atol + self.rtol * expected.abs()
    }

    /// The bound for `expected`.
    pub fn bound(&self, expected: f64) -> f64 {
        self.atol + self.rtol * expected.abs()
    }
}

/// How hard the suite looks.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// Cases drawn from [`Entry::cases`].
    pub cases: u32,
    /// Cases drawn from the convention's strategy.
    pub kink_cases: u32,
    /// The gradient check (PyTorch's tolerances; at most `max_elements` per input).
    pub gradcheck: GradcheckConfig,
    /// The f32 forward against the f64 forward: f32 keeps about 7 digits, and the ops sum
    /// at most a few hundred products, so 1e-4 absolute and relative.
    pub f32: Tolerance,
    /// A view against its contiguous copy: the same arithmetic, up to summation order.
    pub layout: Tolerance,
    /// Seed of the case generator (the suite is deterministic for a given seed).
    pub seed: u64,
    /// Upper bound on the shrinking steps after a failure.
    pub max_shrink_iters: u32,
}

impl Default for SuiteConfig {
    fn default() -> Self {
        SuiteConfig {
            cases: 128,
            kink_cases: 32,
            gradcheck: GradcheckConfig { max_elements: Some(64), ..GradcheckConfig::default() },
            f32: Tolerance { atol: 1e-4, rtol: 1e-4 },
            layout: Tolerance { atol: 1e-12, rtol: 1e-10 },
            seed: 0x00ca_7a10,
            max_shrink_iters: 1024,
        }
    }
}

impl SuiteConfig {
    /// Fewer cases (8, and 4 at kinks), for doc tests and quick looks.
    pub fn quick() -> Self {
        SuiteConfig { cases: 8, kink_cases: 4, ..SuiteConfig::default() }
    }
}

/// An [`Entry`] of any argument type, so that entries of different ops fit in one list.
pub trait AnyEntry {
    /// The op's name.
    fn name(&self) -> &'static str;

    /// [`run_suite`] on this entry.
    fn run(&self, config: &SuiteConfig) -> std::result::Result<SuiteReport, SuiteFailure>;
}

impl<E: Entry> AnyEntry for E {
    fn name(&self) -> &'static str {
        Entry::name(self)
    }

    fn run(&self, config: &SuiteConfig) -> std::result::Result<SuiteReport, SuiteFailure> {
        run_suite(self, config)
    }
}
