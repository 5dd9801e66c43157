//! Inference through a chain takes a flatten and the fully connected layer after it into
//! the convolution before them: `conv[, batch norm][, ReLU][, conv[, ReLU]][, max or average
//! pool], flatten, linear[, ReLU], linear` through `predict` against the same layers on a
//! recording tape (each its own op, nothing fused), in f64 and in f32 on random geometries.
//! A layer that does not fit is left to itself, whose error names it; the face refuses a
//! recording tape.

use crate::common;
use crate::folded_batch_norm::{conv, conv_block};

use autograd::Tape;
use autograd::strategies::{GeometryBounds, conv_geometry};
use common::*;
use layers::{AvgPool2d, Flatten, LayerError, Linear, MaxPool2d, Module, ReLU, Sequential};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Dense, Element, Tensor, Window2d};

fn bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=3, channels: 1..=20, size: 3..=10, kernel: 1..=4, stride: 1..=2, padding: 0..=2 }
}

/// A linear layer of random weights.
fn linear<T: Element>(inputs: usize, outputs: usize, seed: u64) -> Linear<T> {
    let mut l = Linear::new(inputs, outputs, &mut StdRng::seed_from_u64(seed)).unwrap();
    l.weight.value = random_tensor(&[outputs, inputs], seed + 1);
    l.bias.as_mut().unwrap().value = random_tensor(&[outputs], seed + 2);
    l
}

/// The chain `kinds` asks for: `[bn, relu, second, dense relu]`, `pool` (none, 2×2 max,
/// 2×2 average) and `outputs` of the first linear layer.
#[allow(clippy::too_many_arguments)]
fn check<T: Element>(
    input: &[usize],
    f: usize,
    window: Window2d,
    [bn, relu, second, relu3]: [bool; 4],
    pool: u8,
    outputs: usize,
    seed: u64,
    tol: f64,
) -> TestResult {
    let mut net = conv_block::<T>(input[1], f, window, [bn, relu], seed);
    if second {
        net.push(conv::<T>(f, 12, Window2d::square(3, 2, 1), true, seed + 30));
        net.push(ReLU);
    }
    match pool {
        1 => net.push(MaxPool2d::new(2, 2).unwrap()),
        2 => net.push(AvgPool2d::new(2, 2).unwrap()),
        _ => {}
    }
    net.push(Flatten);
    let Ok(flat) = net.output_shape(input) else { return Err(TestCaseError::reject("the windows do not fit")) };
    net.push(linear::<T>(flat[1], outputs, seed + 50));
    if relu3 {
        net.push(ReLU);
    }
    net.push(linear::<T>(outputs, 3, seed + 60));
    let x = random_tensor::<T>(input, seed + 20);
    net.set_training(false);
    let got = net.predict(&x).unwrap();
    let tape = Tape::new();
    let want = net.forward(tape.constant(x.clone())).unwrap().value();
    prop_assert_eq!(got.shape(), want.shape());
    prop_close(&to_f64(&got), &to_f64(&want), tol, tol)
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn f64_dense_chains_match_the_recorded_ops(
        case in conv_geometry(bounds()), kinds in any::<[bool; 4]>(), pool in 0u8..3, outputs in 1usize..=24,
        seed in 0u64..1000,
    ) {
        check::<f64>(&case.input, case.out_channels, case.window, kinds, pool, outputs, seed, 1e-10)?;
    }

    /// f32 on this process's kernel path (CI runs it with each `TENSOR_KERNELS`).
    #[test]
    fn f32_dense_chains_match_the_recorded_ops(
        case in conv_geometry(bounds()), kinds in any::<[bool; 4]>(), pool in 0u8..3, outputs in 1usize..=24,
        seed in 0u64..1000,
    ) {
        check::<f32>(&case.input, case.out_channels, case.window, kinds, pool, outputs, seed, 2e-4)?;
    }
}

/// The grid's stride-2 network, 1 → 16 → 32 channels 3×3 of stride 2 with ReLUs, flatten,
/// linear(10), on a batch of several groups of images.
#[test]
fn the_grid_stride_2_network_matches_the_recorded_ops() {
    let s2 = Window2d::square(3, 2, 1);
    let net = Sequential::<f32>::new()
        .with(conv(1, 16, s2, true, 1))
        .with(ReLU)
        .with(conv(16, 32, s2, true, 2))
        .with(ReLU)
        .with(Flatten)
        .with(linear(32 * 7 * 7, 10, 3));
    let x = random_tensor::<f32>(&[30, 1, 28, 28], 4);
    let got = net.predict(&x).unwrap();
    let want = net.forward(Tape::new().constant(x)).unwrap().value();
    assert_eq!(got.shape(), &[30, 10]);
    prop_close(&to_f64(&got), &to_f64(&want), 2e-4, 2e-4).unwrap();
}

/// A linear layer that does not take the flattened output is not taken in: its own
/// layer's shape error names it.
#[test]
fn a_layer_that_does_not_fit_reports_its_own_shape_error() {
    let net = Sequential::<f32>::new()
        .with(conv(2, 3, Window2d::square(3, 1, 1), true, 1))
        .with(ReLU)
        .with(Flatten)
        .with(linear(3 * 5 * 5 + 1, 4, 2));
    match net.predict(&Tensor::zeros(&[1, 2, 5, 5]).unwrap()).unwrap_err() {
        LayerError::InputShape { module, .. } => assert!(module.starts_with("layer 3 (Linear(76→4"), "{module}"),
        other => panic!("expected a shape error, got {other}"),
    }
}

/// The face computes nothing for gradients: on a recording tape it is an error.
#[test]
fn the_face_refuses_a_recording_tape() {
    let layer = conv::<f32>(3, 8, Window2d::square(3, 1, 1), true, 5);
    let weight = Tensor::<f32>::zeros(&[4, 8 * 6 * 6]).unwrap();
    let face = (&layer as &dyn Module<f32>).take_dense().expect("a convolution takes a dense layer");
    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(&[1, 3, 6, 6]).unwrap());
    let dense = Dense { weight: &weight, bias: None, act: None };
    assert!(matches!(face.forward_dense(x, None, None, None, None, &dense), Err(LayerError::Config { .. })));
    assert!((&Flatten as &dyn Module<f32>).is_flatten());
    let fc = linear::<f32>(5, 2, 6);
    let (w, b) = (&fc as &dyn Module<f32>).fully_connected().expect("a linear layer").dense_weights();
    assert_eq!((w.shape(), b.map(|b| b.shape().to_vec())), (&[2, 5][..], Some(vec![2])));
}

/// The inference ops keep their weights' packings between calls: weights changed in place
/// (as an optimizer step changes them) are packed again, so a second prediction is the
/// recorded ops' with the new weights, and a third with the same weights the second's bits.
/// Two networks: a stride-2 pair taking in the layer, and pooled 3×3 convolutions of 16
/// channels (Winograd's transformed weights kept).
#[test]
fn predictions_follow_weights_changed_in_place() {
    let (s2, same) = (Window2d::square(3, 2, 1), Window2d::square(3, 1, 1));
    for (windows, pool, side) in [(s2, false, 14), (same, true, 12)] {
        let mut conv1 = conv(1, 16, windows, true, 1);
        let mut conv2 = conv(16, 32, windows, true, 2);
        let flat = if pool { 32 * 3 * 3 } else { 32 * 4 * 4 };
        let mut fc = linear(flat, 10, 3);
        let x = random_tensor::<f32>(&[5, 1, side, side], 4);
        let net = |c1: &layers::Conv2d<f32>, c2: &layers::Conv2d<f32>, fc: &Linear<f32>| {
            let copy = |c: &layers::Conv2d<f32>| {
                let mut d = conv(c.weight.shape()[1], c.weight.shape()[0], windows, true, 9);
                d.weight.value = c.weight.value.clone();
                d.bias.as_mut().unwrap().value = c.bias.as_ref().unwrap().value.clone();
                d
            };
            let mut l = linear(fc.weight.shape()[1], 10, 9);
            l.weight.value = fc.weight.value.clone();
            l.bias.as_mut().unwrap().value = fc.bias.as_ref().unwrap().value.clone();
            let mut net = Sequential::<f32>::new().with(copy(c1)).with(ReLU);
            if pool {
                net.push(MaxPool2d::new(2, 2).unwrap());
            }
            net.push(copy(c2));
            net.push(ReLU);
            if pool {
                net.push(MaxPool2d::new(2, 2).unwrap());
            }
            net.with(Flatten).with(l)
        };
        let first = net(&conv1, &conv2, &fc).predict(&x).unwrap();
        for w in [&mut conv1.weight.value, &mut conv2.weight.value, &mut fc.weight.value] {
            w.as_mut_slice().iter_mut().for_each(|v| *v = -*v * 0.5);
        }
        let changed = net(&conv1, &conv2, &fc);
        let second = changed.predict(&x).unwrap();
        let want = changed.forward(Tape::new().constant(x.clone())).unwrap().value();
        assert_ne!(first.to_vec(), second.to_vec());
        prop_close(&to_f64(&second), &to_f64(&want), 2e-4, 2e-4).unwrap();
        assert_eq!(changed.predict(&x).unwrap().to_vec(), second.to_vec());
    }
}
