//! `Dropout`: the gradient against central differences on tapes carrying a step context,
//! the masks' statistics and keys (seed, step, layer, sample), identity in evaluation mode,
//! and the error without a context.

use crate::common;

use std::sync::Arc;

use autograd::{ReduceGroup, StepContext, Tape};
use common::{assert_close, random_tensor};
use layers::{Dropout, LayerError, Module};
use tensor::Tensor;

/// `Σ w·dropout(x)` on a tape carrying `context`, for a fixed random `w`.
fn weighted_output(layer: &Dropout, x: &Tensor<f64>, context: &StepContext, record: bool) -> (f64, Option<Vec<f64>>) {
    let mut tape = if record { Tape::new() } else { Tape::no_grad() };
    tape.set_context(Some(context.clone()));
    let xv = if record { tape.leaf(x.clone()) } else { tape.constant(x.clone()) };
    let s = common::weighted_sum(layer.forward(xv).unwrap(), 99).unwrap();
    let value = s.value().item().unwrap();
    let grad = record.then(|| tape.backward(s).unwrap().get(xv).unwrap().to_vec());
    (value, grad)
}

#[test]
fn training_mode_gradient_matches_central_differences_on_random_shapes() {
    let shapes: [&[usize]; 4] = [&[3, 5], &[2, 3, 4, 4], &[4, 1, 3, 2], &[1, 7]];
    for (case, shape) in shapes.iter().enumerate() {
        for p in [0.25, 0.5, 0.9] {
            let layer = Dropout::new(p, case as u64).unwrap();
            let context = StepContext::single(7, case as u64);
            let x = random_tensor::<f64>(shape, case as u64);
            let (_, grad) = weighted_output(&layer, &x, &context, true);
            let grad = grad.unwrap();
            let h = 1e-6;
            for (flat, &analytic) in grad.iter().enumerate() {
                let mut plus = x.to_contiguous();
                plus.as_mut_slice()[flat] += h;
                let mut minus = x.to_contiguous();
                minus.as_mut_slice()[flat] -= h;
                let numeric = (weighted_output(&layer, &plus, &context, false).0
                    - weighted_output(&layer, &minus, &context, false).0)
                    / (2.0 * h);
                assert!((analytic - numeric).abs() <= 1e-5 + 1e-3 * numeric.abs(), "{shape:?} p {p}: {flat}");
            }
        }
    }
}

#[test]
fn kept_elements_are_scaled_by_one_over_one_minus_p_and_about_p_are_dropped() {
    let layer = Dropout::new(0.3, 4).unwrap();
    let x = Tensor::<f64>::full(&[200, 50], 2.0).unwrap();
    let tape = Tape::with_context(StepContext::single(1, 0));
    let y = layer.forward(tape.constant(x)).unwrap().value().to_vec();
    let kept = y.iter().filter(|&&v| v != 0.0).count();
    assert!(y.iter().all(|&v| v == 0.0 || (v - 2.0 / 0.7).abs() < 1e-12));
    let fraction = kept as f64 / y.len() as f64;
    // 10 000 Bernoulli(0.7) draws: standard deviation 0.0046.
    assert!((fraction - 0.7).abs() < 0.02, "kept {fraction}");
}

#[test]
fn masks_are_keyed_by_seed_step_layer_and_sample_not_by_the_split() {
    let x = random_tensor::<f64>(&[6, 3, 2, 2], 3);
    let run = |layer: u64, seed: u64, step: u64| -> Vec<f64> {
        let tape = Tape::with_context(StepContext::single(seed, step));
        Dropout::new(0.5, layer).unwrap().forward(tape.constant(x.clone())).unwrap().value().to_vec()
    };
    let base = run(2, 10, 5);
    assert_eq!(base, run(2, 10, 5), "a resumed run redraws the same mask");
    assert_ne!(base, run(3, 10, 5), "another layer");
    assert_ne!(base, run(2, 10, 6), "another step");
    assert_ne!(base, run(2, 11, 5), "another seed");

    // Two shards on two threads: their outputs are the rows of the unsplit batch's output.
    let group = Arc::new(ReduceGroup::new(2).unwrap());
    let layer = Dropout::new(0.5, 2).unwrap();
    let parts: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = [(0, 4), (4, 2)]
            .into_iter()
            .enumerate()
            .map(|(shard, (start, len))| {
                let (group, x) = (group.clone(), &x);
                scope.spawn(move || {
                    let context =
                        StepContext { shard, shards: 2, first_sample: start, group: Some(group), seed: 10, step: 5 };
                    let tape = Tape::with_context(context);
                    let xs = tape.constant(x.narrow(0, start, len).unwrap().to_contiguous());
                    layer.forward(xs).unwrap().value().to_vec()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(parts.concat(), base);
}

#[test]
fn evaluation_mode_and_p_zero_are_the_identity() {
    let x = random_tensor::<f32>(&[4, 6], 8);
    let mut layer = Dropout::new(0.5, 0).unwrap();
    layer.set_training(false);
    assert!(!layer.is_training());
    let tape = Tape::<f32>::new();
    assert_eq!(layer.forward(tape.constant(x.clone())).unwrap().value().to_vec(), x.to_vec());
    assert_eq!(Module::<f32>::predict(&layer, &x).unwrap().to_vec(), x.to_vec());
    let zero = Dropout::new(0.0, 0).unwrap();
    assert_eq!(zero.forward(tape.constant(x.clone())).unwrap().value().to_vec(), x.to_vec());
    // With p = 1 every element is dropped, as PyTorch.
    let all = Dropout::new(1.0, 0).unwrap();
    let tape = Tape::<f32>::with_context(StepContext::single(0, 0));
    assert_close(
        &all.forward(tape.constant(x.clone())).unwrap().value().iter().map(f64::from).collect::<Vec<_>>(),
        &[0.0; 24],
        0.0,
        0.0,
    );
}

#[test]
fn training_mode_without_a_step_context_is_an_error_naming_the_fix() {
    let layer = Dropout::new(0.5, 1).unwrap();
    let tape = Tape::<f32>::new();
    let Err(err) = layer.forward(tape.constant(Tensor::zeros(&[2, 3]).unwrap())) else { panic!("no error") };
    assert!(matches!(err, LayerError::Config { .. }), "{err}");
    assert!(err.to_string().contains("StepContext::single"), "{err}");
    assert!(err.to_string().contains("set_training(false)"), "{err}");
    // The shape does not need a context.
    assert_eq!(Module::<f32>::output_shape(&layer, &[2, 3]).unwrap(), vec![2, 3]);
    assert!(Dropout::new(1.5, 0).is_err());
    assert!(Dropout::new(f64::NAN, 0).is_err());
}
