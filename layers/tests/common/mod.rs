//! Shared helpers of the `layers` test suites: proptest configuration, random tensors,
//! naive (index-loop) references of each module's forward pass, a fixed random weighting
//! that turns a module's output into a scalar, finite differences of a module's parameter
//! gradients written by hand, closeness assertions and scratch folders.
//!
//! Every suite uses a subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use autograd::{AutogradError, Tape, Var};
use layers::{LayerError, Module};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor, Window2d};

/// The result of a property check.
pub type TestResult = Result<(), TestCaseError>;

/// `cases` cases, no regression files written to the source tree.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

/// A tensor of `shape` with elements uniform in [−1, 1), drawn from `seed`.
pub fn random_tensor<T: Element>(shape: &[usize], seed: u64) -> Tensor<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut rng).unwrap()
}

/// The elements of a tensor widened to f64, in logical order.
pub fn to_f64<T: Element>(t: &Tensor<T>) -> Vec<f64> {
    t.iter().map(Element::to_f64_exact).collect()
}

/// A module's error as an autograd error, so that a module's forward pass can be used in a
/// `gradcheck` closure (the closure returns `autograd::Result`).
pub fn ag<T>(r: layers::Result<T>) -> autograd::Result<T> {
    r.map_err(|e| match e {
        LayerError::Autograd(e) => e,
        other => AutogradError::InvalidArgument { op: "module", reason: other.to_string() },
    })
}

/// `Σᵢ wᵢ·yᵢ` for a fixed random `w` drawn from `seed` (the same on every call, so the
/// function stays the same across finite-difference evaluations): `y` reshaped to
/// `[1, numel]` times a constant `[numel, 1]` vector. A scalar sensitive to every element.
pub fn weighted_sum<'t>(y: Var<'t, f64>, seed: u64) -> layers::Result<Var<'t, f64>> {
    let n: usize = y.shape().iter().product();
    let w = y.tape().constant(random_tensor(&[n, 1], seed));
    Ok(y.reshape(&[1, n])?.matmul(w)?)
}

/// Elementwise `|a − e| ≤ atol + rtol·|e|`, with a message naming the first bad element.
pub fn assert_close(actual: &[f64], expected: &[f64], rtol: f64, atol: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= atol + rtol * e.abs(),
            "element {i}: {a} vs expected {e} (|diff| {:e})\nactual   {actual:?}\nexpected {expected:?}",
            (a - e).abs()
        );
    }
}

/// Like [`assert_close`], inside a property (fails the case instead of panicking).
pub fn prop_close(actual: &[f64], expected: &[f64], rtol: f64, atol: f64) -> TestResult {
    prop_assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        prop_assert!((a - e).abs() <= atol + rtol * e.abs(), "element {}: {} vs expected {}", i, a, e);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Naive references: plain index loops over row-major Vecs, never calling the tensor
// crate's kernels (im2col, pool_windows, matmul).

/// The size of a window's output along one axis, `⌊(size + 2p − k)/s⌋ + 1` (PyTorch's).
pub fn out_size(size: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (size + 2 * padding - kernel) / stride + 1
}

/// The input coordinate read by output position `o`, kernel tap `k`, or None in the padding.
pub fn tap(o: usize, k: usize, stride: usize, padding: usize, size: usize) -> Option<usize> {
    let pos = (o * stride + k) as isize - padding as isize;
    (pos >= 0 && (pos as usize) < size).then_some(pos as usize)
}

/// A direct 2-D convolution (cross-correlation, as PyTorch): `x: [N, C, H, W]`,
/// `w: [F, C, kh, kw]`, optional `b: [F]`, zero padding. Returns the output shape
/// `[N, F, oh, ow]` and its elements in row-major order.
pub fn conv2d_naive(
    x: &[f64],
    xs: &[usize],
    w: &[f64],
    ws: &[usize],
    b: Option<&[f64]>,
    win: &Window2d,
) -> (Vec<usize>, Vec<f64>) {
    let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let (f, wc, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    assert_eq!(wc, c, "weight channels");
    let oh = out_size(h, kh, win.stride[0], win.padding[0]);
    let ow = out_size(wd, kw, win.stride[1], win.padding[1]);
    let mut out = Vec::with_capacity(n * f * oh * ow);
    for ni in 0..n {
        for fi in 0..f {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[fi]);
                    for ci in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let (Some(y), Some(xx)) = (
                                    tap(oy, i, win.stride[0], win.padding[0], h),
                                    tap(ox, j, win.stride[1], win.padding[1], wd),
                                ) else {
                                    continue; // zero padding
                                };
                                acc += x[((ni * c + ci) * h + y) * wd + xx] * w[((fi * c + ci) * kh + i) * kw + j];
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    (vec![n, f, oh, ow], out)
}

/// Direct max-pooling of `x: [N, C, H, W]`: positions in the padding count as −∞ (are
/// skipped). Returns `[N, C, oh, ow]` and the elements.
pub fn max_pool2d_naive(x: &[f64], xs: &[usize], win: &Window2d) -> (Vec<usize>, Vec<f64>) {
    let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
    let [kh, kw] = win.kernel;
    let oh = out_size(h, kh, win.stride[0], win.padding[0]);
    let ow = out_size(w, kw, win.stride[1], win.padding[1]);
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = f64::NEG_INFINITY;
                for i in 0..kh {
                    for j in 0..kw {
                        if let (Some(y), Some(xx)) =
                            (tap(oy, i, win.stride[0], win.padding[0], h), tap(ox, j, win.stride[1], win.padding[1], w))
                        {
                            best = best.max(x[(plane * h + y) * w + xx]);
                        }
                    }
                }
                out.push(best);
            }
        }
    }
    (vec![n, c, oh, ow], out)
}

/// `z = x·Wᵀ + b` for `x: [N, I]`, `W: [O, I]`, `b: [O]`, by loops.
pub fn linear_naive(x: &[f64], n: usize, w: &[f64], out: usize, inp: usize, b: Option<&[f64]>) -> Vec<f64> {
    let mut z = Vec::with_capacity(n * out);
    for r in 0..n {
        for o in 0..out {
            let mut acc = b.map_or(0.0, |b| b[o]);
            for i in 0..inp {
                acc += x[r * inp + i] * w[o * inp + i];
            }
            z.push(acc);
        }
    }
    z
}

/// The mean softmax cross-entropy of `logits: [N, K]` against labels, with label
/// smoothing `eps` (targets `(1−eps)·onehot + eps/K`), by loops with a stable log-sum-exp.
pub fn cross_entropy_naive(logits: &[f64], k: usize, labels: &[usize], eps: f64) -> f64 {
    let n = labels.len();
    let mut total = 0.0;
    for (r, &label) in labels.iter().enumerate() {
        let row = &logits[r * k..(r + 1) * k];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|z| (z - m).exp()).sum::<f64>().ln();
        for (j, z) in row.iter().enumerate() {
            let target = if j == label { 1.0 - eps + eps / k as f64 } else { eps / k as f64 };
            total += target * (lse - z);
        }
    }
    total / n as f64
}

// ---------------------------------------------------------------------------------------
// Parameter gradients by finite differences, written without gradcheck.

/// What [`check_param_gradients`] compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamCheck {
    /// Elements compared, over every parameter.
    pub checked: usize,
    /// The largest `|analytic − numeric|`.
    pub max_abs_error: f64,
}

/// The scalar `loss(module(input))` evaluated on a no-grad tape.
fn evaluate<M, L>(module: &M, input: &Tensor<f64>, loss: &L) -> Result<f64, String>
where
    M: Module<f64> + ?Sized,
    L: for<'t> Fn(Var<'t, f64>) -> layers::Result<Var<'t, f64>>,
{
    let tape = Tape::no_grad();
    let out = module.forward(tape.constant(input.clone())).map_err(|e| e.to_string())?;
    let l = loss(out).map_err(|e| e.to_string())?;
    l.value().item().map_err(|e| e.to_string())
}

/// Sets element `flat` of the `k`-th parameter (in `named_parameters` order) and returns
/// its previous value.
fn set_param<M: Module<f64> + ?Sized>(module: &mut M, k: usize, flat: usize, value: f64) -> f64 {
    let mut params = module.named_parameters_mut();
    let slice = params[k].1.value.as_mut_slice();
    std::mem::replace(&mut slice[flat], value)
}

/// Compares the gradient of `loss(module(input))` with respect to every parameter of
/// `module` (from a recording tape and `Gradients::param`) with central differences
/// `(f(p + h) − f(p − h))/2h`, `h = 1e-6`, computed by perturbing the parameter's value in
/// place and evaluating on no-grad tapes; tolerance `|a − n| ≤ 1e-5 + 1e-3·|n|` (PyTorch's
/// gradcheck). Every parameter must receive a gradient. Restores the parameters after.
pub fn check_param_gradients<M, L>(module: &mut M, input: &Tensor<f64>, loss: L) -> Result<ParamCheck, String>
where
    M: Module<f64> + ?Sized,
    L: for<'t> Fn(Var<'t, f64>) -> layers::Result<Var<'t, f64>>,
{
    const H: f64 = 1e-6;
    let analytic: Vec<(String, Vec<f64>)> = {
        let tape = Tape::new();
        let out = module.forward(tape.constant(input.clone())).map_err(|e| e.to_string())?;
        let l = loss(out).map_err(|e| e.to_string())?;
        let grads = tape.backward(l).map_err(|e| e.to_string())?;
        let mut v = Vec::new();
        for (name, p) in module.named_parameters() {
            let g = grads.param(p).ok_or_else(|| format!("parameter {name} received no gradient"))?;
            if g.shape() != p.shape() {
                return Err(format!("gradient of {name} has shape {:?}, parameter {:?}", g.shape(), p.shape()));
            }
            v.push((name, g.to_vec()));
        }
        v
    };
    let mut report = ParamCheck { checked: 0, max_abs_error: 0.0 };
    for (k, (name, grad)) in analytic.iter().enumerate() {
        for (flat, &a) in grad.iter().enumerate() {
            let original = set_param(module, k, flat, f64::NAN);
            set_param(module, k, flat, original + H);
            let plus = evaluate(module, input, &loss);
            set_param(module, k, flat, original - H);
            let minus = evaluate(module, input, &loss);
            set_param(module, k, flat, original);
            let numeric = (plus? - minus?) / (2.0 * H);
            let diff = (a - numeric).abs();
            if diff.is_nan() || diff > 1e-5 + 1e-3 * numeric.abs() {
                return Err(format!("{name}[{flat}]: analytic {a:e}, numeric {numeric:e}"));
            }
            report.checked += 1;
            report.max_abs_error = report.max_abs_error.max(diff);
        }
    }
    Ok(report)
}

/// [`check_param_gradients`] inside a property: fails the case on a mismatch and checks
/// that every parameter element was compared.
pub fn prop_check_params<M, L>(module: &mut M, input: &Tensor<f64>, loss: L) -> TestResult
where
    M: Module<f64> + ?Sized,
    L: for<'t> Fn(Var<'t, f64>) -> layers::Result<Var<'t, f64>>,
{
    let report = check_param_gradients(module, input, loss).map_err(TestCaseError::fail)?;
    prop_assert_eq!(report.checked, module.num_parameters());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Scratch folders.

/// A fresh, empty folder under Cargo's per-target temporary directory, removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A folder named after the test (`name` must be unique among the suites' tests).
    pub fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("layers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the entries in the folder, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
