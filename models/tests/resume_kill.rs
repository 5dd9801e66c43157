//! `lenet5 train` killed and resumed, as a child process, on a small MNIST subset (640
//! training and 200 test images, 20 steps an epoch, 4 epochs): killed with SIGKILL at
//! seeded random moments, some of them while a checkpoint is being written, the last
//! checkpoint always loads and `--resume` completes the run with the same weights and
//! metrics, bit for bit, as a run never interrupted. Ctrl-C (SIGINT) and SIGTERM finish
//! the step, write a checkpoint and print the command that resumes, which does.
//!
//! Needs `MNIST_DIR` (skipped without it, except under `CI=true`, where it fails).

use crate::resume_support;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use layers::checkpoint::{load_module, read_checkpoint};
use models::resume::load_state;
use models::train::TrainConfig;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use resume_support::{
    Run, Scratch, lenet5, lenet5_command, lenet5_trainer, list, metrics_without_times, mnist_dir, s, small_mnist,
};

/// The run's options (besides where it writes).
const RUN: [&str; 12] =
    ["--epochs", "4", "--batch-size", "32", "--threads", "2", "--seed", "7", "--lr", "0.05", "--momentum", "0.9"];

struct Setup {
    scratch: Scratch,
    data: PathBuf,
    /// The uninterrupted run's folder (`w.safetensors`, `w.state.safetensors`, `m.csv`).
    reference: PathBuf,
    /// How long the uninterrupted run took.
    duration: Duration,
}

fn setup(test: &str) -> Option<Setup> {
    let mnist = mnist_dir(test)?;
    let scratch = Scratch::new(test);
    let data = scratch.join("data");
    small_mnist(&mnist, &data, 640, 200);
    let reference = scratch.join("reference");
    std::fs::create_dir(&reference).unwrap();
    let started = Instant::now();
    let args = fresh_args(&data, &reference, "5");
    lenet5(&args.iter().map(String::as_str).collect::<Vec<_>>()).assert_ok("the uninterrupted run");
    let duration = started.elapsed();
    println!("{test}: the uninterrupted run took {:.2} s", duration.as_secs_f64());
    Some(Setup { scratch, data, reference, duration })
}

fn fresh_args(data: &Path, dir: &Path, every: &str) -> Vec<String> {
    let mut args: Vec<String> = ["train", "--data", s(data)].iter().map(|a| a.to_string()).collect();
    args.extend(RUN.iter().map(|a| a.to_string()));
    args.extend(
        ["--checkpoint-every", every, "--out", s(&dir.join("w.safetensors")), "--metrics", s(&dir.join("m.csv"))]
            .iter()
            .map(|a| a.to_string()),
    );
    args
}

/// Resumes from the state file alone: the weights file's path comes from it.
fn resume_args(data: &Path, dir: &Path, every: &str) -> Vec<String> {
    [
        "train",
        "--resume",
        s(&dir.join("w.state.safetensors")),
        "--data",
        s(data),
        "--checkpoint-every",
        every,
        "--metrics",
        s(&dir.join("m.csv")),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

fn spawn(args: &[String], stderr: Stdio) -> Child {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lenet5_command(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).spawn().unwrap()
}

/// The names of the checkpoint temporaries in `dir` (`.w.safetensors.tmp<pid>-<n>`, …).
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.contains(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that the run in `dir` ended as the reference did: the same weights file, byte
/// for byte; the same state tensors, bit for bit, and metadata but for timing; the same
/// metrics rows but for timing.
fn assert_same_end(dir: &Path, reference: &Path) {
    let (w, rw) = (dir.join("w.safetensors"), reference.join("w.safetensors"));
    assert!(
        std::fs::read(&w).unwrap() == std::fs::read(&rw).unwrap(),
        "the weights differ from the uninterrupted run's"
    );
    let (a, b) = (
        read_checkpoint::<f32>(&dir.join("w.state.safetensors")).unwrap(),
        read_checkpoint::<f32>(&reference.join("w.state.safetensors")).unwrap(),
    );
    assert_eq!(a.tensors.keys().collect::<Vec<_>>(), b.tensors.keys().collect::<Vec<_>>());
    for (name, t) in &a.tensors {
        let bits = |t: &tensor::Tensor<f32>| t.iter().map(f32::to_bits).collect::<Vec<_>>();
        assert_eq!(bits(t), bits(&b.tensors[name]), "state tensor {name}");
    }
    let untimed = |m: &std::collections::BTreeMap<String, String>| {
        let mut m = m.clone();
        m.remove("epoch.train_seconds");
        m
    };
    assert_eq!(untimed(&a.metadata), untimed(&b.metadata));
    let (m, rm) = (metrics_without_times(&dir.join("m.csv")), metrics_without_times(&reference.join("m.csv")));
    assert_eq!(m.len(), 5, "a header and one row per epoch: {m:?}");
    assert_eq!(m, rm, "the metrics differ from the uninterrupted run's");
}

#[test]
fn runs_killed_at_random_moments_resume_to_the_same_end() {
    let Some(setup) = setup("runs_killed_at_random_moments_resume_to_the_same_end") else { return };
    let dir = setup.scratch.join("killed");
    std::fs::create_dir(&dir).unwrap();
    let state = dir.join("w.state.safetensors");
    let weights = dir.join("w.safetensors");
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let (mut kills, mut during_writes, mut torn, mut attempts, mut completed) = (0, 0, 0, 0, false);
    let mut steps_seen = Vec::new();
    while kills < 8 && attempts < 40 {
        attempts += 1;
        // Every third attempt hunts a checkpoint write: a checkpoint after every step, and
        // the kill as soon as the k-th temporary file appears. The others are killed after
        // a random delay, checkpointing every 5 or every step.
        let hunting = attempts % 3 == 0;
        let every = if hunting || attempts % 2 == 0 { "1" } else { "5" };
        let args =
            if state.exists() { resume_args(&setup.data, &dir, every) } else { fresh_args(&setup.data, &dir, every) };
        let mut child = spawn(&args, Stdio::null());
        let started = Instant::now();
        let mut in_write = false;
        if hunting {
            let wanted = rng.random_range(1..=6usize);
            let mut seen = std::collections::BTreeSet::new();
            while child.try_wait().unwrap().is_none() && started.elapsed() < 2 * setup.duration {
                let now = temporaries(&dir);
                seen.extend(now.iter().cloned());
                if !now.is_empty() && seen.len() >= wanted {
                    in_write = true;
                    break;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        } else {
            let delay = setup.duration.mul_f64(rng.random_range(0.05..0.35));
            while child.try_wait().unwrap().is_none() && started.elapsed() < delay {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "attempt {attempts} failed on its own: {status}");
            completed = true;
            break;
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "attempt {attempts}: {status}");
        kills += 1;
        if in_write {
            during_writes += 1;
        }
        // A temporary left behind is a write the kill cut short (before its rename).
        if !temporaries(&dir).is_empty() {
            torn += 1;
        }
        // The last checkpoint loads, and never goes backwards.
        if state.exists() {
            let resumed = load_state(&state).unwrap_or_else(|e| panic!("after kill {kills}: {e}"));
            assert!(steps_seen.last().is_none_or(|&last| resumed.trainer.steps >= last), "{steps_seen:?}");
            steps_seen.push(resumed.trainer.steps);
            let mut model = lenet5_trainer(TrainConfig::default()).model;
            load_module(&mut model, &weights).unwrap_or_else(|e| panic!("after kill {kills}: {e}"));
        }
    }
    println!(
        "{attempts} attempt(s): {kills} SIGKILL(s), {during_writes} just as a checkpoint temporary appeared, \
         {torn} leaving a torn temporary behind; steps in the state after each: {steps_seen:?}"
    );
    assert!(kills >= 3, "only {kills} kill(s) before the run completed");
    assert!(during_writes >= 1, "no kill landed during a checkpoint write");
    if !completed {
        let run = lenet5(&resume_args(&setup.data, &dir, "5").iter().map(String::as_str).collect::<Vec<_>>());
        run.assert_ok("the final resume");
    }
    assert_same_end(&dir, &setup.reference);
    assert_eq!(list(&dir), vec!["m.csv", "w.safetensors", "w.state.safetensors"], "temporaries are cleaned up");
}

#[test]
fn sigint_and_sigterm_write_a_checkpoint_and_say_how_to_resume() {
    let Some(setup) = setup("sigint_and_sigterm_write_a_checkpoint_and_say_how_to_resume") else { return };
    let mut rng = StdRng::seed_from_u64(99);
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let dir = setup.scratch.join(name);
        std::fs::create_dir(&dir).unwrap();
        let state = dir.join("w.state.safetensors");
        // Only the checkpoints at epoch ends: the one the signal writes is its own.
        let child = spawn(&fresh_args(&setup.data, &dir, "0"), Stdio::piped());
        let started = Instant::now();
        while !state.exists() && started.elapsed() < 10 * setup.duration {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(state.exists(), "{name}: no first checkpoint");
        std::thread::sleep(setup.duration.mul_f64(rng.random_range(0.1..0.4)));
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0);
        let run = Run::from_output(child.wait_with_output().unwrap());
        run.assert_no_panic(name);
        assert_eq!(run.code, Some(130), "{name}:\n{}", run.stderr);
        let last = run.stderr_lines().last().copied().unwrap_or_default().to_string();
        assert!(last.starts_with("lenet5: interrupted after "), "{name}: {last}");
        let resume_cmd = last.split("resume with: ").nth(1).unwrap_or_else(|| panic!("{name}: {last}"));
        assert!(resume_cmd.starts_with(&format!("lenet5 train --resume {}", s(&state))), "{name}: {last}");
        // The checkpoint is where the message says; it loads.
        let resumed = load_state(&state).unwrap();
        assert!(resumed.trainer.steps >= 1);
        assert!(
            last.contains(&format!("step {}", resumed.trainer.steps))
                || last.contains(&format!("epoch {}", resumed.trainer.epoch)),
            "{name}: {last} vs {} steps",
            resumed.trainer.steps
        );
        // The printed command, run as printed, completes the run as if never stopped.
        let args: Vec<&str> = resume_cmd.split_whitespace().skip(1).collect();
        lenet5(&args).assert_ok(&format!("{name}: {resume_cmd}"));
        assert_same_end(&dir, &setup.reference);
        println!("{name}: stopped after step {}, resumed to the same end", resumed.trainer.steps);
    }
}
