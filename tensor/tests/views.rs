//! Views (reshape, permute, transpose, t, narrow, select, unsqueeze, broadcast_to),
//! constructors and accessors, against naive index loops.

use crate::common;

use common::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use tensor::{Element, Tensor};

/// A shape with the same number of elements: dims shuffled, some adjacent ones merged,
/// size-1 axes inserted (any shape with a 0 stays a shape with a 0).
fn regroup(shape: &[usize], rng: &mut StdRng) -> Vec<usize> {
    let mut dims = shape.to_vec();
    if rng.random_bool(0.5) {
        dims.shuffle(rng);
    }
    let mut out: Vec<usize> = Vec::new();
    for d in dims {
        match out.last_mut() {
            Some(last) if rng.random_bool(0.3) => *last *= d,
            _ => out.push(d),
        }
    }
    for _ in 0..rng.random_range(0..=2usize) {
        let at = rng.random_range(0..=out.len());
        out.insert(at, 1);
    }
    assert_eq!(numel(&out), numel(shape));
    out
}

fn check_view_builder<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    assert_exact(&x, &r)?;
    prop_assert_eq!(x.rank(), shape.len());
    prop_assert_eq!(x.numel(), numel(&shape));
    let via_iter: Vec<T> = x.iter().collect();
    prop_assert_eq!(&via_iter, &r.data);
    for idx in all_indices(&shape) {
        prop_assert_eq!(x.get(&idx).unwrap(), r.at(&idx));
    }
    for (axis, &d) in shape.iter().enumerate() {
        prop_assert_eq!(x.dim(axis).unwrap(), d);
    }
    prop_assert_eq!(x.is_contiguous(), naive_is_contiguous(&x), "strides {:?}", x.strides());
    prop_assert_eq!(x.as_slice().is_some(), x.is_contiguous());
    if let Some(s) = x.as_slice() {
        prop_assert_eq!(s, r.data.as_slice());
    }
    prop_assert!(x == Tensor::from_vec(&shape, r.data.clone()).unwrap());
    Ok(())
}

fn check_permute<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let perm = random_perm(shape.len(), &mut rng);
    let y = x.permute(&perm).unwrap();
    assert_exact(&y, &r.permute(&perm))?;
    prop_assert!(y.shares_storage_with(&x));
    Ok(())
}

fn check_transpose<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let (a, b) = (rng.random_range(0..shape.len()), rng.random_range(0..shape.len()));
    let mut perm: Vec<usize> = (0..shape.len()).collect();
    perm.swap(a, b);
    let y = x.transpose(a, b).unwrap();
    assert_exact(&y, &r.permute(&perm))?;
    prop_assert!(y.shares_storage_with(&x));
    if shape.len() == 2 {
        let t = x.t().unwrap();
        assert_exact(&t, &Nd::from_fn(&[shape[1], shape[0]], |i| r.at(&[i[1], i[0]])))?;
        assert_exact(&t.t().unwrap(), &r)?;
    }
    Ok(())
}

fn check_narrow<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let axis = rng.random_range(0..shape.len());
    let start = rng.random_range(0..=shape[axis]);
    let len = rng.random_range(0..=shape[axis] - start);
    let y = x.narrow(axis, start, len).unwrap();
    let mut want_shape = shape.clone();
    want_shape[axis] = len;
    let want = Nd::from_fn(&want_shape, |i| {
        let mut src = i.to_vec();
        src[axis] += start;
        r.at(&src)
    });
    assert_exact(&y, &want)?;
    prop_assert!(y.shares_storage_with(&x));
    Ok(())
}

fn check_select<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let axis = rng.random_range(0..shape.len());
    let index = rng.random_range(0..shape[axis]);
    let y = x.select(axis, index).unwrap();
    let mut want_shape = shape.clone();
    want_shape.remove(axis);
    let want = Nd::from_fn(&want_shape, |i| {
        let mut src = i.to_vec();
        src.insert(axis, index);
        r.at(&src)
    });
    assert_exact(&y, &want)?;
    prop_assert!(y.shares_storage_with(&x));
    Ok(())
}

fn check_unsqueeze<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let axis = rng.random_range(0..=shape.len());
    let y = x.unsqueeze(axis).unwrap();
    let mut want_shape = shape.clone();
    want_shape.insert(axis, 1);
    prop_assert_eq!(y.shape(), want_shape.as_slice());
    assert_exact(&y, &Nd::new(&want_shape, r.data.clone()))?;
    prop_assert!(y.shares_storage_with(&x));
    prop_assert_eq!(y.is_contiguous(), x.is_contiguous());
    // Selecting the new axis gives the original back.
    assert_exact(&y.select(axis, 0).unwrap(), &r)?;
    Ok(())
}

fn check_broadcast_to<T: Element>(target: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let source = broadcastable_from(&target, &mut rng);
    let (x, r) = any_view::<T>(&source, Values::Uniform, &mut rng);
    let y = x.broadcast_to(&target).unwrap();
    let want = Nd::from_fn(&target, |idx| {
        let lead = target.len() - source.len();
        let src: Vec<usize> = (0..source.len()).map(|i| if source[i] == 1 { 0 } else { idx[lead + i] }).collect();
        r.at(&src)
    });
    assert_exact(&y, &want)?;
    prop_assert!(y.shares_storage_with(&x));
    Ok(())
}

fn check_reshape_contiguous<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = contiguous::<T>(&shape, Values::Uniform, &mut rng);
    let new_shape = regroup(&shape, &mut rng);
    let y = x.reshape(&new_shape).unwrap();
    assert_exact(&y, &Nd::new(&new_shape, r.data.clone()))?;
    prop_assert!(y.shares_storage_with(&x), "a contiguous reshape must be a view");
    prop_assert!(y.is_contiguous());
    // Also for a contiguous view that does not start at the storage's beginning.
    if let Some(&d0) = shape.first()
        && d0 > 1
    {
        let tail = x.narrow(0, 1, d0 - 1).unwrap();
        prop_assert!(tail.is_contiguous());
        let flat = tail.reshape(&[tail.numel()]).unwrap();
        prop_assert!(flat.shares_storage_with(&x));
        prop_assert_eq!(flat.to_vec(), r.data[r.data.len() / d0..].to_vec());
    }
    Ok(())
}

fn check_reshape_view<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let new_shape = regroup(&shape, &mut rng);
    let y = x.reshape(&new_shape).unwrap();
    assert_exact(&y, &Nd::new(&new_shape, r.data.clone()))?;
    if !y.shares_storage_with(&x) {
        prop_assert!(y.is_contiguous(), "a reshape that copies returns a contiguous tensor");
    }
    assert_exact(&y.reshape(&shape).unwrap(), &r)?;
    let flat = x.reshape(&[numel(&shape)]).unwrap();
    prop_assert_eq!(flat.to_vec(), r.data.clone());
    Ok(())
}

fn check_to_contiguous<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let y = x.to_contiguous();
    assert_exact(&y, &r)?;
    prop_assert!(y.is_contiguous());
    prop_assert!(naive_is_contiguous(&y));
    prop_assert_eq!(y.shares_storage_with(&x), x.is_contiguous());
    prop_assert_eq!(y.as_slice().unwrap(), r.data.as_slice());
    prop_assert_eq!(x.clone().into_vec(), r.data.clone());
    prop_assert_eq!(y.into_vec(), r.data.clone());
    Ok(())
}

/// Writes through `as_mut_slice` land in logical order and never show through another
/// tensor that shares the storage.
fn check_copy_on_write<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let mut y = if rng.random_bool(0.5) { x.clone() } else { x.reshape(&regroup(&shape, &mut rng)).unwrap() };
    let y_shape = y.shape().to_vec();
    let fresh = random_values::<T>(numel(&shape), Values::Uniform, &mut rng);
    {
        let s = y.as_mut_slice();
        prop_assert_eq!(s.len(), numel(&shape));
        prop_assert_eq!(&s[..], r.data.as_slice(), "as_mut_slice holds the elements in logical order");
        s.copy_from_slice(&fresh);
    }
    prop_assert_eq!(y.shape(), y_shape.as_slice());
    prop_assert_eq!(y.to_vec(), fresh);
    assert_exact(&x, &r)?;
    Ok(())
}

fn check_item<T: Element>(rank: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let shape = vec![1; rank];
    let (x, r) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    prop_assert_eq!(x.item().unwrap(), r.data[0]);
    prop_assert_eq!(Tensor::scalar(r.data[0]).item().unwrap(), r.data[0]);
    Ok(())
}

fn check_constructors<T: Element>(shape: Vec<usize>, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    // from_fn sees every index once, in row-major order.
    let code = |i: &[usize]| i.iter().fold(0.0, |acc, &k| acc * 10.0 + k as f64 + 1.0);
    let mut seen = Vec::new();
    let x = Tensor::<T>::from_fn(&shape, |i| {
        seen.push(i.to_vec());
        cast(code(i))
    })
    .unwrap();
    prop_assert_eq!(seen, all_indices(&shape));
    for idx in all_indices(&shape) {
        prop_assert_eq!(x.get(&idx).unwrap(), cast::<T>(code(&idx)));
    }
    let c: T = cast(rng.random_range(-4.0..4.0));
    let n = numel(&shape);
    for (t, v) in [
        (Tensor::full(&shape, c).unwrap(), c),
        (Tensor::zeros(&shape).unwrap(), T::zero()),
        (Tensor::ones(&shape).unwrap(), T::one()),
    ] {
        prop_assert_eq!(t.shape(), shape.as_slice());
        prop_assert!(t.is_contiguous());
        prop_assert_eq!(t.to_vec(), vec![v; n]);
    }
    let data = random_values::<T>(n, Values::Uniform, &mut rng);
    let t = Tensor::from_vec(&shape, data.clone()).unwrap();
    prop_assert_eq!(t.strides().to_vec(), {
        let mut s = vec![1; shape.len()];
        for k in (0..shape.len().saturating_sub(1)).rev() {
            s[k] = s[k + 1] * shape[k + 1];
        }
        s
    });
    prop_assert_eq!(t.offset(), 0);
    prop_assert_eq!(t.into_vec(), data);
    Ok(())
}

fn check_rand_uniform<T: Element>(shape: Vec<usize>, seed: u64, low: f64, width: f64) -> TestResult {
    let high = low + width;
    let a = Tensor::<T>::rand_uniform(&shape, low, high, &mut StdRng::seed_from_u64(seed)).unwrap();
    let b = Tensor::<T>::rand_uniform(&shape, low, high, &mut StdRng::seed_from_u64(seed)).unwrap();
    prop_assert_eq!(a.shape(), shape.as_slice());
    prop_assert!(a == b, "same seed, same tensor");
    for x in a.iter() {
        let x = x.to_f64_exact();
        // f32 rounding may land exactly on `high`.
        prop_assert!(x >= low && x <= high, "{} outside [{}, {})", x, low, high);
    }
    Ok(())
}

stamp_f32_f64! {
    fn view_builder_matches_reference(shape in shapes(4, 5), seed in any::<u64>()) => check_view_builder;
    fn permute_matches_reference(shape in shapes(4, 5), seed in any::<u64>()) => check_permute;
    fn transpose_and_t_match_reference(shape in prop::collection::vec(0usize..=5, 1..=4), seed in any::<u64>())
        => check_transpose;
    fn narrow_matches_reference(shape in prop::collection::vec(0usize..=5, 1..=4), seed in any::<u64>())
        => check_narrow;
    fn select_matches_reference(shape in prop::collection::vec(1usize..=5, 1..=4), seed in any::<u64>())
        => check_select;
    fn unsqueeze_matches_reference(shape in shapes(4, 5), seed in any::<u64>()) => check_unsqueeze;
    fn broadcast_to_matches_reference(target in shapes(4, 5), seed in any::<u64>()) => check_broadcast_to;
    fn reshape_of_contiguous_is_a_view(shape in shapes(4, 5), seed in any::<u64>()) => check_reshape_contiguous;
    fn reshape_of_views_matches_reference(shape in shapes(4, 5), seed in any::<u64>()) => check_reshape_view;
    fn to_contiguous_and_into_vec(shape in shapes(4, 5), seed in any::<u64>()) => check_to_contiguous;
    fn writes_are_copy_on_write(shape in shapes(4, 5), seed in any::<u64>()) => check_copy_on_write;
    fn item_of_one_element_views(rank in 0usize..=4, seed in any::<u64>()) => check_item;
    fn constructors_match_reference(shape in shapes(4, 5), seed in any::<u64>()) => check_constructors;
    fn rand_uniform_in_range_and_reproducible(
        shape in shapes(3, 5), seed in any::<u64>(), low in -10.0f64..10.0, width in 0.01f64..10.0
    ) => check_rand_uniform;
}

#[test]
fn transposed_matrix_is_not_contiguous_and_narrowed_rows_are() {
    let x = Tensor::<f64>::from_fn(&[3, 4], |i| (i[0] * 4 + i[1]) as f64).unwrap();
    assert!(x.is_contiguous());
    assert!(!x.t().unwrap().is_contiguous());
    assert!(x.narrow(0, 1, 2).unwrap().is_contiguous());
    assert!(!x.narrow(1, 1, 2).unwrap().is_contiguous());
    // A single column of a transposed matrix is a run of one row of x.
    let row = x.t().unwrap().select(1, 2).unwrap();
    assert!(row.is_contiguous());
    assert_eq!(row.to_vec(), vec![8.0, 9.0, 10.0, 11.0]);
    // Broadcasting a row over 3 rows repeats it.
    let b = x.select(0, 1).unwrap().broadcast_to(&[3, 4]).unwrap();
    assert!(!b.is_contiguous());
    assert_eq!(b.strides()[0], 0);
    assert_eq!(b.to_vec(), [4.0, 5.0, 6.0, 7.0].repeat(3));
}

#[test]
fn reshape_of_a_transpose_copies_when_it_must() {
    let x = Tensor::<f32>::from_fn(&[2, 3], |i| (i[0] * 3 + i[1]) as f32).unwrap();
    let t = x.t().unwrap();
    let flat = t.reshape(&[6]).unwrap();
    assert_eq!(flat.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert!(!flat.shares_storage_with(&x));
    // Splitting an axis of a transpose needs no copy.
    let split = t.reshape(&[3, 2, 1]).unwrap();
    assert!(split.shares_storage_with(&x));
    assert_eq!(split.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
}

#[test]
fn rand_normal_has_the_requested_moments() {
    let mut rng = StdRng::seed_from_u64(7);
    for (mean, std) in [(0.0, 1.0), (3.0, 0.5), (-2.0, 2.0)] {
        let x = Tensor::<f64>::rand_normal(&[100, 100], mean, std, &mut rng).unwrap();
        let v = x.to_vec();
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let s = (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt();
        assert!((m - mean).abs() < 0.05 * std, "mean {m} vs {mean}");
        assert!((s - std).abs() < 0.05 * std, "std {s} vs {std}");
    }
    let a = Tensor::<f32>::rand_normal(&[4, 5], 1.0, 2.0, &mut StdRng::seed_from_u64(3)).unwrap();
    let b = Tensor::<f32>::rand_normal(&[4, 5], 1.0, 2.0, &mut StdRng::seed_from_u64(3)).unwrap();
    assert_eq!(a.to_vec(), b.to_vec());
    let z = Tensor::<f32>::rand_normal(&[3], 5.0, 0.0, &mut rng).unwrap();
    assert_eq!(z.to_vec(), vec![5.0; 3]);
}

#[test]
fn clone_shares_storage_until_written() {
    let x = Tensor::<f64>::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let mut y = x.clone();
    assert!(y.shares_storage_with(&x));
    y.fill(9.0);
    assert!(!y.shares_storage_with(&x));
    assert_eq!(x.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(y.to_vec(), vec![9.0; 4]);
}

/// Regression: an empty view whose offset was moved by a narrow or select along another
/// axis used to point past the end of the storage, and `to_vec` panicked.
#[test]
fn empty_views_with_moved_offsets() {
    let x = Tensor::<f32>::zeros(&[0, 3]).unwrap();
    let s = x.select(1, 2).unwrap();
    assert_eq!(s.shape(), &[0]);
    assert_eq!(s.to_vec(), Vec::<f32>::new());
    let n = x.narrow(1, 1, 2).unwrap();
    assert_eq!(n.shape(), &[0, 2]);
    assert_eq!(n.to_vec(), Vec::<f32>::new());
    assert_eq!(n.as_slice(), Some(&[][..]));
    let mut m = n.clone();
    assert!(m.as_mut_slice().is_empty());
    let mut e = Tensor::<f32>::zeros(&[0, 2]).unwrap();
    e.add_assign(&n).unwrap();
    assert_eq!(n.add(&n).unwrap().shape(), &[0, 2]);
}
