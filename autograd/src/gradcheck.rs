//! Gradient checking: the tape's gradients against central finite differences in f64.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use tensor::Tensor;

use crate::error::AutogradError;
use crate::tape::{Tape, Var};

/// Step and tolerances of [`gradcheck()`]. The defaults are PyTorch's
/// (`torch.autograd.gradcheck`: eps 1e-6, atol 1e-5, rtol 1e-3), meant for f64.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckConfig {
    /// The finite-difference step `h` in `(f(x + h) − f(x − h)) / 2h`.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance, against the numeric value: `|a − n| ≤ atol + rtol·|n|`.
    pub rtol: f64,
    /// Check at most this many elements per input, drawn at random (all when `None`).
    pub max_elements: Option<usize>,
    /// Seed of the draw of elements when `max_elements` applies.
    pub seed: u64,
}

impl Default for GradcheckConfig {
    fn default() -> Self {
        GradcheckConfig { eps: 1e-6, atol: 1e-5, rtol: 1e-3, max_elements: None, seed: 0 }
    }
}

/// The largest errors found, per input, when every checked element passed.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// One entry per input, in order.
    pub inputs: Vec<InputReport>,
}

/// The errors found for one input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputReport {
    /// How many elements were compared.
    pub checked: usize,
    /// The largest `|analytic − numeric|`.
    pub max_abs_error: f64,
    /// The largest `|analytic − numeric| / max(|numeric|, atol)`.
    pub max_rel_error: f64,
}

/// Why a gradient check failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GradcheckError {
    /// The function under test returned an error.
    #[error("gradcheck: the function failed: {0}")]
    Function(#[from] AutogradError),
    /// The function's output is not a scalar.
    #[error("gradcheck: the function's output has shape {shape:?}; it must have one element")]
    NotScalar {
        /// The output's shape.
        shape: Vec<usize>,
    },
    /// An element's analytic gradient differs from the numeric one beyond tolerance.
    #[error(
        "gradcheck: input {input}, element {index:?}: analytic {analytic:e}, numeric {numeric:e} (|difference| {:e} > atol + rtol·|numeric| = {:e})",
        (analytic - numeric).abs(), tolerance
    )]
    Mismatch {
        /// Which input (position in the slice given to `gradcheck`).
        input: usize,
        /// The element's multi-index.
        index: Vec<usize>,
        /// The tape's gradient.
        analytic: f64,
        /// The central difference.
        numeric: f64,
        /// The tolerance it exceeded.
        tolerance: f64,
    },
}

/// Checks the gradient of the scalar function `f` at `inputs`: runs `f` on a recording
/// tape with every input as a leaf, takes `backward`, and compares each gradient element
/// with `(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h` evaluated on no-grad tapes. An input the output
/// does not depend on must have a numeric gradient of zero.
///
/// Keep inputs away from kinks and ties (ReLU at 0, equal maxima in a pooling window):
/// there the function is not differentiable and the two sides disagree by design.
///
/// ```
/// use autograd::{gradcheck, GradcheckConfig};
/// use tensor::Tensor;
/// let x = Tensor::from_vec(&[3], vec![0.5, -1.5, 2.0])?;
/// let report = gradcheck(|_tape, v| v[0].sum_squares(), &[x], &GradcheckConfig::default())?;
/// assert!(report.inputs[0].max_rel_error < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gradcheck<F>(f: F, inputs: &[Tensor<f64>], config: &GradcheckConfig) -> Result<GradcheckReport, GradcheckError>
where
    F: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> crate::Result<Var<'t, f64>>,
{
    let analytic: Vec<Tensor<f64>> = {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
        let out = f(&tape, &vars)?;
        let shape = out.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(GradcheckError::NotScalar { shape });
        }
        let grads = match tape.backward(out) {
            Ok(g) => Some(g),
            Err(AutogradError::DoesNotRequireGrad) => None,
            Err(e) => return Err(e.into()),
        };
        vars.iter()
            .zip(inputs)
            .map(|(&v, x)| match grads.as_ref().and_then(|g| g.get(v)) {
                Some(g) => Ok(g.clone()),
                None => Tensor::zeros(x.shape()),
            })
            .collect::<Result<_, _>>()
            .map_err(AutogradError::from)?
    };

    let evaluate = |perturbed: &[Tensor<f64>]| -> Result<f64, GradcheckError> {
        let tape = Tape::no_grad();
        let vars: Vec<_> = perturbed.iter().map(|x| tape.constant(x.clone())).collect();
        let out = f(&tape, &vars)?;
        Ok(out.value().item().map_err(AutogradError::from)?)
    };

    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut work: Vec<Tensor<f64>> = inputs.iter().map(Tensor::to_contiguous).collect();
    let mut reports = Vec::with_capacity(inputs.len());
    for (input, grad) in analytic.iter().enumerate() {
        let value_at = |flat: usize, delta: f64| {
            let original = work[input].as_mut_slice()[flat];
            work[input].as_mut_slice()[flat] = original + delta;
            let value = evaluate(&work);
            work[input].as_mut_slice()[flat] = original;
            value
        };
        let mismatch = |m: ElementMismatch| GradcheckError::Mismatch {
            input,
            index: m.index,
            analytic: m.analytic,
            numeric: m.numeric,
            tolerance: m.tolerance,
        };
        reports.push(check_tensor(grad, config, &mut rng, value_at, mismatch)?);
    }
    Ok(GradcheckReport { inputs: reports })
}

/// An element whose analytic gradient and central difference differ beyond tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementMismatch {
    /// The element's multi-index.
    pub index: Vec<usize>,
    /// The analytic gradient.
    pub analytic: f64,
    /// The central difference.
    pub numeric: f64,
    /// `atol + rtol·|numeric|`, which `|analytic − numeric|` exceeded.
    pub tolerance: f64,
}

/// Compares `analytic`, the gradient of a scalar `s` with respect to one tensor `θ`, with
/// the central differences `(s(θ + h·eᵢ) − s(θ − h·eᵢ)) / 2h` (`h = config.eps`): every
/// element, or `config.max_elements` of them drawn from `rng`. `value_at(i, δ)` returns `s`
/// with the row-major element `i` of `θ` moved by `δ` (and puts it back), so `θ` can be
/// anything the caller can perturb in place: an input of [`gradcheck()`], a module's
/// parameter. A mismatch `|analytic − numeric| > atol + rtol·|numeric|` (or NaN) stops the
/// check with `mismatch(…)`; otherwise the largest errors are returned.
///
/// ```
/// use autograd::{check_tensor, GradcheckConfig};
/// use rand::SeedableRng;
/// use tensor::Tensor;
///
/// // s(θ) = Σ θᵢ³, so ∂s/∂θᵢ = 3θᵢ².
/// let mut theta = vec![0.5, -1.5, 2.0];
/// let analytic = Tensor::from_vec(&[3], theta.iter().map(|t| 3.0 * t * t).collect())?;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let value_at = |i: usize, delta: f64| -> Result<f64, String> {
///     theta[i] += delta;
///     let s = theta.iter().map(|t| t * t * t).sum();
///     theta[i] -= delta;
///     Ok(s)
/// };
/// let report = check_tensor(&analytic, &GradcheckConfig::default(), &mut rng, value_at, |m| format!("{m:?}"))?;
/// assert_eq!(report.checked, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_tensor<E, R: Rng + ?Sized>(
    analytic: &Tensor<f64>,
    config: &GradcheckConfig,
    rng: &mut R,
    mut value_at: impl FnMut(usize, f64) -> Result<f64, E>,
    mismatch: impl FnOnce(ElementMismatch) -> E,
) -> Result<InputReport, E> {
    let (analytic_shape, numel) = (analytic.shape(), analytic.numel());
    let elements: Vec<usize> = match config.max_elements {
        Some(k) if k < numel => rand::seq::index::sample(rng, numel, k).into_vec(),
        _ => (0..numel).collect(),
    };
    let grad = analytic.to_vec();
    let mut report = InputReport { checked: 0, max_abs_error: 0.0, max_rel_error: 0.0 };
    for flat in elements {
        let numeric = (value_at(flat, config.eps)? - value_at(flat, -config.eps)?) / (2.0 * config.eps);
        let analytic = grad[flat];
        let diff = (analytic - numeric).abs();
        let tolerance = config.atol + config.rtol * numeric.abs();
        if diff > tolerance || diff.is_nan() {
            let index = unravel(flat, analytic_shape);
            return Err(mismatch(ElementMismatch { index, analytic, numeric, tolerance }));
        }
        report.checked += 1;
        report.max_abs_error = report.max_abs_error.max(diff);
        report.max_rel_error = report.max_rel_error.max(diff / numeric.abs().max(config.atol));
    }
    Ok(report)
}

/// The multi-index of a row-major flat index.
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in index.iter_mut().zip(shape).rev() {
        *i = flat % d;
        flat /= d;
    }
    index
}
