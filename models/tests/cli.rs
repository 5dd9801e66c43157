//! The `lenet5` command's behaviour on bad input: usage errors exit 2 with one line on
//! stderr, failed runs exit 1 with one line starting `lenet5: error:`, nothing panics;
//! and `lenet5 shapes` prints the derivation's matrices, whose sizes are computed here
//! from the definition of LeNet-5.
//!
//! None of these needs MNIST: the folders given to `eval` hold a tiny MNIST written here,
//! and `MNIST_MIRROR` points at a closed port so nothing reaches the network.

use crate::common;

use std::path::{Path, PathBuf};

use layers::Module;
use layers::checkpoint::{save_module, write_tensors};
use models::mnist::FILES;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

use common::{Run, Scratch, gzip, idx_bytes, lenet5, s};

/// Asserts a usage error: exit 2, one line on stderr, no panic.
fn assert_usage_error(args: &[&str], mentions: &str) -> Run {
    let run = lenet5(args);
    let what = format!("lenet5 {}", args.join(" "));
    assert_eq!(run.code, Some(2), "{what}: exit status\nstderr:\n{}", run.stderr);
    run.assert_no_panic(&what);
    assert_eq!(run.stderr_lines().len(), 1, "{what}: one line on stderr, got:\n{}", run.stderr);
    assert!(run.stderr.contains(mentions), "{what}: stderr should mention {mentions:?}:\n{}", run.stderr);
    run
}

/// Asserts a failed run: exit 1, one line on stderr starting `lenet5: error:` that
/// mentions `mentions`, no panic.
fn assert_run_error(args: &[&str], mentions: &str) {
    let run = lenet5(args);
    let what = format!("lenet5 {}", args.join(" "));
    assert_eq!(run.code, Some(1), "{what}: exit status\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    run.assert_no_panic(&what);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{what}: one line on stderr, got:\n{}", run.stderr);
    assert!(lines[0].starts_with("lenet5: error:"), "{what}: {}", lines[0]);
    assert!(lines[0].contains(mentions), "{what}: stderr should mention {mentions:?}: {}", lines[0]);
}

/// A checkpoint of an untrained LeNet-5.
fn checkpoint(dir: &Scratch) -> PathBuf {
    let model = models::lenet5::new::<f32, _>(&mut StdRng::seed_from_u64(1)).unwrap();
    let path = dir.join("model.safetensors");
    save_module(&model, &path).unwrap();
    path
}

/// A valid MNIST folder of 2 training and 2 test images.
fn tiny_mnist(dir: &Scratch) -> PathBuf {
    let data = dir.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    let images = idx_bytes(&[2, 28, 28], &[0u8; 2 * 784]);
    let labels = idx_bytes(&[2], &[3, 4]);
    for (name, bytes) in FILES.iter().zip([&images, &labels, &images, &labels]) {
        std::fs::write(data.join(name), gzip(bytes)).unwrap();
    }
    data
}

/// A 28×28 grey PNG.
fn png(path: &Path) {
    image::GrayImage::from_fn(28, 28, |x, y| image::Luma([if (10..18).contains(&x) && y > 4 { 255 } else { 0 }]))
        .save(path)
        .unwrap();
}

#[test]
fn bad_training_arguments_exit_2_with_one_line() {
    for (args, mentions) in [
        (&["train", "--batch-size", "0"][..], "--batch-size"),
        (&["train", "--epochs", "0"], "--epochs"),
        (&["train", "--threads", "0"], "--threads"),
        (&["train", "--lr", "-1"], "--lr"),
        (&["train", "--lr", "0"], "--lr"),
        (&["train", "--lr", "NaN"], "--lr"),
        (&["train", "--momentum", "1"], "--momentum"),
        (&["train", "--weight-decay", "-0.1"], "--weight-decay"),
        (&["shapes", "--batch-size", "0"], "--batch-size"),
    ] {
        let run = assert_usage_error(args, mentions);
        assert!(run.stderr.starts_with("lenet5: error:"), "{}", run.stderr);
    }
}

#[test]
fn argument_parse_errors_exit_2_with_one_line() {
    for (args, mentions) in [
        (&["train", "--frobnicate"][..], "--frobnicate"),
        (&["train", "--epochs", "many"], "many"),
        (&["train", "--optimizer", "lbfgs"], "lbfgs"),
        (&["frobnicate"], "frobnicate"),
        (&["train", "--epochs"], "--epochs"),
        (&[], "lenet5"),
    ] {
        let run = assert_usage_error(args, mentions);
        assert!(run.stdout.is_empty(), "lenet5 {args:?}: stdout {}", run.stdout);
    }
}

#[test]
fn a_missing_required_argument_is_named() {
    // clap renders "the following required arguments were not provided:" and the names
    // on the next lines; the one line printed must still name them.
    assert_usage_error(&["predict", "--checkpoint", "x.safetensors"], "IMAGES");
    assert_usage_error(&["eval"], "--checkpoint");
    assert_usage_error(&["predict", "a.png"], "--checkpoint");
}

#[test]
fn help_and_version_exit_0() {
    let run = lenet5(&["--help"]);
    run.assert_ok("--help");
    for sub in ["train", "eval", "predict", "shapes"] {
        assert!(run.stdout.contains(sub), "--help lists {sub}:\n{}", run.stdout);
    }
    let run = lenet5(&["--version"]);
    run.assert_ok("--version");
    assert_eq!(run.stdout.trim(), format!("lenet5 {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn eval_with_a_missing_data_folder_exits_2() {
    let dir = Scratch::new("cli-eval-data");
    let ckpt = checkpoint(&dir);
    let nowhere = dir.join("nowhere");
    assert_usage_error(&["eval", "--checkpoint", s(&ckpt), "--data", s(&nowhere)], "nowhere");
}

#[test]
fn eval_runs_on_a_valid_folder() {
    // The control for the failures below: the same files, a good checkpoint, exit 0.
    let dir = Scratch::new("cli-eval-ok");
    let (ckpt, data) = (checkpoint(&dir), tiny_mnist(&dir));
    let run = lenet5(&["eval", "--checkpoint", s(&ckpt), "--data", s(&data)]);
    run.assert_ok("eval");
    assert!(run.stdout.contains("(2 images)"), "{}", run.stdout);
}

#[test]
fn a_corrupt_checkpoint_fails_with_exit_1() {
    let dir = Scratch::new("cli-corrupt");
    let data = tiny_mnist(&dir);
    let good = std::fs::read(checkpoint(&dir)).unwrap();
    let image = dir.join("digit.png");
    png(&image);

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a safetensors file at all").unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let empty = dir.join("empty.safetensors");
    std::fs::write(&empty, b"").unwrap();
    // Valid safetensors, but c1.weight has the wrong shape; and one with a tensor missing.
    let model = models::lenet5::new::<f32, _>(&mut StdRng::seed_from_u64(2)).unwrap();
    let wrong = Tensor::<f32>::zeros(&[6, 1, 3, 3]).unwrap();
    let mut named: Vec<(String, &Tensor<f32>)> =
        model.named_parameters().into_iter().map(|(n, p)| (n, &p.value)).collect();
    let shape = dir.join("shape.safetensors");
    named[0].1 = &wrong;
    write_tensors(&shape, &named, &Default::default()).unwrap();
    let missing = dir.join("missing.safetensors");
    named.remove(0);
    write_tensors(&missing, &named, &Default::default()).unwrap();
    let absent = dir.join("absent.safetensors");

    for (ckpt, mentions) in [
        (&garbage, "garbage.safetensors"),
        (&truncated, "truncated.safetensors"),
        (&empty, "empty.safetensors"),
        (&shape, "c1.weight"),
        (&missing, "c1.weight"),
        (&absent, "absent.safetensors"),
        (&dir.path().to_path_buf(), s(dir.path())),
    ] {
        assert_run_error(&["eval", "--checkpoint", s(ckpt), "--data", s(&data)], mentions);
        assert_run_error(&["predict", "--checkpoint", s(ckpt), s(&image)], mentions);
    }
}

#[test]
fn an_unreadable_image_fails_with_exit_1() {
    let dir = Scratch::new("cli-image");
    let ckpt = checkpoint(&dir);
    let good = dir.join("good.png");
    png(&good);
    let bytes = std::fs::read(&good).unwrap();

    let text = dir.join("text.png");
    std::fs::write(&text, b"not an image\n").unwrap();
    let cut = dir.join("cut.png");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let absent = dir.join("absent.png");

    // The control: the good image alone succeeds.
    lenet5(&["predict", "--checkpoint", s(&ckpt), s(&good)]).assert_ok("predict good.png");
    for bad in [&text, &cut, &empty, &absent, &dir.path().to_path_buf()] {
        assert_run_error(&["predict", "--checkpoint", s(&ckpt), s(&good), s(bad)], s(bad));
    }
}

#[test]
fn train_with_an_unreachable_mirror_exits_1() {
    // A data folder without the files makes `train` download; the mirror is a closed port.
    let dir = Scratch::new("cli-mirror");
    let data = dir.join("mnist");
    std::fs::create_dir(&data).unwrap();
    let out = dir.join("out.safetensors");
    let run = lenet5(&["train", "--data", s(&data), "--max-steps", "1", "--out", s(&out)]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    run.assert_no_panic("train with an unreachable mirror");
    let errors: Vec<&str> = run.stderr_lines().into_iter().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(errors[0].starts_with("lenet5: error: could not fetch train-images-idx3-ubyte.gz"), "{}", errors[0]);
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "nothing is left in the data folder");
}

#[test]
fn mnist_is_not_downloaded_into_a_folder_of_other_data() {
    let dir = Scratch::new("cli-foreign");
    let data = dir.join("fashion");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("fashion-train.csv"), b"label,pixels\n").unwrap();
    let out = dir.join("out.safetensors");
    let run = lenet5(&["train", "--data", s(&data), "--max-steps", "1", "--out", s(&out)]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("fashion-train.csv") && run.stderr.contains("not a data folder"), "{}", run.stderr);
    let names: Vec<String> =
        std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["fashion-train.csv"], "nothing was fetched into it");
    assert!(!out.exists());
}

#[test]
fn train_with_a_missing_data_folder_exits_2() {
    let dir = Scratch::new("cli-train-data");
    let nowhere = dir.join("nowhere");
    assert_usage_error(&["train", "--data", s(&nowhere), "--out", s(&dir.join("o.safetensors"))], "nowhere");
    assert!(!nowhere.exists(), "no folder is created");
}

// ---------------------------------------------------------------------------------------
// `lenet5 shapes`.

/// One row of the table: layer, shape, bytes, bytes of the source tensor.
#[derive(Debug, PartialEq)]
struct Row {
    layer: String,
    shape: Vec<usize>,
    bytes: usize,
    source: Option<usize>,
}

/// The rows of the printed table: the layer is the first column, the shape the first
/// column of `d×d×…`, then bytes and the optional source bytes.
fn parse_table(stdout: &str) -> Vec<Row> {
    let mut lines = stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.contains("shape") && header.contains("bytes"), "{header}");
    // The table ends at the first blank line (the memory estimate follows it).
    lines
        .take_while(|l| !l.trim().is_empty())
        .map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            let is_shape = |t: &&str| t.contains('×') && t.split('×').all(|d| d.parse::<usize>().is_ok());
            let k = tokens.iter().position(is_shape).unwrap_or_else(|| panic!("no shape in {line:?}"));
            let num = |i: usize| tokens.get(i).map(|t| t.parse::<usize>().unwrap_or_else(|_| panic!("{line:?}")));
            Row {
                layer: tokens[0].to_string(),
                shape: tokens[k].split('×').map(|d| d.parse().unwrap()).collect(),
                bytes: num(k + 1).unwrap_or_else(|| panic!("no bytes in {line:?}")),
                source: num(k + 2),
            }
        })
        .collect()
}

/// The rows LeNet-5's derivation builds for a batch of `n`, from the architecture:
/// 32×32 input; C1 6@5×5 → 28×28; S2 2×2/2 → 14×14; C3 16@5×5 → 10×10; S4 → 5×5;
/// C5 120@5×5 → 1×1; F6 120→84; F7 84→10. A convolution's im2col matrix has one row
/// per output position (N·oh·ow) and one column per tap (C·5·5), copied from its input;
/// a pooling layer's window matrix has one row per output and 4 columns.
fn expected_rows(n: usize) -> Vec<Row> {
    let f32 = 4;
    let row = |layer: &str, shape: Vec<usize>, source: Option<usize>| Row {
        layer: layer.into(),
        bytes: shape.iter().product::<usize>() * f32,
        shape,
        source,
    };
    let mut rows = vec![row("input", vec![n, 1, 32, 32], None)];
    let (mut c, mut side) = (1, 32);
    for (conv, pool, filters) in [("C1", Some("S2"), 6), ("C3", Some("S4"), 16), ("C5", None, 120)] {
        let out = side - 5 + 1;
        let input_bytes = n * c * side * side * f32;
        rows.push(row(conv, vec![n * out * out, c * 25], Some(input_bytes)));
        rows.push(row(conv, vec![c * 25, filters], None));
        rows.push(row(conv, vec![n * out * out, filters], None));
        rows.push(row(conv, vec![n, filters, out, out], None));
        (c, side) = (filters, out);
        if let Some(pool) = pool {
            let half = side / 2;
            rows.push(row(pool, vec![n * c * half * half, 4], Some(n * c * side * side * f32)));
            rows.push(row(pool, vec![n, c, half, half], None));
            side = half;
        }
    }
    for (layer, inputs, outputs) in [("F6", 120, 84), ("F7", 84, 10)] {
        rows.push(row(layer, vec![inputs, outputs], None));
        rows.push(row(layer, vec![n, outputs], None));
    }
    rows
}

#[test]
fn shapes_prints_the_derivation_s_matrices() {
    let run = lenet5(&["shapes", "--batch-size", "2"]);
    run.assert_ok("shapes --batch-size 2");
    let rows = parse_table(&run.stdout);
    // The figures of the issue, written out.
    for (layer, shape) in [
        ("C1", vec![1568, 25]),
        ("C1", vec![25, 6]),
        ("C1", vec![1568, 6]),
        ("S2", vec![2352, 4]),
        ("C3", vec![200, 150]),
        ("S4", vec![800, 4]),
        ("C5", vec![2, 400]),
        ("C5", vec![400, 120]),
    ] {
        assert!(rows.iter().any(|r| r.layer == layer && r.shape == shape), "no {layer} row of shape {shape:?}");
    }
    assert_eq!(rows, expected_rows(2));
    for r in &rows {
        assert_eq!(r.bytes, r.shape.iter().product::<usize>() * 4, "{r:?}");
    }
    // The im2col of C1 copies each pixel up to 25 times: 1568·25 values from 2·1024.
    assert_eq!(rows[1].bytes, 1568 * 25 * 4);
    assert_eq!(rows[1].source, Some(2 * 1024 * 4));

    let run = lenet5(&["shapes"]);
    run.assert_ok("shapes");
    assert_eq!(parse_table(&run.stdout), expected_rows(64), "the default batch is 64");
}
