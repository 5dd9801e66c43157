//! The fused `conv2d` op: its values equal the derivation's chain
//! (im2col → matmul → add_bias → reshape → permute), and its VJP passes `gradcheck`; with
//! a fused ReLU (`conv2d_activated`) it gives the numbers of `conv2d` then `relu`, bit for
//! bit, and passes `gradcheck` away from the kink.

use autograd::strategies::{self, GeometryBounds, WindowCase};
use autograd::{GradcheckConfig, Tape, Var, gradcheck};
use proptest::prelude::*;
use tensor::{Activation, Tensor};

fn case_and_tensors() -> impl Strategy<Value = (WindowCase, Tensor<f64>, Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    strategies::conv_geometry(GeometryBounds {
        batch: 1..=2,
        channels: 1..=3,
        size: 1..=6,
        ..GeometryBounds::default()
    })
    .prop_flat_map(|case| {
        let [kh, kw] = case.window.kernel;
        let (f, c) = (case.out_channels, case.input[1]);
        let d = case.window.dims("test", &case.input).unwrap();
        (
            Just(case.clone()),
            strategies::tensor::<f64>(case.input.clone()),
            strategies::tensor::<f64>(vec![f, c, kh, kw]),
            strategies::tensor::<f64>(vec![f]),
            strategies::tensor::<f64>(vec![d.n, f, d.oh, d.ow]),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn conv2d_equals_the_derivation_chain_and_passes_gradcheck((case, x, w, b, weights) in case_and_tensors()) {
        let window = case.window;
        let (f, taps) = (case.out_channels, case.input[1] * window.kernel_area());
        let d = window.dims("test", &case.input).unwrap();
        let tape = Tape::<f64>::new();
        let (xv, wv, bv) = (tape.leaf(x.clone()), tape.leaf(w.clone()), tape.leaf(b.clone()));
        let fused = xv.conv2d(wv, Some(bv), &window).unwrap().value();
        let chain = xv
            .im2col(&window).unwrap()
            .matmul(wv.reshape(&[f, taps]).unwrap().t().unwrap()).unwrap()
            .add_bias(bv).unwrap()
            .reshape(&[d.n, d.oh, d.ow, f]).unwrap()
            .permute(&[0, 3, 1, 2]).unwrap()
            .value();
        for (a, c) in fused.iter().zip(chain.iter()) {
            prop_assert!((a - c).abs() <= 1e-12 * (1.0 + c.abs()));
        }
        // A scalar that weighs every output element differently.
        let n = weights.numel();
        let weights = weights.reshape(&[n, 1]).unwrap();
        let report = gradcheck(
            |tape, v| {
                let y = v[0].conv2d(v[1], Some(v[2]), &window)?;
                let n = y.shape().iter().product();
                y.reshape(&[1, n])?.matmul(tape.constant(weights.clone()))?.sum()
            },
            &[x, w, b],
            &GradcheckConfig::default(),
        );
        prop_assert!(report.is_ok(), "{:?}", report);
    }

    #[test]
    fn conv2d_relu_equals_conv2d_then_relu_and_passes_gradcheck((case, x, w, b, weights) in case_and_tensors()) {
        let window = case.window;
        let relu = Some(Activation::Relu);
        let n = weights.numel();
        let weights = weights.reshape(&[n, 1]).unwrap();
        let tape = Tape::<f64>::new();
        let (xv, wv, bv) = (tape.leaf(x.clone()), tape.leaf(w.clone()), tape.leaf(b.clone()));
        let z = xv.conv2d(wv, Some(bv), &window).unwrap();
        // Away from the kink: no pre-activation within 1e-3 of 0 (the step is 1e-6).
        prop_assume!(z.value().iter().all(|v| v.abs() > 1e-3));
        let separate = z.relu().unwrap();
        let fused = xv.conv2d_activated(wv, Some(bv), &window, relu).unwrap();
        prop_assert_eq!(fused.value().to_vec(), separate.value().to_vec());
        let (gs, gf) = (tape.backward(weighted(separate, &weights)).unwrap(), tape.backward(weighted(fused, &weights)).unwrap());
        for v in [xv, wv, bv] {
            prop_assert_eq!(gf.get(v).unwrap().to_vec(), gs.get(v).unwrap().to_vec());
        }
        let report = gradcheck(
            |tape, v| {
                let y = v[0].conv2d_activated(v[1], Some(v[2]), &window, relu)?;
                y.reshape(&[1, n])?.matmul(tape.constant(weights.clone()))?.sum()
            },
            &[x, w, b],
            &GradcheckConfig::default(),
        );
        prop_assert!(report.is_ok(), "{:?}", report);
    }
}

/// `y` as a row times the column `weights`: a scalar that weighs every element differently.
fn weighted<'t>(y: Var<'t, f64>, weights: &Tensor<f64>) -> Var<'t, f64> {
    let n = weights.numel();
    y.reshape(&[1, n]).unwrap().matmul(y.tape().constant(weights.clone())).unwrap().sum().unwrap()
}

/// Without a bias the op takes two inputs and the gradient flows to both.
#[test]
fn conv2d_without_bias() {
    let x = Tensor::from_fn(&[1, 2, 4, 4], |i| (i[1] * 16 + i[2] * 4 + i[3]) as f64 * 0.1 - 1.0).unwrap();
    let w = Tensor::from_fn(&[3, 2, 2, 2], |i| (i[0] as f64 - 1.0) * 0.3 + i[3] as f64 * 0.1).unwrap();
    let report = gradcheck(
        |_, v| v[0].conv2d(v[1], None, &tensor::Window2d::square(2, 2, 1))?.sum_squares(),
        &[x, w],
        &GradcheckConfig::default(),
    )
    .unwrap();
    assert_eq!(report.inputs.len(), 2);
    assert_eq!(report.inputs[0].checked, 32);
}
