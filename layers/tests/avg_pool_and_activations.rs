//! `AvgPool2d`, `Tanh`, `Sigmoid`, `LeakyReLU`: gradients against central differences on
//! random shapes, forward values against naive loops and formulas.

use crate::common;

use autograd::GradcheckConfig;
use common::{assert_close, out_size, random_tensor, tap, to_f64};
use layers::gradcheck::gradcheck_module;
use layers::{AvgPool2d, LayerError, LeakyReLU, Module, Sigmoid, Tanh};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tensor::{Tensor, Window2d};

/// PyTorch's average pooling by loops: the sum of the in-bounds taps over `kernel²`.
fn avg_pool_naive(x: &[f64], xs: &[usize], k: usize, s: usize, p: usize) -> (Vec<usize>, Vec<f64>) {
    let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
    let (oh, ow) = (out_size(h, k, s, p), out_size(w, k, s, p));
    let mut out = Vec::new();
    for b in 0..n {
        for ch in 0..c {
            for i in 0..oh {
                for j in 0..ow {
                    let mut sum = 0.0;
                    for di in 0..k {
                        for dj in 0..k {
                            if let (Some(r), Some(q)) = (tap(i, di, s, p, h), tap(j, dj, s, p, w)) {
                                sum += x[((b * c + ch) * h + r) * w + q];
                            }
                        }
                    }
                    out.push(sum / (k * k) as f64);
                }
            }
        }
    }
    (vec![n, c, oh, ow], out)
}

#[test]
fn avg_pool_matches_loops_and_central_differences_on_random_shapes() {
    let mut rng = StdRng::seed_from_u64(31);
    for case in 0..10 {
        let k = rng.random_range(1..4usize);
        let s = rng.random_range(1..4usize);
        let p = rng.random_range(0..=k / 2);
        let (h, w) = (rng.random_range(k..k + 5), rng.random_range(k..k + 5));
        let shape = [rng.random_range(1..3), rng.random_range(1..3), h, w];
        let mut layer = AvgPool2d::with_window(Window2d::square(k, s, p)).unwrap();
        let x = random_tensor::<f64>(&shape, 40 + case);
        let (expected_shape, expected) = avg_pool_naive(&x.to_vec(), &shape, k, s, p);
        let y = layer.predict(&x).unwrap();
        assert_eq!(y.shape(), expected_shape.as_slice());
        assert_close(&y.to_vec(), &expected, 1e-12, 1e-12);
        assert_eq!(layer.output_shape(&shape).unwrap(), expected_shape);
        let report = gradcheck_module(&mut layer, &x, &GradcheckConfig::default()).unwrap();
        assert!(report.tensors[0].max_abs_error < 1e-7, "{k} {s} {p} {shape:?}: {report:?}");
    }
}

#[test]
fn avg_pool_rejects_bad_windows_and_inputs() {
    assert!(AvgPool2d::new(0, 1).is_err());
    assert!(AvgPool2d::new(2, 0).is_err());
    assert!(AvgPool2d::with_window(Window2d::square(2, 2, 2)).is_err());
    let layer = AvgPool2d::new(3, 3).unwrap();
    for bad in [vec![1, 1, 2, 2], vec![4, 9]] {
        let err = layer.output_shape(&bad).unwrap_err();
        assert!(matches!(&err, LayerError::InputShape { got, .. } if *got == bad), "{err}");
        assert!(err.to_string().contains("AvgPool2d"), "{err}");
    }
}

/// Each activation's output against its formula, and its gradient against central
/// differences, on 2-D and 4-D random inputs.
fn check_activation<M: Module<f64>>(mut layer: M, formula: impl Fn(f64) -> f64) {
    let shapes: [&[usize]; 3] = [&[3, 7], &[2, 3, 4, 5], &[1, 1]];
    for (case, shape) in shapes.iter().enumerate() {
        let x = random_tensor::<f64>(shape, 50 + case as u64).map(|v| 3.0 * v);
        let y = layer.predict(&x).unwrap();
        let expected: Vec<f64> = x.iter().map(&formula).collect();
        assert_close(&to_f64(&y), &expected, 1e-12, 1e-12);
        assert_eq!(layer.output_shape(shape).unwrap(), shape.to_vec());
        let report = gradcheck_module(&mut layer, &x, &GradcheckConfig::default()).unwrap();
        assert!(report.tensors[0].max_abs_error < 1e-7, "{layer:?}: {report:?}");
    }
}

#[test]
fn tanh_sigmoid_and_leaky_relu_match_their_formulas_and_central_differences() {
    check_activation(Tanh, f64::tanh);
    check_activation(Sigmoid, |x| 1.0 / (1.0 + (-x).exp()));
    check_activation(LeakyReLU::default(), |x| if x > 0.0 { x } else { 0.01 * x });
    check_activation(LeakyReLU::new(0.2).unwrap(), |x| if x > 0.0 { x } else { 0.2 * x });
    assert_eq!(LeakyReLU::default().slope(), 0.01);
    assert!(LeakyReLU::new(f64::INFINITY).is_err());
}

#[test]
fn activations_in_f32_stay_in_range_for_large_inputs() {
    let x = Tensor::<f32>::from_vec(&[1, 4], vec![-100.0, -30.0, 30.0, 100.0]).unwrap();
    let t = Module::<f32>::predict(&Tanh, &x).unwrap().to_vec();
    let s = Module::<f32>::predict(&Sigmoid, &x).unwrap().to_vec();
    assert_eq!(t, vec![-1.0, -1.0, 1.0, 1.0]);
    assert!(s.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{s:?}");
}
