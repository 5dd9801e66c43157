//! `global_avg_pool2d` against a naive loop over each map, its gradient against central
//! differences in f64, and its errors on inputs that are not maps.

use crate::common;

use autograd::Tape;
use autograd::strategies;
use common::*;
use proptest::prelude::*;
use tensor::Tensor;

fn maps() -> impl Strategy<Value = Tensor<f64>> {
    (1..=3usize, 1..=4usize, 1..=6usize, 1..=6usize)
        .prop_flat_map(|(n, c, h, w)| strategies::tensor::<f64>(vec![n, c, h, w]))
}

/// `y[n][c] = Σ x[n][c][i][j] / (H·W)`, one element at a time.
fn naive(x: &Tensor<f64>) -> Vec<f64> {
    let &[n, c, h, w] = x.shape() else { panic!("rank 4") };
    let mut y = Vec::new();
    for b in 0..n {
        for k in 0..c {
            let mut s = 0.0;
            for i in 0..h {
                for j in 0..w {
                    s += x.get(&[b, k, i, j]).unwrap();
                }
            }
            y.push(s / (h * w) as f64);
        }
    }
    y
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn each_map_s_mean_as_a_loop_computes_it(x in maps()) {
        let tape = Tape::new();
        let y = tape.leaf(x.clone()).global_avg_pool2d()?.value();
        let &[n, c, _, _] = x.shape() else { unreachable!() };
        prop_assert_eq!(y.shape(), &[n, c, 1, 1]);
        prop_close(&y.to_vec(), &naive(&x), 1e-12)?;
    }

    #[test]
    fn its_gradient_is_central_differences(x in maps(), seed in any::<u64>()) {
        check_gradients(|_, v| weighted_sum(v[0].global_avg_pool2d()?, seed), &[x])?;
    }

    /// The VJP spreads each map's gradient evenly: `∇x[n, c, i, j] = ∇y[n, c]/(H·W)`.
    #[test]
    fn the_gradient_of_a_map_is_its_output_gradient_over_its_area(x in maps(), seed in any::<u64>()) {
        let tape = Tape::new();
        let v = tape.leaf(x.clone());
        let y = v.global_avg_pool2d()?;
        let weights = random_tensor(y.value().shape(), seed);
        let loss = y.mul(tape.constant(weights.clone()))?.sum()?;
        let g = tape.backward(loss)?.get(v).unwrap().clone();
        let &[_, _, h, w] = x.shape() else { unreachable!() };
        let expected: Vec<f64> =
            weights.iter().flat_map(|g| std::iter::repeat_n(g / (h * w) as f64, h * w)).collect();
        prop_close(&g.to_vec(), &expected, 1e-12)?;
    }
}

#[test]
fn inputs_that_are_not_maps_are_errors_naming_the_shape() {
    let tape = Tape::<f64>::new();
    for shape in [&[2, 3, 4][..], &[2, 3, 0, 4], &[1, 1, 1, 1, 1]] {
        let Err(e) = tape.leaf(Tensor::zeros(shape).unwrap()).global_avg_pool2d() else { panic!("{shape:?} pooled") };
        let e = e.to_string();
        assert!(e.contains("global_avg_pool2d") && e.contains(&format!("{shape:?}")), "{e}");
    }
}
