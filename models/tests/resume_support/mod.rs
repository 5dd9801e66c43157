//! Helpers of the fault and resume suites (`faults_*.rs`, `resume_*.rs`): MNIST from
//! `MNIST_DIR` and small subsets of it, synthetic splits, scratch folders, hand-made IDX
//! and safetensors files, and running the `lenet5` binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use models::Split;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The MNIST folder from `MNIST_DIR`. When it is unset: a failure if `CI` is `"true"`,
/// else a notice and `None` (the caller returns early).
pub fn mnist_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("MNIST_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(dir.is_dir(), "{test}: MNIST_DIR={} is not a folder", dir.display());
            Some(dir)
        }
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: MNIST_DIR is not set, and CI=true: this test must run in CI"
            );
            println!("{test}: skipped, MNIST_DIR is not set (export MNIST_DIR=/path/to/mnist to run it)");
            None
        }
    }
}

/// Writes a folder of the four MNIST files (plain IDX) holding the first `train` training
/// and the first `test` test images of the MNIST in `mnist`.
pub fn small_mnist(mnist: &Path, out: &Path, train: usize, test: usize) {
    std::fs::create_dir_all(out).unwrap();
    for (name, rank, n) in [
        ("train-images-idx3-ubyte", 3, train),
        ("train-labels-idx1-ubyte", 1, train),
        ("t10k-images-idx3-ubyte", 3, test),
        ("t10k-labels-idx1-ubyte", 1, test),
    ] {
        let full = models::idx::read_idx(&mnist.join(format!("{name}.gz")), rank).unwrap();
        let per: usize = full.dims[1..].iter().product();
        let mut dims: Vec<u32> = full.dims.iter().map(|&d| d as u32).collect();
        dims[0] = n as u32;
        std::fs::write(out.join(name), idx_bytes(&dims, &full.data[..n * per])).unwrap();
    }
}

/// A split of `n` random 28×28 images with random labels, from `seed`.
pub fn synthetic_split(n: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed);
    let labels: Vec<u8> = (0..n).map(|_| rng.random_range(0..10u8)).collect();
    // Draw a bright bar whose position depends on the label, over noise: learnable.
    let mut images = vec![0u8; n * 784];
    for (i, &l) in labels.iter().enumerate() {
        let img = &mut images[i * 784..(i + 1) * 784];
        for p in img.iter_mut() {
            *p = rng.random_range(0..64u8);
        }
        let row = 2 + 2 * usize::from(l);
        for c in 4..24 {
            img[row * 28 + c] = 255;
        }
    }
    Split { images, labels }
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
        let path = std::env::temp_dir().join(format!(
            "models-faults-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
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

/// The names of the files in a folder, sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
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
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The bytes of a safetensors file written by hand: the 8-byte little-endian header
/// length, the JSON header (entries in the given order, `metadata` as `__metadata__`),
/// then each tensor's raw bytes. `(name, dtype, shape, bytes)` per tensor.
pub fn safetensors_bytes(tensors: &[(&str, &str, &[usize], Vec<u8>)], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header = String::from("{");
    let mut offset = 0usize;
    let mut entries = Vec::new();
    if !metadata.is_empty() {
        let kv: Vec<String> = metadata.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
        entries.push(format!("\"__metadata__\":{{{}}}", kv.join(",")));
    }
    for (name, dtype, shape, bytes) in tensors {
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        entries.push(format!(
            "{name:?}:{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            shape.join(","),
            offset + bytes.len()
        ));
        offset += bytes.len();
    }
    header += &entries.join(",");
    header += "}";
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    for (_, _, _, bytes) in tensors {
        out.extend_from_slice(bytes);
    }
    out
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

    /// Asserts exit status 0.
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

/// A `lenet5` command with `MNIST_DIR` removed and `MNIST_MIRROR` pointing at a closed
/// local port (so a missing data folder can never reach the network).
pub fn lenet5_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lenet5"));
    cmd.args(args).env("MNIST_MIRROR", "http://127.0.0.1:9/").env_remove("MNIST_DIR");
    cmd
}

/// Runs `lenet5 args…` and waits for it.
pub fn lenet5(args: &[&str]) -> Run {
    Run::from_output(lenet5_command(args).output().expect("the lenet5 binary runs"))
}

/// A path as `&str` for command lines.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// The columns of a metrics CSV that do not depend on timing (epoch, lr, train loss and
/// accuracy, test loss and accuracy), one row per line.
pub fn metrics_without_times(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",")).collect()
}
