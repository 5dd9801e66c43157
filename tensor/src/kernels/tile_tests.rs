//! The tile kernel with any pixel stride (channels-last inputs: the constant strides of
//! `FAST_PIXEL_STRIDES` and the run-time one) against the naive sum
//! `out[p][f] = Σ_t src[at + p·ps + off_t] · w[t][f]` in f64, on every kernel set this CPU
//! runs, with the input slice ending at the last tile's last read (so that a read past it
//! fails the debug bounds checks). Bound: `(taps + 2)·u·Σ|terms|`.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{KernelPath, Kernels, Taps, Tile};

fn check(ps: usize, count: usize, n_taps: usize, at: usize, seed: u64) -> Result<(), TestCaseError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let offsets: Vec<usize> = (0..n_taps).map(|_| rng.random_range(0..3 * ps + 5)).collect();
    let taps = Taps::new(offsets.clone());
    for kernels in KernelPath::available().into_iter().flat_map(Kernels::variants) {
        for fv in 1..=kernels.max_fv() {
            let (width, rows) = (fv * kernels.lanes(), kernels.tiled(count, fv));
            let len = at + (rows - 1) * ps + taps.max() + 1;
            let src: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let w: Vec<f32> = (0..n_taps * width).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let mut out = vec![f32::NAN; rows * width];
            kernels.tiles(Tile {
                src: &src,
                at,
                pixel_stride: ps,
                count,
                taps: &taps,
                w: &w,
                w_stride: width,
                fv,
                out: &mut out,
                out_stride: width,
            });
            for p in 0..count {
                for f in 0..width {
                    let terms = offsets
                        .iter()
                        .enumerate()
                        .map(|(t, &o)| f64::from(src[at + p * ps + o]) * f64::from(w[t * width + f]));
                    let (sum, abs) = terms.fold((0.0, 0.0), |(s, a), v| (s + v, a + v.abs()));
                    let tol = (n_taps as f64 + 2.0) * f64::from(f32::EPSILON) / 2.0 * abs + 1e-30;
                    let got = f64::from(out[p * width + f]);
                    prop_assert!(
                        (got - sum).abs() <= tol,
                        "{:?} fv {} stride {} pixel {} lane {}: {} vs {}",
                        kernels,
                        fv,
                        ps,
                        p,
                        f,
                        got,
                        sum
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 128 }))]

    #[test]
    fn tiles_with_a_pixel_stride_match_the_naive_sum(
        ps in prop_oneof![Just(1usize), Just(8), Just(16), Just(32), Just(64), 2usize..=40],
        count in 1usize..=40, n_taps in 0usize..=30, at in 0usize..=5, seed: u64,
    ) {
        check(ps, count, n_taps, at, seed)?;
    }
}
