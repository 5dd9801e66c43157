//! A template for your own CNN: described from the images' shape (each layer sized by the
//! one before), trained with the same stack as `lenet5 train` (threads, NaN stop, metrics),
//! evaluated and saved. The network is not LeNet-5: a padded 3×3 convolution, a stride-2
//! one, an overlapping 3×3/2 max-pool and two linear layers.
//!
//! ```sh
//! cargo run --release -p models --example custom_cnn -- /path/to/mnist
//! cargo run --release -p models --example custom_cnn -- /usr/share/datasets/fashion-mnist
//! ```
//!
//! Any IDX folder with MNIST's four file names (`.gz` or not) will do; without an argument,
//! `$MNIST_DIR`. It is the network of `lenet5 train --arch "conv(16,3,p=1) relu
//! conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu linear(10)" --optimizer adam
//! --lr 1e-3 --schedule constant --epochs 1`, and the same seed gives the same weights.

use std::error::Error;

use models::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args().nth(1).or_else(|| std::env::var("MNIST_DIR").ok());
    let data = mnist::load(dir.ok_or("usage: custom_cnn IDX_FOLDER (or set MNIST_DIR)")?)?;
    // Adam at a constant 1e-3, no weight decay, batches of 64, the machine's cores: the
    // defaults (the table on `TrainConfig`); one seed for the weights, shuffles and dropout.
    let config = TrainConfig { epochs: 1, seed: 0, ..TrainConfig::default() };
    let net = Sequential::input(data.train.image_shape())
        .with(LazyConv2d::new(16, 3).padding(1))
        .with(ReLU)
        .with(LazyConv2d::new(32, 3).stride(2).padding(1))
        .with(ReLU)
        .with(MaxPool2d::with_window(Window2d::square(3, 2, 0))?)
        .with(Flatten)
        .with(LazyLinear::new(64))
        .with(ReLU)
        .with(LazyLinear::new(data.train.classes()))
        .build(config.seed)?;
    println!("{net:?}: {} parameters", net.num_parameters());

    // Each channel normalised by the training set's own mean and std.
    let mut trainer = Trainer::new(net, config, Preprocess::fit(&data.train, 0)?)?;
    let history = trainer.fit(&data.train, &data.test, &mut PrintEpochs)?;
    let last = history.last().ok_or("no epoch was trained")?;
    println!("test accuracy {:.2}% in {:.1} s", 100.0 * last.test.accuracy, last.seconds);
    trainer.save("custom_cnn.safetensors")?;
    if last.test.accuracy < 0.5 {
        return Err(format!("test accuracy {:.3} after one epoch", last.test.accuracy).into());
    }
    Ok(())
}
