//! Helpers of the explorer suites (`explorer.rs`, `explorer_server.rs`): seeded networks,
//! a synthetic digit, the input as training preprocesses it, and the fused path's logits and
//! parameter gradients (the independent reference the explorer's matrices are checked against).
#![allow(dead_code)]

use autograd::Tape;
use layers::Module;
use models::LeNet5;
use models::explorer::Matrix;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

pub mod arch;

/// A seeded network.
pub fn model(seed: u64) -> LeNet5<f32> {
    models::lenet5::new(&mut StdRng::seed_from_u64(seed)).unwrap()
}

/// A 28×28 "7"-like stroke with soft edges, as MNIST bytes.
pub fn digit() -> Vec<u8> {
    let mut px = vec![0u8; 784];
    let mut ink = |r: i32, c: i32| {
        for (dr, dc, v) in [(0, 0, 255u8), (0, 1, 200), (1, 0, 200), (0, -1, 120), (-1, 0, 120)] {
            let (rr, cc) = (r + dr, c + dc);
            if (0..28).contains(&rr) && (0..28).contains(&cc) {
                let p = &mut px[(rr * 28 + cc) as usize];
                *p = (*p).max(v);
            }
        }
    };
    for c in 6..22 {
        ink(6, c);
    }
    for k in 0..16 {
        ink(7 + k, 21 - k / 2);
    }
    px
}

/// The digit over a faint, irregular background: no two pooling candidates tie, so central
/// differences and the first-maximum subgradient agree (constant background makes ties).
pub fn noisy_digit() -> Vec<u8> {
    digit().iter().enumerate().map(|(i, &p)| p.max(((i * 7919 + 13) % 61) as u8)).collect()
}

pub fn find<'a>(ms: &'a [Matrix], id: &str) -> &'a Matrix {
    ms.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("no matrix {id}"))
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// The input the way training reads it.
pub fn mnist_input(bytes: &[u8]) -> Vec<f32> {
    let mut x = vec![0.0; 1024];
    models::data::Preprocess::mnist().apply(models::data::Pixels::U8(bytes), [1, 28, 28], &mut x);
    x
}

/// The fused path: logits and parameter gradients of the cross-entropy for `label`.
pub fn fused(m: &LeNet5<f32>, x: &[f32], label: usize) -> (Vec<f32>, Vec<(String, Tensor<f32>)>) {
    let tape = Tape::new();
    let logits = m.forward(tape.constant(Tensor::from_vec(&[1, 1, 32, 32], x.to_vec()).unwrap())).unwrap();
    let loss = layers::cross_entropy(logits, &[label]).unwrap();
    let grads = tape.backward(loss).unwrap();
    let named = m
        .named_parameters()
        .into_iter()
        .map(|(n, p)| {
            let g = grads.param(p).unwrap();
            let s = g.shape().to_vec();
            // The derivation's layout: conv weights reshape(W, [F, C·k·k])ᵀ, linear Wᵀ.
            let g = match s.len() {
                4 => g.reshape(&[s[0], s[1] * s[2] * s[3]]).unwrap().t().unwrap().to_contiguous(),
                2 => g.t().unwrap().to_contiguous(),
                _ => g.to_contiguous(),
            };
            (n, g)
        })
        .collect();
    (logits.value().to_vec(), named)
}

pub fn softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

pub const GRAD_IDS: [&str; 10] = ["dW1", "db1", "dW3", "db3", "dW5", "db5", "dW6", "db6", "dW7", "db7"];

/// LeNet-5's page pass of `image` (MNIST bytes, preprocessed as in training) for `label`.
pub fn lenet_pass(
    m: &LeNet5<f32>,
    image: &models::explorer::Image,
    label: Option<usize>,
) -> Result<models::explorer::Pass, models::explorer::ExplorerError> {
    let x = image.input(&models::data::Preprocess::mnist(), [1, 28, 28])?;
    models::explorer::pass(&models::arch::Arch::lenet5(), m, x, label)
}
