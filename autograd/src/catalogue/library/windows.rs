//! Entries of the windowed ops: im2col, convolution (also with a fused ReLU), pooling
//! windows, max-pooling.

use proptest::prelude::*;
use tensor::{Activation, Element, Tensor, Window2d};

use super::{dense, on_grid, small_windows, tie_step, uniform, zeros};
use crate::catalogue::{Convention, Entry, KinkCase, OpCase, nudge_toward_first};
use crate::error::Result;
use crate::strategies::{self, WindowCase, conv_geometry, pool_geometry};
use crate::tape::Var;

/// `im2col(x)` over convolution geometries (kernels of any size up to 4 per axis, strides
/// up to 3, padding up to 2).
pub(super) struct Im2col;

impl Entry for Im2col {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        conv_geometry(small_windows())
            .prop_flat_map(|g| (dense(g.input), Just(g.window)))
            .prop_map(|(x, window)| OpCase::new(vec![x], window))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].im2col(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        vec![zeros(&[&[2, 3, 4]], Window2d::square(2, 1, 0)), zeros(&[&[1, 1, 2, 2]], Window2d::square(3, 1, 0))]
    }
}

/// `conv2d(x, W, b)` over convolution geometries, with or without a bias.
pub(super) struct Conv2d;

impl Entry for Conv2d {
    type Args = (Window2d, bool);

    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<(Window2d, bool)>> {
        (conv_geometry(small_windows()), any::<bool>())
            .prop_flat_map(|(WindowCase { input, window, out_channels: f }, has_bias)| {
                let weight = vec![f, input[1], window.kernel[0], window.kernel[1]];
                let bias = if has_bias { vec![f] } else { vec![0] };
                (dense(input), dense(weight), dense(bias), Just((window, has_bias)))
            })
            .prop_map(|(x, w, b, args)| OpCase::new(if args.1 { vec![x, w, b] } else { vec![x, w] }, args))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], (window, _): &(Window2d, bool)) -> Result<Var<'t, T>> {
        x[0].conv2d(x[1], x.get(2).copied(), window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<(Window2d, bool)>> {
        let w = Window2d::square(2, 1, 0);
        vec![
            zeros(&[&[1, 2, 4, 4], &[3, 3, 2, 2]], (w, false)),
            zeros(&[&[1, 2, 4, 4], &[3, 2, 2, 2], &[4]], (w, true)),
            zeros(&[&[2, 4, 4], &[3, 2, 2, 2]], (w, false)),
            zeros(&[&[1, 2, 4, 4], &[3, 2, 3, 3]], (w, false)),
        ]
    }
}

/// `relu(conv2d(x, W, b))` as one op (`conv2d_activated`) over convolution geometries, away
/// from the kink: `x` in [0.1, 1], and each filter's weights and bias of one sign (drawn per
/// filter) and at least 0.1 and 0.05 from 0, so every pre-activation has the filter's sign
/// and is at least 0.05 from 0 (a window wholly in the padding gives the bias); filters of
/// both signs, so the gradient is passed by some and stopped by others.
pub(super) struct Conv2dRelu;

impl Entry for Conv2dRelu {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "conv2d_activated"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        conv_geometry(small_windows())
            .prop_flat_map(|WindowCase { input, window, out_channels: f }| {
                let weight = vec![f, input[1], window.kernel[0], window.kernel[1]];
                let signs = proptest::collection::vec(any::<bool>(), f);
                (uniform(input, 0.1, 1.0), uniform(weight, 0.1, 1.0), uniform(vec![f], 0.05, 1.0), signs, Just(window))
            })
            .prop_map(|(x, w, b, signs, window)| {
                let signed = |t: &Tensor<f64>| {
                    let per_filter = t.numel() / signs.len();
                    let v = t.iter().enumerate().map(|(i, v)| if signs[i / per_filter] { v } else { -v }).collect();
                    Tensor::from_vec(t.shape(), v).expect("same size")
                };
                OpCase::new(vec![x, signed(&w), signed(&b)], window)
            })
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].conv2d_activated(x[1], Some(x[2]), window, Some(Activation::Relu))
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        let w = Window2d::square(2, 1, 0);
        vec![zeros(&[&[1, 2, 4, 4], &[3, 3, 2, 2], &[3]], w), zeros(&[&[1, 2, 4, 4], &[3, 2, 2, 2], &[4]], w)]
    }
}

/// `pool_windows(x)` over pooling geometries (taps in the padding read −∞, constants).
pub(super) struct PoolWindows;

impl Entry for PoolWindows {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "pool_windows"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        pool_geometry(small_windows())
            .prop_flat_map(|g| (dense(g.input), Just(g.window)))
            .prop_map(|(x, window)| OpCase::new(vec![x], window))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].pool_windows(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        vec![zeros(&[&[2, 3, 4]], Window2d::square(2, 2, 0)), zeros(&[&[1, 1, 4, 4]], Window2d::square(2, 1, 2))]
    }
}

/// `max_pool2d(x)` over pooling geometries (overlapping windows included), values pairwise
/// 0.05 apart; ties go to the first maximum.
pub(super) struct MaxPool2d;

impl Entry for MaxPool2d {
    type Args = Window2d;

    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<Window2d>> {
        pool_geometry(small_windows())
            .prop_flat_map(|g| (strategies::distinct_tensor::<f64>(g.input, 0.05), Just(g.window)))
            .prop_map(|(x, window)| OpCase::new(vec![x], window))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], window: &Window2d) -> Result<Var<'t, T>> {
        x[0].max_pool2d(window)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<Window2d>> {
        vec![zeros(&[&[2, 3, 4]], Window2d::square(2, 2, 0)), zeros(&[&[1, 1, 4, 4]], Window2d::square(2, 1, 2))]
    }

    fn convention(&self) -> Option<Convention<Window2d>> {
        // In a window, row-major order of the taps is row-major order of the input.
        let cases = pool_geometry(small_windows())
            .prop_flat_map(|g| (on_grid(g.input, 2), Just(g.window)))
            .prop_map(|(x, window)| {
                let nudged = nudge_toward_first(&x, tie_step(&x));
                KinkCase { at: OpCase::new(vec![x], window), nudged: OpCase::new(vec![nudged], window) }
            })
            .boxed();
        Some(Convention { rule: "ties go to the first maximum (row-major within the window)", cases })
    }
}
