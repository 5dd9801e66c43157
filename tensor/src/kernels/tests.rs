//! The SIMD max-pool rows against the definition (ties to the first maximum in the window's
//! row-major order, the first NaN wins), one plane at a time and two planes to a vector, on
//! every kernel set this CPU runs that has them,
//! with many ties (values from a set of three, and signed zeros), with and without NaNs
//! (a block holding one takes the window scan, so planes without them test the fast path); the 2×2 average-pool rows against
//! the scalar sum in its order, bit for bit (signed zeros included). The split of a tile
//! kernel's pixels into tiles and tails against every split.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{KernelPath, Kernels, PoolPlane, PoolPlanes, tail_start};

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
    let src = tied_values(len, nans, seed);
    let want_at = first_maxima(&src, at, width, k, [rows, count]);
    let want: Vec<f32> = want_at.iter().map(|&a| src[a]).collect();
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

/// `len` values from {−0, 0, 1, 2}, many ties, and NaNs of two payloads when `nans`.
fn tied_values(len: usize, nans: bool, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len)
        .map(|_| match rng.random_range(0..8) {
            // NaNs of two payloads: the window's first one must win with its bits.
            0 if nans => f32::from_bits(0x7fc0_0001 + rng.random_range(0..2)),
            // −0 ties +0: the first of the two in the window must win, with its sign.
            1 => -0.0,
            v => (v % 3) as f32,
        })
        .collect()
}

/// The definition: the index of each window's first maximum in row-major order (the first
/// NaN wins), windows of `k × k` every 2 taps from `src[at]`, rows `width` apart.
fn first_maxima(src: &[f32], at: usize, width: usize, k: usize, [rows, count]: [usize; 2]) -> Vec<usize> {
    let mut want_at = vec![0usize; rows * count];
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
        }
    }
    want_at
}

/// The paired 3×3/2 planes against the definition: `images × channels` planes laid out
/// with a gap between images and between channels (as a batch's strides), the last plane's
/// last tap ending the slice.
fn check_pool_planes(
    [images, channels]: [usize; 2],
    [rows, count]: [usize; 2],
    [gap, extra]: [usize; 2],
    nans: bool,
    seed: u64,
) -> Result<(), TestCaseError> {
    let width = 2 * count + 1 + extra;
    let plane = (2 * rows + 1) * width + gap;
    let strides = [channels * plane + gap, plane];
    let planes = images * channels;
    let len = (images - 1) * strides[0] + (channels - 1) * strides[1] + 2 * rows * width + 2 * count + 1;
    let src = tied_values(len, nans, seed);
    let outputs = rows * count;
    for path in KernelPath::available() {
        for kernels in Kernels::variants(path) {
            let mut out = vec![-1f32; planes * outputs];
            let p = PoolPlanes {
                src: &src,
                at: 0,
                strides,
                channels,
                planes,
                row_stride: width,
                rows,
                count,
                out: &mut out,
            };
            if !kernels.max_pool_planes(p) {
                continue;
            }
            for i in 0..planes {
                let at = i / channels * strides[0] + i % channels * strides[1];
                let want = first_maxima(&src, at, width, 3, [rows, count]);
                for (o, &w) in want.iter().enumerate() {
                    prop_assert_eq!(
                        out[i * outputs + o].to_bits(),
                        src[w].to_bits(),
                        "{:?} plane {} output {} (a NaN wins with its own bits)",
                        kernels,
                        i,
                        o
                    );
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

    /// 1–3 images of 1–3 channels (an odd count leaves the last plane unpaired), planes of
    /// 1–4 rows of 1–7 outputs, gaps between planes and rows wider than the windows need.
    #[test]
    fn paired_max_pool_planes_match_the_definition(
        images in 1usize..=3, channels in 1usize..=3, rows in 1usize..=4, count in 1usize..=7, gap in 0usize..=2, extra in 0usize..=2, nans: bool, seed: u64,
    ) {
        check_pool_planes([images, channels], [rows, count], [gap, extra], nans, seed)?;
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
