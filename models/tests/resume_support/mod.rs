//! Helpers of the fault and resume suites (`faults_*.rs`, `resume_*.rs`): MNIST from
//! `MNIST_DIR` and small subsets of it, synthetic splits, scratch folders, hand-made IDX
//! and safetensors files, and running the `lenet5` binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use models::Split;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The helpers shared with the other suites (MNIST_DIR, scratch folders, IDX and gzip
/// bytes, running `lenet5`).
use crate::common;
// Each suite uses a subset.
#[allow(unused_imports)]
pub use common::{Run, Scratch, gzip, idx_bytes, lenet5, lenet5_command, lenet5_trainer, list, mnist_dir, s};

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
    Split {
        shape: [1, 28, 28],
        images,
        labels: labels.into_iter().map(u16::from).collect(),
        class_names: Split::numbered_classes(10),
    }
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

/// The columns of a metrics CSV that do not depend on timing (epoch, lr, train loss and
/// accuracy, test loss and accuracy), one row per line.
pub fn metrics_without_times(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",")).collect()
}
