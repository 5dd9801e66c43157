//! The gradient checker's own tests: it must reject a deliberately wrong VJP (naming the
//! input, the element and both values), accept the corrected one, refuse a non-scalar
//! function, sample exactly `max_elements` elements, and pass function errors through.

use crate::common;

use autograd::{AutogradError, GradcheckConfig, GradcheckError, Op, Var, gradcheck};
use common::scalar_fn;
use tensor::{Tensor, TensorError};

fn t(shape: &[usize], data: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(shape, data.to_vec()).unwrap()
}

fn default() -> GradcheckConfig {
    GradcheckConfig::default()
}

/// `y = x ⊙ x` with VJP `∇x = factor·∇y ⊙ x`: correct for factor 2, the classic forgotten
/// factor for factor 1.
struct Square {
    x: Tensor<f64>,
    factor: f64,
}

impl Op<f64> for Square {
    fn name(&self) -> &'static str {
        "square"
    }

    fn vjp(&self, grad: &Tensor<f64>, wanted: &[bool]) -> autograd::Result<Vec<Option<Tensor<f64>>>> {
        let g = if wanted[0] { Some(grad.mul(&self.x)?.mul_scalar(self.factor)) } else { None };
        Ok(vec![g])
    }
}

fn square(x: Var<'_, f64>, factor: f64) -> autograd::Result<Var<'_, f64>> {
    let v = x.value();
    let y = v.mul(&v)?;
    x.tape().record(&[x], y, || Square { x: v, factor })
}

/// ReLU whose VJP has the mask inverted (`1(x ≤ 0)` instead of `1(x > 0)`) when `inverted`.
struct Relu {
    x: Tensor<f64>,
    inverted: bool,
}

impl Op<f64> for Relu {
    fn name(&self) -> &'static str {
        "relu_custom"
    }

    fn vjp(&self, grad: &Tensor<f64>, _wanted: &[bool]) -> autograd::Result<Vec<Option<Tensor<f64>>>> {
        let inverted = self.inverted;
        let g = grad.zip_map(&self.x, "relu_custom", |g, x| if (x > 0.0) != inverted { g } else { 0.0 })?;
        Ok(vec![Some(g)])
    }
}

fn relu(x: Var<'_, f64>, inverted: bool) -> autograd::Result<Var<'_, f64>> {
    let v = x.value();
    x.tape().record(&[x], v.relu(), || Relu { x: v, inverted })
}

#[test]
fn a_square_that_forgets_the_factor_two_is_caught() {
    // L = Σ xᵢ², ∂L/∂x₀ = 2·0.5 = 1; the wrong VJP says 0.5.
    let x = t(&[3], &[0.5, -1.5, 2.0]);
    let err = gradcheck(|_, v| square(v[0], 1.0)?.sum(), std::slice::from_ref(&x), &default()).unwrap_err();
    match err {
        GradcheckError::Mismatch { input, index, analytic, numeric, tolerance } => {
            assert_eq!(input, 0);
            assert_eq!(index, vec![0]);
            assert_eq!(analytic, 0.5);
            assert!((numeric - 1.0).abs() < 1e-6, "numeric {numeric}");
            assert!((tolerance - (1e-5 + 1e-3 * numeric.abs())).abs() < 1e-15);
            let message = GradcheckError::Mismatch { input, index, analytic, numeric, tolerance }.to_string();
            assert!(message.contains("input 0") && message.contains("analytic"), "{message}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    // The corrected VJP passes, with every element compared and small errors.
    let report = gradcheck(|_, v| square(v[0], 2.0)?.sum(), &[x], &default()).unwrap();
    assert_eq!(report.inputs.len(), 1);
    assert_eq!(report.inputs[0].checked, 3);
    assert!(report.inputs[0].max_abs_error < 1e-8 && report.inputs[0].max_rel_error < 1e-8, "{report:?}");
}

#[test]
fn the_mismatch_names_the_element_by_its_multi_index() {
    // Square's wrong VJP is right where x = 0 (both are 0), so with x = [0 0; 0 1.5] the
    // first bad element is [1, 1]: analytic 1.5, numeric 3.
    let x = t(&[2, 2], &[0.0, 0.0, 0.0, 1.5]);
    match gradcheck(|_, v| square(v[0], 1.0)?.sum(), &[x], &default()) {
        Err(GradcheckError::Mismatch { input: 0, index, analytic, numeric, .. }) => {
            assert_eq!(index, vec![1, 1]);
            assert_eq!(analytic, 1.5);
            assert!((numeric - 3.0).abs() < 1e-6);
        }
        other => panic!("expected a mismatch at [1, 1], got {other:?}"),
    }
}

#[test]
fn the_mismatch_names_the_input_it_is_in() {
    // The first input goes through a correct path, the second through the wrong square.
    let a = t(&[2], &[1.0, 2.0]);
    let b = t(&[1, 2], &[-1.0, 0.75]);
    let f = scalar_fn(|_, v| v[0].sum_squares()?.add(square(v[1], 1.0)?.sum()?));
    match gradcheck(f, &[a.clone(), b.clone()], &default()) {
        Err(GradcheckError::Mismatch { input, index, analytic, numeric, .. }) => {
            assert_eq!(input, 1);
            assert_eq!(index, vec![0, 0]);
            assert_eq!(analytic, -1.0);
            assert!((numeric + 2.0).abs() < 1e-6);
        }
        other => panic!("expected a mismatch in input 1, got {other:?}"),
    }
    let f = scalar_fn(|_, v| v[0].sum_squares()?.add(square(v[1], 2.0)?.sum()?));
    let report = gradcheck(f, &[a, b], &default()).unwrap();
    assert_eq!(report.inputs.iter().map(|r| r.checked).collect::<Vec<_>>(), vec![2, 2]);
}

#[test]
fn a_relu_with_an_inverted_mask_is_caught() {
    // Away from 0: the true gradient is 1(x > 0); the inverted one is its complement, so
    // the first element already differs by the full weight.
    let x = t(&[2, 3], &[0.5, -0.25, 1.0, -2.0, 0.125, -0.75]);
    let weights = t(&[6, 1], &[1.0, -2.0, 3.0, -4.0, 5.0, -6.0]);
    let f = |inverted: bool| {
        let weights = weights.clone();
        scalar_fn(move |tape, v| relu(v[0], inverted)?.reshape(&[1, 6])?.matmul(tape.constant(weights.clone())))
    };
    match gradcheck(f(true), std::slice::from_ref(&x), &default()) {
        Err(GradcheckError::Mismatch { input: 0, index, analytic, numeric, .. }) => {
            // x[0,0] = 0.5 > 0: true ∂/∂x = weight 1, the inverted mask gives 0.
            assert_eq!(index, vec![0, 0]);
            assert_eq!(analytic, 0.0);
            assert!((numeric - 1.0).abs() < 1e-6);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let report = gradcheck(f(false), &[x], &default()).unwrap();
    assert_eq!(report.inputs[0].checked, 6);
}

#[test]
fn relu_at_exactly_zero_is_a_kink_gradcheck_rejects() {
    // Central differences at 0 see (h − 0)/2h = ½; the subgradient chosen is 0. This is why
    // the property tests keep inputs away from 0.
    let x = t(&[2], &[1.0, 0.0]);
    match gradcheck(|_, v| v[0].relu()?.sum(), &[x], &default()) {
        Err(GradcheckError::Mismatch { input: 0, index, analytic, numeric, .. }) => {
            assert_eq!(index, vec![1]);
            assert_eq!(analytic, 0.0);
            assert!((numeric - 0.5).abs() < 1e-9);
        }
        other => panic!("expected a mismatch at the kink, got {other:?}"),
    }
}

#[test]
fn a_nan_gradient_is_a_mismatch() {
    struct NanGrad;
    impl Op<f64> for NanGrad {
        fn name(&self) -> &'static str {
            "nan_grad"
        }
        fn vjp(&self, grad: &Tensor<f64>, _: &[bool]) -> autograd::Result<Vec<Option<Tensor<f64>>>> {
            Ok(vec![Some(grad.map(|_| f64::NAN))])
        }
    }
    let x = t(&[2], &[1.0, 2.0]);
    let result = gradcheck(|tape, v| tape.record(&[v[0]], v[0].value(), || NanGrad)?.sum(), &[x], &default());
    assert!(matches!(result, Err(GradcheckError::Mismatch { input: 0, ref index, .. }) if index == &vec![0]));
}

#[test]
fn a_non_scalar_function_is_refused() {
    let x = t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(
        gradcheck(|_, v| v[0].relu(), std::slice::from_ref(&x), &default()),
        Err(GradcheckError::NotScalar { shape: vec![2, 2] })
    );
    // Any one-element shape is a scalar.
    let report = gradcheck(|_, v| v[0].reshape(&[4, 1])?.t()?.matmul(v[0].reshape(&[4, 1])?), &[x], &default());
    assert_eq!(report.unwrap().inputs[0].checked, 4);
}

#[test]
fn max_elements_checks_exactly_that_many() {
    let a = Tensor::from_fn(&[2, 5], |i| (i[0] * 5 + i[1]) as f64 * 0.1 - 0.4).unwrap();
    let b = t(&[4], &[0.1, 0.2, 0.3, 0.4]);
    let f = scalar_fn(|_, v| v[0].sum_squares()?.add(v[1].sum_squares()?));
    for (k, expected) in [
        (Some(0), [0, 0]),
        (Some(3), [3, 3]),
        (Some(5), [5, 4]),
        (Some(10), [10, 4]),
        (Some(25), [10, 4]),
        (None, [10, 4]),
    ] {
        let config = GradcheckConfig { max_elements: k, ..default() };
        let report = gradcheck(f, &[a.clone(), b.clone()], &config).unwrap();
        let checked: Vec<_> = report.inputs.iter().map(|r| r.checked).collect();
        assert_eq!(checked, expected, "max_elements {k:?}");
    }
}

#[test]
fn sampled_elements_depend_on_the_seed_and_still_catch_errors() {
    // The wrong square is wrong only at x[7] (the only non-zero element); sampling one
    // element of ten, some seeds find it (and name it), others do not.
    let x = Tensor::from_fn(&[10], |i| if i[0] == 7 { 1.25 } else { 0.0 }).unwrap();
    let (mut caught, mut missed) = (0, 0);
    for seed in 0..64 {
        let config = GradcheckConfig { max_elements: Some(1), seed, ..default() };
        match gradcheck(|_, v| square(v[0], 1.0)?.sum(), std::slice::from_ref(&x), &config) {
            Err(GradcheckError::Mismatch { index, .. }) => {
                assert_eq!(index, vec![7]);
                caught += 1;
            }
            Ok(report) => {
                assert_eq!(report.inputs[0].checked, 1);
                missed += 1;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(caught > 0 && missed > 0, "caught {caught}, missed {missed}");
    // When every element is wrong, any sample catches it.
    let config = GradcheckConfig { max_elements: Some(2), seed: 3, ..default() };
    assert!(matches!(
        gradcheck(|_, v| square(v[0], 1.0)?.sum(), &[x.map(|v| v + 1.0)], &config),
        Err(GradcheckError::Mismatch { .. })
    ));
}

#[test]
fn function_errors_pass_through() {
    let a = t(&[2, 3], &[0.0; 6]);
    let err = gradcheck(|_, v| v[0].matmul(v[0])?.sum(), std::slice::from_ref(&a), &default()).unwrap_err();
    assert_eq!(
        err,
        GradcheckError::Function(AutogradError::Tensor(TensorError::ShapeMismatch {
            op: "matmul",
            lhs: vec![2, 3],
            rhs: vec![2, 3],
        }))
    );
    let err = gradcheck(|_, v| v[0].softmax_cross_entropy(&[5, 0]), &[a], &default()).unwrap_err();
    assert!(matches!(err, GradcheckError::Function(AutogradError::InvalidLabel { label: 5, .. })));
}

#[test]
fn inputs_the_output_ignores_and_constant_outputs_pass_with_zero_gradients() {
    let a = t(&[2], &[1.0, 2.0]);
    let b = t(&[3], &[3.0, 4.0, 5.0]);
    let report = gradcheck(|_, v| v[0].sum(), &[a.clone(), b.clone()], &default()).unwrap();
    assert_eq!(report.inputs[1].checked, 3);
    assert_eq!(report.inputs[1].max_abs_error, 0.0);
    let report = gradcheck(|tape, _| Ok(tape.constant(Tensor::scalar(1.0))), &[a, b], &default()).unwrap();
    assert!(report.inputs.iter().all(|r| r.max_abs_error == 0.0));
    assert_eq!(report.inputs.iter().map(|r| r.checked).sum::<usize>(), 5);
}

#[test]
fn the_tolerances_of_the_config_are_used() {
    // A VJP off by 1% (factor 2.02 instead of 2): inside rtol 0.05, outside the default 1e-3.
    let x = t(&[2], &[1.0, -2.0]);
    assert!(matches!(
        gradcheck(|_, v| square(v[0], 2.02)?.sum(), std::slice::from_ref(&x), &default()),
        Err(GradcheckError::Mismatch { .. })
    ));
    let loose = GradcheckConfig { rtol: 0.05, ..default() };
    let report = gradcheck(|_, v| square(v[0], 2.02)?.sum(), &[x], &loose).unwrap();
    assert!((report.inputs[0].max_rel_error - 0.01).abs() < 1e-6, "{report:?}");
}
