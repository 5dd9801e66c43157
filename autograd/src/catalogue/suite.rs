//! The generic suite: the same checks for every entry, over its proptest cases.

use std::cell::Cell;
use std::fmt::{self, Debug};
use std::panic::{AssertUnwindSafe, catch_unwind};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use tensor::{Element, Tensor};

use crate::error::AutogradError;
use crate::gradcheck::{gradcheck, unravel};
use crate::tape::Tape;

use super::failure::{Check, Compared, Failure, SuiteFailure};
use super::views::{View, weigh};
use super::{Entry, KinkCase, OpCase, SuiteConfig, Tolerance};

/// What an entry passed: the number of cases of each kind, and the largest errors seen.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteReport {
    /// The op's name.
    pub op: &'static str,
    /// Cases drawn from [`Entry::cases`] that passed every check.
    pub cases: usize,
    /// Non-contiguous inputs compared with their contiguous copies, over all cases.
    pub views: usize,
    /// Cases at kinks or ties that followed the op's rule.
    pub kink_cases: usize,
    /// Calls with wrong shapes that returned a proper error.
    pub wrong_shapes: usize,
    /// The largest relative error of an analytic gradient against central differences.
    pub max_gradient_error: f64,
    /// The largest `|f32 − f64|` of an output element, relative to `max(1, |f64|)`.
    pub max_f32_error: f64,
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<24} {:>3} cases ({:>3} non-contiguous inputs), {:>2} at kinks/ties, {} wrong-shape calls; \
             gradient rel. error ≤ {:.1e}, f32 error ≤ {:.1e}",
            self.op,
            self.cases,
            self.views,
            self.kink_cases,
            self.wrong_shapes,
            self.max_gradient_error,
            self.max_f32_error
        )
    }
}

/// Runs every check of the suite on `entry`: the wrong-shape calls, then `config.cases`
/// cases (gradients, f32, layouts), then `config.kink_cases` cases of its convention. Stops
/// at the first failure, shrunk to a minimal case.
pub fn run_suite<E: Entry>(entry: &E, config: &SuiteConfig) -> Result<SuiteReport, SuiteFailure> {
    let op = entry.name();
    let mut report = SuiteReport {
        op,
        cases: 0,
        views: 0,
        kink_cases: 0,
        wrong_shapes: 0,
        max_gradient_error: 0.0,
        max_f32_error: 0.0,
    };
    for case in entry.wrong_shapes() {
        wrong_shapes(entry, &case).map_err(|failure| SuiteFailure {
            op,
            check: Check::WrongShapes,
            case: format!("{case:?}"),
            failure: Box::new(failure),
            passed: report.wrong_shapes,
        })?;
        report.wrong_shapes += 1;
    }

    let views = Cell::new(0);
    let (gradient_error, f32_error) = (Cell::new(0.0f64), Cell::new(0.0f64));
    report.cases = property(op, entry.cases(), config.cases, config, |case: &OpCase<E::Args>| {
        let errors = check_case(entry, case, config)?;
        gradient_error.set(gradient_error.get().max(errors.gradient));
        f32_error.set(f32_error.get().max(errors.f32));
        views.set(views.get() + layouts(entry, case, config)?);
        Ok(())
    })?;
    (report.views, report.max_gradient_error, report.max_f32_error) =
        (views.get(), gradient_error.get(), f32_error.get());

    if let Some(convention) = entry.convention() {
        report.kink_cases = property(op, convention.cases, config.kink_cases, config, |case: &KinkCase<E::Args>| {
            at_kink(entry, case, convention.rule, config)
        })?;
    }
    Ok(report)
}

/// Runs `check` on `cases` values of `strategy`; on a failure, shrinks it and reports the
/// minimal case. Returns the number of cases that passed.
fn property<V: Clone + Debug>(
    op: &'static str,
    strategy: impl Strategy<Value = V>,
    cases: u32,
    config: &SuiteConfig,
    check: impl Fn(&V) -> Result<(), (Check, Failure)>,
) -> Result<usize, SuiteFailure> {
    let runner_config =
        Config { cases, failure_persistence: None, max_shrink_iters: config.max_shrink_iters, ..Config::default() };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&config.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(runner_config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let (passed, failed) = (Cell::new(0usize), Cell::new(false));
    let outcome = runner.run(&strategy, |case| match check(&case) {
        Ok(()) => {
            if !failed.get() {
                passed.set(passed.get() + 1);
            }
            Ok(())
        }
        Err((check, failure)) => {
            failed.set(true);
            Err(TestCaseError::fail(format!("{check}: {failure}")))
        }
    });
    let failure = |check, case: String, failure| SuiteFailure {
        op,
        check,
        case,
        failure: Box::new(failure),
        passed: passed.get(),
    };
    match outcome {
        Ok(()) => Ok(passed.get()),
        Err(TestError::Fail(reason, minimal)) => Err(match check(&minimal) {
            Err((check, f)) => failure(check, format!("{minimal:?}"), f),
            Ok(()) => failure(
                Check::Call,
                format!("{minimal:?}"),
                Failure::Errored { message: format!("{reason} (and the case passed when run again)") },
            ),
        }),
        Err(TestError::Abort(reason)) => Err(failure(
            Check::Call,
            String::from("(none: the strategy gave up)"),
            Failure::Errored { message: format!("the case strategy gave up: {reason}") },
        )),
    }
}

/// Runs `f`, turning a panic into [`Failure::Panicked`].
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, Failure> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".into());
        Failure::Panicked { message }
    })
}

fn to_f32(x: &Tensor<f64>) -> Tensor<f32> {
    Tensor::from_vec(x.shape(), x.iter().map(|v| v as f32).collect()).expect("same shape")
}

/// The op's output on leaves holding `inputs`.
fn forward<E: Entry, T: Element>(entry: &E, inputs: &[Tensor<T>], args: &E::Args) -> Result<Tensor<T>, Failure> {
    guarded(|| {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
        entry.call(&vars, args).map(|y| y.value())
    })?
    .map_err(|e| Failure::Errored { message: e.to_string() })
}

/// The output and the gradient of each input of the weighted output, in f64.
fn output_and_gradients<E: Entry>(
    entry: &E,
    inputs: &[Tensor<f64>],
    args: &E::Args,
) -> Result<(Tensor<f64>, Vec<Tensor<f64>>), Failure> {
    guarded(|| -> crate::Result<_> {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
        let y = entry.call(&vars, args)?;
        let grads = match tape.backward(weigh(y)?) {
            Ok(g) => Some(g),
            Err(AutogradError::DoesNotRequireGrad) => None,
            Err(e) => return Err(e),
        };
        let grads = vars
            .iter()
            .zip(inputs)
            .map(|(&v, x)| grads.as_ref().and_then(|g| g.get(v).cloned()).map_or_else(|| Tensor::zeros(x.shape()), Ok))
            .collect::<tensor::Result<_>>()?;
        Ok((y.value(), grads))
    })?
    .map_err(|e| Failure::Errored { message: e.to_string() })
}

struct CaseErrors {
    gradient: f64,
    f32: f64,
}

/// The gradient check and the f32 forward of one case.
fn check_case<E: Entry>(
    entry: &E,
    case: &OpCase<E::Args>,
    config: &SuiteConfig,
) -> Result<CaseErrors, (Check, Failure)> {
    let y64 = forward(entry, &case.inputs, &case.args).map_err(|f| (Check::Call, f))?;
    let report = guarded(|| gradcheck(|_, v| weigh(entry.call(v, &case.args)?), &case.inputs, &config.gradcheck))
        .map_err(|f| (Check::Gradient, f))?
        .map_err(|e| (Check::Gradient, Failure::Gradient(e)))?;
    let gradient = report.inputs.iter().map(|r| r.max_rel_error).fold(0.0, f64::max);

    let inputs32: Vec<_> = case.inputs.iter().map(to_f32).collect();
    let y32 = forward(entry, &inputs32, &case.args).map_err(|f| (Check::F32Forward, f))?;
    if y32.shape() != y64.shape() {
        let failure = Failure::F32Shape { f64_shape: y64.shape().to_vec(), f32_shape: y32.shape().to_vec() };
        return Err((Check::F32Forward, failure));
    }
    let mut f32_error = 0.0f64;
    for (flat, (a, b)) in y64.iter().zip(y32.iter()).enumerate() {
        let b = f64::from(b);
        if !config.f32.accepts(b, a) {
            let failure = Failure::F32Value {
                index: unravel(flat, y64.shape()),
                f64_value: a,
                f32_value: b,
                tolerance: config.f32.bound(a),
            };
            return Err((Check::F32Forward, failure));
        }
        if a != b {
            f32_error = f32_error.max((a - b).abs() / a.abs().max(1.0));
        }
    }
    Ok(CaseErrors { gradient, f32: f32_error })
}

/// Each input in each non-contiguous layout against its contiguous copy; returns the number
/// of views compared.
fn layouts<E: Entry>(entry: &E, case: &OpCase<E::Args>, config: &SuiteConfig) -> Result<usize, (Check, Failure)> {
    let mut compared = 0;
    for (input, x) in case.inputs.iter().enumerate() {
        for view in View::ALL {
            let Some(strided) = view.of(x) else { continue };
            let located = |failure| {
                let at = format!("input {input} as a {view} view");
                let failure = match failure {
                    Failure::Panicked { message } => Failure::Panicked { message: format!("{at}: {message}") },
                    Failure::Errored { message } => Failure::Errored { message: format!("{at}: {message}") },
                    other => other,
                };
                (Check::Layout, failure)
            };
            let mut inputs = case.inputs.clone();
            inputs[input] = strided.to_contiguous();
            let (y_copy, g_copy) = output_and_gradients(entry, &inputs, &case.args).map_err(located)?;
            inputs[input] = strided;
            let (y_view, g_view) = output_and_gradients(entry, &inputs, &case.args).map_err(located)?;
            let mismatch = |what, index, contiguous, strided| {
                (Check::Layout, Failure::Layout { view, input, what, index, contiguous, strided })
            };
            if let Some((index, c, s)) = first_difference(&y_copy, &y_view, &config.layout) {
                return Err(mismatch(Compared::Output, index, c, s));
            }
            for (k, (gc, gv)) in g_copy.iter().zip(&g_view).enumerate() {
                if let Some((index, c, s)) = first_difference(gc, gv, &config.layout) {
                    return Err(mismatch(Compared::Gradient(k), index, c, s));
                }
            }
            compared += 1;
        }
    }
    Ok(compared)
}

/// At a kink: the nudged case passes the gradient check, and the gradient at the kink is the
/// nudged case's.
fn at_kink<E: Entry>(
    entry: &E,
    case: &KinkCase<E::Args>,
    rule: &'static str,
    config: &SuiteConfig,
) -> Result<(), (Check, Failure)> {
    let nudged = &case.nudged;
    guarded(|| gradcheck(|_, v| weigh(entry.call(v, &nudged.args)?), &nudged.inputs, &config.gradcheck))
        .map_err(|f| (Check::Convention, f))?
        .map_err(|e| (Check::Convention, Failure::Gradient(e)))?;
    let (_, at) = output_and_gradients(entry, &case.at.inputs, &case.at.args).map_err(|f| (Check::Convention, f))?;
    let (_, near) = output_and_gradients(entry, &nudged.inputs, &nudged.args).map_err(|f| (Check::Convention, f))?;
    let tolerance = Tolerance { atol: config.gradcheck.atol, rtol: config.gradcheck.rtol };
    for (input, (a, n)) in at.iter().zip(&near).enumerate() {
        if let Some((index, nudged, at_kink)) = first_difference(n, a, &tolerance) {
            return Err((Check::Convention, Failure::Convention { rule, input, index, at_kink, nudged }));
        }
    }
    Ok(())
}

/// The first element (multi-index, expected, actual) where `actual` is out of tolerance of
/// `expected`, or where the shapes differ (index `[]`, the element counts).
fn first_difference(
    expected: &Tensor<f64>,
    actual: &Tensor<f64>,
    tolerance: &Tolerance,
) -> Option<(Vec<usize>, f64, f64)> {
    if expected.shape() != actual.shape() {
        return Some((Vec::new(), expected.numel() as f64, actual.numel() as f64));
    }
    expected
        .iter()
        .zip(actual.iter())
        .enumerate()
        .find(|(_, (e, a))| !tolerance.accepts(*a, *e))
        .map(|(flat, (e, a))| (unravel(flat, expected.shape()), e, a))
}

/// A call with wrong shapes: an error naming the op and an input's shape (or the
/// arguments), not a value and not a panic.
fn wrong_shapes<E: Entry>(entry: &E, case: &OpCase<E::Args>) -> Result<(), Failure> {
    let shapes = case.shapes();
    match forward(entry, &case.inputs, &case.args) {
        Err(Failure::Errored { message }) => {
            let names_op = message.contains(entry.name());
            let names_shape = shapes.iter().filter(|s| !s.is_empty()).any(|s| message.contains(&format!("{s:?}")))
                || message.contains(&format!("{:?}", case.args));
            if names_op && names_shape { Ok(()) } else { Err(Failure::VagueError { shapes, message }) }
        }
        Err(panicked) => Err(panicked),
        Ok(y) => Err(Failure::Accepted { shapes, output: y.shape().to_vec() }),
    }
}
