//! Inference through a chain folds batch norm in evaluation (and a following ReLU) into the
//! convolution before it: the chain's output against naive loops (direct convolution, the
//! normalisation formula with the running statistics, `max(x, 0)`), in f64 and in f32 on
//! random geometries whose channel counts reach the direct and Winograd kernels; the
//! shape error of a batch norm that does not fit still names it.

use crate::common;

use autograd::Tape;
use autograd::strategies::{GeometryBounds, conv_geometry};
use common::*;
use layers::{BatchNorm, Conv2d, Conv2dConfig, Init, LayerError, Module, ReLU, Sequential};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor, Window2d};

fn bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=3, channels: 1..=20, size: 1..=9, kernel: 1..=4, stride: 1..=3, padding: 0..=2 }
}

pub(crate) fn conv<T: Element>(c: usize, f: usize, window: Window2d, bias: bool, seed: u64) -> Conv2d<T> {
    let config = Conv2dConfig { in_channels: c, out_channels: f, window, bias, init: Init::default() };
    let mut conv = Conv2d::new(config, &mut StdRng::seed_from_u64(seed)).unwrap();
    conv.weight.value = random_tensor(conv.weight.shape(), seed + 1);
    if let Some(b) = conv.bias.as_mut() {
        b.value = random_tensor(&[f], seed + 2);
    }
    conv
}

/// A chain starting with a convolution of `c → f` channels (with bias for an even seed),
/// then a batch norm if `bn` and a ReLU if `relu`.
pub(crate) fn conv_block<T: Element>(
    c: usize,
    f: usize,
    window: Window2d,
    [bn, relu]: [bool; 2],
    seed: u64,
) -> Sequential<T> {
    let mut net = Sequential::<T>::new().with(conv::<T>(c, f, window, seed.is_multiple_of(2), seed));
    if bn {
        net.push(batch_norm::<T>(f, seed + 10));
    }
    if relu {
        net.push(ReLU);
    }
    net
}

/// A batch norm in evaluation whose running statistics are a random batch's (momentum 1),
/// with random `γ`, `β`.
pub(crate) fn batch_norm<T: Element>(f: usize, seed: u64) -> BatchNorm<T> {
    let mut bn = BatchNorm::new_2d(f).unwrap().with_momentum(1.0).unwrap();
    bn.weight.value = random_tensor(&[f], seed).map(|v| T::from_f64_lossy(1.0) + v * T::from_f64_lossy(0.5));
    bn.bias.value = random_tensor(&[f], seed + 1);
    let batch = random_tensor::<T>(&[4, f, 2, 2], seed + 2).map(|v| v * T::from_f64_lossy(2.0));
    let tape = Tape::new();
    bn.forward(tape.constant(batch)).unwrap();
    bn.set_training(false);
    bn
}

/// `act(γ·(z − μ_r)/√(σ²_r + ε) + β)` per channel of `z: [N, F, oh, ow]` (`plane = oh·ow`),
/// in f64.
pub(crate) fn normalise_naive<T: Element>(
    z: &[f64],
    f: usize,
    plane: usize,
    bn: &BatchNorm<T>,
    relu: bool,
) -> Vec<f64> {
    let (mean, var) = (to_f64(&bn.running_mean()), to_f64(&bn.running_var()));
    let (gamma, beta) = (to_f64(&bn.weight.value), to_f64(&bn.bias.value));
    z.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / plane) % f;
            let y = gamma[ch] * (v - mean[ch]) / (var[ch] + 1e-5).sqrt() + beta[ch];
            if relu { y.max(0.0) } else { y }
        })
        .collect()
}

/// The chain `conv, batchnorm[, relu]` through `predict` against the naive loops.
fn check<T: Element>(
    input: &[usize],
    f: usize,
    window: Window2d,
    bias: bool,
    relu: bool,
    seed: u64,
    tol: f64,
) -> TestResult {
    let conv = conv::<T>(input[1], f, window, bias, seed);
    let bn = batch_norm::<T>(f, seed + 10);
    let x = random_tensor::<T>(input, seed + 20);
    let b = conv.bias.as_ref().map(|b| to_f64(&b.value));
    let (shape, z) =
        conv2d_naive(&to_f64(&x), input, &to_f64(&conv.weight.value), conv.weight.shape(), b.as_deref(), &window);
    let want = normalise_naive(&z, f, shape[2] * shape[3], &bn, relu);
    let mut net = Sequential::<T>::new().with(conv).with(bn);
    if relu {
        net.push(ReLU);
    }
    let y = net.predict(&x).unwrap();
    prop_assert_eq!(y.shape(), &shape[..]);
    prop_close(&to_f64(&y), &want, tol, tol)
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn f64_conv_batch_norm_relu_chain_matches_naive_loops(
        case in conv_geometry(bounds()), bias in any::<bool>(), relu in any::<bool>(), seed in 0u64..1000
    ) {
        check::<f64>(&case.input, case.out_channels, case.window, bias, relu, seed, 1e-10)?;
    }

    /// f32 on this process's kernel path (the direct and Winograd kernels where the CPU
    /// has them; CI runs it with each `TENSOR_KERNELS`).
    #[test]
    fn f32_conv_batch_norm_relu_chain_matches_naive_loops(
        case in conv_geometry(bounds()), bias in any::<bool>(), relu in any::<bool>(), seed in 0u64..1000
    ) {
        check::<f32>(&case.input, case.out_channels, case.window, bias, relu, seed, 2e-4)?;
    }
}

/// 3×3 stride-1 convolutions of 16 channels and more take the Winograd kernels in f32.
#[test]
fn f32_winograd_geometry_folds_within_tolerance() {
    let window = Window2d::square(3, 1, 1);
    for (seed, relu) in [(1, true), (2, false)] {
        check::<f32>(&[2, 16, 8, 8], 24, window, seed == 1, relu, seed, 2e-4).unwrap();
    }
}

/// A batch norm of the wrong channel count after a convolution is not folded; its own
/// shape error names it.
#[test]
fn a_batch_norm_that_does_not_fit_reports_its_own_shape_error() {
    let net = Sequential::<f32>::new().with(conv(2, 3, Window2d::square(3, 1, 1), true, 1)).with(batch_norm(4, 2));
    let err = net.predict(&Tensor::zeros(&[1, 2, 5, 5]).unwrap()).unwrap_err();
    match err {
        LayerError::InputShape { module, .. } => assert!(module.starts_with("layer 1 (BatchNorm2d"), "{module}"),
        other => panic!("expected a shape error, got {other}"),
    }
}

/// Inference keeps each convolution's folded weights, and their packings or Winograd
/// transforms, between calls: a second prediction is the first's bits, and after the
/// weights, `γ` or the running statistics change in place, predictions follow them (against
/// the recorded ops, nothing folded). Sides 6, 12 and 20 reach the direct kernels and both
/// Winograd tilings.
#[test]
fn folded_predictions_follow_weights_and_statistics_changed_in_place() {
    let w = Window2d::square(3, 1, 1);
    for side in [6, 12, 20] {
        let mut net = Sequential::<f32>::new()
            .with(conv(3, 16, w, true, 1))
            .with(batch_norm(16, 11))
            .with(ReLU)
            .with(conv(16, 16, w, false, 2))
            .with(batch_norm(16, 12))
            .with(ReLU);
        let x = random_tensor::<f32>(&[2, 3, side, side], 4);
        let check = |net: &Sequential<f32>| {
            let y = net.predict(&x).unwrap();
            let want = net.forward(Tape::new().constant(x.clone())).unwrap().value();
            prop_close(&to_f64(&y), &to_f64(&want), 2e-4, 2e-4).unwrap();
            assert_eq!(net.predict(&x).unwrap().to_vec(), y.to_vec());
            y.to_vec()
        };
        let first = check(&net);
        for (_, p) in net.named_parameters_mut() {
            p.value.as_mut_slice().iter_mut().for_each(|v| *v = -*v * 0.5);
        }
        let second = check(&net);
        assert_ne!(first, second);
        net.set_training(true);
        net.forward(Tape::new().constant(random_tensor(&[3, 3, side, side], 5))).unwrap();
        net.set_training(false);
        assert_ne!(check(&net), second);
    }
}
