//! The fused kernels (`conv2d`, `conv2d_backward`, their ReLU-fused `_activated` forms,
//! `conv2d_activated_backward_with` reading image sources and adding `∇x` into a sum,
//! `max_pool2d`, `max_pool2d_values`, `max_pool2d_backward`) against the definitions written as plain loops, on random geometries and on inputs laid
//! out contiguously, channels-last, or as a strided slice.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use tensor::{Activation, ConvInput, ImageSource, Tensor, Window2d};

/// A random geometry with at least one output position.
fn geometry() -> impl Strategy<Value = ([usize; 4], usize, Window2d, u8, u64)> {
    (
        1usize..=3,
        1usize..=4,
        1usize..=9,
        1usize..=9,
        1usize..=4,
        (1usize..=4, 1usize..=4),
        (1usize..=3, 1usize..=3),
        (0usize..=2, 0usize..=2),
        0u8..3,
        any::<u64>(),
    )
        .prop_map(|(n, c, h, w, f, (kh, kw), (sh, sw), (ph, pw), layout, seed)| {
            ([n, c, h, w], f, Window2d { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] }, layout, seed)
        })
        .prop_filter("kernel fits", |(s, _, g, _, _)| {
            s[2] + 2 * g.padding[0] >= g.kernel[0] && s[3] + 2 * g.padding[1] >= g.kernel[1]
        })
}

/// `values` (row-major over `shape`) as a tensor in one of three layouts: contiguous,
/// channels-last (an N×H×W×C buffer permuted), or a slice of a larger buffer.
fn laid_out(shape: [usize; 4], values: &[f64], layout: u8) -> Tensor<f64> {
    let [n, c, h, w] = shape;
    let at = |i: [usize; 4]| values[((i[0] * c + i[1]) * h + i[2]) * w + i[3]];
    match layout {
        0 => Tensor::from_vec(&shape, values.to_vec()).unwrap(),
        1 => Tensor::from_fn(&[n, h, w, c], |i| at([i[0], i[3], i[1], i[2]])).unwrap().permute(&[0, 3, 1, 2]).unwrap(),
        _ => Tensor::from_fn(&[n, c, h, w + 2], |i| {
            if i[3] >= 1 && i[3] <= w { at([i[0], i[1], i[2], i[3] - 1]) } else { 99.0 }
        })
        .unwrap()
        .narrow(3, 1, w)
        .unwrap(),
    }
}

fn out_size(size: usize, k: usize, s: usize, p: usize) -> usize {
    (size + 2 * p - k) / s + 1
}

/// The input coordinate of output `o`, tap `k`, or None in the padding.
fn src(o: usize, k: usize, s: usize, p: usize, size: usize) -> Option<usize> {
    (o * s + k).checked_sub(p).filter(|&x| x < size)
}

fn close(a: &[f64], b: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!((x - y).abs() <= 1e-10 * (1.0 + y.abs()), "element {}: {} vs {}", i, x, y);
    }
    Ok(())
}

/// `conv2d` and `conv2d_backward` against the definition as loops.
fn check_conv(shape: [usize; 4], f: usize, g: Window2d, layout: u8, seed: u64) -> Result<(), TestCaseError> {
    let [n, c, h, w] = shape;
    let [kh, kw] = g.kernel;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0..1.0)).collect::<Vec<f64>>();
    let xv = draw(n * c * h * w);
    let wv = draw(f * c * kh * kw);
    let bv = draw(f);
    let (oh, ow) = (out_size(h, kh, g.stride[0], g.padding[0]), out_size(w, kw, g.stride[1], g.padding[1]));
    let gv = draw(n * f * oh * ow);
    let x = laid_out(shape, &xv, layout);
    let weight = Tensor::from_vec(&[f, c, kh, kw], wv.clone()).unwrap();
    let bias = Tensor::from_vec(&[f], bv.clone()).unwrap();
    let grad = laid_out([n, f, oh, ow], &gv, (layout + 1) % 3);

    // y, ∇x, ∇W, ∇b for ∇z = gz by the definition, as loops.
    let loops = |gz: &[f64]| {
        let (mut y, mut gx, mut gw, mut gb) =
            (vec![0.0; n * f * oh * ow], vec![0.0; xv.len()], vec![0.0; wv.len()], vec![0.0; f]);
        for (ni, fi, oi, oj) in boxed(n, f, oh, ow) {
            let out = ((ni * f + fi) * oh + oi) * ow + oj;
            y[out] = bv[fi];
            gb[fi] += gz[out];
            for ci in 0..c {
                for i in 0..kh {
                    for j in 0..kw {
                        let (Some(hh), Some(ww)) =
                            (src(oi, i, g.stride[0], g.padding[0], h), src(oj, j, g.stride[1], g.padding[1], w))
                        else {
                            continue;
                        };
                        let xi = ((ni * c + ci) * h + hh) * w + ww;
                        let wi = ((fi * c + ci) * kh + i) * kw + j;
                        y[out] += xv[xi] * wv[wi];
                        gw[wi] += gz[out] * xv[xi];
                        gx[xi] += gz[out] * wv[wi];
                    }
                }
            }
        }
        (y, gx, gw, gb)
    };
    let (y, gx, gw, gb) = loops(&gv);
    let got = tensor::conv2d(&x, &weight, Some(&bias), &g).unwrap();
    prop_assert_eq!(got.shape(), &[n, f, oh, ow]);
    close(&got.to_vec(), &y)?;
    let grads = tensor::conv2d_backward(&x, &weight, &g, &grad, [true, true, true]).unwrap();
    close(&grads.input.unwrap().to_vec(), &gx)?;
    close(&grads.weight.unwrap().to_vec(), &gw)?;
    close(&grads.bias.unwrap().to_vec(), &gb)?;
    let only_w = tensor::conv2d_backward(&x, &weight, &g, &grad, [false, true, false]).unwrap();
    prop_assert!(only_w.input.is_none() && only_w.bias.is_none());
    close(&only_w.weight.unwrap().to_vec(), &gw)?;

    // With a fused ReLU: y = max(z, 0) and ∇z = ∇y ⊙ 1(z > 0).
    let relu = Some(Activation::Relu);
    let got = tensor::conv2d_activated(&x, &weight, Some(&bias), &g, relu).unwrap();
    close(&got.to_vec(), &y.iter().map(|&z| z.max(0.0)).collect::<Vec<_>>())?;
    let masked: Vec<f64> = gv.iter().zip(&y).map(|(&g, &z)| if z > 0.0 { g } else { 0.0 }).collect();
    let (_, gx, gw, gb) = loops(&masked);
    let output = laid_out([n, f, oh, ow], &got.to_vec(), layout);
    let grads = tensor::conv2d_activated_backward(&x, &weight, &g, &grad, Some((Activation::Relu, &output)), [true; 3])
        .unwrap();
    close(&grads.input.unwrap().to_vec(), &gx)?;
    close(&grads.weight.unwrap().to_vec(), &gw)?;
    close(&grads.bias.unwrap().to_vec(), &gb)?;
    let only_b = tensor::conv2d_activated_backward(
        &x,
        &weight,
        &g,
        &grad,
        Some((Activation::Relu, &output)),
        [false, false, true],
    )
    .unwrap();
    prop_assert!(only_b.input.is_none() && only_b.weight.is_none());
    close(&only_b.bias.unwrap().to_vec(), &gb)?;

    // The input read image by image from a source (the tensor's own images), and ∇x added
    // into a sum laid out as `layout`.
    let relu_y = Some((Activation::Relu, &output));
    let source = ConvInput::Images(&x as &dyn ImageSource<f64>);
    let read = tensor::conv2d_activated_backward_with(source, &weight, &g, &grad, relu_y, [true; 3], None).unwrap();
    close(&read.input.unwrap().to_vec(), &gx)?;
    close(&read.weight.unwrap().to_vec(), &gw)?;
    let base = draw(n * c * h * w);
    let mut sum = laid_out(shape, &base, layout);
    let into = Some(&mut sum);
    let added = tensor::conv2d_activated_backward_with(source, &weight, &g, &grad, relu_y, [true; 3], into).unwrap();
    prop_assert!(added.input.is_none());
    close(&added.weight.unwrap().to_vec(), &gw)?;
    close(&sum.to_vec(), &base.iter().zip(&gx).map(|(a, b)| a + b).collect::<Vec<_>>())?;
    let mut wrong = Tensor::<f64>::zeros(&[n + 1, c, h, w]).unwrap();
    let err = tensor::conv2d_activated_backward_with(source, &weight, &g, &grad, relu_y, [true; 3], Some(&mut wrong));
    prop_assert!(err.is_err(), "a sum of another shape is an error");
    Ok(())
}

/// `max_pool2d` and its VJP against the definition as loops (ties to the first maximum),
/// on `xv` laid out as `layout`.
fn check_pool(shape: [usize; 4], g: Window2d, layout: u8, xv: &[f64], seed: u64) -> Result<(), TestCaseError> {
    let [n, c, h, w] = shape;
    let mut rng = StdRng::seed_from_u64(seed);
    let (oh, ow) =
        (out_size(h, g.kernel[0], g.stride[0], g.padding[0]), out_size(w, g.kernel[1], g.stride[1], g.padding[1]));
    let gv: Vec<f64> = (0..n * c * oh * ow).map(|_| rng.random_range(-1.0..1.0)).collect();
    let x = laid_out(shape, xv, layout);
    let grad = laid_out([n, c, oh, ow], &gv, (layout + 2) % 3);

    let (mut y, mut gx) = (vec![f64::NEG_INFINITY; n * c * oh * ow], vec![0.0; xv.len()]);
    for (ni, ci, oi, oj) in boxed(n, c, oh, ow) {
        let out = ((ni * c + ci) * oh + oi) * ow + oj;
        let mut best = None;
        for i in 0..g.kernel[0] {
            for j in 0..g.kernel[1] {
                let (Some(hh), Some(ww)) =
                    (src(oi, i, g.stride[0], g.padding[0], h), src(oj, j, g.stride[1], g.padding[1], w))
                else {
                    continue;
                };
                let xi = ((ni * c + ci) * h + hh) * w + ww;
                if best.is_none_or(|b: usize| xv[xi] > xv[b]) {
                    best = Some(xi);
                }
            }
        }
        let b = best.expect("every window holds an input element");
        y[out] = xv[b];
        gx[b] += gv[out];
    }
    let (got, argmax) = tensor::max_pool2d(&x, &g).unwrap();
    prop_assert_eq!(got.shape(), &[n, c, oh, ow]);
    close(&got.to_vec(), &y)?;
    let values = tensor::max_pool2d_values(&x, &g).unwrap();
    prop_assert_eq!(values.shape(), &[n, c, oh, ow]);
    close(&values.to_vec(), &y)?;
    let back = tensor::max_pool2d_backward(&grad, &argmax).unwrap();
    prop_assert_eq!(back.shape(), &shape);
    close(&back.to_vec(), &gx)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn conv2d_and_its_vjp_match_the_definition((shape, f, g, layout, seed) in geometry()) {
        check_conv(shape, f, g, layout, seed)?;
    }

    /// Strides past the padded input along one or both axes (up to `usize::MAX`): one
    /// output position there, computed in time and memory bounded by the input (the
    /// phase-split scratch is sized by the clamped stride), and the same values as the
    /// definition.
    #[test]
    fn conv2d_with_a_stride_past_the_input_matches_the_definition(
        (shape, f, g, layout, seed) in geometry(),
        huge in prop_oneof![Just(usize::MAX), Just(1usize << 62), Just(1usize << 32), 10usize..=1000],
        axes in 1usize..=3,
    ) {
        let mut g = g;
        for axis in 0..2 {
            if axes & (1 << axis) != 0 {
                g.stride[axis] = huge;
            }
        }
        check_conv(shape, f, g, layout, seed)?;
        let pool = Window2d { padding: [g.padding[0].min(g.kernel[0] / 2), g.padding[1].min(g.kernel[1] / 2)], ..g };
        check_pool(shape, pool, layout, &distinct(shape, seed), seed)?;
    }

    /// No padding and unit column stride: im2col's whole-row copies.
    #[test]
    fn unpadded_conv2d_matches_the_definition((shape, f, g, layout, seed) in geometry()) {
        let g = Window2d { padding: [0, 0], stride: [g.stride[0], 1], ..g };
        prop_assume!(shape[2] >= g.kernel[0] && shape[3] >= g.kernel[1]);
        check_conv(shape, f, g, layout, seed)?;
    }

    /// One output position covering the whole input (a fully connected layer as a
    /// convolution, LeNet's C5): the input is its own im2col matrix, one product per block;
    /// up to 300 images, so that several blocks are used.
    #[test]
    fn whole_input_conv2d_matches_the_definition(
        (n, c, h, w, f, layout, seed) in (1usize..=300, 1usize..=16, 1usize..=5, 1usize..=5, 1usize..=8, 0u8..3, any::<u64>())
    ) {
        let g = Window2d { kernel: [h, w], stride: [1, 1], padding: [0, 0] };
        check_conv([n, c, h, w], f, g, layout, seed)?;
    }

    /// Images large enough that each block holds one or two of them: the padded scratch
    /// and the adjoint's block are reused across blocks of different sizes.
    #[test]
    fn conv2d_over_several_blocks_matches_the_definition(
        (n, c, h, w, f, k, s, pad, layout, seed) in
            (2usize..=7, 10usize..=16, 14usize..=20, 14usize..=20, 1usize..=5, 2usize..=3, 1usize..=2, 0usize..=2, 0u8..3, any::<u64>())
    ) {
        check_conv([n, c, h, w], f, Window2d::square(k, s, pad), layout, seed)?;
    }

    #[test]
    fn max_pool2d_and_its_vjp_match_the_definition((shape, _f, g, layout, seed) in geometry()) {
        let g = Window2d { padding: [g.padding[0].min(g.kernel[0] / 2), g.padding[1].min(g.kernel[1] / 2)], ..g };
        check_pool(shape, g, layout, &distinct(shape, seed), seed)?;
    }

    /// Any window, padded or not, with many ties (values from a set of three): the first
    /// maximum in the window's row-major order wins, in the unrolled 3×3 and 2×2 scans and
    /// in the clipped one alike.
    #[test]
    fn max_pool2d_ties_go_to_the_first_maximum_in_any_window((shape, _f, g, layout, seed) in geometry()) {
        let g = Window2d { padding: [g.padding[0].min(g.kernel[0] / 2), g.padding[1].min(g.kernel[1] / 2)], ..g };
        let mut rng = StdRng::seed_from_u64(seed);
        let xv: Vec<f64> = (0..shape.iter().product::<usize>()).map(|_| f64::from(rng.random_range(0..3u8))).collect();
        check_pool(shape, g, layout, &xv, seed)?;
    }

    /// LeNet's 2×2 stride-2 pooling (its own loop), on even and odd sizes, with many ties
    /// (values from a set of three), which go to the first maximum.
    #[test]
    fn max_pool_2x2_matches_the_definition_with_ties(
        (n, c, h, w, layout, seed) in (1usize..=3, 1usize..=4, 2usize..=11, 2usize..=11, 0u8..3, any::<u64>())
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let xv: Vec<f64> = (0..n * c * h * w).map(|_| f64::from(rng.random_range(0..3u8))).collect();
        check_pool([n, c, h, w], Window2d::square(2, 2, 0), layout, &xv, seed)?;
        check_pool([n, c, h, w], Window2d::square(2, 2, 0), layout, &distinct([n, c, h, w], seed), seed)?;
    }
}

/// Distinct shuffled values, so every window has one maximum.
fn distinct(shape: [usize; 4], seed: u64) -> Vec<f64> {
    let mut xv: Vec<f64> = (0..shape.iter().product::<usize>()).map(|k| k as f64 * 0.5 - 3.0).collect();
    xv.shuffle(&mut StdRng::seed_from_u64(seed));
    xv
}

/// A NaN in a window wins it (the first NaN when there are several), in both pooling loops.
#[test]
fn max_pool2d_nan_wins_its_window() {
    let nan = f32::NAN;
    let x = Tensor::from_vec(&[1, 1, 2, 4], vec![1.0, nan, 5.0, nan, nan, 2.0, 7.0, nan]).unwrap();
    for window in [Window2d::square(2, 2, 0), Window2d { kernel: [2, 2], stride: [2, 2], padding: [1, 0] }] {
        let (y, argmax) = tensor::max_pool2d(&x, &window).unwrap();
        let values = tensor::max_pool2d_values(&x, &window).unwrap().to_vec();
        assert!(values.iter().zip(y.to_vec()).all(|(a, b)| a.to_bits() == b.to_bits()), "{window:?}");
        let ones = Tensor::from_vec(y.shape(), vec![1.0; y.numel()]).unwrap();
        let back = tensor::max_pool2d_backward(&ones, &argmax).unwrap().to_vec();
        if window.padding == [0, 0] {
            assert!(y.to_vec().iter().all(|v| v.is_nan()), "{window:?}: {y}");
            assert_eq!(back, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], "{window:?}");
        } else {
            // Rows: the padding row with input row 0, then input row 1 alone.
            assert_eq!(y.shape(), &[1, 1, 2, 2]);
            let y = y.to_vec();
            assert!(y[0].is_nan() && y[1].is_nan() && y[2].is_nan() && y[3].is_nan(), "{y:?}");
            assert_eq!(back, vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0], "{window:?}");
        }
    }
}

/// Max-pool ties go to the first maximum of the window in row-major order.
#[test]
fn max_pool2d_ties_go_to_the_first_maximum() {
    let x = Tensor::from_vec(&[1, 1, 2, 2], vec![1.0f32, 3.0, 3.0, 3.0]).unwrap();
    let (y, argmax) = tensor::max_pool2d(&x, &Window2d::square(2, 2, 0)).unwrap();
    assert_eq!(y.to_vec(), vec![3.0]);
    let back = tensor::max_pool2d_backward(&Tensor::from_vec(&[1, 1, 1, 1], vec![1.0]).unwrap(), &argmax).unwrap();
    assert_eq!(back.to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
}

/// Every (a, b, c, d) index of a 4-D box in row-major order.
fn boxed(a: usize, b: usize, c: usize, d: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..a).flat_map(move |i| (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l)))))
}

/// An input broadcast along its width (stride 0, as `broadcast_to` makes) convolves like its
/// contiguous copy; the im2col block builder stepped through it with `step_by(0)` and
/// panicked (found by the op catalogue's layout check).
#[test]
fn conv2d_of_a_broadcast_input_is_that_of_its_copy() {
    let column = Tensor::from_vec(&[1, 2, 3, 1], vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75]).unwrap();
    let x = column.broadcast_to(&[1, 2, 3, 4]).unwrap();
    assert_eq!(x.strides()[3], 0);
    let w = Tensor::from_vec(&[2, 2, 2, 2], (0..16).map(|i| f64::from(i) / 8.0 - 1.0).collect()).unwrap();
    for window in [Window2d::square(2, 1, 0), Window2d { kernel: [2, 2], stride: [1, 2], padding: [1, 1] }] {
        let from_view = tensor::conv2d(&x, &w, None, &window).unwrap();
        let from_copy = tensor::conv2d(&x.to_contiguous(), &w, None, &window).unwrap();
        assert_eq!(from_view.to_vec(), from_copy.to_vec(), "{window:?}");
    }
}

/// The inference form is the plain op's bits, call after call, and follows a weight changed
/// in place (its kept packing or Winograd transform made again): the direct kernels, both
/// Winograd tilings, stride 2 and a 5×5 window.
#[test]
fn conv2d_inference_is_conv2d_activated_and_follows_its_weight() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut random = |shape: &[usize]| {
        let n = shape.iter().product();
        Tensor::<f32>::from_vec(shape, (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()).unwrap()
    };
    let (same, s2, five) = (Window2d::square(3, 1, 1), Window2d::square(3, 2, 1), Window2d::square(5, 1, 2));
    for (c, f, side, window) in
        [(3, 16, 12, same), (16, 24, 20, same), (16, 16, 8, same), (8, 16, 9, s2), (4, 8, 7, five)]
    {
        let x = random(&[2, c, side, side]);
        let mut w = random(&[f, c, window.kernel[0], window.kernel[1]]);
        let b = random(&[f]);
        let mut before = Vec::new();
        for _ in 0..2 {
            let want = tensor::conv2d_activated(&x, &w, Some(&b), &window, Some(Activation::Relu)).unwrap();
            let held = w.clone();
            for _ in 0..2 {
                let y = tensor::conv2d_inference(&x, &held, Some(&b), &window, Some(Activation::Relu)).unwrap();
                assert_eq!(y.to_vec(), want.to_vec(), "{window:?} {c}→{f} on {side}×{side}");
            }
            assert_ne!(want.to_vec(), before);
            before = want.to_vec();
            w.as_mut_slice().iter_mut().for_each(|v| *v = -*v * 0.5);
        }
    }
}
