//! What `train` writes and what it must not replace: a run that fails before its first
//! successful step leaves existing files byte-identical; each network has its own default
//! files (`lenet5.safetensors`, `DATA-HASH.safetensors`) and its metrics beside them; a
//! file of another network is refused, naming both, unless `--overwrite`; a signal before
//! training starts ends the run at once, having written nothing.

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use layers::checkpoint::{read_checkpoint, save_module};
use rand::SeedableRng;
use rand::rngs::StdRng;

use common::shapes::write_folder;
use common::{Run, Scratch, lenet5_command, list, s};

const SPEC: &str = "conv(4,3,p=1) relu maxpool(2) flatten linear(3)";

/// The synthetic 12×12 IDX folder of 3 classes, in `scratch`.
fn data(scratch: &Scratch) -> PathBuf {
    let dir = scratch.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    write_folder(&dir);
    dir
}

/// `lenet5 args…` run in `cwd`.
fn lenet5_in(cwd: &Path, args: &[&str]) -> Run {
    Run::from_output(lenet5_command(args).current_dir(cwd).output().unwrap())
}

/// Every file of `dir` with its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    list(dir).into_iter().map(|name| (name.clone(), std::fs::read(dir.join(&name)).unwrap())).collect()
}

/// Found 4: `train` wrote its checkpoint before step 1, so a run that then failed (a slope
/// infinite in f32, a network without a parameter, a NaN at step 1) replaced the weights,
/// state and metrics that were there. Every one of them leaves them byte-identical now.
#[test]
fn a_run_that_fails_before_its_first_step_leaves_the_old_files_byte_identical() {
    let scratch = Scratch::new("old-weights");
    let data = data(&scratch);
    let run_dir = scratch.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let out = run_dir.join("w.safetensors");
    let (d, o) = (s(&data), s(&out));
    // The metrics file named as the default names it (so that the old code, which wrote
    // none by default, sets up the same three files).
    let first = ["train", "--arch", SPEC, "--data", d, "--out", o, "--epochs", "2", "--batch-size", "30"];
    lenet5_in(&run_dir, &[&first[..], &["--metrics", "w.metrics.csv"]].concat()).assert_ok("the first run");
    let before = contents(&run_dir);
    assert_eq!(before.keys().collect::<Vec<_>>(), ["w.metrics.csv", "w.safetensors", "w.state.safetensors"]);

    for (arch, extra, code, needles) in [
        // Parses, but the slope is infinite in f32: refused before anything else.
        ("leakyrelu(1e39) flatten linear(3)", None, 2, vec!["layer 1", "32-bit"]),
        // No parameter to train: refused at build time.
        ("flatten", None, 2, vec!["no parameter"]),
        // Another network into the same file: refused without --overwrite.
        ("conv(8,3) relu flatten linear(3)", None, 2, vec!["w.safetensors", "--overwrite", SPEC]),
        // A NaN at step 1 (slopes of ±3·10³⁸ overflow f32 at once), even with --overwrite.
        (
            "conv(4,3) leakyrelu(-3e38) flatten leakyrelu(-3e38) linear(3)",
            Some("--overwrite"),
            1,
            vec!["step 1", "no checkpoint was written"],
        ),
    ] {
        let mut args = vec!["train", "--arch", arch, "--data", d, "--out", o];
        args.extend(extra);
        let run = lenet5_in(&run_dir, &args);
        assert!(contents(&run_dir) == before, "{arch}: the files changed\n{}", run.stderr);
        run.assert_error_last(arch, code, &needles);
    }
}

/// Issue 26: the README's two examples (LeNet-5, then an `--arch` network) wrote the same
/// `lenet5.safetensors`. Each network now has its own default files, metrics included, and
/// a second run of the same network replaces its own.
#[test]
fn each_network_has_its_own_default_files() {
    let scratch = Scratch::new("default-names");
    let data = data(&scratch);
    let cwd = scratch.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let d = s(&data);
    // LeNet-5 on the 12×12 images padded to 32×32.
    lenet5_in(&cwd, &["train", "--data", d, "--pad", "10", "--epochs", "1", "--batch-size", "60"]).assert_ok("LeNet-5");
    let lenet = contents(&cwd);
    assert_eq!(
        lenet.keys().collect::<Vec<_>>(),
        ["lenet5.metrics.csv", "lenet5.safetensors", "lenet5.state.safetensors"]
    );

    let run = lenet5_in(&cwd, &["train", "--arch", SPEC, "--data", d, "--epochs", "1", "--batch-size", "60"]);
    run.assert_ok("the spec");
    let names = list(&cwd);
    let stem = names.iter().find(|n| n.starts_with("data-") && n.ends_with(".state.safetensors")).unwrap();
    let stem = stem.trim_end_matches(".state.safetensors");
    assert_eq!(stem.len(), "data-".len() + 8, "{stem}");
    assert!(stem["data-".len()..].bytes().all(|b| b.is_ascii_hexdigit()), "{stem}");
    for suffix in [".safetensors", ".state.safetensors", ".metrics.csv"] {
        assert!(names.contains(&format!("{stem}{suffix}")), "{names:?}");
    }
    assert!(run.stderr.contains(&format!("wrote {stem}.safetensors")), "{}", run.stderr);
    // LeNet-5's files are untouched; its weights still evaluate as LeNet-5.
    for (name, bytes) in &lenet {
        assert_eq!(&std::fs::read(cwd.join(name)).unwrap(), bytes, "{name}");
    }
    let meta = read_checkpoint::<f32>(&cwd.join(format!("{stem}.safetensors"))).unwrap().metadata;
    assert_eq!(meta["arch"], SPEC);
    let eval = lenet5_in(&cwd, &["eval", "--checkpoint", "lenet5.safetensors"]);
    eval.assert_ok("eval of LeNet-5");

    // The same spec again replaces its own files (same network, same data).
    let before = std::fs::read(cwd.join(format!("{stem}.safetensors"))).unwrap();
    lenet5_in(&cwd, &["train", "--arch", SPEC, "--data", d, "--epochs", "1", "--batch-size", "60", "--seed", "7"])
        .assert_ok("the spec again");
    assert_ne!(std::fs::read(cwd.join(format!("{stem}.safetensors"))).unwrap(), before);
    assert_eq!(list(&cwd).len(), 6, "{:?}", list(&cwd));
}

/// The metrics go beside the weights by default (`plot` finds them), one row per epoch;
/// a new run of the same file replaces the rows instead of appending to them.
#[test]
fn metrics_are_written_beside_the_weights_and_replaced_by_a_new_run() {
    let scratch = Scratch::new("metrics");
    let data = data(&scratch);
    let out = scratch.join("m.safetensors");
    let csv = scratch.join("m.metrics.csv");
    let train = |epochs: &str| {
        let args = ["train", "--arch", SPEC, "--data", s(&data), "--out", s(&out), "--epochs", epochs];
        lenet5_in(scratch.path(), &[&args[..], &["--batch-size", "60"]].concat()).assert_ok(epochs);
        let text = std::fs::read_to_string(&csv).unwrap();
        text.lines().map(|l| l.split(',').next().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(train("2"), ["epoch", "1", "2"]);
    assert_eq!(train("1"), ["epoch", "1"]);
    let png = scratch.join("m.png");
    lenet5_in(scratch.path(), &["plot", "--metrics", s(&csv), "--out", s(&png)]).assert_ok("plot");
    assert!(png.is_file());
}

/// Another network's file (by its metadata), a file without metadata that is not
/// LeNet-5's, or a file that is not a network at all: refused, naming both, unless
/// `--overwrite`. LeNet-5's weights without metadata (as PyTorch writes them) may be
/// replaced by a LeNet-5 run.
#[test]
fn another_network_s_file_is_refused_unless_overwrite() {
    let scratch = Scratch::new("overwrite");
    let data = data(&scratch);
    let out = scratch.join("x.safetensors");
    let state = scratch.join("x.state.safetensors");
    let train = |arch: &str, extra: &[&str]| {
        let mut args = vec!["train", "--arch", arch, "--data", s(&data), "--out", s(&out), "--max-steps", "2"];
        args.extend(extra);
        if arch == "lenet5" {
            args.extend(["--pad", "10"]);
        }
        lenet5_in(scratch.path(), &args)
    };
    train(SPEC, &[]).assert_ok("first");
    let other = "conv(2,3) relu flatten linear(3)";
    let run = train(other, &[]);
    run.assert_one_line_error(
        "another spec",
        2,
        &["x.safetensors holds", SPEC, "this run trains", other, "--overwrite"],
    );
    train(other, &["--overwrite"]).assert_ok("--overwrite");
    assert_eq!(read_checkpoint::<f32>(&out).unwrap().metadata["arch"], other);

    // Not a safetensors file; a state file of another network beside a missing weights file.
    std::fs::write(&out, b"not a network").unwrap();
    train(SPEC, &[]).assert_one_line_error("junk", 2, &["x.safetensors", "cannot read", "--overwrite"]);
    assert_eq!(std::fs::read(&out).unwrap(), b"not a network");
    std::fs::remove_file(&out).unwrap();
    train(SPEC, &[]).assert_one_line_error("the state file", 2, &["x.state.safetensors holds", other]);
    std::fs::remove_file(&state).unwrap();

    // Tensors without metadata: LeNet-5's may be replaced by LeNet-5, others not.
    let lenet = models::lenet5::new::<f32, _>(&mut StdRng::seed_from_u64(0)).unwrap();
    save_module(&lenet, &out).unwrap();
    train(SPEC, &[]).assert_one_line_error(
        "LeNet-5 without metadata",
        2,
        &["holds LeNet-5's weights without metadata"],
    );
    train("lenet5", &[]).assert_ok("LeNet-5 over LeNet-5");
    let linear = layers::Linear::<f32>::new(3, 2, &mut StdRng::seed_from_u64(0)).unwrap();
    save_module(&linear, &out).unwrap();
    std::fs::remove_file(&state).unwrap();
    train("lenet5", &[]).assert_one_line_error("other tensors", 2, &["without metadata", "not LeNet-5"]);
}

/// Found 2: a signal during a phase before training (here a download that never answers)
/// was noted and ignored until the first step. Now it ends the run at once with status
/// 130, having written nothing.
#[test]
fn a_signal_before_training_starts_ends_the_run_at_once() {
    let scratch = Scratch::new("early-signal");
    // A mirror that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mirror = format!("http://127.0.0.1:{}/", silent.local_addr().unwrap().port());
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let dir = scratch.join(name);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut child = lenet5_command(&["train", "--data", "data", "--out", "w.safetensors"])
            .current_dir(&dir)
            .env("MNIST_MIRROR", &mirror)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        assert!(first.starts_with("downloading "), "{first}");
        std::thread::sleep(Duration::from_millis(200));
        let sent = Instant::now();
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = status.unwrap_or_else(|| panic!("{name}: still running 10 s after the signal"));
        println!("{name}: ended {:.2} s after the signal", sent.elapsed().as_secs_f64());
        assert_eq!(status.code(), Some(130), "{name}: {rest:?}");
        assert_eq!(
            rest.last().map(String::as_str),
            Some("lenet5: interrupted before training started; nothing was written")
        );
        assert!(!dir.join("w.safetensors").exists() && !dir.join("w.state.safetensors").exists());
    }
    drop(silent);
}
