//! Inference through a chain pools in the convolution's output pass: `conv[, batch
//! norm][, ReLU], max or average pool` through `predict` against naive loops in f64 and in
//! f32 on random geometries (the f32 ones reach the direct and Winograd kernels); on a
//! recording tape the same face gives the same values through the recorded ops, with
//! gradients; a pooling that does not fit still reports its own shape error.

use crate::common;
use crate::folded_batch_norm::{batch_norm, conv, normalise_naive};

use autograd::Tape;
use autograd::strategies::{GeometryBounds, conv_geometry};
use common::*;
use layers::{AvgPool2d, LayerError, MaxPool2d, Module, ReLU, Sequential};
use proptest::prelude::*;
use tensor::{Activation, Element, Pooling, Tensor, Window2d};

fn bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=3, channels: 1..=20, size: 3..=10, kernel: 1..=4, stride: 1..=2, padding: 0..=2 }
}

/// A pooling window: kernel 1–3, stride 1–3, padding up to half the kernel.
fn pool_window() -> impl Strategy<Value = Window2d> {
    ((1usize..=3, 1usize..=3), (1usize..=3, 1usize..=3), any::<bool>()).prop_map(|((kh, kw), (sh, sw), pad)| {
        let padding = if pad { [kh / 2, kw / 2] } else { [0, 0] };
        Window2d { kernel: [kh, kw], stride: [sh, sw], padding }
    })
}

/// The average of each window's taps, padding counted in the divisor (PyTorch's default).
fn avg_pool2d_naive(x: &[f64], xs: &[usize], win: &Window2d) -> (Vec<usize>, Vec<f64>) {
    let (planes, h, w) = (xs[0] * xs[1], xs[2], xs[3]);
    let [kh, kw] = win.kernel;
    let oh = out_size(h, kh, win.stride[0], win.padding[0]);
    let ow = out_size(w, kw, win.stride[1], win.padding[1]);
    let mut out = Vec::with_capacity(planes * oh * ow);
    for plane in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = 0.0;
                for i in 0..kh {
                    for j in 0..kw {
                        let y = tap(oy, i, win.stride[0], win.padding[0], h);
                        let xx = tap(ox, j, win.stride[1], win.padding[1], w);
                        if let (Some(y), Some(xx)) = (y, xx) {
                            sum += x[(plane * h + y) * w + xx];
                        }
                    }
                }
                out.push(sum / (kh * kw) as f64);
            }
        }
    }
    (vec![xs[0], xs[1], oh, ow], out)
}

/// The chain `conv[, batch norm][, relu], pool` through `predict` against the naive loops;
/// a pooling that does not fit the convolution's output is skipped.
#[allow(clippy::too_many_arguments)]
fn check<T: Element>(
    input: &[usize],
    f: usize,
    window: Window2d,
    [bn, relu, max]: [bool; 3],
    pool: Window2d,
    seed: u64,
    tol: f64,
) -> TestResult {
    let conv = conv::<T>(input[1], f, window, seed.is_multiple_of(2), seed);
    let norm = batch_norm::<T>(f, seed + 10);
    let x = random_tensor::<T>(input, seed + 20);
    let b = conv.bias.as_ref().map(|b| to_f64(&b.value));
    let (shape, z) =
        conv2d_naive(&to_f64(&x), input, &to_f64(&conv.weight.value), conv.weight.shape(), b.as_deref(), &window);
    let plane = shape[2] * shape[3];
    let y = match bn {
        true => normalise_naive(&z, f, plane, &norm, relu),
        false if relu => z.iter().map(|v| v.max(0.0)).collect(),
        false => z,
    };
    prop_assume!(pool.pool_dims("test", &shape).is_ok());
    let (shape, want) = if max { max_pool2d_naive(&y, &shape, &pool) } else { avg_pool2d_naive(&y, &shape, &pool) };
    let mut net = Sequential::<T>::new().with(conv);
    if bn {
        net.push(norm);
    }
    if relu {
        net.push(ReLU);
    }
    match max {
        true => net.push(MaxPool2d::with_window(pool).unwrap()),
        false => net.push(AvgPool2d::with_window(pool).unwrap()),
    }
    let got = net.predict(&x).unwrap();
    prop_assert_eq!(got.shape(), &shape[..]);
    prop_close(&to_f64(&got), &want, tol, tol)
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn f64_conv_pool_chains_match_naive_loops(
        case in conv_geometry(bounds()), kinds in any::<[bool; 3]>(), pool in pool_window(), seed in 0u64..1000
    ) {
        check::<f64>(&case.input, case.out_channels, case.window, kinds, pool, seed, 1e-10)?;
    }

    /// f32 on this process's kernel path (CI runs it with each `TENSOR_KERNELS`).
    #[test]
    fn f32_conv_pool_chains_match_naive_loops(
        case in conv_geometry(bounds()), kinds in any::<[bool; 3]>(), pool in pool_window(), seed in 0u64..1000
    ) {
        check::<f32>(&case.input, case.out_channels, case.window, kinds, pool, seed, 2e-4)?;
    }
}

/// 3×3 stride-1 convolutions of 16 channels and more take the Winograd kernels in f32; the
/// pooling runs on the image's planes there.
#[test]
fn f32_winograd_geometry_pools_within_tolerance() {
    for (seed, kinds) in [(1, [true, true, true]), (2, [false, true, false]), (3, [false, false, true])] {
        let pool = Window2d::square(2, 2, 0);
        check::<f32>(&[2, 16, 8, 8], 24, Window2d::square(3, 1, 1), kinds, pool, seed, 2e-4).unwrap();
    }
}

/// On a recording tape the convolution's pooling face runs the recorded ops: the values
/// of inference, and gradients for the weights.
#[test]
fn the_face_records_the_ops_when_the_tape_records() {
    let layer = conv::<f32>(3, 8, Window2d::square(3, 1, 1), true, 5);
    let x = random_tensor::<f32>(&[2, 3, 8, 8], 6);
    let pooling = Pooling::Max(Window2d::square(2, 2, 0));
    let same = conv::<f32>(3, 8, Window2d::square(3, 1, 1), true, 5);
    let inference = Sequential::<f32>::new().with(same).with(ReLU).with(MaxPool2d::new(2, 2).unwrap());
    let want = inference.predict(&x).unwrap();
    let tape = Tape::new();
    let face = (&layer as &dyn Module<f32>).fuse_pool().expect("a convolution pools");
    let y = face.forward_pooled(tape.constant(x.clone()), None, Some(Activation::Relu), &pooling).unwrap();
    assert_eq!(y.value().to_vec(), want.to_vec());
    let grads = tape.backward(y.sum().unwrap()).unwrap();
    assert!(grads.param(&layer.weight).is_some(), "the weight has a gradient");
}

/// A pooling window larger than the convolution's output is not fused: its own layer's
/// shape error names it.
#[test]
fn a_pooling_that_does_not_fit_reports_its_own_shape_error() {
    let net = Sequential::<f32>::new()
        .with(conv(2, 3, Window2d::square(3, 1, 0), true, 1))
        .with(ReLU)
        .with(MaxPool2d::new(4, 1).unwrap());
    let err = net.predict(&Tensor::zeros(&[1, 2, 5, 5]).unwrap()).unwrap_err();
    match err {
        LayerError::InputShape { module, .. } => assert!(module.starts_with("layer 2 (MaxPool2d"), "{module}"),
        other => panic!("expected a shape error, got {other}"),
    }
}
