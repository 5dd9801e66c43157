//! End to end: a small CNN that is not LeNet-5 (3 input channels, 3×3 convolutions with
//! padding 1, a stride-2 convolution, an overlapping 3×3/2 max-pool, two linear layers),
//! built with Sequential and trained on a tiny synthetic problem until its loss falls by a
//! stated factor.
//!
//! The problem: 64 random 3×8×8 images (uniform noise in ±0.5, plus 0.2 added to one
//! random 4×4 quadrant of every channel); the label is the quadrant with the largest mean,
//! computed from the pixels. Chance-level loss is ln 4 ≈ 1.39.

use autograd::Tape;
use layers::{
    Adam, AdamConfig, Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Module, Optimizer, ReLU, Sequential, Sgd,
    SgdConfig, cross_entropy,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tensor::{Tensor, Window2d};

const N: usize = 64;

/// The images `[64, 3, 8, 8]` and their labels (quadrant 0..4 in row-major order).
fn dataset(seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = vec![0f32; N * 3 * 64];
    for img in x.chunks_mut(3 * 64) {
        let planted = rng.random_range(0..4usize);
        for (k, v) in img.iter_mut().enumerate() {
            let (r, c) = ((k % 64) / 8, k % 8);
            let quadrant = 2 * (r / 4) + c / 4;
            *v = rng.random_range(-0.5f32..0.5) + if quadrant == planted { 0.2 } else { 0.0 };
        }
    }
    let labels = x
        .chunks(3 * 64)
        .map(|img| {
            let mut sums = [0f64; 4];
            for (k, &v) in img.iter().enumerate() {
                let (r, c) = ((k % 64) / 8, k % 8);
                sums[2 * (r / 4) + c / 4] += f64::from(v);
            }
            (0..4).max_by(|&a, &b| sums[a].total_cmp(&sums[b])).unwrap()
        })
        .collect();
    (Tensor::from_vec(&[N, 3, 8, 8], x).unwrap(), labels)
}

fn small_cnn(seed: u64) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .with(Conv2d::new(Conv2dConfig::new(3, 8, 3).padding(1), &mut rng).unwrap()) // 8×8×8
        .with(ReLU)
        .with(Conv2d::new(Conv2dConfig::new(8, 8, 3).stride(2).padding(1), &mut rng).unwrap()) // 8×4×4
        .with(ReLU)
        .with(MaxPool2d::with_window(Window2d::square(3, 2, 1)).unwrap()) // 8×2×2, overlapping
        .with(Flatten)
        .with(Linear::new(32, 16, &mut rng).unwrap())
        .with(ReLU)
        .with(Linear::new(16, 4, &mut rng).unwrap())
}

/// Loss and accuracy on the whole set, on a no-grad tape.
fn evaluate(net: &Sequential<f32>, x: &Tensor<f32>, labels: &[usize]) -> (f32, f32) {
    let tape = Tape::no_grad();
    let logits = net.forward(tape.constant(x.clone())).unwrap();
    let predicted = logits.value().argmax_axis(1, false).unwrap().to_vec();
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    let loss = cross_entropy(logits, labels).unwrap().value().item().unwrap();
    (loss, correct as f32 / labels.len() as f32)
}

/// Full-batch training for up to `max_steps`, stopping once the loss is below
/// `initial / factor` (checked every 10 steps); returns (initial loss, final loss, final accuracy, steps).
fn train(
    net: &mut Sequential<f32>,
    opt: &mut dyn Optimizer<f32>,
    max_steps: usize,
    factor: f32,
) -> (f32, f32, f32, usize) {
    let (x, labels) = dataset(7);
    let classes: std::collections::BTreeSet<_> = labels.iter().collect();
    assert_eq!(classes.len(), 4, "every class occurs");
    assert_eq!(net.output_shape(&[N, 3, 8, 8]).unwrap(), vec![N, 4]);
    let (initial, _) = evaluate(net, &x, &labels);
    let mut steps = 0;
    while steps < max_steps {
        let grads = {
            let tape = Tape::new();
            let loss = cross_entropy(net.forward(tape.constant(x.clone())).unwrap(), &labels).unwrap();
            tape.backward(loss).unwrap()
        };
        opt.step(net.named_parameters_mut(), &grads).unwrap();
        steps += 1;
        if steps % 10 == 0 && evaluate(net, &x, &labels).0 < initial / factor {
            break;
        }
    }
    let (loss, accuracy) = evaluate(net, &x, &labels);
    eprintln!("loss {initial} → {loss}, accuracy {accuracy}, {steps} steps");
    (initial, loss, accuracy, steps)
}

#[test]
fn adam_trains_a_small_cnn() {
    let mut net = small_cnn(1);
    let mut opt = Adam::new(AdamConfig::adam(0.01)).unwrap();
    let (initial, last, accuracy, steps) = train(&mut net, &mut opt, 300, 10.0);
    assert!((initial - 4f32.ln()).abs() < 0.3, "an untrained net is near chance: {initial}");
    assert!(last * 5.0 <= initial, "loss fell only from {initial} to {last} in {steps} steps");
    assert!(accuracy >= 0.95, "training accuracy {accuracy} (loss {initial} → {last}, {steps} steps)");
}

#[test]
fn sgd_momentum_trains_a_small_cnn() {
    let mut net = small_cnn(2);
    let mut opt = Sgd::new(SgdConfig::new(0.05).momentum(0.9).weight_decay(1e-4)).unwrap();
    let (initial, last, accuracy, steps) = train(&mut net, &mut opt, 400, 10.0);
    assert!(last * 5.0 <= initial, "loss fell only from {initial} to {last} in {steps} steps");
    assert!(accuracy >= 0.95, "training accuracy {accuracy} (loss {initial} → {last}, {steps} steps)");
}
