//! What the suite reports when an op fails one of its checks.

use std::fmt;

use crate::gradcheck::GradcheckError;

use super::views::View;

/// The check an op failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The op failed (returned an error or panicked) on a valid case.
    Call,
    /// Its gradient differs from central differences in f64.
    Gradient,
    /// Its f32 forward differs from its f64 forward.
    F32Forward,
    /// A non-contiguous input gives other values or gradients than its contiguous copy.
    Layout,
    /// A call with wrong shapes panicked, returned a value, or an error that names neither
    /// the op nor a shape.
    WrongShapes,
    /// At a kink or tie, its gradient is not the one its stated rule gives.
    Convention,
}

/// The details of a failed check.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The op returned an error on a valid case.
    Errored {
        /// The error's message.
        message: String,
    },
    /// The op panicked.
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// The gradient check failed (an element's analytic and numeric gradients differ, or
    /// the function failed while differentiating).
    Gradient(GradcheckError),
    /// The f32 output differs in shape from the f64 output.
    F32Shape {
        /// The f64 output's shape.
        f64_shape: Vec<usize>,
        /// The f32 output's shape.
        f32_shape: Vec<usize>,
    },
    /// An element of the f32 output is out of tolerance of the f64 output.
    F32Value {
        /// The element's multi-index in the output.
        index: Vec<usize>,
        /// The f64 value.
        f64_value: f64,
        /// The f32 value (widened).
        f32_value: f64,
        /// The bound it exceeded.
        tolerance: f64,
    },
    /// With input `input` given as a view, an output or gradient element differs from the
    /// one computed from the contiguous copy.
    Layout {
        /// The kind of view.
        view: View,
        /// The input given as a view.
        input: usize,
        /// What differs: the output, or the gradient of input `k`.
        what: Compared,
        /// The element's multi-index.
        index: Vec<usize>,
        /// The value from the contiguous copy.
        contiguous: f64,
        /// The value from the view.
        strided: f64,
    },
    /// A call with wrong shapes returned a value.
    Accepted {
        /// The input shapes.
        shapes: Vec<Vec<usize>>,
        /// The output's shape.
        output: Vec<usize>,
    },
    /// A call with wrong shapes returned an error that names neither the op nor a shape.
    VagueError {
        /// The input shapes.
        shapes: Vec<Vec<usize>>,
        /// The error's message.
        message: String,
    },
    /// At a kink or tie, an element's gradient differs from the gradient at the nudged case.
    Convention {
        /// The rule, as the entry states it.
        rule: &'static str,
        /// Which input.
        input: usize,
        /// The element's multi-index.
        index: Vec<usize>,
        /// The gradient at the kink.
        at_kink: f64,
        /// The gradient at the nudged case (itself checked against central differences).
        nudged: f64,
    },
}

/// The output, or the gradient of an input, in a [`Failure::Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The op's output.
    Output,
    /// The gradient of this input.
    Gradient(usize),
}

/// An op that failed the suite: the check, the minimal case proptest shrank it to, and what
/// differed there.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteFailure {
    /// The op's name.
    pub op: &'static str,
    /// The check it failed.
    pub check: Check,
    /// The case, shrunk (inputs with their values, and the arguments).
    pub case: String,
    /// What differed.
    pub failure: Box<Failure>,
    /// Cases that passed before the first failure.
    pub passed: usize,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::Call => "a call on a valid case",
            Check::Gradient => "the gradient check (f64, central differences)",
            Check::F32Forward => "the f32 forward against the f64 forward",
            Check::Layout => "non-contiguous inputs against their contiguous copies",
            Check::WrongShapes => "wrong shapes (a typed error naming the op and a shape)",
            Check::Convention => "the convention at kinks and ties",
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Errored { message } => write!(f, "the op returned an error: {message}"),
            Failure::Panicked { message } => write!(f, "the op panicked: {message}"),
            Failure::Gradient(GradcheckError::Mismatch { input, index, analytic, numeric, tolerance }) => write!(
                f,
                "input {input}, element {index:?}: analytic {analytic:.6e}, numeric {numeric:.6e} \
                 (|difference| {:.3e} > tolerance {tolerance:.3e})",
                (analytic - numeric).abs()
            ),
            Failure::Gradient(e) => write!(f, "{e}"),
            Failure::F32Shape { f64_shape, f32_shape } => {
                write!(f, "the f32 output has shape {f32_shape:?}, the f64 output {f64_shape:?}")
            }
            Failure::F32Value { index, f64_value, f32_value, tolerance } => write!(
                f,
                "output element {index:?}: f64 {f64_value:.8e}, f32 {f32_value:.8e} \
                 (|difference| {:.3e} > tolerance {tolerance:.3e})",
                (f64_value - f32_value).abs()
            ),
            Failure::Layout { view, input, what, index, contiguous, strided } => {
                let what = match what {
                    Compared::Output => "output".to_string(),
                    Compared::Gradient(k) => format!("gradient of input {k}"),
                };
                write!(
                    f,
                    "input {input} as a {view} view: {what}, element {index:?}: {strided:.6e} from the view, \
                     {contiguous:.6e} from its contiguous copy"
                )
            }
            Failure::Accepted { shapes, output } => {
                write!(f, "inputs of shapes {shapes:?} were accepted, giving shape {output:?}")
            }
            Failure::VagueError { shapes, message } => {
                write!(f, "inputs of shapes {shapes:?} gave an error that names neither the op nor a shape: {message}")
            }
            Failure::Convention { rule, input, index, at_kink, nudged } => write!(
                f,
                "rule \"{rule}\": input {input}, element {index:?}: gradient {at_kink:.6e} at the kink, \
                 {nudged:.6e} at the nudged case"
            ),
        }
    }
}

impl fmt::Display for SuiteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "catalogue: `{}` fails {} (after {} passing cases)", self.op, self.check, self.passed)?;
        writeln!(f, "  {}", self.failure)?;
        writeln!(f, "  minimal failing case:")?;
        for line in self.case.lines() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SuiteFailure {}
