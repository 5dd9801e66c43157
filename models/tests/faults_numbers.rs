//! Numbers that go wrong, in process on synthetic data: a NaN or an infinity in the loss
//! or a gradient stops training at that step with an error naming the step and the first
//! parameter whose gradient is not finite, and the trainer is left as it was after the
//! step before; gradient-norm clipping scales every gradient by `F / (‖g‖₂ + 10⁻⁶)`.

use crate::resume_support;

use layers::Module;
use layers::optim::{clip_grad_norm, first_non_finite_gradient, gradient_norm};
use models::data::Preprocess;
use models::train::{Flow, TrainConfig, TrainError, forward_backward};
use models::{LeNet5, Split};
use resume_support::{lenet5_trainer, synthetic_split};
use tensor::Tensor;

fn bits(model: &LeNet5<f32>) -> Vec<u32> {
    model
        .named_parameters()
        .into_iter()
        .flat_map(|(_, p)| p.value.iter().map(f32::to_bits).collect::<Vec<_>>())
        .collect()
}

/// The first `n` images of a split as a batch tensor and labels.
fn batch(split: &Split, n: usize) -> (Tensor<f32>, Vec<usize>) {
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    Preprocess::mnist().fill_batch(split, &(0..n).collect::<Vec<_>>(), &mut x, &mut labels).unwrap();
    (Tensor::from_vec(&[n, 1, 32, 32], x).unwrap(), labels)
}

fn config() -> TrainConfig {
    TrainConfig { batch_size: 16, threads: 1, epochs: 2, seed: 8, ..TrainConfig::default() }
}

/// Poisons element 0 of parameter `name` with `value`.
fn poison(model: &mut LeNet5<f32>, name: &str, value: f32) {
    let (_, p) = model.named_parameters_mut().into_iter().find(|(n, _)| n == name).unwrap();
    p.value.as_mut_slice()[0] = value;
}

/// The first parameter (in named order) whose gradient on the batch has a non-finite
/// value, found by scanning every element here.
fn expected_culprit(model: &LeNet5<f32>, x: &Tensor<f32>, labels: &[usize]) -> (bool, Option<String>) {
    let out = forward_backward(model, x, labels, 1).unwrap();
    let culprit = model
        .named_parameters()
        .into_iter()
        .find(|(_, p)| out.grads.param(p).unwrap().to_vec().iter().any(|g| g.is_nan() || g.is_infinite()))
        .map(|(n, _)| n);
    (out.loss.is_nan() || out.loss.is_infinite(), culprit)
}

#[test]
fn a_poisoned_weight_stops_the_first_step_and_changes_nothing() {
    let train = synthetic_split(64, 1);
    let test = synthetic_split(8, 2);
    let mut tried = 0;
    for (name, value) in
        [("f7.bias", f32::NAN), ("c1.weight", f32::INFINITY), ("f6.weight", f32::NEG_INFINITY), ("c5.bias", f32::NAN)]
    {
        let mut trainer = lenet5_trainer(config());
        poison(&mut trainer.model, name, value);
        // The first batch of epoch 1: the shuffle's first 16 images.
        let order = trainer.epoch_order(0, train.len());
        let (mut xs, mut ls) = (Vec::new(), Vec::new());
        Preprocess::mnist().fill_batch(&train, &order[..16], &mut xs, &mut ls).unwrap();
        let first = Tensor::from_vec(&[16, 1, 32, 32], xs).unwrap();
        let (loss_bad, culprit) = expected_culprit(&trainer.model, &first, &ls);
        assert!(loss_bad || culprit.is_some(), "{name} = {value} poisons the step");
        let before = bits(&trainer.model);
        let err = trainer.run_epoch(&train, &test, |_| {}).unwrap_err();
        let TrainError::NonFinite(nf) = &err else { panic!("{err:?}") };
        assert_eq!((nf.step, nf.epoch, nf.step_in_epoch, nf.steps_in_epoch), (1, 1, 1, 4), "{err}");
        assert_eq!(nf.parameter, culprit, "{err}");
        assert_eq!(nf.loss.is_finite(), !loss_bad);
        let msg = err.to_string();
        assert!(msg.starts_with("training stopped at step 1 (epoch 1, step 1/4): "), "{msg}");
        if let Some(c) = &culprit {
            assert!(msg.contains(&format!("the gradient of {c} is not finite")), "{msg}");
        }
        // Nothing moved: weights, counters, optimizer state.
        assert_eq!(bits(&trainer.model), before);
        assert_eq!((trainer.steps, trainer.epoch, trainer.progress.step), (0, 0, 0));
        assert_eq!(trainer.optimizer.state().step, 0);
        assert!(trainer.optimizer.state().tensors.is_empty());
        tried += 1;
    }
    assert_eq!(tried, 4);
}

#[test]
fn a_weight_poisoned_mid_run_stops_at_that_step() {
    let train = synthetic_split(64, 3);
    let test = synthetic_split(8, 4);
    let mut trainer = lenet5_trainer(config());
    // Epoch 1 (4 steps), then 2 steps of epoch 2, then poison.
    trainer.run_epoch(&train, &test, |_| {}).unwrap();
    let mut n = 0;
    trainer
        .advance(&train, &test, |_| {
            n += 1;
            if n == 2 { Flow::Pause } else { Flow::Continue }
        })
        .unwrap();
    assert_eq!((trainer.steps, trainer.progress.step), (6, 2));
    poison(&mut trainer.model, "c3.weight", f32::NAN);
    let progress = trainer.progress;
    let momentum_before: Vec<Vec<u32>> =
        trainer.optimizer.state().tensors.iter().map(|(_, t)| t.iter().map(f32::to_bits).collect()).collect();
    let err = trainer.run_epoch(&train, &test, |_| {}).unwrap_err();
    let TrainError::NonFinite(nf) = &err else { panic!("{err:?}") };
    assert_eq!((nf.step, nf.epoch, nf.step_in_epoch), (7, 2, 3), "{err}");
    assert!(nf.parameter.is_some(), "{err}");
    assert_eq!(trainer.steps, 6);
    assert_eq!(trainer.progress, progress, "the epoch's running sums are untouched");
    let momentum_after: Vec<Vec<u32>> =
        trainer.optimizer.state().tensors.iter().map(|(_, t)| t.iter().map(f32::to_bits).collect()).collect();
    assert_eq!(momentum_after, momentum_before);
}

#[test]
fn first_non_finite_gradient_follows_the_named_order() {
    let train = synthetic_split(8, 5);
    let model = lenet5_trainer(config()).model;
    let (x, labels) = batch(&train, 8);
    let out = forward_backward(&model, &x, &labels, 1).unwrap();
    assert_eq!(first_non_finite_gradient(&model, &out.grads), None, "a healthy step");
    assert!(out.loss.is_finite());
}

#[test]
fn clipping_scales_every_gradient_to_the_norm_and_no_further() {
    let train = synthetic_split(32, 6);
    let model = lenet5_trainer(config()).model;
    let (x, labels) = batch(&train, 32);
    let grads_of = || forward_backward(&model, &x, &labels, 1).unwrap().grads;
    let flat = |g: &autograd::Gradients<f32>| -> Vec<f32> {
        model.named_parameters().into_iter().flat_map(|(_, p)| g.param(p).unwrap().to_vec()).collect()
    };
    let original = flat(&grads_of());
    // The norm, summed here in f64 in named order.
    let norm = original.iter().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>().sqrt();
    assert!(norm > 0.0);
    assert!((gradient_norm(&grads_of()) - norm).abs() <= 1e-12 * norm);

    // A bound above the norm changes nothing, bit for bit.
    let mut g = grads_of();
    let reported = clip_grad_norm(&mut g, 2.0 * norm);
    assert!((reported - norm).abs() <= 1e-12 * norm);
    assert_eq!(
        flat(&g).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        original.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );

    // A bound of a quarter of the norm: every element times F / (‖g‖ + 10⁻⁶), as f32.
    let max = norm / 4.0;
    let mut g = grads_of();
    clip_grad_norm(&mut g, max);
    let factor = (max / (norm + 1e-6)) as f32;
    let clipped = flat(&g);
    for (c, o) in clipped.iter().zip(&original) {
        assert_eq!(c.to_bits(), (o * factor).to_bits());
    }
    let new_norm = clipped.iter().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>().sqrt();
    assert!((new_norm - max).abs() <= 1e-5 * max, "{new_norm} vs {max}");
}

#[test]
fn a_clipped_training_step_is_sgd_on_the_scaled_gradient() {
    let train = synthetic_split(16, 7);
    let test = synthetic_split(4, 8);
    let config = TrainConfig {
        batch_size: 16,
        threads: 1,
        epochs: 1,
        momentum: 0.0,
        weight_decay: 0.0,
        shuffle: false,
        clip_grad_norm: Some(0.01),
        max_steps: Some(1),
        ..TrainConfig::default()
    };
    let mut trainer = lenet5_trainer(config.clone());
    let (x, labels) = batch(&train, 16);
    let grads = forward_backward(&trainer.model, &x, &labels, 1).unwrap().grads;
    let norm: f64 = trainer
        .model
        .named_parameters()
        .into_iter()
        .flat_map(|(_, p)| grads.param(p).unwrap().to_vec())
        .map(|g| f64::from(g) * f64::from(g))
        .sum::<f64>()
        .sqrt();
    assert!(norm > 0.01, "the bound bites: ‖g‖ = {norm}");
    let factor = (0.01 / (norm + 1e-6)) as f32;
    let lr = 0.05f32; // epoch 1 of 1: the cosine schedule's full rate.
    let expected: Vec<u32> = trainer
        .model
        .named_parameters()
        .into_iter()
        .flat_map(|(_, p)| {
            let g = grads.param(p).unwrap().to_vec();
            p.value
                .to_vec()
                .into_iter()
                .zip(g)
                .map(|(w, g)| (w - lr * ((g * factor) + 0.0 * w)).to_bits())
                .collect::<Vec<_>>()
        })
        .collect();
    trainer.run_epoch(&train, &test, |_| {}).unwrap();
    assert_eq!(trainer.steps, 1);
    assert_eq!(bits(&trainer.model), expected);
}
