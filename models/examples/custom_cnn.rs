//! A template for your own CNN: build one from the `layers` crate, train it, measure it.
//!
//! ```sh
//! cargo run --release -p models --example custom_cnn
//! ```
//!
//! The network is not LeNet-5: 3 input channels, a 5×5 convolution with padding, a 3×3
//! convolution with stride 2, an overlapping 3×3/2 max-pool and two linear layers. The data
//! is synthetic, so the example runs anywhere in a few seconds: each 3×16×16 image is pixel
//! noise with a slightly different brightness in each quadrant, and the label is the
//! brightest quadrant (0–3). Copy this file and change the three marked places: the data, the
//! network, and the training settings.

use std::error::Error;

use autograd::Tape;
use layers::{
    Adam, AdamConfig, Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Module, Optimizer, ReLU, Sequential,
    cross_entropy,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use tensor::{Tensor, Window2d};

/// Channels of one image.
const C: usize = 3;
/// Height and width of one image.
const SIDE: usize = 16;
/// Values in one image.
const PIXELS: usize = C * SIDE * SIDE;
/// Classes: the four quadrants.
const CLASSES: usize = 4;

// ---- 1. The data -------------------------------------------------------------------------

/// `count` images, flattened one after another (N×C×H×W order), and their labels.
fn make_data(count: usize, rng: &mut StdRng) -> (Vec<f32>, Vec<usize>) {
    let half = SIDE / 2;
    let quadrant_of = |k: usize| {
        let (r, c) = ((k % (SIDE * SIDE)) / SIDE, k % SIDE);
        2 * (r / half) + c / half
    };
    let mut images = Vec::with_capacity(count * PIXELS);
    let mut labels = Vec::with_capacity(count);
    for _ in 0..count {
        // Each quadrant gets its own brightness in [0, 0.2), on top of pixel noise in ±0.5.
        let offsets: Vec<f32> = (0..CLASSES).map(|_| rng.random_range(0.0f32..0.2)).collect();
        let img: Vec<f32> = (0..PIXELS).map(|k| rng.random_range(-0.5f32..0.5) + offsets[quadrant_of(k)]).collect();
        // The label is the quadrant whose pixels (all channels) have the largest sum,
        // measured on the image itself, noise included.
        let mut sums = [0f32; CLASSES];
        for (k, &v) in img.iter().enumerate() {
            sums[quadrant_of(k)] += v;
        }
        labels.push((0..CLASSES).max_by(|&a, &b| sums[a].total_cmp(&sums[b])).unwrap_or(0));
        images.extend(img);
    }
    (images, labels)
}

/// The images at `indices` as an `[n, C, H, W]` tensor, with their labels.
fn batch(images: &[f32], labels: &[usize], indices: &[usize]) -> Result<(Tensor<f32>, Vec<usize>), Box<dyn Error>> {
    let mut x = Vec::with_capacity(indices.len() * PIXELS);
    for &i in indices {
        x.extend_from_slice(&images[i * PIXELS..(i + 1) * PIXELS]);
    }
    let y = indices.iter().map(|&i| labels[i]).collect();
    Ok((Tensor::from_vec(&[indices.len(), C, SIDE, SIDE], x)?, y))
}

// ---- 2. The network ----------------------------------------------------------------------

/// Each layer checks its input shape, so a wrong size here is a clear error at the first
/// forward pass (or from `net.shapes`, printed below), not a silent bug.
fn network(rng: &mut StdRng) -> Result<Sequential<f32>, Box<dyn Error>> {
    Ok(Sequential::new()
        // 3→8 channels, 5×5 kernel, padding 2 keeps 16×16: (16 − 5 + 2·2)/1 + 1 = 16.
        .with(Conv2d::new(Conv2dConfig::new(C, 8, 5).padding(2), rng)?)
        .with(ReLU)
        // 8→16 channels, 3×3 kernel, stride 2, padding 1: (16 − 3 + 2·1)/2 + 1 = 8.
        .with(Conv2d::new(Conv2dConfig::new(8, 16, 3).stride(2).padding(1), rng)?)
        .with(ReLU)
        // Overlapping max-pool, 3×3 windows every 2: (8 − 3)/2 + 1 = 3.
        .with(MaxPool2d::with_window(Window2d::square(3, 2, 0))?)
        // [N, 16, 3, 3] → [N, 144], then two fully connected layers.
        .with(Flatten)
        .with(Linear::new(16 * 3 * 3, 32, rng)?)
        .with(ReLU)
        .with(Linear::new(32, CLASSES, rng)?))
}

/// Mean loss and accuracy over a whole set, on a tape that records nothing.
fn evaluate(net: &Sequential<f32>, images: &[f32], labels: &[usize]) -> Result<(f32, f32), Box<dyn Error>> {
    let all: Vec<usize> = (0..labels.len()).collect();
    let (x, y) = batch(images, labels, &all)?;
    let tape = Tape::no_grad();
    let logits = net.forward(tape.constant(x))?;
    let predicted = logits.value().argmax_axis(1, false)?;
    let correct = predicted.iter().zip(&y).filter(|(p, l)| p == *l).count();
    let loss = cross_entropy(logits, &y, 0.0)?.value().item()?;
    Ok((loss, correct as f32 / y.len() as f32))
}

fn main() -> Result<(), Box<dyn Error>> {
    // ---- 3. The training settings --------------------------------------------------------
    let (train_size, test_size, batch_size, steps, report_every) = (2048, 512, 32, 400, 50);
    assert_eq!(train_size % batch_size, 0, "every batch is full");
    let mut rng = StdRng::seed_from_u64(42);

    let (train_x, train_y) = make_data(train_size, &mut rng);
    let (test_x, test_y) = make_data(test_size, &mut rng);
    let mut net = network(&mut rng)?;
    let mut optimizer = Adam::new(AdamConfig::adam(3e-3))?;

    println!("{}", net.describe());
    println!("{} parameters; output shape after each layer for one image:", net.num_parameters());
    for (layer, shape) in net.layers().iter().zip(net.shapes(&[1, C, SIDE, SIDE])?) {
        println!("  {:<58} {shape:?}", layer.describe());
    }

    let (initial_loss, initial_accuracy) = evaluate(&net, &test_x, &test_y)?;
    println!("\nbefore training: test loss {initial_loss:.4}, accuracy {:.1}%", 100.0 * initial_accuracy);

    let mut order: Vec<usize> = (0..train_size).collect();
    let mut running = 0.0;
    for step in 1..=steps {
        // A fresh shuffle at the start of every pass over the training set.
        let start = ((step - 1) * batch_size) % train_size;
        if start == 0 {
            order.shuffle(&mut rng);
        }
        let (x, y) = batch(&train_x, &train_y, &order[start..start + batch_size])?;

        // One step: record the forward pass on a fresh tape, run backward, then update the
        // parameters in place. The gradients borrow nothing, so the tape can go first.
        let grads = {
            let tape = Tape::new();
            let logits = net.forward(tape.constant(x))?;
            let loss = cross_entropy(logits, &y, 0.0)?;
            running += loss.value().item()?;
            tape.backward(loss)?
        };
        optimizer.step(net.named_parameters_mut(), &grads)?;

        if step % report_every == 0 {
            println!(
                "step {step:>4}: mean training loss over the last {report_every} steps {:.4}",
                running / report_every as f32
            );
            running = 0.0;
        }
    }

    let (train_loss, train_accuracy) = evaluate(&net, &train_x, &train_y)?;
    let (test_loss, test_accuracy) = evaluate(&net, &test_x, &test_y)?;
    println!("\nafter {steps} steps:");
    println!("  training set: loss {train_loss:.4}, accuracy {:.1}%", 100.0 * train_accuracy);
    println!("  test set:     loss {test_loss:.4}, accuracy {:.1}%", 100.0 * test_accuracy);

    if test_loss > 0.5 * initial_loss {
        return Err(format!("the test loss fell only from {initial_loss} to {test_loss}").into());
    }
    Ok(())
}
