//! Max-pooling through pool_windows / max_argmax_rows against a direct max-pool loop, the
//! adjoint identity of pool_windows / pool_windows_adjoint, and pool_max_backward against
//! the adjoint of the one-hot mask and against a naive scatter; ties separately.

use crate::common;

use common::*;
use proptest::prelude::*;
use tensor::{Element, Tensor, Window2d, max_argmax_rows, pool_max_backward, pool_windows, pool_windows_adjoint};

/// Random pooling geometries: kernels 1–4, strides 1–3 (overlapping windows whenever the
/// stride is below the kernel), padding at most half the kernel, H and W 1–12.
fn pool_geometries() -> impl Strategy<Value = Geometry> {
    [1usize..=4, 1usize..=4]
        .prop_flat_map(|k| {
            (
                Just(k),
                [1usize..=3, 1usize..=3],
                [0..=k[0] / 2, 0..=k[1] / 2],
                (1usize..=3, 1usize..=4),
                [0usize..=8, 0usize..=8],
            )
        })
        .prop_map(|(kernel, stride, padding, (n, c), extra)| {
            let h = kernel[0].saturating_sub(2 * padding[0]).max(1) + extra[0];
            let w = kernel[1].saturating_sub(2 * padding[1]).max(1) + extra[1];
            Geometry { n, c, h, w, window: Window2d { kernel, stride, padding } }
        })
}

/// The classic LeNet-style overlapping pool: kernel 3, stride 2, padding 0 or 1.
fn overlapping_geometries() -> impl Strategy<Value = Geometry> {
    (1usize..=2, 1usize..=3, 0usize..=1, 3usize..=12, 3usize..=12).prop_map(|(n, c, p, h, w)| Geometry {
        n,
        c,
        h,
        w,
        window: Window2d::square(3, 2, p),
    })
}

/// The direct max-pool: for each window (n, c, oh, ow) the first maximal in-bounds tap,
/// as (value, tap index i·kw + j, input coordinates).
fn direct_max_pool<T: Element>(x: &Nd<T>, g: &Geometry) -> Vec<(T, usize, [usize; 4])> {
    let (oh, ow) = g.out_hw();
    let [kh, kw] = g.window.kernel;
    let mut out = Vec::new();
    for n in 0..g.n {
        for c in 0..g.c {
            for p in 0..oh {
                for q in 0..ow {
                    let mut best: Option<(T, usize, [usize; 4])> = None;
                    for i in 0..kh {
                        for j in 0..kw {
                            let (Some(h), Some(w)) = (g.src(0, p, i), g.src(1, q, j)) else { continue };
                            let v = x.at(&[n, c, h, w]);
                            if best.is_none_or(|(b, _, _)| v > b) {
                                best = Some((v, i * kw + j, [n, c, h, w]));
                            }
                        }
                    }
                    out.push(best.expect("every pooling window holds an input element"));
                }
            }
        }
    }
    out
}

/// The pooling-window matrix by its definition (−∞ in the padding).
fn naive_pool_windows<T: Element>(x: &Nd<T>, g: &Geometry) -> Nd<T> {
    let (oh, ow) = g.out_hw();
    let [kh, kw] = g.window.kernel;
    let mut data = Vec::new();
    for n in 0..g.n {
        for c in 0..g.c {
            for p in 0..oh {
                for q in 0..ow {
                    for i in 0..kh {
                        for j in 0..kw {
                            data.push(match (g.src(0, p, i), g.src(1, q, j)) {
                                (Some(h), Some(w)) => x.at(&[n, c, h, w]),
                                _ => T::neg_infinity(),
                            });
                        }
                    }
                }
            }
        }
    }
    Nd::new(&[g.n * g.c * oh * ow, kh * kw], data)
}

fn check_pool_forward<T: Element>(g: Geometry, seed: u64, values: Values) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = strided::<T>(&g.input_shape(), values, &mut rng);
    let rows = pool_windows(&x, &g.window).unwrap();
    assert_exact(&rows, &naive_pool_windows(&rx, &g))?;
    let (max, arg) = max_argmax_rows(&rows).unwrap();
    let direct = direct_max_pool(&rx, &g);
    let want_max: Vec<T> = direct.iter().map(|d| d.0).collect();
    let want_arg: Vec<usize> = direct.iter().map(|d| d.1).collect();
    prop_assert_eq!(max.to_vec(), want_max);
    prop_assert_eq!(arg.to_vec(), want_arg);
    Ok(())
}

fn check_pool_distinct<T: Element>(g: Geometry, seed: u64) -> TestResult {
    check_pool_forward::<T>(g, seed, Values::Distinct)
}

/// With many ties the first maximal tap in (i, j) order wins; padding taps (−∞) never do.
fn check_pool_ties<T: Element>(g: Geometry, seed: u64) -> TestResult {
    check_pool_forward::<T>(g, seed, Values::SmallInts)
}

fn check_pool_adjoint<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = any_view::<T>(&g.input_shape(), Values::Uniform, &mut rng);
    let rows = pool_windows(&x, &g.window).unwrap();
    let (y, ry) = any_view::<T>(rows.shape(), Values::Uniform, &mut rng);
    let back = pool_windows_adjoint(&y, &g.input_shape(), &g.window).unwrap();
    prop_assert_eq!(back.shape(), &g.input_shape()[..]);
    // Padding taps hold −∞ and are dropped by the adjoint: leave them out of the product.
    let pairs: Vec<(f64, f64)> =
        widen(&rows.to_vec()).into_iter().zip(widen(&ry.data)).filter(|(a, _)| a.is_finite()).collect();
    if g.window.padding == [0, 0] {
        prop_assert_eq!(pairs.len(), rows.numel(), "no padding taps without padding");
    }
    let lhs: f64 = pairs.iter().map(|(a, b)| a * b).sum();
    let scale: f64 = pairs.iter().map(|(a, b)| (a * b).abs()).sum();
    let rhs: f64 = widen(&rx.data).iter().zip(widen(&back.to_vec())).map(|(a, b)| a * b).sum();
    prop_assert!(
        (lhs - rhs).abs() <= rel_tol::<T>() * (scale + f64::MIN_POSITIVE),
        "<windows(x), y> = {} but <x, adjoint(y)> = {}",
        lhs,
        rhs
    );
    Ok(())
}

fn check_pool_backward<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = strided::<T>(&g.input_shape(), Values::Distinct, &mut rng);
    let (oh, ow) = g.out_hw();
    let (_, arg) = max_argmax_rows(&pool_windows(&x, &g.window).unwrap()).unwrap();
    let (grad, rgrad) = any_view::<T>(&[g.n, g.c, oh, ow], Values::Uniform, &mut rng);
    let dx = pool_max_backward(&grad, &arg, &g.input_shape(), &g.window).unwrap();
    prop_assert_eq!(dx.shape(), &g.input_shape()[..]);

    // pool_windows_adjoint(one_hot(argmax) ⊙ grad), the one-hot built by hand.
    let area = g.window.kernel_area();
    let winners = arg.to_vec();
    let masked =
        Nd::from_fn(&[winners.len(), area], |i| if winners[i[0]] == i[1] { rgrad.data[i[0]] } else { T::zero() });
    let via_adjoint = pool_windows_adjoint(
        &Tensor::from_vec(&masked.shape, masked.data.clone()).unwrap(),
        &g.input_shape(),
        &g.window,
    )
    .unwrap();
    prop_assert!(dx == via_adjoint, "pool_max_backward differs from the adjoint of the one-hot mask");

    // The naive scatter: each window's gradient goes to its direct-loop winner.
    let mut want = Nd::new(&g.input_shape(), vec![0.0; numel(&g.input_shape())]);
    let mut scale = want.clone();
    for ((_, _, at), &gr) in direct_max_pool(&rx, &g).iter().zip(&rgrad.data) {
        let k = ravel(at, &g.input_shape());
        want.data[k] += gr.to_f64_exact();
        scale.data[k] += gr.to_f64_exact().abs();
    }
    let overlap = area as f64;
    assert_close(&dx, &want, Some(&scale), (overlap + 1.0) * eps::<T>())?;
    // Gradient is conserved: every output's gradient lands on exactly one input.
    let total: f64 = widen(&rgrad.data).iter().sum();
    let got_total: f64 = widen(&dx.to_vec()).iter().sum();
    let abs: f64 = widen(&rgrad.data).iter().map(|v| v.abs()).sum();
    // (Both totals are themselves sums of up to `terms` rounded values.)
    let terms = (rgrad.data.len() + dx.numel()) as f64;
    prop_assert!((total - got_total).abs() <= (overlap + terms) * eps::<T>() * (abs + 1.0));
    Ok(())
}

/// max_argmax_rows on arbitrary matrices (views, with ties) against a first-maximum loop.
fn check_max_argmax_rows<T: Element>(rows: usize, cols: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (m, rm) = any_view::<T>(&[rows, cols], Values::SmallInts, &mut rng);
    let (max, arg) = max_argmax_rows(&m).unwrap();
    prop_assert_eq!(max.shape(), &[rows]);
    prop_assert_eq!(arg.shape(), &[rows]);
    for r in 0..rows {
        let mut best = 0;
        for k in 1..cols {
            if rm.at(&[r, k]) > rm.at(&[r, best]) {
                best = k;
            }
        }
        prop_assert_eq!(arg.get(&[r]).unwrap(), best);
        prop_assert_eq!(max.get(&[r]).unwrap(), rm.at(&[r, best]));
    }
    Ok(())
}

stamp_f32_f64! {
    fn pool_windows_max_matches_direct_max_pool(g in pool_geometries(), seed in any::<u64>()) => check_pool_distinct;
    fn overlapping_pool_matches_direct_max_pool(g in overlapping_geometries(), seed in any::<u64>())
        => check_pool_distinct;
    fn pool_ties_go_to_the_first_tap(g in pool_geometries(), seed in any::<u64>()) => check_pool_ties;
    fn pool_windows_adjoint_identity(g in pool_geometries(), seed in any::<u64>()) => check_pool_adjoint;
    fn pool_max_backward_matches_adjoint_and_scatter(g in pool_geometries(), seed in any::<u64>())
        => check_pool_backward;
    fn overlapping_pool_max_backward(g in overlapping_geometries(), seed in any::<u64>()) => check_pool_backward;
    fn max_argmax_rows_picks_the_first_maximum(rows in 0usize..=6, cols in 1usize..=9, seed in any::<u64>())
        => check_max_argmax_rows;
}

#[test]
fn constant_input_sends_each_gradient_to_the_first_in_bounds_tap() {
    // 1×1×3×3 of ones, kernel 2, stride 1, padding 1: a 4×4 output. Every window is a tie;
    // the window at (oh, ow) reads rows oh−1..oh, cols ow−1..ow, and its first in-bounds
    // tap is (max(oh−1, 0), max(ow−1, 0)).
    let x = Tensor::<f64>::ones(&[1, 1, 3, 3]).unwrap();
    let g = Window2d::square(2, 1, 1);
    let (max, arg) = max_argmax_rows(&pool_windows(&x, &g).unwrap()).unwrap();
    assert_eq!(max.to_vec(), vec![1.0; 16]);
    // Tap index i·2 + j of the first in-bounds tap: i = 1 on the top row of windows (the
    // padding row comes first), likewise j = 1 on the left column.
    let want_arg: Vec<usize> = (0..16).map(|k| 2 * usize::from(k / 4 == 0) + usize::from(k % 4 == 0)).collect();
    assert_eq!(arg.to_vec(), want_arg);
    let dx = pool_max_backward(&Tensor::<f64>::ones(&[1, 1, 4, 4]).unwrap(), &arg, &[1, 1, 3, 3], &g).unwrap();
    // Pixel (h, w) wins the windows whose first in-bounds tap it is: (h+1, w+1), plus
    // (0, ·) for h = 0 and (·, 0) for w = 0.
    assert_eq!(dx.to_vec(), vec![4.0, 2.0, 2.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0]);
    assert_eq!(dx.sum_all(), 16.0);
}

#[test]
fn max_argmax_rows_ties_and_nan() {
    let m = Tensor::<f32>::from_vec(&[3, 3], vec![1.0, 3.0, 3.0, 2.0, 2.0, 2.0, 0.0, f32::NAN, 9.0]).unwrap();
    let (max, arg) = max_argmax_rows(&m).unwrap();
    assert_eq!(arg.to_vec(), vec![1, 0, 1]);
    let max = max.to_vec();
    assert_eq!(&max[..2], &[3.0, 2.0]);
    assert!(max[2].is_nan());
}
