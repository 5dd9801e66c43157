//! Average pooling (`avg_pool2d`, PyTorch's floor mode and `count_include_pad`) against a
//! direct loop over each window, its backward pass against a naive scatter and the adjoint
//! identity `⟨avg(x), g⟩ = ⟨x, avgᵀ(g)⟩`, and its geometry errors; the 2×2/2 window (its
//! own loop) on sizes odd and even.

use crate::common;

use common::*;
use proptest::prelude::*;
use tensor::{Element, Tensor, TensorError, Window2d, avg_pool2d, avg_pool2d_backward};

/// Random pooling geometries: kernels 1–4, strides 1–3, padding at most half the kernel,
/// H and W up to 8 beyond what the kernel needs.
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

/// Each output: the sum of its in-bounds taps over `kh·kw` (the padding counted as zeros),
/// in f64, with the sum of |taps| / (kh·kw) as the rounding scale.
fn direct_avg_pool<T: Element>(x: &Nd<T>, g: &Geometry) -> (Nd<f64>, Nd<f64>) {
    let (oh, ow) = g.out_hw();
    let [kh, kw] = g.window.kernel;
    let area = (kh * kw) as f64;
    let (mut out, mut scale) = (Vec::new(), Vec::new());
    for n in 0..g.n {
        for c in 0..g.c {
            for p in 0..oh {
                for q in 0..ow {
                    let (mut sum, mut abs) = (0.0, 0.0);
                    for i in 0..kh {
                        for j in 0..kw {
                            if let (Some(h), Some(w)) = (g.src(0, p, i), g.src(1, q, j)) {
                                let v = x.at(&[n, c, h, w]).to_f64_exact();
                                sum += v;
                                abs += v.abs();
                            }
                        }
                    }
                    out.push(sum / area);
                    scale.push(abs / area);
                }
            }
        }
    }
    let shape = [g.n, g.c, oh, ow];
    (Nd::new(&shape, out), Nd::new(&shape, scale))
}

fn check_forward<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = strided::<T>(&g.input_shape(), Values::Uniform, &mut rng);
    let y = avg_pool2d(&x, &g.window).unwrap();
    prop_assert!(y.is_contiguous());
    let (want, scale) = direct_avg_pool(&rx, &g);
    assert_close(&y, &want, Some(&scale), 4.0 * eps::<T>())
}

fn check_backward<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (oh, ow) = g.out_hw();
    let (grad, rg) = any_view::<T>(&[g.n, g.c, oh, ow], Values::Uniform, &mut rng);
    let back = avg_pool2d_backward(&grad, &g.input_shape(), &g.window).unwrap();
    // Naive scatter: every output's gradient over kh·kw to each in-bounds tap.
    let [kh, kw] = g.window.kernel;
    let area = (kh * kw) as f64;
    let shape = g.input_shape();
    let (mut want, mut scale) = (vec![0.0; numel(&shape)], vec![0.0; numel(&shape)]);
    for n in 0..g.n {
        for c in 0..g.c {
            for p in 0..oh {
                for q in 0..ow {
                    let share = rg.at(&[n, c, p, q]).to_f64_exact() / area;
                    for i in 0..kh {
                        for j in 0..kw {
                            if let (Some(h), Some(w)) = (g.src(0, p, i), g.src(1, q, j)) {
                                let k = ravel(&[n, c, h, w], &shape);
                                want[k] += share;
                                scale[k] += share.abs();
                            }
                        }
                    }
                }
            }
        }
    }
    assert_close(&back, &Nd::new(&shape, want), Some(&Nd::new(&shape, scale)), 4.0 * eps::<T>())?;

    // The adjoint identity, against the forward kernel.
    let (x, rx) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    let y = avg_pool2d(&x, &g.window).unwrap();
    let lhs: f64 = widen(&y.to_vec()).iter().zip(widen(&rg.data)).map(|(a, b)| a * b).sum();
    let rhs: f64 = widen(&rx.data).iter().zip(widen(&back.to_vec())).map(|(a, b)| a * b).sum();
    let mag: f64 = widen(&rx.data).iter().zip(widen(&back.to_vec())).map(|(a, b)| (a * b).abs()).sum();
    prop_assert!((lhs - rhs).abs() <= rel_tol::<T>() * (mag + 1.0), "<avg(x), g> = {} but <x, avgᵀ(g)> = {}", lhs, rhs);
    Ok(())
}

/// The 2×2 window with stride 2 and no padding (its own fast path), on odd and even sizes.
fn halving_geometries() -> impl Strategy<Value = Geometry> {
    (1usize..=3, 1usize..=4, 2usize..=11, 2usize..=11).prop_map(|(n, c, h, w)| Geometry {
        n,
        c,
        h,
        w,
        window: Window2d { kernel: [2, 2], stride: [2, 2], padding: [0, 0] },
    })
}

stamp_f32_f64! {
    fn avg_pool_matches_direct_loop(g in pool_geometries(), seed in any::<u64>()) => check_forward;
    fn avg_pool_backward_matches_scatter_and_adjoint(g in pool_geometries(), seed in any::<u64>()) => check_backward;
    fn halving_avg_pool_matches_direct_loop(g in halving_geometries(), seed in any::<u64>()) => check_forward;
    fn halving_avg_pool_backward_matches_scatter(g in halving_geometries(), seed in any::<u64>()) => check_backward;
}

/// `count_include_pad`: a 2×2 window at the corner of a 1-padded input holds one input
/// element and three zeros, and still divides by 4.
#[test]
fn padding_counts_in_the_divisor() {
    let x = Tensor::<f64>::from_vec(&[1, 1, 2, 2], vec![4.0, 8.0, 12.0, 16.0]).unwrap();
    let y = avg_pool2d(&x, &Window2d::square(2, 2, 1)).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
}

/// Floor mode: the last column no full window reaches gets no output and no gradient.
#[test]
fn floor_mode_drops_the_partial_window() {
    let x = Tensor::<f64>::from_fn(&[1, 1, 2, 3], |i| (i[2] * 3 + i[3]) as f64).unwrap();
    let y = avg_pool2d(&x, &Window2d::square(2, 2, 0)).unwrap();
    assert_eq!(y.to_vec(), vec![(0.0 + 1.0 + 3.0 + 4.0) / 4.0]);
    let g =
        avg_pool2d_backward(&Tensor::<f64>::ones(&[1, 1, 1, 1]).unwrap(), &[1, 1, 2, 3], &Window2d::square(2, 2, 0))
            .unwrap();
    assert_eq!(g.to_vec(), vec![0.25, 0.25, 0.0, 0.25, 0.25, 0.0]);
}

#[test]
fn invalid_geometries_are_errors() {
    let x = Tensor::<f32>::zeros(&[1, 1, 4, 4]).unwrap();
    let too_much_padding = Window2d::square(2, 2, 2);
    assert!(matches!(avg_pool2d(&x, &too_much_padding), Err(TensorError::InvalidGeometry { op: "avg_pool2d", .. })));
    assert!(matches!(
        avg_pool2d(&Tensor::<f32>::zeros(&[4, 4]).unwrap(), &Window2d::square(2, 2, 0)),
        Err(TensorError::RankMismatch { op: "avg_pool2d", .. })
    ));
    let wrong_grad = Tensor::<f32>::zeros(&[1, 1, 3, 3]).unwrap();
    assert!(matches!(
        avg_pool2d_backward(&wrong_grad, &[1, 1, 4, 4], &Window2d::square(2, 2, 0)),
        Err(TensorError::ShapeMismatch { op: "avg_pool2d_backward", .. })
    ));
}
