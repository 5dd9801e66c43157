//! tanh, sigmoid and leaky ReLU against their definitions in f64, on random views; the
//! sigmoid's stability at large |x|.

use crate::common;

use common::*;
use proptest::prelude::*;
use tensor::{Element, Tensor};

fn check_activations<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let want = |f: &dyn Fn(f64) -> f64| Nd::new(&shape, rx.data.iter().map(|v| f(v.to_f64_exact())).collect());
    assert_close(&x.tanh(), &want(&f64::tanh), None, 4.0 * eps::<T>())?;
    assert_close(&x.sigmoid(), &want(&|v| 1.0 / (1.0 + (-v).exp())), None, 4.0 * eps::<T>())?;
    let slope = T::from_f64_lossy(0.01);
    let s = slope.to_f64_exact();
    assert_close(&x.leaky_relu(slope), &want(&|v| if v > 0.0 { v } else { s * v }), None, eps::<T>())?;
    Ok(())
}

stamp_f32_f64! {
    fn activations_match_their_definitions(shape in shapes(4, 5), seed in any::<u64>()) => check_activations;
}

#[test]
fn sigmoid_saturates_without_overflow() {
    let x = Tensor::<f32>::from_vec(&[4], vec![-1000.0, -100.0, 100.0, 1000.0]).unwrap();
    let y = x.sigmoid().to_vec();
    assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
    assert_eq!(y[0], 0.0);
    assert!(y[1] > 0.0 && y[1] < 1e-40);
    assert_eq!(&y[2..], &[1.0, 1.0]);
}
