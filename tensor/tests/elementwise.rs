//! Element-wise arithmetic with numpy broadcasting, scalar and unary maps, comparison
//! masks and the in-place updates, on random (often non-contiguous) views.

use crate::common;

use common::*;
use proptest::prelude::*;
use rand::RngExt;
use rand::rngs::StdRng;
use tensor::{Element, Tensor};

/// Two views whose shapes broadcast together (either may be the larger one).
fn broadcast_operands<T: Element>(out: &[usize], values: Values, rng: &mut StdRng) -> (Pair<T>, Pair<T>) {
    let sa = if rng.random_bool(0.3) { out.to_vec() } else { broadcastable_from(out, rng) };
    let sb = if rng.random_bool(0.3) { out.to_vec() } else { broadcastable_from(out, rng) };
    (any_view(&sa, values, rng), any_view(&sb, values, rng))
}

type BinOp<T> = fn(&Tensor<T>, &Tensor<T>) -> tensor::Result<Tensor<T>>;
type Scalar2<T> = fn(T, T) -> T;
type Pred2<T> = fn(T, T) -> bool;

fn check_binary<T: Element>(out: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let ((a, ra), (b, rb)) = broadcast_operands::<T>(&out, Values::Uniform, &mut rng);
    let ops: [(&str, BinOp<T>, Scalar2<T>); 5] = [
        ("add", Tensor::add, |x, y| x + y),
        ("sub", Tensor::sub, |x, y| x - y),
        ("mul", Tensor::mul, |x, y| x * y),
        ("div", Tensor::div, |x, y| x / y),
        ("maximum", Tensor::maximum, |x, y| if x >= y { x } else { y }),
    ];
    for (name, op, f) in ops {
        let got = op(&a, &b).unwrap();
        let want = zip_broadcast(&ra, &rb, f).unwrap();
        // Operands sharing one dense layout (say both transposed) give a result in that
        // layout; any other pair gives a contiguous result.
        prop_assert!(
            got.is_dense() && (got.is_contiguous() || got.strides() == a.strides()),
            "{} returns a dense tensor, contiguous or in its operands' layout: {:?}",
            name,
            got.strides()
        );
        assert_exact(&got, &want).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
    }
    let got = a.zip_map(&b, "hypot", |x, y| (x * x + y * y).sqrt()).unwrap();
    assert_exact(&got, &zip_broadcast(&ra, &rb, |x: T, y: T| (x * x + y * y).sqrt()).unwrap())?;
    // Inputs are untouched.
    assert_exact(&a, &ra)?;
    assert_exact(&b, &rb)?;
    Ok(())
}

fn check_masks<T: Element>(out: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let ((a, ra), (b, rb)) = broadcast_operands::<T>(&out, Values::SmallInts, &mut rng);
    let flag = |c: bool| if c { T::one() } else { T::zero() };
    let ops: [(BinOp<T>, Pred2<T>); 5] = [
        (Tensor::gt, |x, y| x > y),
        (Tensor::ge, |x, y| x >= y),
        (Tensor::lt, |x, y| x < y),
        (Tensor::le, |x, y| x <= y),
        (Tensor::eq_mask, |x, y| x == y),
    ];
    for (op, f) in ops {
        assert_exact(&op(&a, &b).unwrap(), &zip_broadcast(&ra, &rb, |x, y| flag(f(x, y))).unwrap())?;
    }
    let c: T = cast(f64::from(rng.random_range(-2i32..=2)));
    assert_exact(&a.gt_scalar(c), &ra.map(|x| flag(x > c)))?;
    assert_exact(&a.ge_scalar(c), &ra.map(|x| flag(x >= c)))?;
    Ok(())
}

fn check_unary<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let c: T = cast(rng.random_range(0.5..3.0));
    let cases: Vec<(&str, Tensor<T>, Nd<T>)> = vec![
        ("add_scalar", x.add_scalar(c), r.map(|v| v + c)),
        ("sub_scalar", x.sub_scalar(c), r.map(|v| v - c)),
        ("mul_scalar", x.mul_scalar(c), r.map(|v| v * c)),
        ("div_scalar", x.div_scalar(c), r.map(|v| v / c)),
        ("relu", x.relu(), r.map(|v| if v > T::zero() { v } else { T::zero() })),
        ("exp", x.exp(), r.map(|v| v.exp())),
        ("ln", x.ln(), r.map(|v| v.ln())),
        ("neg", x.neg(), r.map(|v| -v)),
        ("abs", x.abs(), r.map(|v| if v < T::zero() { -v } else { v })),
        ("sqrt", x.sqrt(), r.map(|v| v.sqrt())),
        ("square", x.square(), r.map(|v| v * v)),
        ("map", x.map(|v| v * v * v - v), r.map(|v| v * v * v - v)),
    ];
    for (name, got, want) in cases {
        prop_assert_eq!(got.shape(), shape.as_slice(), "{}", name);
        assert_exact(&got, &want).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
    }
    assert_exact(&x, &r)?;
    Ok(())
}

type InPlace<T> = fn(&mut Tensor<T>, &Tensor<T>) -> tensor::Result<()>;

fn check_in_place<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let other_shape = broadcastable_from(&shape, &mut rng);
    let (o, ro) = any_view::<T>(&other_shape, Values::Uniform, &mut rng);
    let alpha: T = cast(rng.random_range(-2.0..2.0));
    let ob = ro.broadcast_to(&shape);
    let expect = |f: &dyn Fn(T, T) -> T| Nd::from_fn(&shape, |i| f(rx.at(i), ob.at(i)));

    let binary: [(&str, InPlace<T>, Nd<T>); 2] = [
        ("add_assign", Tensor::add_assign, expect(&|a, b| a + b)),
        ("copy_from", Tensor::copy_from, expect(&|_, b| b)),
    ];
    for (name, op, want) in binary {
        let mut y = x.clone();
        op(&mut y, &o).unwrap();
        assert_exact(&y, &want).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
    }
    let mut y = x.clone();
    y.axpy(alpha, &o).unwrap();
    assert_exact(&y, &expect(&|a, b| a + alpha * b))?;
    let mut y = x.clone();
    y.zip_map_inplace(&o, "sub_twice", |a, b| a - b - b).unwrap();
    assert_exact(&y, &expect(&|a, b| a - b - b))?;
    let mut y = x.clone();
    y.map_inplace(|v| v * v + T::one());
    assert_exact(&y, &rx.map(|v| v * v + T::one()))?;
    let mut y = x.clone();
    y.scale(alpha);
    assert_exact(&y, &rx.map(|v| v * alpha))?;
    let mut y = x.clone();
    y.fill(alpha);
    assert_exact(&y, &rx.map(|_| alpha))?;

    // Nothing showed through the shared storage.
    assert_exact(&x, &rx)?;
    assert_exact(&o, &ro)?;
    Ok(())
}

/// In-place updates whose operand views the updated tensor's own storage.
fn check_in_place_aliasing<T: Element>(n: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&[n, n], Values::Uniform, &mut rng);
    let mut y = x.clone();
    let yt = y.t().unwrap();
    y.add_assign(&yt).unwrap();
    assert_exact(&y, &Nd::from_fn(&[n, n], |i| r.at(i) + r.at(&[i[1], i[0]])))?;
    let mut y = x.clone();
    let row = y.select(0, 0);
    if let Ok(row) = row {
        y.axpy(cast(2.0), &row).unwrap();
        assert_exact(&y, &Nd::from_fn(&[n, n], |i| r.at(i) + cast::<T>(2.0) * r.at(&[0, i[1]])))?;
    }
    let mut y = x.clone();
    let same_view = y.clone();
    y.copy_from(&same_view.neg()).unwrap();
    y.add_assign(&same_view).unwrap();
    assert_exact(&y, &r.map(|v| -v + v))?;
    assert_exact(&x, &r)?;
    Ok(())
}

stamp_f32_f64! {
    fn binary_ops_broadcast_like_numpy(out in shapes(4, 5), seed in any::<u64>()) => check_binary;
    fn comparison_masks_broadcast_like_numpy(out in shapes(4, 5), seed in any::<u64>()) => check_masks;
    fn scalar_and_unary_ops(shape in shapes(4, 5), seed in any::<u64>()) => check_unary;
    fn in_place_ops_with_broadcast_operand(shape in shapes(4, 5), seed in any::<u64>()) => check_in_place;
    fn in_place_ops_on_aliased_storage(n in 0usize..=6, seed in any::<u64>()) => check_in_place_aliasing;
}

#[test]
fn broadcasting_a_column_against_a_row() {
    let col = Tensor::<f64>::from_vec(&[3, 1], vec![0.0, 10.0, 20.0]).unwrap();
    let row = Tensor::<f64>::from_vec(&[4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let sum = col.add(&row).unwrap();
    assert_eq!(sum.shape(), &[3, 4]);
    assert_eq!(sum.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 11.0, 12.0, 13.0, 14.0, 21.0, 22.0, 23.0, 24.0]);
    let diff = row.sub(&col).unwrap();
    assert_eq!(diff.select(0, 2).unwrap().to_vec(), vec![-19.0, -18.0, -17.0, -16.0]);
    // A size-1 axis broadcasts to a size-0 one.
    let empty = Tensor::<f64>::zeros(&[0]).unwrap();
    assert_eq!(col.mul(&empty).unwrap().shape(), &[3, 0]);
}

/// Two operands transposed alike: the sum is computed over their storage and keeps their
/// layout (the case a random draw met once in CI, out = [2, 4]); mixed layouts give a
/// contiguous result. Values against the index-by-index sum either way.
#[test]
fn operands_sharing_a_dense_layout_keep_it() {
    let a = Tensor::<f64>::from_fn(&[4, 2], |i| (i[0] * 2 + i[1]) as f64).unwrap().t().unwrap();
    let b = Tensor::<f64>::from_fn(&[4, 2], |i| 10.0 * (i[0] * 2 + i[1]) as f64).unwrap().t().unwrap();
    let want: Vec<f64> = a.iter().zip(b.iter()).map(|(x, y)| x + y).collect();
    let same = a.add(&b).unwrap();
    assert_eq!((same.shape(), same.strides()), (a.shape(), a.strides()));
    assert_eq!(same.to_vec(), want);
    let mixed = a.add(&b.to_contiguous()).unwrap();
    assert!(mixed.is_contiguous());
    assert_eq!(mixed.to_vec(), want);
}

#[test]
fn relu_and_masks_at_zero_and_nan() {
    let x = Tensor::<f32>::from_vec(&[4], vec![-1.0, 0.0, 2.0, f32::NAN]).unwrap();
    let r = x.relu().to_vec();
    assert_eq!(&r[..3], &[0.0, 0.0, 2.0]);
    assert!(r[3].is_nan());
    let zero = Tensor::scalar(0.0f32);
    assert_eq!(x.gt(&zero).unwrap().to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    assert_eq!(x.ge(&zero).unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
    assert_eq!(x.eq_mask(&x).unwrap().to_vec(), vec![1.0, 1.0, 1.0, 0.0]);
}
