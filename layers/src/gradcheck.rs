//! Gradient checking of a whole module: the tape's gradient of every parameter and of the
//! input against central differences in f64, in one call.
//!
//! The module's output `y` is reduced to the scalar `s = Σᵢ wᵢ·yᵢ` for fixed weights `w`
//! uniform in [−1, 1] (drawn from the seed), so that every output element takes part.
//! Each checked element `θ` of a parameter (or of the input) is compared with
//! `(s(θ + h) − s(θ − h)) / 2h`, written in place through
//! [`Module::named_parameters_mut`] and restored. Large tensors are sampled:
//! `max_elements` elements each, drawn from the seed.
//!
//! Like [`autograd::gradcheck()`], the check assumes the module is differentiable at the
//! point: pre-activations of a ReLU and maxima of a pooling window within `h` of a kink or
//! a tie make the two sides disagree by design. With random inputs and parameters that
//! happens with probability of order `h` per element.

use rand::SeedableRng;
use rand::rngs::StdRng;
use thiserror::Error;

use autograd::{AutogradError, ElementMismatch, GradcheckConfig, Tape, Var, check_tensor};
use tensor::Tensor;

use crate::error::LayerError;
use crate::module::Module;

/// The errors found for one tensor (the input or a parameter) when every checked element
/// passed.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorCheck {
    /// `input`, or the parameter's dotted name.
    pub name: String,
    /// The tensor's shape.
    pub shape: Vec<usize>,
    /// How many elements were compared.
    pub checked: usize,
    /// The largest `|analytic − numeric|`.
    pub max_abs_error: f64,
    /// The largest `|analytic − numeric| / max(|numeric|, atol)`.
    pub max_rel_error: f64,
}

/// What [`gradcheck_module`] found: one entry for the input, then one per parameter in the
/// order of [`Module::named_parameters`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleReport {
    /// The input's check, then each parameter's.
    pub tensors: Vec<TensorCheck>,
}

/// Why a module's gradient check failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModuleGradcheckError {
    /// The forward pass failed (a wrong input shape, ...).
    #[error("module gradcheck: the forward pass failed: {0}")]
    Forward(#[from] LayerError),
    /// Differentiating failed.
    #[error("module gradcheck: backward failed: {0}")]
    Backward(#[from] AutogradError),
    /// An element's analytic gradient differs from the numeric one beyond tolerance.
    #[error(
        "module gradcheck: {name} {shape:?}, element {index:?}: analytic {analytic:.6e}, numeric {numeric:.6e} \
         (|difference| {:.3e} > atol + rtol·|numeric| = {tolerance:.3e})",
        (analytic - numeric).abs()
    )]
    Mismatch {
        /// `input`, or the parameter's dotted name.
        name: String,
        /// The tensor's shape.
        shape: Vec<usize>,
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

/// Checks the gradients of every parameter of `module` and of its input at `input` against
/// central differences, with `config`'s step and tolerances (PyTorch's by default); at most
/// `config.max_elements` elements per tensor, drawn from `config.seed`. The module's
/// parameters are perturbed in place and restored.
///
/// ```
/// use autograd::GradcheckConfig;
/// use layers::{Linear, Module, ReLU, Sequential, gradcheck::gradcheck_module};
/// use rand::SeedableRng;
/// use tensor::Tensor;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let mut net = Sequential::<f64>::new().with(Linear::new(4, 3, &mut rng)?).with(ReLU);
/// let x = Tensor::rand_uniform(&[2, 4], -1.0, 1.0, &mut rng)?;
/// let report = gradcheck_module(&mut net, &x, &GradcheckConfig::default())?;
/// let names: Vec<_> = report.tensors.iter().map(|t| t.name.as_str()).collect();
/// assert_eq!(names, ["input", "0.weight", "0.bias"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gradcheck_module<M: Module<f64> + ?Sized>(
    module: &mut M,
    input: &Tensor<f64>,
    config: &GradcheckConfig,
) -> Result<ModuleReport, ModuleGradcheckError> {
    let weights = output_weights(module, input, config.seed)?;
    let analytic = analytic_gradients(module, input, &weights)?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut tensors = Vec::with_capacity(analytic.len());
    let mut work = input.to_contiguous();
    for (k, (name, grad)) in analytic.iter().enumerate() {
        let shape = grad.shape().to_vec();
        let value_at = |flat: usize, delta: f64| -> Result<f64, ModuleGradcheckError> {
            let previous = if k == 0 {
                nudge(&mut work, flat, delta)
            } else {
                nudge(&mut module.named_parameters_mut()[k - 1].1.value, flat, delta)
            };
            let s = weighted_output(module, &work, &weights);
            if k == 0 {
                work.as_mut_slice()[flat] = previous;
            } else {
                module.named_parameters_mut()[k - 1].1.value.as_mut_slice()[flat] = previous;
            }
            s
        };
        let mismatch = |m: ElementMismatch| ModuleGradcheckError::Mismatch {
            name: name.clone(),
            shape: shape.clone(),
            index: m.index,
            analytic: m.analytic,
            numeric: m.numeric,
            tolerance: m.tolerance,
        };
        let report = check_tensor(grad, config, &mut rng, value_at, mismatch)?;
        tensors.push(TensorCheck {
            name: name.clone(),
            shape: shape.clone(),
            checked: report.checked,
            max_abs_error: report.max_abs_error,
            max_rel_error: report.max_rel_error,
        });
    }
    Ok(ModuleReport { tensors })
}

/// Adds `delta` to element `flat` (row-major) of `x`, returning its previous value.
fn nudge(x: &mut Tensor<f64>, flat: usize, delta: f64) -> f64 {
    let slot = &mut x.as_mut_slice()[flat];
    let previous = *slot;
    *slot = previous + delta;
    previous
}

/// The fixed weights of the output's elements, shaped like the output.
fn output_weights<M: Module<f64> + ?Sized>(
    module: &M,
    input: &Tensor<f64>,
    seed: u64,
) -> Result<Tensor<f64>, ModuleGradcheckError> {
    let tape = Tape::no_grad();
    let shape = module.forward(tape.constant(input.clone()))?.shape();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_0e17);
    Ok(Tensor::rand_uniform(&shape, -1.0, 1.0, &mut rng).map_err(AutogradError::from)?)
}

/// `Σᵢ wᵢ·yᵢ` for the module's output `y` (on the tape of `y`).
fn weigh<'t>(y: Var<'t, f64>, weights: &Tensor<f64>) -> Result<Var<'t, f64>, AutogradError> {
    let n = weights.numel();
    let w = y.tape().constant(weights.reshape(&[n, 1])?);
    y.reshape(&[1, n])?.matmul(w)
}

/// `Σᵢ wᵢ·yᵢ` evaluated without recording.
fn weighted_output<M: Module<f64> + ?Sized>(
    module: &M,
    input: &Tensor<f64>,
    weights: &Tensor<f64>,
) -> Result<f64, ModuleGradcheckError> {
    let tape = Tape::no_grad();
    let s = weigh(module.forward(tape.constant(input.clone()))?, weights)?;
    Ok(s.value().item().map_err(AutogradError::from)?)
}

/// The tape's gradients: the input's (named `input`), then each parameter's (zeros for a
/// parameter the output does not depend on).
fn analytic_gradients<M: Module<f64> + ?Sized>(
    module: &M,
    input: &Tensor<f64>,
    weights: &Tensor<f64>,
) -> Result<Vec<(String, Tensor<f64>)>, ModuleGradcheckError> {
    let tape = Tape::new();
    let x = tape.leaf(input.clone());
    let s = weigh(module.forward(x)?, weights)?;
    let grads = tape.backward(s)?;
    let zeros = |shape: &[usize]| Tensor::zeros(shape).map_err(AutogradError::from);
    let mut out = vec![("input".to_string(), grads.get(x).cloned().map_or_else(|| zeros(input.shape()), Ok)?)];
    for (name, p) in module.named_parameters() {
        out.push((name, grads.param(p).cloned().map_or_else(|| zeros(p.shape()), Ok)?));
    }
    Ok(out)
}
