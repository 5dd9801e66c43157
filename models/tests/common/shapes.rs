//! A small synthetic data set for training tests: 12×12 images of noise with a bright
//! horizontal bar (class 0), vertical bar (1) or square (2), as bytes or as an IDX folder.

use std::path::Path;

use layers::checkpoint::read_checkpoint;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::idx_bytes;

/// The images' side.
const SIDE: usize = 12;

/// `n` images of 12×12: noise with a bright horizontal bar (class 0), vertical bar (1) or
/// square (2) at a random place.
pub fn images(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let class = rng.random_range(0..3u8);
        let (r0, c0) = (rng.random_range(1..8), rng.random_range(1..8));
        for r in 0..SIDE {
            for c in 0..SIDE {
                let on = match class {
                    0 => r == r0 && (c0..c0 + 4).contains(&c),
                    1 => c == c0 && (r0..r0 + 4).contains(&r),
                    _ => (r0..r0 + 3).contains(&r) && (c0..c0 + 3).contains(&c),
                };
                pixels.push(if on { 255 } else { rng.random_range(0..60) });
            }
        }
        labels.push(class);
    }
    (pixels, labels)
}

/// An IDX folder with MNIST's four file names holding the shapes data set.
pub fn write_folder(dir: &Path) {
    for (prefix, n, seed) in [("train", 240u32, 1), ("t10k", 60, 2)] {
        let (pixels, labels) = images(n as usize, seed);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), idx_bytes(&[n, 12, 12], &pixels)).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx_bytes(&[n], &labels)).unwrap();
    }
}

pub fn weights_bits(path: &Path) -> Vec<(String, Vec<u32>)> {
    read_checkpoint::<f32>(path)
        .unwrap()
        .tensors
        .into_iter()
        .map(|(n, t)| (n, t.iter().map(f32::to_bits).collect()))
        .collect()
}
