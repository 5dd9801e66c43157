//! A program of your own on the library: a network described from its input shape with
//! lazy layers and built from the run's one seed draws the weights `lenet5 train --arch`
//! draws; the seed reproduces a run; `fit` returns the epochs it ran; `Trainer::save` writes
//! weights that load back with the recipe in the metadata; the command's defaults follow
//! the optimizer and it prints its recipe.

use crate::common;

use layers::checkpoint::{load_module, read_checkpoint};
use layers::parameter_bits;
use models::network::NetworkInfo;
use models::prelude::*;
use models::resume::state_path;

use common::shapes::{folder_in, sets, weights_bits};
use common::{Scratch, lenet5, s};

/// The network as a spec, for 12×12 images of 3 classes.
const SPEC: &str = "conv(16,3,p=1) relu conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu linear(3)";

/// The same network in Rust, with a dropout layer when `dropout` (after the first ReLU).
fn network(seed: u64, dropout: bool) -> Sequential<f32> {
    let mut net = Sequential::input([1, 12, 12]).with(LazyConv2d::new(16, 3).padding(1)).with(ReLU);
    if dropout {
        net = net.with(LazyDropout(0.25));
    }
    net.with(LazyConv2d::new(32, 3).stride(2).padding(1))
        .with(ReLU)
        .with(MaxPool2d::with_window(Window2d::square(3, 2, 0)).unwrap())
        .with(Flatten)
        .with(LazyLinear::new(64))
        .with(ReLU)
        .with(LazyLinear::new(3))
        .build(seed)
        .unwrap()
}

#[test]
fn the_builder_draws_the_weights_the_command_draws() {
    let (train, _) = sets();
    let preprocess = Preprocess::fit(&train, 0).unwrap();
    let command = NetworkInfo::for_data(SPEC.parse().unwrap(), &train).build(&preprocess, 7).unwrap();
    let mine = network(7, false);
    assert_eq!(parameter_bits(&mine), parameter_bits(command.as_ref()));
    // The sizes the user never wrote: 12×12 → 12×12 → 6×6 → 2×2 maps of 32 channels, 64 → 3.
    let shapes: Vec<Vec<usize>> = mine.named_parameters().iter().map(|(_, p)| p.shape().to_vec()).collect();
    assert_eq!(shapes[4], [64, 32 * 2 * 2]);
    assert_eq!(shapes[6], [3, 64]);
    assert_ne!(parameter_bits(&network(8, false)), parameter_bits(&mine), "another seed, other weights");
}

#[test]
fn one_seed_reproduces_a_run_with_dropout() {
    let (train, test) = sets();
    let run = |seed: u64| {
        let config = TrainConfig { epochs: 2, batch_size: 16, threads: 2, seed, ..TrainConfig::default() };
        let mut trainer = Trainer::new(network(seed, true), config, Preprocess::fit(&train, 0).unwrap()).unwrap();
        let history = trainer.fit(&train, &test, &mut ()).unwrap();
        let losses: Vec<u64> = history.epochs.iter().map(|e| e.train_loss.to_bits()).collect();
        (parameter_bits(&trainer.model), losses)
    };
    let first = run(3);
    assert_eq!(run(3), first, "the same seed, the same run");
    assert_ne!(run(4).0, first.0);
}

/// Records each epoch's metrics as an observer sees them, and pauses after `pause_after`.
struct Recorder {
    seen: Vec<EpochMetrics>,
    pause_after: usize,
}

impl<M> Observer<M> for Recorder {
    fn on_epoch(&mut self, _: &Trainer<M>, m: &EpochMetrics) -> Result<Flow, TrainError> {
        self.seen.push(m.clone());
        Ok(if self.seen.len() == self.pause_after { Flow::Pause } else { Flow::Continue })
    }
}

#[test]
fn fit_returns_the_epochs_with_the_last_and_the_best() {
    let (train, test) = sets();
    let config = TrainConfig { epochs: 4, batch_size: 16, threads: 1, seed: 1, lr: 0.01, ..TrainConfig::default() };
    let mut trainer = Trainer::new(network(1, false), config, Preprocess::fit(&train, 0).unwrap()).unwrap();
    let mut recorder = Recorder { seen: Vec::new(), pause_after: 1 };
    let paused = trainer.fit(&train, &test, &mut recorder).unwrap();
    assert!(!paused.finished);
    assert_eq!(paused.epochs, recorder.seen);
    let rest = trainer.fit(&train, &test, &mut recorder).unwrap();
    assert!(rest.finished);
    assert_eq!(rest.epochs, recorder.seen[1..]);
    assert_eq!(rest.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(rest.last(), recorder.seen.last());
    let mut best = &rest.epochs[0];
    for e in &rest.epochs {
        if e.test.accuracy > best.test.accuracy {
            best = e;
        }
    }
    assert_eq!(rest.best(), Some(best));
    assert_eq!(rest.test_accuracy(), recorder.seen[3].test.accuracy);
    assert!(rest.test_accuracy() > 0.6, "the bars are learnt: {}", rest.test_accuracy());
}

#[test]
fn save_writes_the_weights_the_preprocessing_and_the_recipe() {
    let scratch = Scratch::new("library-save");
    let (train, _) = sets();
    let config = TrainConfig { seed: 5, ..TrainConfig::default() };
    let trainer = Trainer::new(network(5, false), config.clone(), Preprocess::fit(&train, 0).unwrap()).unwrap();
    let path = scratch.join("net.safetensors");
    trainer.save(s(&path)).unwrap();
    let meta = read_checkpoint::<f32>(&path).unwrap().metadata;
    for (key, value) in config.metadata().into_iter().chain(trainer.preprocess.metadata()) {
        assert_eq!(meta.get(&key), Some(&value), "{key}");
    }
    let mut loaded = network(6, false);
    load_module(&mut loaded, &path).unwrap();
    assert_eq!(parameter_bits(&loaded), parameter_bits(&trainer.model));
}

#[test]
fn the_commands_defaults_follow_the_optimizer_and_are_printed() {
    let scratch = Scratch::new("library-defaults");
    let data = folder_in(&scratch);
    let train = |name: &str, extra: &[&str]| {
        let out = scratch.join(&format!("{name}.safetensors"));
        let mut args = vec!["train", "--arch", SPEC, "--data", s(&data), "--out", s(&out), "--max-steps", "1"];
        args.extend_from_slice(extra);
        let run = lenet5(&args);
        run.assert_ok(name);
        let meta = read_checkpoint::<f32>(state_path(&out)).unwrap().metadata;
        let value = |key: &str| meta[&format!("config.{key}")].clone();
        let recipe: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("recipe: ")).collect();
        assert_eq!(recipe.len(), 1, "{}", run.stderr);
        for key in ["optimizer", "lr", "weight_decay", "momentum", "schedule", "epochs", "seed"] {
            assert!(recipe[0].contains(&format!("{key} {}", value(key))), "{key}: {}", recipe[0]);
        }
        (value("optimizer"), value("lr"), value("weight_decay"), value("schedule"))
    };
    let expect = |o: &str, lr: &str, wd: &str, sched: &str| (o.into(), lr.into(), wd.into(), sched.into());
    assert_eq!(train("sgd", &[]), expect("sgd", "0.05", "0.0005", "cosine"));
    assert_eq!(train("adam", &["--optimizer", "adam"]), expect("adam", "0.001", "0.0", "cosine"));
    assert_eq!(train("adamw", &["--optimizer", "adamw", "--lr", "0.002"]), expect("adamw", "0.002", "0.0", "cosine"));
    let asked = ["--optimizer", "adam", "--weight-decay", "0.01", "--schedule", "constant"];
    assert_eq!(train("asked", &asked), expect("adam", "0.001", "0.01", "constant"));
    assert!(weights_bits(&scratch.join("adam.safetensors")) != weights_bits(&scratch.join("sgd.safetensors")));
}
