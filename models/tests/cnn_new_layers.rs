//! A CNN with batch norm, dropout, average pooling, tanh and sigmoid on a small IDX folder
//! (12×12 images of 3 classes, written here), through the training stack and the command:
//! 1 and 2 threads reach the same accuracy; `lenet5 train --arch` trains, evaluates in
//! evaluation mode (running statistics, no dropout), predicts, and a run paused in-process
//! and resumed by the command ends bit for bit where the straight run ends (the running
//! statistics travel in the state file, the dropout masks are keyed by the global step).

use crate::common;

use std::path::Path;

use layers::Module;
use layers::checkpoint::read_checkpoint;
use models::train::{OptimizerKind, ScheduleKind, TrainConfig};

use common::shapes::{ADAM, eval_accuracy, folder_in, paused_and_resumed, predicts_a_bar, trained, weights_bits};
use common::{Scratch, batches_tracked, lenet5, s};

const SPEC: &str = "conv(8,3,p=1) batchnorm relu maxpool(2) dropout(0.25) conv(8,3,p=1) batchnorm tanh avgpool(2) \
                    flatten linear(16) batchnorm sigmoid dropout(0.25) linear(3)";

#[test]
fn one_and_two_threads_reach_the_same_accuracy() {
    let run = |threads: usize| {
        let (mut trainer, test) = trained(SPEC, threads);
        assert_eq!(
            batches_tracked(&trainer.model),
            [90.0; 3],
            "6 epochs of 15 steps, counted once per step on {threads} threads"
        );
        let means: Vec<f32> = trainer.model.named_buffers()[0].1.get().to_vec();
        (trainer.evaluate(&test).unwrap().accuracy, means)
    };
    let ((one, means1), (two, means2)) = (run(1), run(2));
    println!("1 thread: {:.1}%, 2 threads: {:.1}%", 100.0 * one, 100.0 * two);
    assert!(one >= 0.8 && two >= 0.8, "{one} {two}");
    assert!((one - two).abs() <= 3.0 / 60.0, "{one} vs {two}");
    let drift = means1.iter().zip(&means2).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // (The trajectories part by rounding over 90 Adam steps, so the statistics differ
    // visibly though the accuracies agree.)
    println!("running mean of layer 1 after training: max |1 thread − 2 threads| = {drift:e}");
}

#[test]
fn the_command_trains_evaluates_predicts_and_resumes_the_spec() {
    let scratch = Scratch::new("new-layers-cli");
    let data_dir = folder_in(&scratch);
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
            "--seed",
            "5",
        ]
        .into_iter()
        .chain(ADAM)
        .map(String::from)
        .collect()
    };
    let run = lenet5(&args(&straight, "2").iter().map(String::as_str).collect::<Vec<_>>());
    run.assert_ok("train --arch with batchnorm and dropout");
    assert_eq!(read_checkpoint::<f32>(&straight).unwrap().metadata["arch"], SPEC);

    let eval = lenet5(&["eval", "--checkpoint", s(&straight)]);
    eval.assert_ok("eval");
    println!("{}", eval.stdout.lines().next().unwrap());
    assert!(eval_accuracy(&eval) >= 80.0, "{}", eval.stdout);
    // Evaluation mode: the same accuracy twice (no dropout, no batch statistics).
    assert_eq!(lenet5(&["eval", "--checkpoint", s(&straight)]).stdout, eval.stdout);

    predicts_a_bar(&scratch, &straight);

    // Paused after step 20 in-process (mid-epoch 2), resumed by the command alone.
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
    let out = paused_and_resumed(&scratch, &data_dir, SPEC, config, 20);
    let (resumed, straight) = (weights_bits(&out), weights_bits(&straight));
    assert!(resumed.iter().any(|(n, _)| n == "1.running_var"));
    assert_eq!(resumed, straight, "resumed and straight runs end with the same weights and running statistics");
}
