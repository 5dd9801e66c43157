//! Reductions (sum, mean, max, argmax per axis with and without keepdim, over all
//! elements) and logsumexp_rows, against naive lane loops.

use crate::common;

use common::*;
use proptest::prelude::*;
use tensor::{Element, Tensor, TensorError};

/// The shape of a reduction over `axis`.
fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut s = shape.to_vec();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
    }
    s
}

/// The first index of the maximum of a lane (None for an empty lane).
fn first_argmax<T: Element>(lane: &[T]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (k, &v) in lane.iter().enumerate() {
        match best {
            Some(b) if lane[b] >= v => {}
            _ => best = Some(k),
        }
    }
    best
}

fn check_sum_mean<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let r64 = r.map(|v| v.to_f64_exact());
    for axis in 0..shape.len() {
        let (_, lanes) = r64.lanes(axis);
        let len = shape[axis];
        let sums: Vec<f64> = lanes.iter().map(|l| l.iter().sum()).collect();
        // Any summation order is within (len + 1)·ε·Σ|terms| of the exact sum.
        let scales: Vec<f64> = lanes.iter().map(|l| l.iter().map(|v| v.abs()).sum::<f64>()).collect();
        let tol = (len as f64 + 1.0) * eps::<T>();
        for keepdim in [false, true] {
            let rs = reduced_shape(&shape, axis, keepdim);
            let scale = Nd::new(&rs, scales.clone());
            let got = x.sum_axis(axis, keepdim).unwrap();
            assert_close(&got, &Nd::new(&rs, sums.clone()), Some(&scale), tol)?;
            let got = x.mean_axis(axis, keepdim).unwrap();
            let means = sums.iter().map(|s| s / len as f64).collect();
            let scale = scale.map(|s| s / len.max(1) as f64);
            assert_close(&got, &Nd::new(&rs, means), Some(&scale), tol)?;
        }
    }
    let total: f64 = r64.data.iter().sum();
    let abs: f64 = r64.data.iter().map(|v| v.abs()).sum();
    let tol = (r64.data.len() as f64 + 1.0) * eps::<T>() * abs;
    let got = x.sum_all().to_f64_exact();
    prop_assert!((got - total).abs() <= tol, "sum_all {} vs {}", got, total);
    let mean = x.mean_all().to_f64_exact();
    if r64.data.is_empty() {
        prop_assert!(mean.is_nan());
    } else {
        let n = r64.data.len() as f64;
        prop_assert!((mean - total / n).abs() <= tol / n, "mean_all {} vs {}", mean, total / n);
    }
    Ok(())
}

fn check_max_argmax<T: Element>(shape: Vec<usize>, seed: u64, ties: bool) -> TestResult {
    let mut rng = rng(seed);
    // Without ties: distinct values in a view that never repeats an element. With ties:
    // small integers in any view (broadcast axes repeat elements too).
    let (x, r) = if ties {
        any_view::<T>(&shape, Values::SmallInts, &mut rng)
    } else {
        strided::<T>(&shape, Values::Distinct, &mut rng)
    };
    for axis in 0..shape.len() {
        let (_, lanes) = r.lanes(axis);
        for keepdim in [false, true] {
            let rs = reduced_shape(&shape, axis, keepdim);
            if shape[axis] == 0 {
                let err = x.max_axis(axis, keepdim).unwrap_err();
                let ok = matches!(err, TensorError::EmptyReduction { op: "max_axis", .. });
                prop_assert!(ok, "{:?}", err);
                let err = x.argmax_axis(axis, keepdim).unwrap_err();
                let ok = matches!(err, TensorError::EmptyReduction { op: "argmax_axis", .. });
                prop_assert!(ok, "{:?}", err);
                continue;
            }
            let arg: Vec<usize> = lanes.iter().map(|l| first_argmax(l).unwrap()).collect();
            let max: Vec<T> = lanes.iter().zip(&arg).map(|(l, &k)| l[k]).collect();
            assert_exact(&x.max_axis(axis, keepdim).unwrap(), &Nd::new(&rs, max))?;
            let got = x.argmax_axis(axis, keepdim).unwrap();
            prop_assert_eq!(got.shape(), rs.as_slice());
            prop_assert_eq!(got.to_vec(), arg);
        }
    }
    if r.data.is_empty() {
        let ok = matches!(x.max_all(), Err(TensorError::EmptyReduction { op: "max_all", .. }));
        prop_assert!(ok);
    } else {
        let want = r.data[first_argmax(&r.data).unwrap()];
        prop_assert_eq!(x.max_all().unwrap(), want);
    }
    Ok(())
}

fn check_max_no_ties<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    check_max_argmax::<T>(shape, seed, false)
}

fn check_max_with_ties<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    check_max_argmax::<T>(shape, seed, true)
}

/// ln Σ exp, naively in f64.
fn naive_lse(row: &[f64]) -> f64 {
    row.iter().map(|v| v.exp()).sum::<f64>().ln()
}

fn check_logsumexp<T: Element>(rows: usize, cols: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&[rows, cols], Values::Uniform, &mut rng);
    let r64 = r.map(|v| v.to_f64_exact());
    let (_, lanes) = r64.lanes(1);
    let want: Vec<f64> = lanes.iter().map(|l| naive_lse(l)).collect();
    let got = x.logsumexp_rows().unwrap();
    let tol = (cols as f64 + 4.0) * eps::<T>();
    assert_close(&got, &Nd::new(&[rows], want), None, tol)?;
    // Shifted far out: the naive formula overflows (or underflows) but the result is the
    // shifted one.
    for shift in [1000.0, -1000.0] {
        let shifted = x.add_scalar(cast(shift));
        let got = shifted.logsumexp_rows().unwrap();
        let naive: Vec<f64> =
            lanes.iter().map(|l| naive_lse(&l.iter().map(|v| v + shift).collect::<Vec<_>>())).collect();
        prop_assert!(naive.iter().all(|v| v.is_infinite()), "the naive formula over/underflows: {:?}", naive);
        for (k, g) in got.iter().enumerate() {
            let g = g.to_f64_exact();
            prop_assert!(g.is_finite(), "row {} overflowed with shift {}", k, shift);
            // The shifted input itself is rounded to T before the reduction.
            let exact: f64 =
                naive_lse(&lanes[k].iter().map(|v| cast::<T>(v + shift).to_f64_exact() - shift).collect::<Vec<_>>())
                    + shift;
            prop_assert!((g - exact).abs() <= tol * (exact.abs() + 1.0), "{} vs {}", g, exact);
        }
    }
    Ok(())
}

stamp_f32_f64! {
    fn sum_and_mean_per_axis_and_overall(shape in shapes(4, 5), seed in any::<u64>()) => check_sum_mean;
    fn max_and_argmax_without_ties(shape in shapes(4, 5), seed in any::<u64>()) => check_max_no_ties;
    fn max_and_argmax_with_ties_pick_the_first(shape in shapes(4, 5), seed in any::<u64>()) => check_max_with_ties;
    fn logsumexp_rows_matches_naive_and_is_stable(rows in 0usize..=5, cols in 1usize..=8, seed in any::<u64>())
        => check_logsumexp;
}

#[test]
fn argmax_ties_go_to_the_first_maximum() {
    let x = Tensor::<f32>::from_vec(&[3, 4], vec![1.0, 3.0, 3.0, 0.0, 5.0, 5.0, 5.0, 5.0, 2.0, 1.0, 2.0, 0.0]).unwrap();
    assert_eq!(x.argmax_axis(1, false).unwrap().to_vec(), vec![1, 0, 0]);
    assert_eq!(x.argmax_axis(1, true).unwrap().shape(), &[3, 1]);
    assert_eq!(x.max_axis(1, false).unwrap().to_vec(), vec![3.0, 5.0, 2.0]);
    // The same along axis 0 of the transpose, a strided lane.
    let t = x.t().unwrap();
    assert_eq!(t.argmax_axis(0, false).unwrap().to_vec(), vec![1, 0, 0]);
    // Column 0 of x: 1, 5, 2 → row 1; column 3: 0, 5, 0 → row 1; column 1: 3, 5, 1.
    assert_eq!(x.argmax_axis(0, false).unwrap().to_vec(), vec![1, 1, 1, 1]);
    // A broadcast axis is all ties: the first entry wins.
    let b = Tensor::<f64>::from_vec(&[3], vec![1.0, 2.0, 0.0]).unwrap().broadcast_to(&[4, 3]).unwrap();
    assert_eq!(b.argmax_axis(0, false).unwrap().to_vec(), vec![0, 0, 0]);
    assert_eq!(b.argmax_axis(1, false).unwrap().to_vec(), vec![1, 1, 1, 1]);
    // Negative zero ties with zero.
    let z = Tensor::<f64>::from_vec(&[1, 3], vec![-1.0, -0.0, 0.0]).unwrap();
    assert_eq!(z.argmax_axis(1, false).unwrap().to_vec(), vec![1]);
}

#[test]
fn nan_wins_max_and_argmax() {
    let x = Tensor::<f64>::from_vec(&[1, 4], vec![1.0, f64::NAN, 7.0, f64::NAN]).unwrap();
    assert_eq!(x.argmax_axis(1, false).unwrap().to_vec(), vec![1]);
    assert!(x.max_axis(1, false).unwrap().to_vec()[0].is_nan());
    assert!(x.max_all().unwrap().is_nan());
}

#[test]
fn logsumexp_of_extreme_rows() {
    let x = Tensor::<f32>::from_vec(
        &[4, 2],
        vec![1000.0, 1000.0, 1000.0, -1000.0, f32::NEG_INFINITY, f32::NEG_INFINITY, -1000.0, -1000.0],
    )
    .unwrap();
    let got = x.logsumexp_rows().unwrap().to_vec();
    assert!((got[0] - (1000.0 + 2f32.ln())).abs() < 1e-3, "{}", got[0]);
    assert_eq!(got[1], 1000.0);
    assert_eq!(got[2], f32::NEG_INFINITY);
    assert!((got[3] - (-1000.0 + 2f32.ln())).abs() < 1e-3, "{}", got[3]);
}

#[test]
fn mean_of_an_empty_axis_is_nan_and_sum_is_zero() {
    let x = Tensor::<f64>::zeros(&[2, 0]).unwrap();
    assert_eq!(x.sum_axis(1, false).unwrap().to_vec(), vec![0.0, 0.0]);
    assert!(x.mean_axis(1, false).unwrap().iter().all(f64::is_nan));
    assert_eq!(x.sum_axis(0, true).unwrap().shape(), &[1, 0]);
    assert_eq!(x.sum_all(), 0.0);
}
