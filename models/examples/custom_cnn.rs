//! A template for your own CNN: build one from layers, train it with the same stack as
//! `lenet5 train` (threads, schedule, NaN stop, metrics, checkpoints), measure it.
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

use models::prelude::*;
use rand::RngExt;

/// Channels, height and width of one image.
const SHAPE: [usize; 3] = [3, 16, 16];
/// Classes: the four quadrants.
const CLASSES: usize = 4;

// ---- 1. The data: any `Dataset` (here images as floats in a `TensorSet`) -------------------

fn make_data(count: usize, rng: &mut StdRng) -> Result<TensorSet, Box<dyn Error>> {
    let [c, h, w] = SHAPE;
    let quadrant = |k: usize| 2 * ((k % (h * w)) / w / (h / 2)) + (k % w) / (w / 2);
    let (mut images, mut labels) = (Vec::with_capacity(count * c * h * w), Vec::with_capacity(count));
    for _ in 0..count {
        // Each quadrant gets its own brightness in [0, 0.2), on top of pixel noise in ±0.5;
        // the label is the quadrant whose pixels (all channels) have the largest sum.
        let offsets: Vec<f32> = (0..CLASSES).map(|_| rng.random_range(0.0f32..0.2)).collect();
        let img: Vec<f32> = (0..c * h * w).map(|k| rng.random_range(-0.5f32..0.5) + offsets[quadrant(k)]).collect();
        let mut sums = [0f32; CLASSES];
        img.iter().enumerate().for_each(|(k, &v)| sums[quadrant(k)] += v);
        labels.push((0..CLASSES).max_by(|&a, &b| sums[a].total_cmp(&sums[b])).unwrap_or(0));
        images.extend(img);
    }
    Ok(TensorSet::new(&Tensor::from_vec(&[count, c, h, w], images)?, labels, CLASSES)?)
}

// ---- 2. The network: each layer checks its input shape ----------------------------------

fn network(rng: &mut StdRng) -> Result<Sequential<f32>, LayerError> {
    Ok(Sequential::new()
        // 3→8 channels, 5×5 kernel, padding 2 keeps 16×16: (16 − 5 + 2·2)/1 + 1 = 16.
        .with(Conv2d::new(Conv2dConfig::new(3, 8, 5).padding(2), rng)?)
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

fn main() -> Result<(), Box<dyn Error>> {
    let mut rng = StdRng::seed_from_u64(42);
    let (train, test) = (make_data(2048, &mut rng)?, make_data(512, &mut rng)?);
    let net = network(&mut rng)?;
    println!("{}: {} parameters", net.describe(), net.num_parameters());
    for ((name, layer), shape) in net.named_layers().zip(net.shapes(&[1, 3, 16, 16])?) {
        println!("  {name:>2} {:<58} {shape:?}", layer.describe());
    }

    // ---- 3. The training settings: every other field keeps its default -----------------
    let config = TrainConfig {
        epochs: 6,
        batch_size: 32,
        optimizer: OptimizerKind::Adam,
        lr: 3e-3,
        threads: 2,
        ..TrainConfig::default()
    };
    // Normalise each channel with the training set's own mean and std (no padding).
    let mut trainer = Trainer::new(net, config, Preprocess::fit(&train, 0)?)?;
    let before = trainer.evaluate(&test)?;
    println!("before training: test loss {:.4}, accuracy {:.1}%", before.loss, 100.0 * before.accuracy);
    trainer.fit(&train, &test, &mut PrintEpochs)?;

    let after = trainer.evaluate(&test)?;
    println!("per class: {:?}", after.per_class().iter().map(|a| format!("{:.1}%", 100.0 * a)).collect::<Vec<_>>());
    if after.loss > 0.5 * before.loss {
        return Err(format!("the test loss fell only from {} to {}", before.loss, after.loss).into());
    }
    Ok(())
}
