//! The SIMD max-pool rows against the definition (ties to the first maximum in the window's
//! row-major order, the first NaN wins), on every kernel set this CPU runs that has them,
//! with many ties (values from a set of three, and signed zeros), with and without NaNs
//! (a block holding one takes the window scan, so planes without them test the fast path); the 2×2 average-pool rows against
//! the scalar sum in its order, bit for bit (signed zeros included). The split of a tile
//! kernel's pixels into tiles and tails against every split.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{KernelPath, Kernels, PoolPlane, tail_start};

fn check_pool(
    k: usize,
    [rows, count]: [usize; 2],
    extra: [usize; 2],
    slack: usize,
    keep: bool,
    nans: bool,
    seed: u64,
) -> Result<(), TestCaseError> {
    let width = 2 * (count - 1) + k + extra[1];
    let used = (2 * (rows - 1) + k - 1) * width + 2 * (count - 1) + k;
    let at = extra[0] * width;
    let len = at + used + slack;
    let mut rng = StdRng::seed_from_u64(seed);
    let src: Vec<f32> = (0..len)
        .map(|_| match rng.random_range(0..8) {
            // NaNs of two payloads: the window's first one must win with its bits.
            0 if nans => f32::from_bits(0x7fc0_0001 + rng.random_range(0..2)),
            // −0 ties +0: the first of the two in the window must win, with its sign.
            1 => -0.0,
            v => (v % 3) as f32,
        })
        .collect();
    let (mut want, mut want_at) = (vec![0f32; rows * count], vec![0usize; rows * count]);
    for r in 0..rows {
        for q in 0..count {
            let mut best: Option<usize> = None;
            for i in 0..k {
                for j in 0..k {
                    let a = at + (2 * r + i) * width + 2 * q + j;
                    let better = match best {
                        None => true,
                        Some(b) => !src[b].is_nan() && (src[a] > src[b] || src[a].is_nan()),
                    };
                    if better {
                        best = Some(a);
                    }
                }
            }
            want_at[r * count + q] = best.expect("a window has taps");
            want[r * count + q] = src[want_at[r * count + q]];
        }
    }
    for path in KernelPath::available() {
        for kernels in Kernels::variants(path) {
            let (mut out, mut winners) = (vec![-1f32; rows * count], vec![usize::MAX; rows * count]);
            let plane = PoolPlane {
                src: &src,
                at,
                row_stride: width,
                kernel: k,
                rows,
                count,
                out: &mut out,
                winners: keep.then_some(&mut winners[..]),
            };
            if !kernels.max_pool_plane(plane) {
                continue;
            }
            for o in 0..rows * count {
                prop_assert_eq!(
                    out[o].to_bits(),
                    want[o].to_bits(),
                    "{:?} value {} (a NaN wins with its own bits)",
                    kernels,
                    o
                );
                if keep {
                    prop_assert_eq!(winners[o], want_at[o], "{:?} winner {}", kernels, o);
                }
            }
        }
    }
    Ok(())
}

fn check_avg_pool([rows, count]: [usize; 2], extra: [usize; 2], slack: usize, seed: u64) -> Result<(), TestCaseError> {
    let width = 2 * count + extra[1];
    let at = extra[0] * width;
    let len = at + (2 * rows - 1) * width + 2 * count + slack;
    let mut rng = StdRng::seed_from_u64(seed);
    let src: Vec<f32> = (0..len)
        .map(|_| match rng.random_range(0..6) {
            0 => -0.0,
            1 => 0.0,
            _ => rng.random_range(-1.0f32..1.0) * 1e3,
        })
        .collect();
    let want: Vec<f32> = (0..rows * count)
        .map(|o| {
            let top = at + 2 * (o / count) * width + 2 * (o % count);
            (0.0 + src[top] + src[top + 1] + src[top + width] + src[top + width + 1]) * 0.25
        })
        .collect();
    for path in KernelPath::available() {
        for kernels in Kernels::variants(path) {
            let mut out = vec![f32::NAN; rows * count];
            let plane =
                PoolPlane { src: &src, at, row_stride: width, kernel: 2, rows, count, out: &mut out, winners: None };
            if !kernels.avg_pool_plane(plane, 0.25) {
                continue;
            }
            for o in 0..rows * count {
                prop_assert_eq!(out[o].to_bits(), want[o].to_bits(), "{:?} output {}", kernels, o);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

    /// Planes of 1–4 rows of 1–27 outputs, rows wider than the windows need, a plane
    /// starting past the slice's start, and 0–2 floats after its last tap (0: the last
    /// window ends the slice, so a load past it would be caught by the bounds checks).
    #[test]
    fn simd_max_pool_planes_match_the_definition(
        k in 2usize..=3, rows in 1usize..=4, count in 1usize..=27, extra in (0usize..=2, 0usize..=3), slack in 0usize..=2, keep: bool, nans: bool, seed: u64,
    ) {
        check_pool(k, [rows, count], [extra.0, extra.1], slack, keep, nans, seed)?;
    }

    /// The 2×2/2 average pool over the same plane layouts (0: the last window ends the
    /// slice).
    #[test]
    fn simd_avg_pool_planes_match_the_scalar_sum(
        rows in 1usize..=4, count in 1usize..=27, extra in (0usize..=2, 0usize..=3), slack in 0usize..=2, seed: u64,
    ) {
        check_avg_pool([rows, count], [extra.0, extra.1], slack, seed)?;
    }
}

/// `tail_start` against every count of whole tiles: the tiles and tails cover the pixels,
/// compute no more rows than whole tiles would (the rows a tile's output holds), and the
/// fewest of any split, for each kernel set's tile and tail sizes.
#[test]
fn tail_start_computes_the_fewest_rows_of_any_split() {
    let rows = |count: usize, p: usize, t: usize, full: usize| full.div_ceil(p) * p + (count - full).div_ceil(t) * t;
    let mut sizes: Vec<[usize; 2]> = vec![[6, 4], [3, 2], [12, 8], [16, 8], [12, 4], [8, 3], [6, 2], [5, 5], [7, 1]];
    for k in KernelPath::available().into_iter().flat_map(Kernels::variants) {
        sizes.extend((1..=k.max_fv()).map(|fv| [k.pixels(fv), k.tail(fv)]));
    }
    for [p, t] in sizes {
        for count in 0..500 {
            let full = tail_start(count, p, t);
            assert!(full <= count && (full == count || full.is_multiple_of(p)), "{p} {t} {count}: {full}");
            let best = (0..=count.div_ceil(p)).map(|k| rows(count, p, t, (k * p).min(count))).min().unwrap_or(0);
            assert_eq!(rows(count, p, t, full), best, "{p} {t} {count}: {full}");
            assert!(rows(count, p, t, full) <= count.div_ceil(p) * p, "{p} {t} {count}: {full}");
        }
    }
}
