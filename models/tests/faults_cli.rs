//! The `lenet5` command faced with bad arguments, bad files, failing writes and numbers
//! that blow up: each is one line on stderr with the right exit status (2 for usage, 1 for
//! a failed run), never a panic, and a failure keeps the last good checkpoint.

use crate::resume_support;

use std::process::Stdio;

use layers::Module;
use layers::checkpoint::save_module;
use models::resume::load_state;
use models::train::TrainConfig;
use resume_support::{Run, Scratch, lenet5, lenet5_trainer, list, mnist_dir, s, small_mnist};

#[test]
fn bad_arguments_are_one_line_with_status_2() {
    let scratch = Scratch::new("args");
    let data = scratch.path().to_str().unwrap().to_string();
    let file = scratch.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let in_file = format!("{}/w.safetensors", file.display());
    let state = scratch.join("x.state.safetensors");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--batch-size", "0"], "--batch-size"),
        (vec!["--lr", "-0.1"], "--lr"),
        (vec!["--lr", "0"], "--lr"),
        (vec!["--lr", "NaN"], "--lr"),
        (vec!["--lr", "inf"], "--lr"),
        (vec!["--epochs", "0"], "--epochs"),
        (vec!["--threads", "0"], "--threads"),
        (vec!["--momentum", "1"], "--momentum"),
        (vec!["--weight-decay", "-1"], "--weight-decay"),
        (vec!["--clip-grad-norm", "0"], "--clip-grad-norm"),
        (vec!["--clip-grad-norm", "-2"], "--clip-grad-norm"),
        // Not numbers at all: clap's own error, cut to one line.
        (vec!["--threads", "-1"], "--threads"),
        (vec!["--epochs", "ten"], "--epochs"),
        (vec!["--checkpoint-every", "x"], "--checkpoint-every"),
        (vec!["--bogus"], "--bogus"),
        // Files and folders.
        (vec!["--data", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (vec!["--data", file.to_str().unwrap()], "a-file"),
        (vec!["--out", "/nonexistent/dir/w.safetensors"], "/nonexistent/dir"),
        (vec!["--out", &in_file], "a-file"),
        (vec!["--resume", state.to_str().unwrap(), "--init-from", "w.safetensors"], "--init-from"),
    ];
    for (extra, needle) in &cases {
        let mut args = vec!["train"];
        if !extra.contains(&"--data") {
            args.extend(["--data", &data]);
        }
        args.extend(extra.iter().copied());
        let run = lenet5(&args);
        run.assert_one_line_error(&format!("{args:?}"), 2, &[needle]);
    }
    println!("bad arguments refused with status 2: {}", cases.len());
    assert_eq!(cases.len(), 20);
    // Nothing was written anywhere.
    assert_eq!(list(scratch.path()), vec!["a-file".to_string()]);
}

#[test]
fn bad_files_are_one_line_with_status_1() {
    let scratch = Scratch::new("files");
    let junk = scratch.join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": broken}").unwrap();
    let png = scratch.join("junk.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR garbage").unwrap();
    let weights = scratch.join("w.safetensors");
    let model = lenet5_trainer(TrainConfig::default()).model;
    save_module(&model, &weights).unwrap();
    let truncated = scratch.join("t.state.safetensors");
    std::fs::write(&truncated, &std::fs::read(&weights).unwrap()[..1000]).unwrap();
    let (j, p, w, t) = (s(&junk), s(&png), s(&weights), s(&truncated));
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["eval", "--checkpoint", j, "--data", "/nonexistent"], vec![j, "safetensors"]),
        (vec!["predict", "--checkpoint", j, p], vec![j]),
        (vec!["predict", "--checkpoint", w, p], vec![p]),
        (vec!["predict", "--checkpoint", w, "/nonexistent.png"], vec!["/nonexistent.png"]),
        (vec!["train", "--resume", j], vec![j]),
        (vec!["train", "--resume", t], vec![t]),
        (vec!["train", "--resume", w], vec![w, "not a training state file"]),
        (vec!["train", "--resume", "/nonexistent.state.safetensors"], vec!["/nonexistent.state.safetensors"]),
        (vec!["train", "--init-from", j, "--data", s(scratch.path())], vec![j]),
    ];
    for (args, needles) in &cases {
        lenet5(args).assert_one_line_error(&format!("{args:?}"), 1, needles);
    }
    println!("bad files refused with status 1: {}", cases.len());
}

/// A data folder of 320 training and 100 test images from MNIST (10 steps an epoch at
/// batch 32), or `None` when MNIST is not there.
fn small_data(test: &str, scratch: &Scratch) -> Option<std::path::PathBuf> {
    let dir = mnist_dir(test)?;
    let data = scratch.join("data");
    small_mnist(&dir, &data, 320, 100);
    Some(data)
}

#[test]
fn a_failed_checkpoint_write_is_an_error_that_keeps_the_previous_checkpoint() {
    let scratch = Scratch::new("write-fail");
    let Some(data) = small_data("a_failed_checkpoint_write_is_an_error_that_keeps_the_previous_checkpoint", &scratch)
    else {
        return;
    };
    let run_dir = scratch.join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let out = run_dir.join("w.safetensors");
    let args = ["train", "--data", s(&data), "--batch-size", "32", "--threads", "1", "--max-steps", "4"];
    let mut first: Vec<&str> = args.to_vec();
    first.extend(["--out", s(&out)]);
    lenet5(&first).assert_ok("first run");
    let state = run_dir.join("w.state.safetensors");
    let metrics = run_dir.join("w.metrics.csv");
    let (weights_before, state_before) = (std::fs::read(&out).unwrap(), std::fs::read(&state).unwrap());

    // The same run again under a file-size limit of 64 KiB (the weights file is 247 KB):
    // every write fails with EFBIG, as a full disk would. (A read-only folder does not stop
    // root, which the tests may run as.) SIGXFSZ is ignored so the write returns an error.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg("trap '' XFSZ; ulimit -f 64; exec \"$@\"").arg("sh").arg(env!("CARGO_BIN_EXE_lenet5"));
    cmd.args(&first).env_remove("MNIST_DIR").stdin(Stdio::null());
    let run = Run::from_output(cmd.output().unwrap());
    run.assert_error_last("a write over the size limit", 1, &[s(&out)]);
    assert_eq!(std::fs::read(&out).unwrap(), weights_before, "the previous weights are intact");
    assert_eq!(std::fs::read(&state).unwrap(), state_before, "the previous state is intact");
    // The metrics row of the epoch is written before its checkpoint (so that a kill
    // between the two repeats the row, which the next run replaces, rather than losing
    // it): the file holds the header and one row for epoch 1, this run's.
    let rows = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(rows.lines().count(), 2, "{rows}");
    assert!(rows.lines().nth(1).unwrap().starts_with("1,"), "{rows}");
    assert_eq!(
        list(&run_dir),
        vec!["w.metrics.csv", "w.safetensors", "w.state.safetensors"],
        "no temporary file is left"
    );
    assert_eq!(load_state(&state).unwrap().trainer.steps, 4);
}

#[test]
fn a_nan_stops_training_naming_step_and_parameter_and_keeps_the_last_good_checkpoint() {
    let scratch = Scratch::new("nan");
    let Some(data) = small_data("a_nan_stops_training", &scratch) else { return };
    let out = scratch.join("w.safetensors");
    // A learning rate of 10³⁰ throws the weights to ~10²⁷ after one step; the next
    // forward pass overflows f32.
    let run = lenet5(&[
        "train",
        "--data",
        s(&data),
        "--batch-size",
        "32",
        "--threads",
        "1",
        "--lr",
        "1e30",
        "--checkpoint-every",
        "1",
        "--out",
        s(&out),
    ]);
    run.assert_error_last("lr 1e30", 1, &["training stopped at step ", "is not finite", "last good checkpoint"]);
    let line = run.stderr_lines().last().unwrap().to_string();
    let step: u64 = line.split("at step ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(step >= 2, "{line}");
    let names: Vec<String> =
        lenet5_trainer(TrainConfig::default()).model.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().any(|n| line.contains(&format!("gradient of {n} is not finite"))), "{line}");
    // The last checkpoint is the one after the step before, and it loads.
    assert!(line.contains(&format!("after step {}", step - 1)), "{line}");
    let state = scratch.join("w.state.safetensors");
    let resumed = load_state(&state).unwrap();
    assert_eq!(resumed.trainer.steps, step - 1);
    assert!(resumed.trainer.model.named_parameters().iter().all(|(_, p)| p.value.iter().all(f32::is_finite)));
}

#[test]
fn a_tiny_gradient_norm_clip_keeps_the_weights_where_they_started() {
    let scratch = Scratch::new("clip");
    let Some(data) = small_data("a_tiny_gradient_norm_clip", &scratch) else { return };
    let out = scratch.join("w.safetensors");
    let args = [
        "train",
        "--data",
        s(&data),
        "--batch-size",
        "32",
        "--threads",
        "1",
        "--epochs",
        "1",
        "--momentum",
        "0",
        "--weight-decay",
        "0",
        "--seed",
        "4",
        "--out",
        s(&out),
    ];
    let start = lenet5_trainer(TrainConfig { seed: 4, ..TrainConfig::default() }).model;
    let initial: Vec<f32> = start.named_parameters().into_iter().flat_map(|(_, p)| p.value.to_vec()).collect();
    let moved = |clip: Option<&str>| {
        let mut a = args.to_vec();
        if let Some(c) = clip {
            a.extend(["--clip-grad-norm", c]);
        }
        lenet5(&a).assert_ok("a clipped run");
        let state = load_state(&scratch.join("w.state.safetensors")).unwrap();
        assert_eq!(state.trainer.config.clip_grad_norm, clip.map(|c| c.parse().unwrap()));
        let now: Vec<f32> =
            state.trainer.model.named_parameters().into_iter().flat_map(|(_, p)| p.value.to_vec()).collect();
        now.iter().zip(&initial).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max)
    };
    // 10 steps of SGD at lr 0.05 with each step's gradient scaled to norm 10⁻⁹: no weight
    // moves by more than 10 · 0.05 · 10⁻⁹ (plus rounding); unclipped, they move visibly.
    let clipped = moved(Some("1e-9"));
    assert!(clipped <= 1e-7, "clipped run moved a weight by {clipped}");
    let free = moved(None);
    assert!(free > 1e-3, "unclipped run moved the weights by at most {free}");
}

#[test]
fn conflicting_options_on_resume_are_usage_errors_and_agreeing_ones_are_fine() {
    let scratch = Scratch::new("conflict");
    let Some(data) = small_data("conflicting_options_on_resume", &scratch) else { return };
    let out = scratch.join("w.safetensors");
    let run = lenet5(&[
        "train",
        "--data",
        s(&data),
        "--batch-size",
        "32",
        "--threads",
        "1",
        "--epochs",
        "2",
        "--max-steps",
        "3",
        "--seed",
        "5",
        "--out",
        s(&out),
    ]);
    run.assert_ok("a short run");
    let state = scratch.join("w.state.safetensors");
    let st = s(&state);
    for (flag, value) in [
        ("--epochs", "3"),
        ("--batch-size", "16"),
        ("--optimizer", "adam"),
        ("--lr", "0.1"),
        ("--momentum", "0.5"),
        ("--weight-decay", "0"),
        ("--seed", "6"),
        ("--threads", "2"),
        ("--max-steps", "9"),
        ("--clip-grad-norm", "1"),
    ] {
        let run = lenet5(&["train", "--resume", st, "--data", s(&data), flag, value]);
        run.assert_one_line_error(flag, 2, &[flag, st, "leave"]);
    }
    let run = lenet5(&["train", "--resume", st, "--data", s(&data), "--no-shuffle"]);
    run.assert_one_line_error("--no-shuffle", 2, &["--no-shuffle"]);
    // Options equal to the run's are accepted (the run is complete: nothing to do).
    let run =
        lenet5(&["train", "--resume", st, "--data", s(&data), "--seed", "5", "--batch-size", "32", "--threads", "1"]);
    run.assert_ok("agreeing options");
    assert!(run.stderr.contains("already complete"), "{}", run.stderr);
    // Another data set of another size is refused.
    let other = scratch.join("other");
    small_mnist(&mnist_dir("conflict").unwrap(), &other, 300, 10);
    let run = lenet5(&["train", "--resume", st, "--data", s(&other)]);
    run.assert_one_line_error("other data", 1, &["320", "300"]);
}
