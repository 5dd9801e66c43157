//! Matrix products (2-D and batched 3-D with broadcast batch) and `gemm` with α/β, against
//! a triple loop, on contiguous, transposed, sliced and other strided operands.

use crate::common;

use common::*;
use proptest::prelude::*;
use rand::RngExt;
use rand::rngs::StdRng;
use tensor::{Element, Tensor, gemm};

/// How a matrix operand is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Contiguous,
    /// `.t()` of a contiguous `[cols, rows]` matrix.
    Transposed,
    /// Narrowed out of a larger matrix on both axes.
    Sliced,
    /// `.t()` of a sliced matrix.
    SlicedTransposed,
    /// Any nested view (permute, narrow, select, broadcast).
    Nested,
}

const LAYOUTS: [Layout; 5] =
    [Layout::Contiguous, Layout::Transposed, Layout::Sliced, Layout::SlicedTransposed, Layout::Nested];

fn matrix<T: Element>(rows: usize, cols: usize, layout: Layout, rng: &mut StdRng) -> Pair<T> {
    let sliced = |r: usize, c: usize, rng: &mut StdRng| {
        let (a, b) = (rng.random_range(0..=3usize), rng.random_range(0..=3usize));
        let (big, rb) = contiguous::<T>(&[r + a + rng.random_range(0..=3usize), c + b + 2], Values::Uniform, rng);
        (big.narrow(0, a, r).unwrap().narrow(1, b, c).unwrap(), rb.narrow(0, a, r).narrow(1, b, c))
    };
    let (t, nd) = match layout {
        Layout::Contiguous => contiguous(&[rows, cols], Values::Uniform, rng),
        Layout::Transposed => {
            let (t, r) = contiguous::<T>(&[cols, rows], Values::Uniform, rng);
            (t.t().unwrap(), r.permute(&[1, 0]))
        }
        Layout::Sliced => sliced(rows, cols, rng),
        Layout::SlicedTransposed => {
            let (t, r) = sliced(cols, rows, rng);
            (t.t().unwrap(), r.permute(&[1, 0]))
        }
        Layout::Nested => {
            let depth = rng.random_range(1..=3usize);
            view(&[rows, cols], depth, Values::Uniform, rng)
        }
    };
    assert_eq!(t.shape(), &[rows, cols]);
    (t, nd)
}

/// The triple loop, in f64: `(Σ_p a[i,p]·b[p,j], Σ_p |a[i,p]·b[p,j]|)`.
fn naive_matmul<T: Element>(a: &Nd<T>, b: &Nd<T>) -> (Nd<f64>, Nd<f64>) {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
    assert_eq!(b.shape[0], k);
    let mut out = vec![0.0; m * n];
    let mut scale = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                let t = a.data[i * k + p].to_f64_exact() * b.data[p * n + j].to_f64_exact();
                out[i * n + j] += t;
                scale[i * n + j] += t.abs();
            }
        }
    }
    (Nd::new(&[m, n], out), Nd::new(&[m, n], scale))
}

/// The error bound of a k-term dot product in `T` (any summation order), relative to
/// Σ|terms|.
fn dot_tol<T: Element>(k: usize) -> f64 {
    (k as f64 + 2.0) * eps::<T>()
}

/// Sizes up to 70, with small and empty sizes common.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=4, 1usize..=70]
}

fn check_matmul<T: Element>(m: usize, k: usize, n: usize, la: usize, lb: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (a, ra) = matrix::<T>(m, k, LAYOUTS[la], &mut rng);
    let (b, rb) = matrix::<T>(k, n, LAYOUTS[lb], &mut rng);
    let (want, scale) = naive_matmul(&ra, &rb);
    let got = a.matmul(&b).unwrap();
    prop_assert!(got.is_contiguous());
    assert_close(&got, &want, Some(&scale), dot_tol::<T>(k))?;
    assert_exact(&a, &ra)?;
    assert_exact(&b, &rb)?;
    Ok(())
}

fn check_batched<T: Element>(batch: usize, m: usize, k: usize, n: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    // Each side: a full batch, a batch of 1, or a batch of 1 broadcast to the full batch
    // (stride 0); each matrix of the batch in a random layout.
    let operand = |rows: usize, cols: usize, rng: &mut StdRng| -> (Tensor<T>, Vec<Nd<T>>) {
        let kind = rng.random_range(0..3u32);
        let b = if kind == 0 { batch } else { 1 };
        let shape = [b, rows, cols];
        let (t, r) = if rng.random_bool(0.5) {
            any_view::<T>(&shape, Values::Uniform, rng)
        } else {
            // Transposed matrices inside the batch.
            let (t, r) = any_view::<T>(&[b, cols, rows], Values::Uniform, rng);
            (t.transpose(1, 2).unwrap(), r.permute(&[0, 2, 1]))
        };
        let (t, r) = if kind == 2 {
            (t.broadcast_to(&[batch, rows, cols]).unwrap(), r.broadcast_to(&[batch, rows, cols]))
        } else {
            (t, r)
        };
        let mats = (0..r.shape[0]).map(|i| r.select(0, i)).collect();
        (t, mats)
    };
    let (a, ma) = operand(m, k, &mut rng);
    let (b, mb) = operand(k, n, &mut rng);
    let got = a.matmul(&b).unwrap();
    let out_batch = ma.len().max(mb.len());
    prop_assert_eq!(got.shape(), &[out_batch, m, n]);
    for i in 0..out_batch {
        let (want, scale) = naive_matmul(&ma[i.min(ma.len() - 1)], &mb[i.min(mb.len() - 1)]);
        assert_close(&got.select(0, i).unwrap(), &want, Some(&scale), dot_tol::<T>(k))?;
    }
    Ok(())
}

fn check_gemm<T: Element>(m: usize, k: usize, n: usize, la: usize, lb: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (a, ra) = matrix::<T>(m, k, LAYOUTS[la], &mut rng);
    let (b, rb) = matrix::<T>(k, n, LAYOUTS[lb], &mut rng);
    let (c0, rc) = matrix::<T>(m, n, LAYOUTS[rng.random_range(0..LAYOUTS.len())], &mut rng);
    let alpha: T = cast(rng.random_range(-2.0..2.0));
    let beta: T = match rng.random_range(0..3u32) {
        0 => T::zero(),
        1 => T::one(),
        _ => cast(rng.random_range(-2.0..2.0)),
    };
    let (ab, sab) = naive_matmul(&ra, &rb);
    let (al, be) = (alpha.to_f64_exact(), beta.to_f64_exact());
    let want = Nd::from_fn(&[m, n], |i| al * ab.at(i) + be * rc.at(i).to_f64_exact());
    let scale = Nd::from_fn(&[m, n], |i| al.abs() * sab.at(i) + be.abs() * rc.at(i).to_f64_exact().abs());
    let mut c = c0.clone();
    gemm(alpha, &a, &b, beta, &mut c).unwrap();
    prop_assert_eq!(c.shape(), &[m, n]);
    assert_close(&c, &want, Some(&scale), dot_tol::<T>(k + 1))?;
    // Copy-on-write: the tensor c was cloned from (and whatever c0 viewed) is untouched.
    assert_exact(&c0, &rc)?;
    // Accumulating twice with β = 1 adds α·A·B twice.
    let mut acc = Tensor::<T>::zeros(&[m, n]).unwrap();
    gemm(alpha, &a, &b, T::one(), &mut acc).unwrap();
    gemm(alpha, &a, &b, T::one(), &mut acc).unwrap();
    let want2 = ab.map(|v| 2.0 * al * v);
    assert_close(&acc, &want2, Some(&sab.map(|s| 2.0 * al.abs() * s)), dot_tol::<T>(k + 1))?;
    Ok(())
}

stamp_f32_f64! {
    fn matmul_matches_triple_loop(
        m in dim(), k in dim(), n in dim(), la in 0usize..5, lb in 0usize..5, seed in any::<u64>()
    ) => check_matmul;
    fn batched_matmul_matches_triple_loop(
        batch in 1usize..=4, m in 0usize..=12, k in 0usize..=12, n in 0usize..=12, seed in any::<u64>()
    ) => check_batched;
    fn gemm_accumulates_with_alpha_and_beta(
        m in dim(), k in dim(), n in dim(), la in 0usize..5, lb in 0usize..5, seed in any::<u64>()
    ) => check_gemm;
}

#[test]
fn matmul_of_transposed_views_on_both_sides_at_full_size() {
    // 70×70×70 with both operands transposed views, against the triple loop.
    let mut rng = rng(70);
    for (la, lb) in [(Layout::Transposed, Layout::Transposed), (Layout::SlicedTransposed, Layout::Sliced)] {
        let (a, ra) = matrix::<f64>(70, 70, la, &mut rng);
        let (b, rb) = matrix::<f64>(70, 70, lb, &mut rng);
        let (want, scale) = naive_matmul(&ra, &rb);
        assert_close(&a.matmul(&b).unwrap(), &want, Some(&scale), dot_tol::<f64>(70)).unwrap();
    }
}

#[test]
fn gemm_with_zero_beta_ignores_garbage_in_c() {
    let a = Tensor::<f32>::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let mut c = Tensor::<f32>::full(&[2, 2], f32::NAN).unwrap();
    gemm(1.0, &a, &a.t().unwrap(), 0.0, &mut c).unwrap();
    // [[1,2],[3,4]]·[[1,3],[2,4]] = [[5,11],[11,25]]
    assert_eq!(c.to_vec(), vec![5.0, 11.0, 11.0, 25.0]);
    // k = 0: the product is zero; β scales what was there.
    let empty_a = Tensor::<f32>::zeros(&[2, 0]).unwrap();
    let empty_b = Tensor::<f32>::zeros(&[0, 2]).unwrap();
    gemm(1.0, &empty_a, &empty_b, 0.5, &mut c).unwrap();
    assert_eq!(c.to_vec(), vec![2.5, 5.5, 5.5, 12.5]);
    assert_eq!(empty_a.matmul(&empty_b).unwrap().to_vec(), vec![0.0; 4]);
}
