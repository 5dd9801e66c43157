//! Checkpoints of LeNet-5: saved with `save_module`, loaded into a network initialised
//! from another seed, the logits are bit-identical; and through the command, a checkpoint
//! passed through `train --init-from CKPT --max-steps 0` evaluates exactly as the original.

use crate::common;

use autograd::Tape;
use layers::Module;
use layers::checkpoint::{load_module, read_checkpoint, save_module};
use models::LeNet5;
use models::data::Preprocess;
use models::train::evaluate;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

use common::{Scratch, s};

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.iter().map(f32::to_bits).collect()
}

fn assert_same_parameters(a: &LeNet5<f32>, b: &LeNet5<f32>) {
    for ((na, pa), (nb, pb)) in a.named_parameters().into_iter().zip(b.named_parameters()) {
        assert_eq!(na, nb);
        assert_eq!(pa.shape(), pb.shape(), "{na}");
        assert!(bits(&pa.value) == bits(&pb.value), "{na}: values differ");
    }
}

#[test]
fn random_weights_round_trip_bit_for_bit() {
    // No data needed: random weights, random inputs.
    let dir = Scratch::new("ckpt-random");
    let path = dir.join("random.safetensors");
    let model = models::lenet5::new::<f32, _>(&mut StdRng::seed_from_u64(10)).unwrap();
    save_module(&model, &path).unwrap();
    let mut fresh = models::lenet5::new::<f32, _>(&mut StdRng::seed_from_u64(11)).unwrap();
    let x = Tensor::<f32>::rand_uniform(&[8, 1, 32, 32], -0.5, 2.8, &mut StdRng::seed_from_u64(12)).unwrap();
    let run = |m: &LeNet5<f32>| {
        let tape = Tape::no_grad();
        m.forward(tape.constant(x.clone())).unwrap().value()
    };
    assert!(bits(&run(&model)) != bits(&run(&fresh)), "two seeds give two networks");
    load_module(&mut fresh, &path).unwrap();
    assert_same_parameters(&model, &fresh);
    assert!(bits(&run(&model)) == bits(&run(&fresh)), "logits differ after loading");
}

#[test]
fn a_trained_model_round_trips_bit_for_bit() {
    let Some(dir) = common::mnist_dir("a_trained_model_round_trips_bit_for_bit") else { return };
    let data = common::mnist(&dir);
    let trained = common::train_steps(data, 40, 3);
    let scratch = Scratch::new("ckpt-trained");
    let path = scratch.join("trained.safetensors");
    save_module(&trained, &path).unwrap();

    let mut fresh = models::lenet5::new::<f32, _>(&mut StdRng::seed_from_u64(1234)).unwrap();
    let images: Vec<usize> = (0..500).collect();
    let before = common::logits(&fresh, &data.test, &images);
    let want = common::logits(&trained, &data.test, &images);
    assert!(bits(&before) != bits(&want));

    load_module(&mut fresh, &path).unwrap();
    assert_same_parameters(&trained, &fresh);
    let got = common::logits(&fresh, &data.test, &images);
    assert_eq!(got.shape(), &[500, 10]);
    assert!(bits(&got) == bits(&want), "logits of the loaded model differ");
    // And the library's evaluation agrees to the last bit as well.
    assert_eq!(
        evaluate(&fresh, &data.test, &Preprocess::mnist(), 1000, 1).unwrap(),
        evaluate(&trained, &data.test, &Preprocess::mnist(), 1000, 1).unwrap()
    );
}

/// The first line of `lenet5 eval`: `test loss L, accuracy A% (N images)`.
fn summary(stdout: &str) -> &str {
    let line = stdout.lines().next().unwrap_or("");
    assert!(line.starts_with("test loss "), "{stdout}");
    line
}

#[test]
fn eval_of_a_checkpoint_prints_the_in_process_evaluation() {
    let Some(dir) = common::mnist_dir("eval_of_a_checkpoint_prints_the_in_process_evaluation") else { return };
    let data = common::mnist(&dir);
    let trained = common::train_steps(data, 40, 5);
    let scratch = Scratch::new("ckpt-eval");
    let ckpt = scratch.join("ckpt.safetensors");
    save_module(&trained, &ckpt).unwrap();
    let run = common::lenet5(&["eval", "--checkpoint", s(&ckpt), "--data", s(&dir)]);
    run.assert_ok("eval");
    let e = evaluate(&trained, &data.test, &Preprocess::mnist(), 1000, 1).unwrap();
    let expected = format!("test loss {:.4}, accuracy {:.2}% (10000 images)", e.loss, 100.0 * e.accuracy);
    assert_eq!(summary(&run.stdout), expected);
    // The confusion matrix rows: the README's test label counts.
    let rows: Vec<Vec<usize>> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("confusion matrix"))
        .skip(2)
        .map(|l| l.split_once(':').unwrap().1.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 10, "{}", run.stdout);
    for (digit, row) in rows.iter().enumerate() {
        assert_eq!(row.iter().sum::<usize>(), common::TEST_LABEL_COUNTS[digit], "row {digit}");
        assert_eq!(row, &e.confusion[digit]);
    }
}

#[test]
fn train_init_from_with_max_steps_0_keeps_the_checkpoint() {
    let Some(dir) = common::mnist_dir("train_init_from_with_max_steps_0_keeps_the_checkpoint") else { return };
    let data = common::mnist(&dir);
    let trained = common::train_steps(data, 40, 4);
    let scratch = Scratch::new("ckpt-cli");
    let (ckpt, out) = (scratch.join("ckpt.safetensors"), scratch.join("out.safetensors"));
    save_module(&trained, &ckpt).unwrap();

    let run = common::lenet5(&[
        "train",
        "--data",
        s(&dir),
        "--init-from",
        s(&ckpt),
        "--max-steps",
        "0",
        "--seed",
        "99",
        "--out",
        s(&out),
    ]);
    run.assert_ok("train --init-from --max-steps 0");
    let a = read_checkpoint::<f32>(&ckpt).unwrap();
    let b = read_checkpoint::<f32>(&out).unwrap();
    assert_eq!(a.tensors.keys().collect::<Vec<_>>(), b.tensors.keys().collect::<Vec<_>>());
    for (name, t) in &a.tensors {
        assert!(bits(t) == bits(&b.tensors[name]), "{name} changed");
    }

    let eval_ckpt = common::lenet5(&["eval", "--checkpoint", s(&ckpt), "--data", s(&dir)]);
    let eval_out = common::lenet5(&["eval", "--checkpoint", s(&out), "--data", s(&dir)]);
    eval_ckpt.assert_ok("eval CKPT");
    eval_out.assert_ok("eval OUT");
    assert_eq!(summary(&eval_out.stdout), summary(&eval_ckpt.stdout));
    assert_eq!(eval_out.stdout, eval_ckpt.stdout, "per-class accuracy and confusion matrix too");

    // The figures are those of the model evaluated in-process.
    let e = evaluate(&trained, &data.test, &Preprocess::mnist(), 1000, 1).unwrap();
    let expected = format!("test loss {:.4}, accuracy {:.2}% (10000 images)", e.loss, 100.0 * e.accuracy);
    assert_eq!(summary(&eval_ckpt.stdout), expected);
}
