//! The channels-last passes on every kernel set this CPU runs, called explicitly, bit for
//! bit against naive loops: the output pass (`store_rows`: bias, ReLU with NaN and `−0`
//! kept, the extra columns of the block dropped) and the pool steps (`pool_runs`: the
//! first maximum with NaNs of two payloads and signed zeros; the sum), with runs of 8–64
//! floats and others (the portable loop), strides of 1–3 runs, slices that end at the last
//! read.

use std::mem::MaybeUninit;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{KernelPath, Kernels, Rows, Step};
use crate::activation::Activation;

fn kernel_sets() -> Vec<Kernels> {
    KernelPath::available().into_iter().flat_map(Kernels::variants).collect()
}

fn value(rng: &mut StdRng) -> f32 {
    match rng.random_range(0..10) {
        0 => f32::from_bits(0x7fc0_0001 + rng.random_range(0..2)),
        1 => -0.0,
        2 => 0.0,
        r => (r % 3) as f32 - 1.0 + rng.random_range(0..2) as f32 * 0.5,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 128 }))]

    #[test]
    fn store_rows_matches_the_naive_pass(
        vectors in 1usize..=4, rows in 1usize..=5, ow in 1usize..=9, extra in 0usize..=3, relu: bool, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let f = 8 * vectors;
        let z_width = ow + extra;
        let z: Vec<f32> = (0..((rows - 1) * z_width + ow) * f).map(|_| value(&mut rng)).collect();
        let bias: Vec<f32> = (0..f).map(|_| value(&mut rng)).collect();
        let mut want = Vec::new();
        for r in 0..rows {
            for c in 0..ow {
                for (i, &b) in bias.iter().enumerate() {
                    let y = z[(r * z_width + c) * f + i] + b;
                    want.push(if relu && y < 0.0 { 0.0 } else { y });
                }
            }
        }
        let act = relu.then_some(Activation::Relu);
        for k in kernel_sets() {
            let mut out = vec![MaybeUninit::new(f32::NAN); rows * ow * f];
            k.store_rows(Rows { z: &z, z_width, rows, ow, bias: &bias, act, out: &mut out });
            // SAFETY: initialised above.
            let got: Vec<u32> = out.iter().map(|v| unsafe { v.assume_init() }.to_bits()).collect();
            // A sum's NaN payload is the hardware's: compare NaN-ness there.
            let canon = |v: f32| if v.is_nan() { u32::MAX } else { v.to_bits() };
            let got: Vec<u32> = got.into_iter().map(|b| canon(f32::from_bits(b))).collect();
            let want: Vec<u32> = want.iter().map(|&v| canon(v)).collect();
            prop_assert_eq!(got, want, "{:?}", k);
        }
    }

    #[test]
    fn pool_runs_match_the_naive_steps(
        run in prop_oneof![Just(8usize), Just(16), Just(24), Just(64), 1usize..=20],
        count in 1usize..=9, stride in 1usize..=3, seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x: Vec<f32> = (0..(count - 1) * stride * run + run).map(|_| value(&mut rng)).collect();
        let y0: Vec<f32> = (0..count * run).map(|_| value(&mut rng)).collect();
        for step in [Step::Max, Step::Add] {
            let want: Vec<f32> = y0
                .iter()
                .enumerate()
                .map(|(i, &y)| {
                    let v = x[(i / run) * stride * run + i % run];
                    match step {
                        Step::Max => if !y.is_nan() && (v > y || v.is_nan()) { v } else { y },
                        Step::Add => y + v,
                    }
                })
                .collect();
            for k in kernel_sets() {
                let mut y = y0.clone();
                k.pool_runs(step, &mut y, &x, run, stride * run);
                let bits = |v: &[f32]| -> Vec<u32> {
                    v.iter().map(|&v| if step == Step::Add && v.is_nan() { u32::MAX } else { v.to_bits() }).collect()
                };
                prop_assert_eq!(bits(&y), bits(&want), "{:?} {:?}", k, step);
            }
        }
    }
}
