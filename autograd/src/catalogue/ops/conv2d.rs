//! The entries of `conv2d`, plain and with a fused ReLU (`conv2d_activated`).

use proptest::prelude::*;
use tensor::{Activation, Element, Tensor, Window2d};

use super::{dense, small_windows, uniform, zeros};
use crate::catalogue::{Entry, OpCase};
use crate::error::Result;
use crate::strategies::{WindowCase, conv_geometry};
use crate::tape::Var;

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
