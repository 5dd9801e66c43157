//! Inference keeps the direct convolutions' channels-last outputs between layers (the next
//! convolution, max- and average-pool read them as they are; flatten copies them into
//! N×C×H×W order): a `Sequential`'s `predict` against the same network run on a recording
//! tape (the training path, every tensor contiguous N×C×H×W), within f32 rounding, on random
//! chains of convolutions (filters multiples of 8, and not), ReLU, pools and a linear head.

use crate::common;

use autograd::Tape;
use common::*;
use layers::{AvgPool2d, Conv2d, Conv2dConfig, Flatten, Init, Linear, MaxPool2d, Module, ReLU, Sequential};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Window2d;

fn conv(c: usize, f: usize, window: Window2d, seed: u64) -> Conv2d<f32> {
    let config = Conv2dConfig { in_channels: c, out_channels: f, window, bias: true, init: Init::default() };
    Conv2d::new(config, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// `conv(f1) relu [pool] conv(f2) relu [pool] flatten linear(5)` on `[n, c, size, size]`.
fn check(
    n: usize,
    c: usize,
    size: usize,
    f: [usize; 2],
    kernels: [(usize, usize, usize); 2],
    pools: [u8; 2],
    seed: u64,
) -> TestResult {
    let mut net = Sequential::<f32>::new();
    let mut shape = vec![n, c, size, size];
    let mut channels = c;
    for (i, (&f, &(k, s, p))) in f.iter().zip(&kernels).enumerate() {
        let window = Window2d::square(k, s, p);
        let layer = conv(channels, f, window, seed + i as u64);
        let Ok(next) = layer.output_shape(&shape) else { return Ok(()) };
        net.push(layer);
        net.push(ReLU);
        shape = next;
        channels = f;
        let pool: Option<Box<dyn Module<f32>>> = match pools[i] {
            1 => Some(Box::new(MaxPool2d::new(2, 2).unwrap())),
            2 => Some(Box::new(MaxPool2d::new(3, 2).unwrap())),
            3 => Some(Box::new(AvgPool2d::new(2, 2).unwrap())),
            _ => None,
        };
        if let Some(pool) = pool {
            let Ok(next) = pool.output_shape(&shape) else { return Ok(()) };
            net.push(pool);
            shape = next;
        }
    }
    let features: usize = shape[1..].iter().product();
    net.push(Flatten);
    net.push(Linear::new(features, 5, &mut StdRng::seed_from_u64(seed + 9)).unwrap());
    let x = random_tensor::<f32>(&[n, c, size, size], seed + 20);
    let inferred = net.predict(&x).unwrap();
    let tape = Tape::new();
    let trained = net.forward(tape.leaf(x)).unwrap().value();
    prop_assert_eq!(inferred.shape(), trained.shape());
    prop_close(&to_f64(&inferred), &to_f64(&trained), 1e-4, 1e-5)
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn inference_through_channels_last_layers_matches_the_training_layout(
        n in 1usize..=3, c in 1usize..=4, size in 6usize..=14,
        f in (prop_oneof![Just(8usize), Just(16), 1usize..=20], prop_oneof![Just(8usize), Just(16), Just(32), 1usize..=20]),
        k in ((1usize..=5, 1usize..=3, 0usize..=2), (1usize..=3, 1usize..=2, 0usize..=1)),
        pools in (0u8..4, 0u8..4),
        seed in 0u64..1000,
    ) {
        check(n, c, size, [f.0, f.1], [k.0, k.1], [pools.0, pools.1], seed)?;
    }
}

/// The grid's networks' shapes: 16 and 32 filters (the second convolution on Winograd's
/// 3×3 of 16 channels), stride 2, a 1×1 convolution of 8 filters, every pool.
#[test]
fn grid_shaped_chains_match_the_training_layout() {
    let s1 = (3, 1, 1);
    for (f, kernels, pools) in [
        ([16, 32], [(3, 2, 1), (3, 2, 1)], [0, 0]),
        ([16, 8], [s1, (1, 1, 0)], [0, 1]),
        ([16, 32], [s1, s1], [1, 1]),
        ([16, 32], [s1, s1], [2, 2]),
        ([16, 32], [s1, s1], [3, 3]),
    ] {
        check(2, 1, 14, f, kernels, pools, 7).unwrap();
    }
}
