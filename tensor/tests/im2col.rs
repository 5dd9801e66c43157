//! im2col / col2im: the naive gather and scatter, convolution through im2col·W against the
//! direct 7-loop definition with zero padding, and the adjoint identity
//! `<im2col(x), y> == <x, col2im(y)>`, on random geometries and strided inputs.

use crate::common;

use common::*;
use proptest::prelude::*;
use rand::RngExt;
use tensor::{Element, Tensor, Window2d, col2im, col2im_into, im2col, im2col_into};

/// Random convolution geometries: batch 1–3, channels 1–4, kernels 1–5 (height and width
/// independent), strides 1–3, padding 0–2, H and W up to 12 (at least the kernel minus
/// the padding, so there is an output position; possibly 0 when the padding alone fits).
fn geometries() -> impl Strategy<Value = Geometry> {
    (
        1usize..=3,
        1usize..=4,
        [1usize..=5, 1usize..=5],
        [1usize..=3, 1usize..=3],
        [0usize..=2, 0usize..=2],
        [0usize..=7, 0usize..=7],
    )
        .prop_map(|(n, c, kernel, stride, padding, extra)| {
            let h = kernel[0].saturating_sub(2 * padding[0]) + extra[0];
            let w = kernel[1].saturating_sub(2 * padding[1]) + extra[1];
            Geometry { n, c, h, w, window: Window2d { kernel, stride, padding } }
        })
}

/// The im2col matrix by its definition, as a reference.
fn naive_im2col<T: Element>(x: &Nd<T>, g: &Geometry) -> Nd<T> {
    let (oh, ow) = g.out_hw();
    let [kh, kw] = g.window.kernel;
    let mut data = Vec::new();
    for n in 0..g.n {
        for p in 0..oh {
            for q in 0..ow {
                for c in 0..g.c {
                    for i in 0..kh {
                        for j in 0..kw {
                            data.push(match (g.src(0, p, i), g.src(1, q, j)) {
                                (Some(h), Some(w)) => x.at(&[n, c, h, w]),
                                _ => T::zero(),
                            });
                        }
                    }
                }
            }
        }
    }
    Nd::new(&[g.n * oh * ow, g.c * kh * kw], data)
}

fn check_im2col_gather<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = any_view::<T>(&g.input_shape(), Values::Uniform, &mut rng);
    let cols = im2col(&x, &g.window).unwrap();
    assert_exact(&cols, &naive_im2col(&rx, &g))?;
    let dims = g.window.dims("test", &g.input_shape()).unwrap();
    prop_assert_eq!((dims.oh, dims.ow), g.out_hw());
    Ok(())
}

fn check_conv<T: Element>(g: Geometry, filters: usize, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = any_view::<T>(&g.input_shape(), Values::Uniform, &mut rng);
    let [kh, kw] = g.window.kernel;
    let taps = g.c * kh * kw;
    // W rows ordered (c, i, j); sometimes the transpose of an [F, taps] matrix.
    let (w, rw) = if rng.random_bool(0.5) {
        contiguous::<T>(&[taps, filters], Values::Uniform, &mut rng)
    } else {
        let (t, r) = contiguous::<T>(&[filters, taps], Values::Uniform, &mut rng);
        (t.t().unwrap(), r.permute(&[1, 0]))
    };
    let z = im2col(&x, &g.window).unwrap().matmul(&w).unwrap();
    let (oh, ow) = g.out_hw();
    // The direct convolution: 7 nested loops, zero padding.
    let rows = g.n * oh * ow;
    let mut want = vec![0.0; rows * filters];
    let mut scale = vec![0.0; rows * filters];
    for n in 0..g.n {
        for f in 0..filters {
            for p in 0..oh {
                for q in 0..ow {
                    let out = ((n * oh + p) * ow + q) * filters + f;
                    for c in 0..g.c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let h = (p * g.window.stride[0] + i) as isize - g.window.padding[0] as isize;
                                let v = (q * g.window.stride[1] + j) as isize - g.window.padding[1] as isize;
                                if h < 0 || v < 0 || h as usize >= g.h || v as usize >= g.w {
                                    continue;
                                }
                                let t = rx.at(&[n, c, h as usize, v as usize]).to_f64_exact()
                                    * rw.at(&[(c * kh + i) * kw + j, f]).to_f64_exact();
                                want[out] += t;
                                scale[out] += t.abs();
                            }
                        }
                    }
                }
            }
        }
    }
    let tol = (taps as f64 + 2.0) * eps::<T>();
    assert_close(&z, &Nd::new(&[rows, filters], want), Some(&Nd::new(&[rows, filters], scale)), tol)
}

fn check_adjoint<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = any_view::<T>(&g.input_shape(), Values::Uniform, &mut rng);
    let cols = im2col(&x, &g.window).unwrap();
    let (y, ry) = any_view::<T>(cols.shape(), Values::Uniform, &mut rng);
    let back = col2im(&y, &g.input_shape(), &g.window).unwrap();
    prop_assert_eq!(back.shape(), &g.input_shape()[..]);
    let cv = widen(&cols.to_vec());
    let yv = widen(&ry.data);
    let lhs: f64 = cv.iter().zip(&yv).map(|(a, b)| a * b).sum();
    let scale: f64 = cv.iter().zip(&yv).map(|(a, b)| (a * b).abs()).sum();
    let rhs: f64 = widen(&rx.data).iter().zip(widen(&back.to_vec())).map(|(a, b)| a * b).sum();
    prop_assert!(
        (lhs - rhs).abs() <= rel_tol::<T>() * (scale + f64::MIN_POSITIVE),
        "<im2col(x), y> = {} but <x, col2im(y)> = {} (scale {})",
        lhs,
        rhs,
        scale
    );
    Ok(())
}

fn check_col2im_scatter<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (oh, ow) = g.out_hw();
    let [kh, kw] = g.window.kernel;
    let shape = [g.n * oh * ow, g.c * kh * kw];
    let (y, ry) = any_view::<T>(&shape, Values::Uniform, &mut rng);
    // The naive scatter-add, in f64.
    let mut want = Nd::new(&g.input_shape(), vec![0.0; numel(&g.input_shape())]);
    let mut scale = want.clone();
    let mut count = vec![0usize; want.data.len()];
    for n in 0..g.n {
        for p in 0..oh {
            for q in 0..ow {
                for c in 0..g.c {
                    for i in 0..kh {
                        for j in 0..kw {
                            if let (Some(h), Some(w)) = (g.src(0, p, i), g.src(1, q, j)) {
                                let v = ry.at(&[(n * oh + p) * ow + q, (c * kh + i) * kw + j]).to_f64_exact();
                                let at = ravel(&[n, c, h, w], &g.input_shape());
                                want.data[at] += v;
                                scale.data[at] += v.abs();
                                count[at] += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    let overlap = count.iter().copied().max().unwrap_or(0);
    let got = col2im(&y, &g.input_shape(), &g.window).unwrap();
    assert_close(&got, &want, Some(&scale), (overlap as f64 + 1.0) * eps::<T>())?;
    // col2im_into overwrites whatever the output held, even through shared storage.
    let garbage = Tensor::<T>::full(&g.input_shape(), cast(7.0)).unwrap();
    let mut out = garbage.clone();
    col2im_into(&y, &g.window, &mut out).unwrap();
    prop_assert!(out == got);
    prop_assert!(garbage.iter().all(|v| v == cast(7.0)));
    Ok(())
}

fn check_im2col_into<T: Element>(g: Geometry, seed: u64) -> TestResult {
    let mut rng = rng(seed);
    let (x, rx) = any_view::<T>(&g.input_shape(), Values::Uniform, &mut rng);
    let want = naive_im2col(&rx, &g);
    let (garbage, rg) = any_view::<T>(&want.shape, Values::Uniform, &mut rng);
    let mut out = garbage.clone();
    im2col_into(&x, &g.window, &mut out).unwrap();
    assert_exact(&out, &want)?;
    assert_exact(&garbage, &rg)?;
    Ok(())
}

stamp_f32_f64! {
    fn im2col_matches_naive_gather(g in geometries(), seed in any::<u64>()) => check_im2col_gather;
    fn im2col_times_weights_is_the_direct_convolution(g in geometries(), filters in 1usize..=4, seed in any::<u64>())
        => check_conv;
    fn col2im_is_the_adjoint_of_im2col(g in geometries(), seed in any::<u64>()) => check_adjoint;
    fn col2im_matches_naive_scatter(g in geometries(), seed in any::<u64>()) => check_col2im_scatter;
    fn im2col_into_overwrites_its_output(g in geometries(), seed in any::<u64>()) => check_im2col_into;
}

#[test]
fn non_square_kernel_convolution_by_hand() {
    // A 1×1×3×4 input with a 2×3 kernel of ones, stride 1, no padding: each output is the
    // sum of a 2×3 block.
    let x = Tensor::<f64>::from_fn(&[1, 1, 3, 4], |i| (i[2] * 4 + i[3]) as f64).unwrap();
    let g = Window2d { kernel: [2, 3], stride: [1, 1], padding: [0, 0] };
    let cols = im2col(&x, &g).unwrap();
    assert_eq!(cols.shape(), &[2 * 2, 6]);
    assert_eq!(cols.select(0, 3).unwrap().to_vec(), vec![5.0, 6.0, 7.0, 9.0, 10.0, 11.0]);
    let z = cols.matmul(&Tensor::ones(&[6, 1]).unwrap()).unwrap();
    // Blocks: rows 0–1 × cols 0–2 = 0+1+2+4+5+6 = 18, then 24, then 42, 48.
    assert_eq!(z.to_vec(), vec![18.0, 24.0, 42.0, 48.0]);
    // Adjoint of the all-ones matrix counts how many windows cover each pixel.
    let cover = col2im(&Tensor::<f64>::ones(&[4, 6]).unwrap(), &[1, 1, 3, 4], &g).unwrap();
    assert_eq!(cover.to_vec(), vec![1.0, 2.0, 2.0, 1.0, 2.0, 4.0, 4.0, 2.0, 1.0, 2.0, 2.0, 1.0]);
}

#[test]
fn padding_taps_are_zero() {
    let x = Tensor::<f32>::ones(&[1, 1, 2, 2]).unwrap();
    let cols = im2col(&x, &Window2d::square(3, 1, 1)).unwrap();
    // Output 2×2; the first window (centred on (0,0)) sees the 4 ones at taps (1,1), (1,2),
    // (2,1), (2,2).
    assert_eq!(cols.shape(), &[4, 9]);
    assert_eq!(cols.select(0, 0).unwrap().to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    assert_eq!(cols.sum_all(), 16.0);
}
