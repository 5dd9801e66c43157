//! Shared helpers of the `models` test suites: finding MNIST (through `MNIST_DIR`),
//! scratch folders, running the `lenet5` binary, IDX files written by hand, a short
//! training run that leaves a checkpoint, and the facts of the data README.
//!
//! Every suite uses a subset of these helpers.
#![allow(dead_code)]

pub mod http;
pub mod shapes;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use autograd::{AutogradError, Tape};
use layers::{LayerError, Module};
use models::train::{TrainConfig, Trainer};
use models::{LeNet5, Mnist, Split};
use tensor::Tensor;

/// Label counts of digits 0–9 in the training split (from `/work/shared/data/README.md`).
pub const TRAIN_LABEL_COUNTS: [usize; 10] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
/// Label counts of digits 0–9 in the test split (from the data README).
pub const TEST_LABEL_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
/// The MD5 of each `.gz` file (from the data README).
pub const README_MD5: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
];

/// The MNIST folder: `MNIST_DIR`, else the workspace's `data/mnist` when it holds the four
/// files (where the README's first command puts them). When neither: a failure if `CI` is
/// `"true"`, else a notice written straight to the terminal's stderr (past the test
/// harness's capture, so a skip is seen even when the test passes) and `None` (the caller
/// returns early). A set `MNIST_DIR` that is not a folder always fails.
pub fn mnist_dir(test: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MNIST_DIR") {
        let dir = PathBuf::from(dir);
        assert!(dir.is_dir(), "{test}: MNIST_DIR={} is not a folder", dir.display());
        return Some(dir);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    if models::mnist::FILES.iter().all(|f| models::mnist::find_file(&local, f).is_some()) {
        return Some(local);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: MNIST_DIR is not set and data/mnist is empty, and CI=true: the MNIST tests must run in CI \
             (export MNIST_DIR=/path/to/mnist, the folder of the four .gz files)"
        );
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: no MNIST (set MNIST_DIR=/path/to/mnist, or run the README's first command, which downloads it into data/mnist)"
    );
    None
}

/// MNIST loaded once per test binary.
pub fn mnist(dir: &Path) -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| models::mnist::load(dir).expect("MNIST_DIR holds the four MNIST files"))
}

/// A folder under the system's temporary folder, unique per process and call, removed
/// (with its contents) when dropped.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A fresh empty folder whose name contains `name`.
    pub fn new(name: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "models-test-{name}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The names of the files in the folder, sorted.
    pub fn list(&self) -> Vec<String> {
        list(&self.path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The bytes of an IDX file of unsigned bytes: magic `0x0000_08DD`, the dimensions, the data.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = (0x0800u32 | dims.len() as u32).to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// `bytes` gzip-compressed (one member).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The names of the files in a folder, sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The result of running the `lenet5` binary.
pub struct Run {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The result of a finished child.
    pub fn from_output(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts exit status 0 and no panic.
    pub fn assert_ok(&self, what: &str) {
        assert_eq!(self.code, Some(0), "{what}: exit status\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self.assert_no_panic(what);
    }

    /// Asserts that stderr shows no panic.
    pub fn assert_no_panic(&self, what: &str) {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("internal error"),
            "{what}: the command panicked:\n{}",
            self.stderr
        );
    }

    /// The non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    /// Asserts the exit code, and that the last line of stderr is an error message
    /// (`lenet5: error: …`) containing each of `needles`, the only line of stderr that
    /// says "error" (a run that started training prints its progress before it).
    pub fn assert_error_last(&self, what: &str, code: i32, needles: &[&str]) {
        self.assert_no_panic(what);
        assert_eq!(self.code, Some(code), "{what}: exit status\nstderr:\n{}", self.stderr);
        let lines = self.stderr_lines();
        let last = lines.last().unwrap_or_else(|| panic!("{what}: nothing on stderr"));
        assert!(last.starts_with("lenet5: error: "), "{what}: {last}");
        assert_eq!(lines.iter().filter(|l| l.contains("error")).count(), 1, "{what}:\n{}", self.stderr);
        for n in needles {
            assert!(last.contains(n), "{what}: {last:?} does not mention {n:?}");
        }
    }

    /// Asserts the exit code and that stderr is exactly one line, an error message
    /// (`lenet5: error: …`) containing each of `needles`.
    pub fn assert_one_line_error(&self, what: &str, code: i32, needles: &[&str]) {
        self.assert_no_panic(what);
        assert_eq!(self.code, Some(code), "{what}: exit status\nstderr:\n{}", self.stderr);
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "{what}: stderr is not one line:\n{}", self.stderr);
        assert!(lines[0].starts_with("lenet5: error: "), "{what}: {}", lines[0]);
        for n in needles {
            assert!(lines[0].contains(n), "{what}: {:?} does not mention {n:?}", lines[0]);
        }
    }
}

/// Runs `lenet5 args…` with `MNIST_MIRROR` pointing at a closed local port (so a missing
/// data folder can never reach the network) and waits for it.
pub fn lenet5(args: &[&str]) -> Run {
    lenet5_env(args, &[])
}

/// A `lenet5` command with `MNIST_DIR` removed and `MNIST_MIRROR` pointing at a closed
/// local port (so a missing data folder can never reach the network).
pub fn lenet5_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lenet5"));
    cmd.args(args).env("MNIST_MIRROR", "http://127.0.0.1:9/").env_remove("MNIST_DIR");
    cmd
}

/// Like [`lenet5`], with extra environment variables.
pub fn lenet5_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = lenet5_command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from_output(cmd.output().expect("the lenet5 binary runs"))
}

/// A path as `&str` for command lines.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A short seeded training run: `steps` SGD steps of the default configuration on 2
/// threads. Returns the trained model.
pub fn train_steps(data: &Mnist, steps: u64, seed: u64) -> LeNet5<f32> {
    let config = TrainConfig { epochs: 1, threads: 2, seed, max_steps: Some(steps), ..TrainConfig::lenet5_recipe() };
    let mut trainer = lenet5_trainer(config);
    trainer.run_epoch(&data.train, &data.test, |_| {}).unwrap();
    assert_eq!(trainer.steps, steps, "the run stopped at its step limit");
    trainer.model
}

/// A fresh LeNet-5 run as `lenet5 train` starts one before it knows the data: weights
/// drawn from the seed, MNIST's fixed preprocessing (so that [`preprocess`] matches it).
pub fn lenet5_trainer(config: TrainConfig) -> Trainer<LeNet5<f32>> {
    let model = models::lenet5::new(&mut config.weight_rng()).unwrap();
    Trainer::new(model, config, models::data::Preprocess::mnist()).unwrap()
}

/// The logits of `model` for images `indices` of `split`, preprocessed by hand (pad 2 with
/// background, `(b/255 − 0.1307)/0.3081`), on a no-grad tape.
pub fn logits(model: &LeNet5<f32>, split: &Split, indices: &[usize]) -> Tensor<f32> {
    let x: Vec<f32> = indices.iter().flat_map(|&i| preprocess(split.image(i))).collect();
    let tape = Tape::no_grad();
    let input = tape.constant(Tensor::from_vec(&[indices.len(), 1, 32, 32], x).unwrap());
    model.forward(input).unwrap().value()
}

/// One 28×28 image as LeNet-5's 32×32 input, computed independently of the library.
pub fn preprocess(image: &[u8]) -> Vec<f32> {
    assert_eq!(image.len(), 784);
    let mut out = vec![(0.0f32 / 255.0 - 0.1307) / 0.3081; 1024];
    for r in 0..28 {
        for c in 0..28 {
            out[(r + 2) * 32 + c + 2] = (f32::from(image[r * 28 + c]) / 255.0 - 0.1307) / 0.3081;
        }
    }
    out
}

/// The index of the first maximum of each row of a row-major `[n, k]` slice.
pub fn argmax_rows(values: &[f32], k: usize) -> Vec<usize> {
    values
        .chunks_exact(k)
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// A module's error as an autograd error, so a model's forward pass fits a `gradcheck`
/// closure (which returns `autograd::Result`).
pub fn ag<T>(r: layers::Result<T>) -> autograd::Result<T> {
    r.map_err(|e| match e {
        LayerError::Autograd(e) => e,
        other => AutogradError::InvalidArgument { op: "module", reason: other.to_string() },
    })
}

/// A finished `lenet5` run with its peak resident memory and wall time.
pub struct Measured {
    /// The run (`code` is `None` when it was killed at the deadline).
    pub run: Run,
    /// Its peak resident set, in MiB (see [`measured`]).
    pub peak_mib: u64,
    /// How long it ran.
    pub seconds: f64,
    /// Whether it was killed at the deadline.
    pub timed_out: bool,
}

/// Runs `cmd` (a [`lenet5_command`]), killing it after `deadline`, and measures its peak
/// resident memory: `VmHWM` of `/proc/PID/status`, read every millisecond while it runs.
/// (Not `ru_maxrss`: a child spawned by a large process, as the test binary is, inherits
/// its parent's high-water mark at `exec`.)
pub fn measured(mut cmd: Command, deadline: std::time::Duration) -> Measured {
    use std::io::Read;
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the lenet5 binary runs");
    let pid = child.id();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let high_water = |pid: u32| -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    let (mut peak_kib, mut timed_out) = (0, false);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            break status;
        }
        peak_kib = peak_kib.max(high_water(pid).unwrap_or(0));
        if started.elapsed() > deadline {
            timed_out = true;
            child.kill().expect("kill the child");
            break child.wait().expect("the child's status");
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    let seconds = started.elapsed().as_secs_f64();
    let run = Run { code: status.code(), stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    Measured { run, peak_mib: peak_kib / 1024, seconds, timed_out }
}

/// The `num_batches_tracked` counter of every batch norm of `model`, in order.
pub fn batches_tracked(model: &dyn Module<f32>) -> Vec<f32> {
    model
        .named_buffers()
        .into_iter()
        .filter(|(n, _)| n.ends_with("num_batches_tracked"))
        .map(|(_, b)| b.get().item().unwrap())
        .collect()
}
