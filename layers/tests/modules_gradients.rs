//! Each module's gradients in f64, on random geometries (strides > 1, padding > 0,
//! overlapping pooling windows): with respect to the input by `autograd::gradcheck`, and
//! with respect to the parameters by central differences written in `common`
//! (`check_param_gradients` perturbs `param.value` in place and compares with
//! `Gradients::param`). A module's output is reduced to a scalar by a fixed random
//! weighting (`common::weighted_sum`) so the checks see every output element.
//!
//! Inputs stay away from the kinks: ReLU inputs at least 0.05 from 0, pooling inputs
//! pairwise at least 0.01 apart (`strategies::distinct_tensor`), far above the step 1e-6.

use crate::common;

use autograd::strategies::{
    self, GeometryBounds, conv_geometry, distinct_tensor, pool_geometry, tensor_away_from_zero,
};
use autograd::{GradcheckConfig, Param, Tape, Var, gradcheck};
use common::*;
use layers::{
    Conv2d, Conv2dConfig, Flatten, Init, Linear, MaxPool2d, Module, Part, PartMut, ReLU, Sequential, cross_entropy,
    cross_entropy_smoothed, l2_penalty,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Tensor, Window2d};

/// Geometries small enough for per-element finite differences, with strides up to 3,
/// padding up to 2 and non-square kernels up to 4.
fn bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=2, channels: 1..=3, size: 1..=6, kernel: 1..=4, stride: 1..=3, padding: 0..=2 }
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `gradcheck` with PyTorch's tolerances, every element of every input compared.
fn check_inputs<F>(f: F, inputs: &[Tensor<f64>]) -> TestResult
where
    F: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> autograd::Result<Var<'t, f64>>,
{
    let report = gradcheck(f, inputs, &GradcheckConfig::default())
        .map_err(|e| TestCaseError::fail(format!("gradcheck failed: {e}")))?;
    for (r, x) in report.inputs.iter().zip(inputs) {
        prop_assert_eq!(r.checked, x.numel());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(24))]

    /// Conv2d: ∇x by gradcheck, ∇W and ∇b by finite differences, for any kernel, stride
    /// and padding, with and without bias.
    #[test]
    fn conv2d_gradients(case in conv_geometry(bounds()), bias in any::<bool>(), seed in 0u64..1000) {
        let c = case.input[1];
        let config = Conv2dConfig { in_channels: c, out_channels: case.out_channels, window: case.window, bias, init: Init::KaimingNormal };
        let mut conv = Conv2d::<f64>::new(config, &mut rng(seed)).unwrap();
        let x = random_tensor::<f64>(&case.input, seed + 1);
        check_inputs(|_, v| ag(conv.forward(v[0]).and_then(|y| weighted_sum(y, seed))), std::slice::from_ref(&x))?;
        prop_check_params(&mut conv, &x, |y| weighted_sum(y, seed))?;
    }

    /// MaxPool2d: ∇x by gradcheck (the gradient goes to each window's maximum, summed
    /// where overlapping windows share it), with padding up to half the kernel.
    #[test]
    fn max_pool2d_gradients(
        (case, x) in pool_geometry(bounds()).prop_flat_map(|case| {
            let shape = case.input.clone();
            (Just(case), distinct_tensor::<f64>(shape, 0.01))
        }),
        seed in 0u64..1000,
    ) {
        let pool = MaxPool2d::with_window(case.window).unwrap();
        check_inputs(|_, v| ag(pool.forward(v[0]).and_then(|y| weighted_sum(y, seed))), &[x])?;
    }

    /// Linear: ∇x by gradcheck, ∇W (`[out, in]`) and ∇b by finite differences.
    #[test]
    fn linear_gradients(n in 1usize..=4, inp in 1usize..=6, out in 1usize..=5, bias in any::<bool>(), seed in 0u64..1000) {
        let mut lin = Linear::<f64>::with_options(inp, out, bias, Init::XavierUniform, &mut rng(seed)).unwrap();
        let x = random_tensor::<f64>(&[n, inp], seed + 1);
        check_inputs(|_, v| ag(lin.forward(v[0]).and_then(|y| weighted_sum(y, seed))), std::slice::from_ref(&x))?;
        prop_check_params(&mut lin, &x, |y| weighted_sum(y, seed))?;
    }

    /// ReLU: ∇x = 1(x > 0) ⊙ ∇y, by gradcheck away from 0.
    #[test]
    fn relu_gradients(x in strategies::shape(1..=4, 1..=4).prop_flat_map(|s| tensor_away_from_zero::<f64>(s, 0.05)), seed in 0u64..1000) {
        check_inputs(|_, v| ag(ReLU.forward(v[0]).and_then(|y| weighted_sum(y, seed))), &[x])?;
    }

    /// Flatten: the gradient is reshaped back.
    #[test]
    fn flatten_gradients(x in strategies::shape(2..=4, 1..=4).prop_flat_map(strategies::tensor::<f64>), seed in 0u64..1000) {
        check_inputs(|_, v| ag(Flatten.forward(v[0]).and_then(|y| weighted_sum(y, seed))), &[x])?;
    }
}

/// A small CNN with every module: conv (3×3, stride 2, padding 1) → ReLU → max-pool
/// (3×3/2, padding 1, overlapping) → conv (2×3 kernel, no bias) → ReLU → Flatten → Linear,
/// under softmax cross-entropy with label smoothing.
fn small_cnn(seed: u64) -> Sequential<f64> {
    let mut r = rng(seed);
    Sequential::new()
        .with(Conv2d::new(Conv2dConfig::new(2, 3, 3).stride(2).padding(1).init(Init::KaimingNormal), &mut r).unwrap())
        .with(ReLU)
        .with(MaxPool2d::with_window(Window2d::square(3, 2, 1)).unwrap())
        .with(Conv2d::new(Conv2dConfig::new(3, 4, 2).kernel(2, 3).padding(1).bias(false), &mut r).unwrap())
        .with(ReLU)
        .with(Flatten)
        .with(Linear::new(4 * 4 * 2, 3, &mut r).unwrap())
}

/// The composite network's gradients, w.r.t. the input and every parameter, for a few
/// fixed seeds (fixed so that no case lands on a ReLU kink or a pooling tie by chance).
#[test]
fn sequential_cnn_gradients() {
    fn loss(y: Var<'_, f64>) -> layers::Result<Var<'_, f64>> {
        cross_entropy_smoothed(y, &[2, 0], 0.1)
    }
    for seed in [1, 2, 3] {
        let mut net = small_cnn(seed);
        let x = random_tensor::<f64>(&[2, 2, 9, 7], seed + 10);
        let report = gradcheck(
            |_, v| ag(net.forward(v[0]).and_then(loss)),
            std::slice::from_ref(&x),
            &GradcheckConfig::default(),
        )
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(report.inputs[0].checked, x.numel());
        let params = check_param_gradients(&mut net, &x, loss).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(params.checked, net.num_parameters());
    }
}

/// A chain applies a ReLU inside the preceding convolution's output pass (one op on the
/// tape, no pre-activation kept): the same output and gradients, bit for bit, as running
/// each layer's own forward in turn.
#[test]
fn fused_conv_relu_equals_the_layers_one_by_one() {
    let net = small_cnn(4);
    let x = random_tensor::<f64>(&[2, 2, 9, 7], 14);
    let run = |fused: bool| {
        let tape = Tape::new();
        let xv = tape.leaf(x.clone());
        let y = if fused {
            net.forward(xv).unwrap()
        } else {
            net.layers().try_fold(xv, |v, layer| layer.forward(v)).unwrap()
        };
        let loss = cross_entropy_smoothed(y, &[1, 2], 0.1).unwrap();
        let grads = tape.backward(loss).unwrap();
        let mut got = vec![y.value().to_vec(), grads.get(xv).unwrap().to_vec()];
        got.extend(net.parameters().iter().map(|p| grads.param(p).unwrap().to_vec()));
        (got, tape.len())
    };
    let ((fused, fused_nodes), (separate, separate_nodes)) = (run(true), run(false));
    assert_eq!(fused, separate);
    assert_eq!(fused_nodes + 2, separate_nodes, "the two ReLUs are fused into their convolutions");
}

/// The output-shape comment above, spelled out: conv 9×7 → ⌊(9+2−3)/2⌋+1 = 5,
/// ⌊(7+2−3)/2⌋+1 = 4; pool → ⌊(5+2−3)/2⌋+1 = 3, ⌊(4+2−3)/2⌋+1 = 2; conv 2×3 pad 1 →
/// ⌊(3+2−2)/1⌋+1 = 4, ⌊(2+2−3)/1⌋+1 = 2.
#[test]
fn small_cnn_shapes() {
    let net = small_cnn(0);
    let shapes = net.shapes(&[2, 2, 9, 7]).unwrap();
    assert_eq!(shapes[0], vec![2, 3, 5, 4]);
    assert_eq!(shapes[2], vec![2, 3, 3, 2]);
    assert_eq!(shapes[3], vec![2, 4, 4, 2]);
    assert_eq!(shapes[6], vec![2, 3]);
}

/// A module that applies one Linear twice, `y = L(ReLU(L(x)))`: its parameters are on the
/// tape twice, and `Gradients::param` must sum both uses. Its parts are the layer's own
/// (`weight`, `bias`).
#[derive(Debug)]
struct Twice(Linear<f64>);

impl Module<f64> for Twice {
    fn forward<'t>(&self, x: Var<'t, f64>) -> layers::Result<Var<'t, f64>> {
        self.0.forward(self.0.forward(x)?.relu()?)
    }
    fn output_shape(&self, input: &[usize]) -> layers::Result<Vec<usize>> {
        self.0.output_shape(input)
    }
    fn visit<'a>(&'a self, f: &mut dyn FnMut(Part<'a, f64>)) {
        self.0.visit(f)
    }
    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(PartMut<'a, f64>)) {
        self.0.visit_mut(f)
    }
}

#[test]
fn shared_parameters_accumulate_gradients() {
    let mut m = Twice(Linear::new(4, 4, &mut rng(5)).unwrap());
    let x = random_tensor::<f64>(&[3, 4], 6);
    let report = check_param_gradients(&mut m, &x, |y| weighted_sum(y, 7)).unwrap();
    assert_eq!(report.checked, 20);
}

/// Cross-entropy's value against the naive log-sum-exp loop, and its gradient w.r.t. the
/// logits by gradcheck, with and without label smoothing.
#[test]
fn cross_entropy_value_and_gradient() {
    let logits = random_tensor::<f64>(&[4, 5], 8).map(|v| 3.0 * v);
    let labels = [0, 4, 2, 2];
    for eps in [0.0, 0.1, 1.0] {
        let tape = Tape::no_grad();
        let l = cross_entropy_smoothed(tape.constant(logits.clone()), &labels, eps).unwrap();
        let want = cross_entropy_naive(&logits.to_vec(), 5, &labels, eps);
        assert_close(&[l.value().item().unwrap()], &[want], 1e-12, 1e-12);
        let report = gradcheck(
            |_, v| ag(cross_entropy_smoothed(v[0], &labels, eps)),
            std::slice::from_ref(&logits),
            &GradcheckConfig::default(),
        )
        .unwrap();
        assert_eq!(report.inputs[0].checked, 20);
    }
    // Uniform logits: the loss is ln K whatever the labels.
    let tape = Tape::no_grad();
    let l = cross_entropy(tape.constant(Tensor::<f64>::zeros(&[2, 5]).unwrap()), &[1, 3]).unwrap();
    assert_close(&[l.value().item().unwrap()], &[5f64.ln()], 1e-15, 0.0);
    // Bad labels and smoothing are errors.
    let x = tape.constant(Tensor::<f64>::zeros(&[2, 5]).unwrap());
    assert!(cross_entropy(x, &[1, 5]).is_err());
    assert!(cross_entropy(x, &[1]).is_err());
    assert!(cross_entropy_smoothed(x, &[1, 2], 1.5).is_err());
}

/// `l2_penalty` is `0.5·λ·Σ‖W‖²` and adds `λ·W` to each parameter's gradient.
#[test]
fn l2_penalty_value_and_gradient() {
    let w1 = Param::new(Tensor::from_vec(&[2, 2], vec![1.0, -2.0, 0.5, 3.0]).unwrap());
    let w2 = Param::new(Tensor::from_vec(&[3], vec![-1.0, 0.0, 2.0]).unwrap());
    let tape = Tape::<f64>::new();
    let anchor = tape.constant(Tensor::scalar(0.0));
    let p = l2_penalty(anchor, &[&w1, &w2], 0.1).unwrap().unwrap();
    // ‖w1‖² = 1 + 4 + 0.25 + 9 = 14.25, ‖w2‖² = 1 + 0 + 4 = 5; 0.5·0.1·19.25 = 0.9625.
    assert_close(&[p.value().item().unwrap()], &[0.9625], 1e-15, 1e-15);
    let grads = tape.backward(p).unwrap();
    assert_close(&grads.param(&w1).unwrap().to_vec(), &[0.1, -0.2, 0.05, 0.3], 1e-15, 1e-15);
    assert_close(&grads.param(&w2).unwrap().to_vec(), &[-0.1, 0.0, 0.2], 1e-15, 1e-15);
    assert!(l2_penalty(anchor, &[], 0.1).unwrap().is_none());
}
