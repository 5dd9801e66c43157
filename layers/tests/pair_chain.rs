//! Inference through a chain takes a convolution into the convolution before it:
//! `conv[, batch norm][, ReLU], conv[, batch norm][, ReLU][, max or average pool]` through
//! `predict` against the same layers on a recording tape (each its own op, nothing fused),
//! in f64 and in f32 on random geometries, the second window 1×1 or random; for a 1×1
//! second convolution without batch norm, f32 gives the same bits as the recorded ops. The
//! face refuses a recording tape.

use crate::common;
use crate::folded_batch_norm::{batch_norm, conv, conv_block};

use autograd::Tape;
use autograd::strategies::{GeometryBounds, conv_geometry};
use common::*;
use layers::{AvgPool2d, LayerError, MaxPool2d, Module, ReLU, Sequential};
use proptest::prelude::*;
use tensor::{Element, SecondConv, Tensor, Window2d};

fn bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=3, channels: 1..=20, size: 3..=10, kernel: 1..=4, stride: 1..=2, padding: 0..=2 }
}

/// The second window: 1×1 of stride 1 without padding half the time, else a kernel of
/// 1–3, stride 1–2, padding 0–1.
fn second_window() -> impl Strategy<Value = Window2d> {
    let any = (1usize..=3, 1usize..=2, 0usize..=1).prop_map(|(k, s, p)| Window2d::square(k, s, p));
    prop_oneof![Just(Window2d::square(1, 1, 0)), any]
}

/// The chain with the layers `kinds` asks for: `[bn, relu, bn2, relu2]`, and `pool`
/// (none, 2×2 max, 2×2 average).
#[allow(clippy::too_many_arguments)]
fn check<T: Element>(
    input: &[usize],
    f: usize,
    window: Window2d,
    (f2, g2): (usize, Window2d),
    [bn, relu, bn2, relu2]: [bool; 4],
    pool: u8,
    seed: u64,
    tol: f64,
) -> TestResult {
    let mut net = conv_block::<T>(input[1], f, window, [bn, relu], seed);
    net.push(conv::<T>(f, f2, g2, seed.is_multiple_of(3), seed + 30));
    if bn2 {
        net.push(batch_norm::<T>(f2, seed + 40));
    }
    if relu2 {
        net.push(ReLU);
    }
    match pool {
        1 => net.push(MaxPool2d::new(2, 2).unwrap()),
        2 => net.push(AvgPool2d::new(2, 2).unwrap()),
        _ => {}
    }
    let x = random_tensor::<T>(input, seed + 20);
    prop_assume!(net.output_shape(input).is_ok());
    net.set_training(false);
    let got = net.predict(&x).unwrap();
    let tape = Tape::new();
    let want = net.forward(tape.constant(x.clone())).unwrap().value();
    prop_assert_eq!(got.shape(), want.shape());
    if !bn && !bn2 && g2 == Window2d::square(1, 1, 0) {
        prop_assert_eq!(got.to_vec(), want.to_vec(), "1×1 without batch norm: the recorded ops' bits");
    }
    prop_close(&to_f64(&got), &to_f64(&want), tol, tol)
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn f64_pair_chains_match_the_recorded_ops(
        case in conv_geometry(bounds()), f2 in 1usize..=20, g2 in second_window(), kinds in any::<[bool; 4]>(), pool in 0u8..3,
        seed in 0u64..1000,
    ) {
        check::<f64>(&case.input, case.out_channels, case.window, (f2, g2), kinds, pool, seed, 1e-10)?;
    }

    /// f32 on this process's kernel path (CI runs it with each `TENSOR_KERNELS`).
    #[test]
    fn f32_pair_chains_match_the_recorded_ops(
        case in conv_geometry(bounds()), f2 in 1usize..=20, g2 in second_window(), kinds in any::<[bool; 4]>(), pool in 0u8..3,
        seed in 0u64..1000,
    ) {
        check::<f32>(&case.input, case.out_channels, case.window, (f2, g2), kinds, pool, seed, 2e-4)?;
    }
}

/// The grid's pairs: 1 → 16 channels 3×3, ReLU, 16 → 8 1×1, ReLU, 2×2 max-pool (the same
/// bits as the recorded ops), and 1 → 16 → 32 channels 3×3 of stride 2 with ReLUs.
#[test]
fn the_grid_pairs_match_the_recorded_ops() {
    let (one, s2) = (Window2d::square(1, 1, 0), Window2d::square(3, 2, 1));
    check::<f32>(&[3, 1, 28, 28], 16, Window2d::square(3, 1, 1), (8, one), [false, true, false, true], 1, 4, 0.0)
        .unwrap();
    check::<f32>(&[3, 1, 28, 28], 16, s2, (32, s2), [false, true, false, true], 0, 4, 2e-4).unwrap();
}

/// A second convolution that does not take the first one's channels is not taken in: its
/// own layer's shape error names it.
#[test]
fn a_second_convolution_that_does_not_fit_reports_its_own_shape_error() {
    let net = Sequential::<f32>::new().with(conv(2, 3, Window2d::square(3, 1, 1), true, 1)).with(ReLU).with(conv(
        4,
        5,
        Window2d::square(1, 1, 0),
        true,
        2,
    ));
    match net.predict(&Tensor::zeros(&[1, 2, 5, 5]).unwrap()).unwrap_err() {
        LayerError::InputShape { module, .. } => assert!(module.starts_with("layer 2 (Conv2d(4→5"), "{module}"),
        other => panic!("expected a shape error, got {other}"),
    }
}

/// The face computes nothing for gradients: on a recording tape it is an error.
#[test]
fn the_face_refuses_a_recording_tape() {
    let layer = conv::<f32>(3, 8, Window2d::square(3, 1, 1), true, 5);
    let next = Tensor::<f32>::zeros(&[4, 8, 1, 1]).unwrap();
    let face = (&layer as &dyn Module<f32>).take_conv().expect("a convolution takes the next one");
    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(&[1, 3, 6, 6]).unwrap());
    let second = SecondConv { weight: &next, bias: None, window: Window2d::square(1, 1, 0), act: None };
    assert!(matches!(face.forward_pair(x, None, None, &second, None), Err(LayerError::Config { .. })));
    let w = face.as_second(None).expect("a convolution is a second one");
    assert_eq!((w.weight.shape(), w.window), (&[8, 3, 3, 3][..], Window2d::square(3, 1, 1)));
}
