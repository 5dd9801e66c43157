//! Training on an image folder (torchvision's `ImageFolder` layout), written by the example
//! itself so that it runs anywhere:
//!
//! ```sh
//! cargo run --release -p models --example image_folder
//! ```
//!
//! It draws 16×16 RGB images of three classes — horizontal stripes, vertical stripes and
//! a checkerboard, each in a random colour on noise — into `ROOT/train/<class>/*.png` and
//! `ROOT/test/<class>/*.png`, loads them with `models::data::image_folder::load` (classes
//! in sorted folder order), and trains a small CNN through the same training stack as
//! `lenet5 train`, with the normalisation computed from the training images.

use std::error::Error;
use std::path::Path;

use models::data::image_folder;
use models::prelude::*;
use rand::RngExt;

const SIDE: u32 = 16;
const CLASSES: [&str; 3] = ["checker", "horizontal", "vertical"];

/// Writes `per_class` PNG images of each class into `dir/<class>/`.
fn write_split(dir: &Path, per_class: usize, rng: &mut StdRng) -> Result<(), Box<dyn Error>> {
    for (class, name) in CLASSES.iter().enumerate() {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder)?;
        for i in 0..per_class {
            let colour: [u8; 3] = std::array::from_fn(|_| rng.random_range(120..=255));
            let period = rng.random_range(2..=4);
            let image = image::RgbImage::from_fn(SIDE, SIDE, |x, y| {
                let on = match class {
                    0 => (x / period + y / period) % 2 == 0,
                    1 => (y / period) % 2 == 0,
                    _ => (x / period) % 2 == 0,
                };
                let noise = rng.random_range(0..60u8);
                image::Rgb(colour.map(|c| if on { c - noise / 2 } else { noise }))
            });
            image.save(folder.join(format!("{i:03}.png")))?;
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = std::env::temp_dir().join(format!("image-folder-example-{}", std::process::id()));
    let mut rng = StdRng::seed_from_u64(7);
    write_split(&root.join("train"), 60, &mut rng)?;
    write_split(&root.join("test"), 20, &mut rng)?;

    let data = image_folder::load(&root)?;
    std::fs::remove_dir_all(&root)?;
    println!(
        "{} training and {} test images of {:?}, classes {:?}",
        data.train.len(),
        data.test.len(),
        data.train.image_shape(),
        data.train.class_names
    );

    // Adam at 3e-3 (constant, no weight decay: the defaults' other values), one seed.
    let config = TrainConfig { epochs: 4, batch_size: 16, lr: 3e-3, seed: 7, ..TrainConfig::default() };
    let net = Sequential::input(data.train.image_shape())
        .with(LazyConv2d::new(8, 3).padding(1))
        .with(ReLU)
        .with(MaxPool2d::new(2, 2)?)
        .with(LazyConv2d::new(16, 3).padding(1))
        .with(ReLU)
        .with(MaxPool2d::new(2, 2)?)
        .with(Flatten)
        .with(LazyLinear::new(CLASSES.len()))
        .build(config.seed)?;
    let preprocess = Preprocess::fit(&data.train, 0)?;
    println!("per-channel mean {:?}, std {:?}", preprocess.mean(), preprocess.std());
    let mut trainer = Trainer::new(net, config, preprocess)?;
    let history = trainer.fit(&data.train, &data.test, &mut PrintEpochs)?;
    if let Some(best) = history.best() {
        println!("best test accuracy {:.1}% after epoch {}", 100.0 * best.test.accuracy, best.epoch);
    }

    let e = trainer.evaluate(&data.test)?;
    for (name, accuracy) in CLASSES.iter().zip(e.per_class()) {
        println!("  {name:<10} {:.1}%", 100.0 * accuracy);
    }
    if e.accuracy < 0.9 {
        return Err(format!("test accuracy {:.1}% is below 90%", 100.0 * e.accuracy).into());
    }
    Ok(())
}
