//! A small synthetic data set for training tests: 12×12 images of noise with a bright
//! horizontal bar (class 0), vertical bar (1) or square (2), as bytes or as an IDX folder.

use std::path::{Path, PathBuf};

use layers::Module;
use layers::checkpoint::read_checkpoint;
use models::arch::Arch;
use models::data::{ImageSet, Preprocess};
use models::network::NetworkInfo;
use models::resume::{Checkpointer, load_state};
use models::train::{Advance, Flow, OptimizerKind, ScheduleKind, StepReport, TrainConfig, Trainer};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{Run, Scratch, idx_bytes, lenet5, s};

/// The images' side.
const SIDE: usize = 12;

/// `n` images of 12×12: noise with a bright horizontal bar (class 0), vertical bar (1) or
/// square (2) at a random place.
pub fn images(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let class = rng.random_range(0..3u8);
        let (r0, c0) = (rng.random_range(1..8), rng.random_range(1..8));
        for r in 0..SIDE {
            for c in 0..SIDE {
                let on = match class {
                    0 => r == r0 && (c0..c0 + 4).contains(&c),
                    1 => c == c0 && (r0..r0 + 4).contains(&r),
                    _ => (r0..r0 + 3).contains(&r) && (c0..c0 + 3).contains(&c),
                };
                pixels.push(if on { 255 } else { rng.random_range(0..60) });
            }
        }
        labels.push(class);
    }
    (pixels, labels)
}

/// An IDX folder with MNIST's four file names holding the shapes data set.
pub fn write_folder(dir: &Path) {
    for (prefix, n, seed) in [("train", 240u32, 1), ("t10k", 60, 2)] {
        let (pixels, labels) = images(n as usize, seed);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), idx_bytes(&[n, 12, 12], &pixels)).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx_bytes(&[n], &labels)).unwrap();
    }
}

pub fn weights_bits(path: &Path) -> Vec<(String, Vec<u32>)> {
    read_checkpoint::<f32>(path)
        .unwrap()
        .tensors
        .into_iter()
        .map(|(n, t)| (n, t.iter().map(f32::to_bits).collect()))
        .collect()
}

/// The shapes folder ([`write_folder`]) in `scratch/shapes`.
pub fn folder_in(scratch: &Scratch) -> PathBuf {
    let dir = scratch.join("shapes");
    std::fs::create_dir_all(&dir).unwrap();
    write_folder(&dir);
    dir
}

/// The recipe of [`trained`] as flags of `lenet5 train`: Adam at a constant 0.01.
pub const ADAM: [&str; 6] = ["--optimizer", "adam", "--lr", "0.01", "--schedule", "constant"];

/// The shapes data set in memory: 240 training and 60 test images.
pub fn sets() -> (ImageSet, ImageSet) {
    let (pixels, labels) = images(300, 3);
    let set = |range: std::ops::Range<usize>| ImageSet {
        shape: [1, SIDE, SIDE],
        images: pixels[range.start * SIDE * SIDE..range.end * SIDE * SIDE].to_vec(),
        labels: labels[range].iter().map(|&l| u16::from(l)).collect(),
        class_names: ImageSet::numbered_classes(3),
    };
    (set(0..240), set(240..300))
}

/// `spec` trained on [`sets`] for 6 epochs of Adam at a constant 0.01 on `threads`
/// threads, and the test set.
pub fn trained(spec: &str, threads: usize) -> (Trainer<Box<dyn Module<f32>>>, ImageSet) {
    let (train, test) = sets();
    let config = TrainConfig {
        epochs: 6,
        batch_size: 16,
        optimizer: OptimizerKind::Adam,
        lr: 0.01,
        schedule: ScheduleKind::Constant,
        threads,
        seed: 2,
        ..TrainConfig::lenet5_recipe()
    };
    let preprocess = Preprocess::fit(&train, 0).unwrap();
    let model = NetworkInfo::for_data(spec.parse().unwrap(), &train).build(&preprocess, 2).unwrap();
    let mut trainer = Trainer::new(model, config, preprocess).unwrap();
    trainer.fit(&train, &test, &mut ()).unwrap();
    (trainer, test)
}

/// The accuracy on the test set that `lenet5 eval`'s first line states, in per cent.
pub fn eval_accuracy(eval: &Run) -> f64 {
    let first = eval.stdout.lines().next().unwrap();
    first.split("accuracy ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap()
}

/// `lenet5 predict` of a 12×12 PNG of a vertical bar (written in `scratch`) prints one line
/// for it.
pub fn predicts_a_bar(scratch: &Scratch, checkpoint: &Path) {
    let png = scratch.join("bar.png");
    image::GrayImage::from_fn(12, 12, |x, y| image::Luma([if x == 5 && (3..8).contains(&y) { 255 } else { 0 }]))
        .save(&png)
        .unwrap();
    let predict = lenet5(&["predict", "--checkpoint", s(checkpoint), s(&png)]);
    predict.assert_ok("predict");
    assert!(predict.stdout.starts_with(&format!("{}: ", png.display())), "{}", predict.stdout);
}

/// Trains `spec` on the shapes folder `data_dir` in-process with `config`, pauses after
/// global step `step`, writes the checkpoint and state as the command does (to
/// `scratch/paused.safetensors`), and resumes with `lenet5 train --resume` alone; the
/// weights the resumed run ends with.
pub fn paused_and_resumed(scratch: &Scratch, data_dir: &Path, spec: &str, config: TrainConfig, step: u64) -> PathBuf {
    let data = models::mnist::load(data_dir).unwrap();
    let info = NetworkInfo::for_data(spec.parse::<Arch>().unwrap(), &data.train);
    let preprocess = Preprocess::fit(&data.train, 0).unwrap();
    let (model, epochs) = (info.build(&preprocess, config.seed).unwrap(), config.epochs);
    let mut trainer = Trainer::new(model, config, preprocess).unwrap();
    let pause = |r: &StepReport| if r.global_step == step { Flow::Pause } else { Flow::Continue };
    let paused = (0..epochs).any(|_| trainer.advance(&data.train, &data.test, pause).unwrap() == Advance::Paused);
    assert!(paused, "the run ends before step {step}");
    let out = scratch.join("paused.safetensors");
    let mut meta = info.metadata();
    meta.push(("data.dir".into(), data_dir.display().to_string()));
    Checkpointer::new(out.clone(), 0, meta).write(&trainer).unwrap();
    let state = scratch.join("paused.state.safetensors");
    assert_eq!(load_state(&state).unwrap().trainer.steps, step);
    lenet5(&["train", "--resume", s(&state)]).assert_ok("resume");
    out
}

/// `lenet5 train --arch spec` on the shapes folder (3 epochs of 16-image batches, Adam at a
/// constant 0.01, 2 threads, seed 5); `eval` twice reaches at least 80 % with the same
/// output (evaluation mode: running statistics, no dropout); `predict` prints a line; and a
/// run paused in-process after step 20 (mid-epoch 2), resumed by the command alone, ends
/// bit for bit where the straight run ends. The resumed run's weights and buffers by name.
pub fn command_round_trip(name: &str, spec: &str) -> Vec<(String, Vec<u32>)> {
    let scratch = Scratch::new(name);
    let data_dir = folder_in(&scratch);
    let straight = scratch.join("straight.safetensors");
    let mut args =
        vec!["train", "--arch", spec, "--data", s(&data_dir), "--out", s(&straight), "--threads", "2", "--epochs", "3"];
    args.extend_from_slice(&["--batch-size", "16", "--seed", "5"]);
    args.extend_from_slice(&ADAM);
    lenet5(&args).assert_ok("train --arch");
    assert_eq!(read_checkpoint::<f32>(&straight).unwrap().metadata["arch"], spec);

    let eval = lenet5(&["eval", "--checkpoint", s(&straight)]);
    eval.assert_ok("eval");
    println!("{}", eval.stdout.lines().next().unwrap());
    assert!(eval_accuracy(&eval) >= 80.0, "{}", eval.stdout);
    assert_eq!(lenet5(&["eval", "--checkpoint", s(&straight)]).stdout, eval.stdout, "evaluation mode");

    predicts_a_bar(&scratch, &straight);

    let config = TrainConfig {
        epochs: 3,
        batch_size: 16,
        threads: 2,
        seed: 5,
        optimizer: OptimizerKind::Adam,
        lr: 0.01,
        schedule: ScheduleKind::Constant,
        // The command's Adam: no weight decay unless asked.
        ..TrainConfig::default()
    };
    let out = paused_and_resumed(&scratch, &data_dir, spec, config, 20);
    let resumed = weights_bits(&out);
    assert_eq!(
        resumed,
        weights_bits(&straight),
        "resumed and straight runs end with the same weights and running statistics"
    );
    resumed
}
