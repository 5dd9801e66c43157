//! Shared helpers of the autograd test suites: proptest configuration, a fixed random
//! weighting that turns any op output into a scalar, gradcheck assertions, finite
//! differences written by hand, and a naive (index-loop) LeNet-5 stage as a reference.
//!
//! Every suite uses a subset of these helpers.
#![allow(dead_code)]

use autograd::{GradcheckConfig, GradcheckReport, Tape, Var, gradcheck};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Tensor, Window2d};

/// The result of a property check.
pub type TestResult = Result<(), TestCaseError>;

/// `cases` cases, no regression files written to the source tree.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

/// A tensor of `shape` with elements uniform in [−1, 1), drawn from `seed`.
pub fn random_tensor(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut rng).unwrap()
}

/// `Σᵢ wᵢ·yᵢ` for a fixed random `w` drawn from `seed` (the same on every call, so the
/// function stays the same across the finite-difference evaluations): `y` reshaped to
/// `[1, numel]` times a constant `[numel, 1]` vector. A scalar sensitive to every element.
pub fn weighted_sum<'t>(y: Var<'t, f64>, seed: u64) -> autograd::Result<Var<'t, f64>> {
    let n: usize = y.shape().iter().product();
    let w = y.tape().constant(random_tensor(&[n, 1], seed));
    y.reshape(&[1, n])?.matmul(w)
}

/// Runs `gradcheck` with the default (PyTorch) tolerances and fails the case unless it
/// passes with every element of every input compared.
pub fn check_gradients<F>(f: F, inputs: &[Tensor<f64>]) -> Result<GradcheckReport, TestCaseError>
where
    F: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> autograd::Result<Var<'t, f64>>,
{
    let report = gradcheck(f, inputs, &GradcheckConfig::default())
        .map_err(|e| TestCaseError::fail(format!("gradcheck failed: {e} ({e:?})")))?;
    prop_assert_eq!(report.inputs.len(), inputs.len());
    for (i, (r, x)) in report.inputs.iter().zip(inputs).enumerate() {
        prop_assert_eq!(r.checked, x.numel(), "input {} was not fully checked", i);
    }
    Ok(report)
}

/// Elementwise `|a − b| ≤ tol·(1 + |b|)`, with a message naming the first bad element.
pub fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ: {actual:?} vs {expected:?}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol * (1.0 + e.abs()), "element {i}: {a} vs expected {e}\n{actual:?}\n{expected:?}");
    }
}

/// Like [`assert_close`], for use inside a property (fails the case instead of panicking).
pub fn prop_close(actual: &[f64], expected: &[f64], tol: f64) -> TestResult {
    prop_assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        prop_assert!((a - e).abs() <= tol * (1.0 + e.abs()), "element {}: {} vs expected {}", i, a, e);
    }
    Ok(())
}

/// The vector-Jacobian product `Jᵀ·seed` of a plain tensor function `f` at `x`, by central
/// differences, written without the tape. Output entries that are not finite on either
/// side (the −∞ that pooling reads in the padding) are constants and contribute nothing.
pub fn finite_difference_vjp(f: impl Fn(&Tensor<f64>) -> Tensor<f64>, x: &Tensor<f64>, seed: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    let base = x.to_vec();
    (0..base.len())
        .map(|i| {
            let mut plus = base.clone();
            let mut minus = base.clone();
            plus[i] += h;
            minus[i] -= h;
            let fp = f(&Tensor::from_vec(x.shape(), plus).unwrap()).to_vec();
            let fm = f(&Tensor::from_vec(x.shape(), minus).unwrap()).to_vec();
            assert_eq!(fp.len(), seed.len(), "seed length must match the output");
            fp.iter()
                .zip(&fm)
                .zip(seed)
                .map(|((p, m), s)| if p.is_finite() && m.is_finite() { s * (p - m) / (2.0 * h) } else { 0.0 })
                .sum()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// A naive LeNet-5 stage (conv → ReLU → max-pool → fully connected → softmax CE + L2), as
// index loops over row-major Vecs, never calling the tensor crate's kernels.

/// One convolution + pooling + classifier stage and its inputs.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Input `[N, C, H, W]`.
    pub x: Tensor<f64>,
    /// Convolution weight, PyTorch layout `[F, C, kh, kw]`.
    pub w1: Tensor<f64>,
    /// Convolution bias `[F]`.
    pub b1: Tensor<f64>,
    /// Classifier weight `[F·ph·pw, K]`.
    pub w2: Tensor<f64>,
    /// One label per image, below K.
    pub labels: Vec<usize>,
    /// L2 strength λ of `0.5·λ·(‖W1‖² + ‖W2‖²)`.
    pub lambda: f64,
    /// Convolution geometry.
    pub conv: Window2d,
    /// Pooling geometry.
    pub pool: Window2d,
    /// Pool with the fused `max_pool2d` instead of `pool_windows` → `max_rows`.
    pub fused_pool: bool,
}

/// Output size of a window along one axis.
pub fn out_size(size: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (size + 2 * padding - kernel) / stride + 1
}

/// The input coordinate of output position `o`, tap `k`, or None in the padding.
fn tap(o: usize, k: usize, stride: usize, padding: usize, size: usize) -> Option<usize> {
    let pos = (o * stride + k) as isize - padding as isize;
    (pos >= 0 && (pos as usize) < size).then_some(pos as usize)
}

/// What the naive forward pass finds: the loss and how far the point is from a kink.
#[derive(Debug, Clone)]
pub struct NaiveForward {
    /// The loss.
    pub loss: f64,
    /// The smallest |pre-activation| of the ReLU.
    pub relu_margin: f64,
    /// The smallest gap between the largest and second-largest value of a pooling window
    /// whose maximum is positive (windows of ReLU zeros are flat, not kinks).
    pub pool_margin: f64,
    /// Conv output size `(oh, ow)` and pool output size `(ph, pw)`.
    pub conv_out: (usize, usize),
    /// Pool output size.
    pub pool_out: (usize, usize),
}

impl Stage {
    /// The stage's loss by index loops, with the distances to the kinks.
    pub fn naive_forward(&self) -> NaiveForward {
        let xs = self.x.shape();
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
        let f = self.w1.shape()[0];
        let [kh, kw] = self.conv.kernel;
        let (x, w1, b1, w2) = (self.x.to_vec(), self.w1.to_vec(), self.b1.to_vec(), self.w2.to_vec());
        let oh = out_size(h, kh, self.conv.stride[0], self.conv.padding[0]);
        let ow = out_size(w, kw, self.conv.stride[1], self.conv.padding[1]);
        // conv + bias + ReLU, [N, F, oh, ow]
        let mut act = vec![0.0; n * f * oh * ow];
        let mut relu_margin = f64::INFINITY;
        for ni in 0..n {
            for fi in 0..f {
                for i in 0..oh {
                    for j in 0..ow {
                        let mut z = b1[fi];
                        for ci in 0..c {
                            for a in 0..kh {
                                for b in 0..kw {
                                    let (Some(r), Some(s)) = (
                                        tap(i, a, self.conv.stride[0], self.conv.padding[0], h),
                                        tap(j, b, self.conv.stride[1], self.conv.padding[1], w),
                                    ) else {
                                        continue;
                                    };
                                    z += x[((ni * c + ci) * h + r) * w + s] * w1[((fi * c + ci) * kh + a) * kw + b];
                                }
                            }
                        }
                        relu_margin = relu_margin.min(z.abs());
                        act[((ni * f + fi) * oh + i) * ow + j] = z.max(0.0);
                    }
                }
            }
        }
        // max-pool, [N, F, ph, pw]
        let [pkh, pkw] = self.pool.kernel;
        let ph = out_size(oh, pkh, self.pool.stride[0], self.pool.padding[0]);
        let pw = out_size(ow, pkw, self.pool.stride[1], self.pool.padding[1]);
        let mut pooled = vec![0.0; n * f * ph * pw];
        let mut pool_margin = f64::INFINITY;
        for plane in 0..n * f {
            for i in 0..ph {
                for j in 0..pw {
                    let mut values = Vec::new();
                    for a in 0..pkh {
                        for b in 0..pkw {
                            if let (Some(r), Some(s)) = (
                                tap(i, a, self.pool.stride[0], self.pool.padding[0], oh),
                                tap(j, b, self.pool.stride[1], self.pool.padding[1], ow),
                            ) {
                                values.push(act[(plane * oh + r) * ow + s]);
                            }
                        }
                    }
                    values.sort_by(|p, q| q.total_cmp(p));
                    if values[0] > 0.0 && values.len() > 1 {
                        pool_margin = pool_margin.min(values[0] - values[1]);
                    }
                    pooled[(plane * ph + i) * pw + j] = values[0];
                }
            }
        }
        // fully connected + mean softmax cross-entropy + L2
        let d = f * ph * pw;
        let k = self.w2.shape()[1];
        let mut data_loss = 0.0;
        for ni in 0..n {
            let logits: Vec<f64> =
                (0..k).map(|kk| (0..d).map(|di| pooled[ni * d + di] * w2[di * k + kk]).sum()).collect();
            let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + logits.iter().map(|z| (z - m).exp()).sum::<f64>().ln();
            data_loss += lse - logits[self.labels[ni]];
        }
        let l2: f64 = w1.iter().chain(&w2).map(|v| v * v).sum();
        NaiveForward {
            loss: data_loss / n as f64 + 0.5 * self.lambda * l2,
            relu_margin,
            pool_margin,
            conv_out: (oh, ow),
            pool_out: (ph, pw),
        }
    }

    /// The stage on the tape, as a LeNet-5 layer pair would record it, from the inputs
    /// `[x, W1, b1, W2]`.
    pub fn forward<'t>(&self, v: &[Var<'t, f64>]) -> autograd::Result<Var<'t, f64>> {
        let (x, w1, b1, w2) = (v[0], v[1], v[2], v[3]);
        let xs = x.shape();
        let ws = w1.shape();
        let (n, f) = (xs[0], ws[0]);
        let taps = ws[1] * ws[2] * ws[3];
        let (oh, ow) = (
            out_size(xs[2], self.conv.kernel[0], self.conv.stride[0], self.conv.padding[0]),
            out_size(xs[3], self.conv.kernel[1], self.conv.stride[1], self.conv.padding[1]),
        );
        let (ph, pw) = (
            out_size(oh, self.pool.kernel[0], self.pool.stride[0], self.pool.padding[0]),
            out_size(ow, self.pool.kernel[1], self.pool.stride[1], self.pool.padding[1]),
        );
        let w_mat = w1.reshape(&[f, taps])?.t()?; // [C·kh·kw, F]
        let z = x.im2col(&self.conv)?.matmul(w_mat)?.add_bias(b1)?.relu()?; // [N·oh·ow, F]
        let y = z.reshape(&[n, oh, ow, f])?.permute(&[0, 3, 1, 2])?; // [N, F, oh, ow]
        let p = if self.fused_pool {
            y.max_pool2d(&self.pool)?.flatten()?
        } else {
            y.pool_windows(&self.pool)?.max_rows()?.reshape(&[n, f, ph, pw])?.flatten()?
        };
        let data = p.matmul(w2)?.softmax_cross_entropy(&self.labels)?;
        let reg = w1.sum_squares()?.add(w2.sum_squares()?)?.scale(0.5 * self.lambda)?;
        data.add(reg)
    }

    /// The inputs in the order [`Stage::forward`] takes them.
    pub fn inputs(&self) -> Vec<Tensor<f64>> {
        vec![self.x.clone(), self.w1.clone(), self.b1.clone(), self.w2.clone()]
    }
}

/// Pins a closure to the higher-ranked signature `gradcheck` takes. A closure stored in a
/// `let` (rather than written in the call) is otherwise inferred with one fixed lifetime
/// and rejected ("lifetime may not live long enough").
pub fn scalar_fn<F>(f: F) -> F
where
    F: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> autograd::Result<Var<'t, f64>>,
{
    f
}
