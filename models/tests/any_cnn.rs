//! A CNN that is not LeNet-5, on an IDX folder that is not MNIST (12×12 images of 3
//! classes, written here), through the same stack: `lenet5 train --arch` trains, evaluates,
//! predicts and resumes with nothing repeated (the network, the preprocessing and the data
//! folder come from the files); a run interrupted in-process and resumed by the command ends
//! bit for bit where the command's straight run ends; 1 and 2 threads reach the same
//! accuracy.

use crate::common;

use layers::Module;
use layers::checkpoint::read_checkpoint;
use models::data::Preprocess;
use models::train::TrainConfig;

use common::shapes::{ADAM, eval_accuracy, folder_in, paused_and_resumed, predicts_a_bar, trained, weights_bits};
use common::{Scratch, lenet5, s};

const SPEC: &str = "conv(4,3,p=1) relu maxpool(2) conv(8,3,s=2,p=1) relu flatten linear(16) relu linear(3)";

#[test]
fn the_command_trains_evaluates_predicts_and_resumes_a_spec() {
    let scratch = Scratch::new("any-cnn");
    let data_dir = folder_in(&scratch);
    let out = scratch.join("run/net.safetensors");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--arch", SPEC, "--data", s(&data_dir), "--out", s(&out), "--threads", "1"];
        args.extend_from_slice(extra);
        lenet5(&args)
    };
    let run = train(&[&["--epochs", "3", "--batch-size", "16"][..], &ADAM].concat());
    run.assert_ok("train --arch");
    assert!(run.stderr.contains("epoch  3:"), "{}", run.stderr);

    // The weights file carries the network, the preprocessing and the data folder.
    let meta = read_checkpoint::<f32>(&out).unwrap().metadata;
    assert_eq!(meta["arch"], SPEC);
    assert_eq!(meta["input"], "1,12,12");
    assert_eq!(meta["classes"], "0\n1\n2\n");
    assert_eq!(meta["preprocess.pad"], "0");
    let data = models::mnist::load(&data_dir).unwrap();
    let fitted = Preprocess::fit(&data.train, 0).unwrap();
    assert_eq!(meta["preprocess.mean"], format!("{:?}", fitted.mean()[0]));

    // eval without --data: the folder the run trained on; the accuracy of a trained net;
    // the confusion matrix as a picture too.
    let png = scratch.join("confusion.png");
    let eval = lenet5(&["eval", "--checkpoint", s(&out), "--confusion-png", s(&png)]);
    eval.assert_ok("eval");
    assert!(eval.stdout.lines().next().unwrap().contains("(60 images)"), "{}", eval.stdout);
    assert!(eval_accuracy(&eval) >= 80.0, "{}", eval.stdout);
    // Three classes: three per-class lines and three rows of the confusion matrix.
    let rows =
        eval.stdout.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains(':'));
    assert_eq!(rows.count(), 6, "{}", eval.stdout);

    let picture = image::open(&png).unwrap();
    assert!(picture.width() >= 100 && picture.height() >= 100, "{}×{}", picture.width(), picture.height());

    // The metrics of the run as pictures: PNG and SVG by the extension.
    let metrics = scratch.join("run/metrics.csv");
    let other = scratch.join("run/m.safetensors");
    lenet5(&[
        "train",
        "--arch",
        SPEC,
        "--data",
        s(&data_dir),
        "--epochs",
        "2",
        "--metrics",
        s(&metrics),
        "--out",
        s(&other),
    ])
    .assert_ok("train --metrics");
    for name in ["m.png", "m.svg"] {
        let plot = scratch.join(name);
        lenet5(&["plot", "--metrics", s(&metrics), "--out", s(&plot)]).assert_ok("plot");
        let bytes = std::fs::read(&plot).unwrap();
        if name.ends_with("png") {
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert!(img.pixels().any(|p| p.0 != img.get_pixel(0, 0).0), "a blank plot");
        } else {
            assert!(String::from_utf8(bytes).unwrap().contains("<svg"));
        }
    }
    let bad = lenet5(&["plot", "--metrics", s(&metrics), "--out", s(&scratch.join("m.gif"))]);
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);

    predicts_a_bar(&scratch, &out);

    // Resuming a finished run needs no option: it finds its data and says so.
    let state = scratch.join("run/net.state.safetensors");
    let resumed = lenet5(&["train", "--resume", s(&state)]);
    resumed.assert_ok("resume");
    assert!(resumed.stderr.contains("already complete"), "{}", resumed.stderr);
    // An option that disagrees with the run is refused, naming it.
    let conflict = lenet5(&["train", "--resume", s(&state), "--arch", "conv(2,3) flatten linear(3)"]);
    assert_eq!(conflict.code, Some(2), "{}", conflict.stderr);
    assert!(conflict.stderr.contains("--arch"), "{}", conflict.stderr);
    // A spec that does not fit is one line, exit status 2, naming the layer and the shapes.
    let bad = lenet5(&["train", "--arch", "conv(4,13) flatten linear(3)", "--data", s(&data_dir), "--out", s(&out)]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert_eq!(bad.stderr_lines().len(), 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("layer 1 \"conv(4,13)\"") && bad.stderr.contains("[N, 1, 12, 12]"), "{}", bad.stderr);
}

/// A run paused after step 7 in-process, checkpointed as the command does, then resumed by
/// `lenet5 train --resume` alone ends with the weights of the command's straight run.
#[test]
fn a_run_paused_in_process_and_resumed_by_the_command_matches_a_straight_run() {
    let scratch = Scratch::new("any-cnn-resume");
    let data_dir = folder_in(&scratch);
    let straight = scratch.join("straight.safetensors");
    lenet5(&[
        "train",
        "--arch",
        SPEC,
        "--data",
        s(&data_dir),
        "--out",
        s(&straight),
        "--threads",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--seed",
        "5",
    ])
    .assert_ok("straight run");

    let config = TrainConfig { epochs: 2, batch_size: 32, threads: 2, seed: 5, ..TrainConfig::default() };
    let out = paused_and_resumed(&scratch, &data_dir, SPEC, config, 7);
    assert_eq!(weights_bits(&out), weights_bits(&straight), "resumed and straight runs end with the same weights");
}

/// The same spec trained with 1 and with 2 threads: the batch is split differently, so the
/// sums round differently, but the accuracy is the same to within a few test images.
#[test]
fn one_and_two_threads_reach_the_same_accuracy() {
    let accuracy = |threads: usize| {
        let (mut trainer, test) = trained(SPEC, threads);
        assert_eq!(trainer.model.num_parameters(), 4 * 9 + 4 + 8 * 36 + 8 + 16 * 72 + 16 + 3 * 16 + 3);
        trainer.evaluate(&test).unwrap().accuracy
    };
    let (one, two) = (accuracy(1), accuracy(2));
    println!("1 thread: {:.1}%, 2 threads: {:.1}%", 100.0 * one, 100.0 * two);
    assert!(one >= 0.8 && two >= 0.8, "{one} {two}");
    assert!((one - two).abs() <= 3.0 / 60.0, "{one} vs {two}");
}

/// `shapes` and `bench` take any spec and input: the table lists each convolution's im2col
/// matrix with the shapes the formulas give, and the benchmark reports the spec it ran.
#[test]
fn shapes_and_bench_take_any_spec() {
    let run = lenet5(&["shapes", "--arch", SPEC, "--input", "1,12,12", "--batch-size", "2"]);
    run.assert_ok("shapes --arch");
    // conv(4,3,p=1): 2·12·12 rows of 1·3·3 taps; conv(8,3,s=2,p=1) after maxpool(2): 2·3·3 rows of 4·9.
    for needle in ["288×9", "18×36", "2×8×3×3", "2×3"] {
        assert!(run.stdout.contains(needle), "{needle} in\n{}", run.stdout);
    }
    let bench = lenet5(&[
        "bench",
        "--arch",
        SPEC,
        "--input",
        "1,12,12",
        "--batch-size",
        "8",
        "--steps",
        "1",
        "--reps",
        "1",
        "--threads",
        "1",
        "--json",
    ]);
    bench.assert_ok("bench --arch");
    assert!(
        bench.stdout.contains(&format!("\"arch\":\"{SPEC}\"")) && bench.stdout.contains("\"input\":\"1,12,12\""),
        "{}",
        bench.stdout
    );
    let bad = lenet5(&["shapes", "--arch", "conv(4,3) linear(3)", "--input", "1,12,12"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("layer 2 \"linear(3)\""), "{}", bad.stderr);
}
