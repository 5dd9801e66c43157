//! A CNN with batch norm, dropout, average pooling, tanh and sigmoid on a small IDX folder
//! (12×12 images of 3 classes, written here), through the training stack and the command:
//! 1 and 2 threads reach the same accuracy; `lenet5 train --arch` trains, evaluates in
//! evaluation mode (running statistics, no dropout), predicts, and a run paused in-process
//! and resumed by the command ends bit for bit where the straight run ends (the running
//! statistics travel in the state file, the dropout masks are keyed by the global step).

use crate::common;

use std::path::Path;

use layers::checkpoint::read_checkpoint;
use models::arch::Arch;
use models::data::{ImageSet, Preprocess};
use models::network::NetworkInfo;
use models::resume::{Checkpointer, load_state};
use models::train::{Advance, Flow, OptimizerKind, ScheduleKind, TrainConfig, Trainer};

use common::shapes::{images, weights_bits, write_folder};
use common::{Scratch, lenet5, s};

const SPEC: &str = "conv(8,3,p=1) batchnorm relu maxpool(2) dropout(0.25) conv(8,3,p=1) batchnorm tanh avgpool(2) \
                    flatten linear(16) batchnorm sigmoid dropout(0.25) linear(3)";

#[test]
fn one_and_two_threads_reach_the_same_accuracy() {
    let (pixels, labels) = images(300, 3);
    let set = |range: std::ops::Range<usize>| ImageSet {
        shape: [1, 12, 12],
        images: pixels[range.start * 144..range.end * 144].to_vec(),
        labels: labels[range].iter().map(|&l| u16::from(l)).collect(),
        class_names: ImageSet::numbered_classes(3),
    };
    let (train, test) = (set(0..240), set(240..300));
    let run = |threads: usize| {
        let config = TrainConfig {
            epochs: 6,
            batch_size: 16,
            optimizer: OptimizerKind::Adam,
            lr: 0.01,
            schedule: ScheduleKind::Constant,
            threads,
            seed: 2,
            ..TrainConfig::default()
        };
        let preprocess = Preprocess::fit(&train, 0).unwrap();
        let model = NetworkInfo::for_data(SPEC.parse().unwrap(), &train).build(&preprocess, 2).unwrap();
        let mut trainer = Trainer::new(model, config, preprocess).unwrap();
        trainer.fit(&train, &test, &mut ()).unwrap();
        let counters: Vec<f32> = trainer
            .model
            .named_buffers()
            .into_iter()
            .filter(|(n, _)| n.ends_with("num_batches_tracked"))
            .map(|(_, b)| b.get().item().unwrap())
            .collect();
        assert_eq!(counters, [90.0; 3], "6 epochs of 15 steps, counted once per step on {threads} threads");
        let means: Vec<f32> = trainer.model.named_buffers()[0].1.get().to_vec();
        (trainer.evaluate(&test).unwrap().accuracy, means)
    };
    let ((one, means1), (two, means2)) = (run(1), run(2));
    println!("1 thread: {:.1}%, 2 threads: {:.1}%", 100.0 * one, 100.0 * two);
    assert!(one >= 0.8 && two >= 0.8, "{one} {two}");
    assert!((one - two).abs() <= 3.0 / test.len() as f64, "{one} vs {two}");
    let drift = means1.iter().zip(&means2).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // (The trajectories part by rounding over 90 Adam steps, so the statistics differ
    // visibly though the accuracies agree.)
    println!("running mean of layer 1 after training: max |1 thread − 2 threads| = {drift:e}");
}

#[test]
fn the_command_trains_evaluates_predicts_and_resumes_the_spec() {
    let scratch = Scratch::new("new-layers-cli");
    let data_dir = scratch.join("shapes");
    std::fs::create_dir_all(&data_dir).unwrap();
    write_folder(&data_dir);
    let straight = scratch.join("straight.safetensors");
    let args = |out: &Path, threads: &'static str| -> Vec<String> {
        [
            "train",
            "--arch",
            SPEC,
            "--data",
            s(&data_dir),
            "--out",
            s(out),
            "--threads",
            threads,
            "--epochs",
            "3",
            "--batch-size",
            "16",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--schedule",
            "constant",
            "--seed",
            "5",
        ]
        .map(String::from)
        .to_vec()
    };
    let run = lenet5(&args(&straight, "2").iter().map(String::as_str).collect::<Vec<_>>());
    run.assert_ok("train --arch with batchnorm and dropout");
    assert_eq!(read_checkpoint::<f32>(&straight).unwrap().metadata["arch"], SPEC);

    let eval = lenet5(&["eval", "--checkpoint", s(&straight)]);
    eval.assert_ok("eval");
    let first = eval.stdout.lines().next().unwrap();
    let accuracy: f64 = first.split("accuracy ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    println!("{first}");
    assert!(accuracy >= 80.0, "{first}");
    // Evaluation mode: the same accuracy twice (no dropout, no batch statistics).
    assert_eq!(lenet5(&["eval", "--checkpoint", s(&straight)]).stdout, eval.stdout);

    let png = scratch.join("bar.png");
    image::GrayImage::from_fn(12, 12, |x, y| image::Luma([if x == 5 && (3..8).contains(&y) { 255 } else { 0 }]))
        .save(&png)
        .unwrap();
    let predict = lenet5(&["predict", "--checkpoint", s(&straight), s(&png)]);
    predict.assert_ok("predict");
    assert!(predict.stdout.starts_with(&format!("{}: ", png.display())), "{}", predict.stdout);

    // Paused after step 20 in-process (mid-epoch 2), resumed by the command alone.
    let data = models::mnist::load(&data_dir).unwrap();
    let config = TrainConfig {
        epochs: 3,
        batch_size: 16,
        threads: 2,
        seed: 5,
        optimizer: OptimizerKind::Adam,
        lr: 0.01,
        schedule: ScheduleKind::Constant,
        ..TrainConfig::default()
    };
    let info = NetworkInfo::for_data(SPEC.parse::<Arch>().unwrap(), &data.train);
    let preprocess = Preprocess::fit(&data.train, 0).unwrap();
    let model = info.build(&preprocess, config.seed).unwrap();
    let mut trainer = Trainer::new(model, config, preprocess).unwrap();
    let pause_at_20 = |r: &models::train::StepReport| if r.global_step == 20 { Flow::Pause } else { Flow::Continue };
    assert!(matches!(trainer.advance(&data.train, &data.test, pause_at_20).unwrap(), Advance::EpochEnd(_)));
    assert_eq!(trainer.advance(&data.train, &data.test, pause_at_20).unwrap(), Advance::Paused);
    let out = scratch.join("paused.safetensors");
    let mut meta = info.metadata();
    meta.push(("data.dir".into(), data_dir.display().to_string()));
    Checkpointer::new(out.clone(), 0, meta).write(&trainer).unwrap();
    let state = scratch.join("paused.state.safetensors");
    assert_eq!(load_state(&state).unwrap().trainer.steps, 20);
    lenet5(&["train", "--resume", s(&state)]).assert_ok("resume");
    let (resumed, straight) = (weights_bits(&out), weights_bits(&straight));
    assert!(resumed.iter().any(|(n, _)| n == "1.running_var"));
    assert_eq!(resumed, straight, "resumed and straight runs end with the same weights and running statistics");
}
