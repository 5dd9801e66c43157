//! The pooling fused into the direct convolution's output pass (`conv2d_pooled`) on random
//! geometries, every kernel set: the same bits as the unfused direct convolution followed
//! by the pooling op, and within the rounding bound of the f64 im2col convolution pooled in
//! f64 (an independent path).

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::pooled::Pool;
use super::tests::{Case, abs, case, close, f64s, kernel_sets, laid_out, winograd_case};
use crate::activation::Activation;
use crate::conv_pool::{Pooling, conv2d_pooled};
use crate::tensor::Tensor;
use crate::window::Window2d;

/// A convolution (any geometry, or one Winograd takes) and a pooling whose windows fit its
/// output: max or average, kernel 1–3, stride 1–3, padding up to half the kernel; a fifth
/// of them the 2×2 window of stride 2 (which Winograd's output pass pools itself), and a
/// fifth the overlapping 3×3 window of stride 2 (each has its own monomorph of the pooling
/// pass).
fn pooled_case() -> impl Strategy<Value = (Case, Pooling)> {
    let window = ((1usize..=3, 1usize..=3), (1usize..=3, 1usize..=3), any::<[bool; 2]>()).prop_map(
        |((kh, kw), (sh, sw), [ph, pw])| {
            let padding = [usize::from(ph) * (kh / 2), usize::from(pw) * (kw / 2)];
            Window2d { kernel: [kh, kw], stride: [sh, sw], padding }
        },
    );
    let window = prop_oneof![3 => window, 1 => Just(Window2d::square(2, 2, 0)), 1 => Just(Window2d::square(3, 2, 0))];
    (prop_oneof![case(), winograd_case()], any::<bool>(), window)
        .prop_map(|(case, max, w)| (case, if max { Pooling::Max(w) } else { Pooling::Average(w) }))
        .prop_filter("the pooling fits the convolution's output", |(case, pooling)| {
            let d = case.window.dims("test", &case.shape).unwrap();
            pooling.window().pool_dims("test", &[1, case.filters, d.oh, d.ow]).is_ok()
        })
}

fn check(case: &Case, pooling: &Pooling) -> Result<(), TestCaseError> {
    let [n, c, h, w] = case.shape;
    let (f, g) = (case.filters, case.window);
    let d = g.dims("test", &case.shape).unwrap();
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let (xv, wv, bv) = (draw(n * c * h * w), draw(f * c * g.kernel_area()), draw(f));
    let x = laid_out(case.shape, &xv, case.layout);
    let weight = Tensor::from_vec(&[f, c, g.kernel[0], g.kernel[1]], wv.clone()).unwrap();
    let bias = Tensor::from_vec(&[f], bv.clone()).unwrap();
    let mut dims = pooling.window().pool_dims("test", &[n, f, d.oh, d.ow]).unwrap();
    let shape = [n, f, dims.oh, dims.ow];
    dims.n = 1;
    let pool = Pool { pooling, dims };

    // The f64 reference: the im2col convolution, the activation and the pooling in f64;
    // the bound from the convolution of absolute values, max-pooled (a maximum and an
    // average each move by at most the largest error of their window's taps), plus the
    // average's own sum.
    let x64 = laid_out(case.shape, &f64s(&xv), case.layout);
    let (w64, b64) = (Tensor::from_vec(weight.shape(), f64s(&wv)).unwrap(), Tensor::from_vec(&[f], f64s(&bv)).unwrap());
    let (ax, aw, ab) = (
        Tensor::from_vec(&case.shape, abs(&xv)).unwrap(),
        Tensor::from_vec(weight.shape(), abs(&wv)).unwrap(),
        Tensor::from_vec(&[f], abs(&bv)).unwrap(),
    );
    let bound = crate::conv2d(&ax, &aw, Some(&ab), &g).unwrap();
    let bound = Pooling::Max(*pooling.window()).apply(&bound).unwrap().to_vec();
    let terms = 8 * c * g.kernel_area() + pooling.window().kernel_area();

    for act in [None, Some(Activation::Relu)] {
        let want64 = pooling.apply(&crate::conv2d_activated(&x64, &w64, Some(&b64), &g, act).unwrap()).unwrap();
        for k in kernel_sets() {
            let what = format!("{k:?} {pooling:?} {act:?}");
            let got = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, None, Some(&pool), None, false).unwrap();
            prop_assert_eq!(got.shape(), &shape);
            let unfused = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, None, None, None, false).unwrap();
            let want = pooling.apply(&unfused).unwrap();
            let (got, want) = (got.to_vec(), want.to_vec());
            let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
            prop_assert!(same, "{}: fused {:?} vs unfused {:?}", what, got, want);
            close(&what, &got, &want64.to_vec(), &bound, terms)?;
        }
    }
    // The public entry point on the selected path, and on f64 (the unfused ops).
    let act = Some(Activation::Relu);
    let got = conv2d_pooled(&x, &weight, Some(&bias), &g, act, pooling).unwrap();
    let want = pooling.apply(&crate::conv2d_activated(&x, &weight, Some(&bias), &g, act).unwrap()).unwrap();
    prop_assert_eq!(got.to_vec(), want.to_vec());
    let got64 = conv2d_pooled(&x64, &w64, Some(&b64), &g, act, pooling).unwrap();
    let want64 = pooling.apply(&crate::conv2d_activated(&x64, &w64, Some(&b64), &g, act).unwrap()).unwrap();
    prop_assert_eq!(got64.to_vec(), want64.to_vec());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 160 }))]

    #[test]
    fn pooling_in_the_output_pass_matches_the_unfused_ops(case in pooled_case()) {
        check(&case.0, &case.1)?;
    }
}

/// Errors name the op: a pooling window larger than the convolution's output, and a bias
/// of the wrong length.
#[test]
fn conv2d_pooled_rejects_what_does_not_fit() {
    let x = Tensor::<f32>::zeros(&[2, 3, 6, 6]).unwrap();
    let weight = Tensor::<f32>::zeros(&[4, 3, 3, 3]).unwrap();
    let g = Window2d::square(3, 1, 0);
    let too_big = Pooling::Max(Window2d::square(5, 1, 0));
    let e = conv2d_pooled(&x, &weight, None, &g, None, &too_big).unwrap_err().to_string();
    assert!(e.contains("conv2d_pooled"), "{e}");
    let bias = Tensor::<f32>::zeros(&[5]).unwrap();
    let e = conv2d_pooled(&x, &weight, Some(&bias), &g, None, &Pooling::Average(Window2d::square(2, 2, 0)));
    assert!(e.unwrap_err().to_string().contains("conv2d_pooled"));
    let ok = conv2d_pooled(&x, &weight, None, &g, None, &Pooling::Average(Window2d::square(2, 2, 0))).unwrap();
    assert_eq!(ok.shape(), &[2, 4, 2, 2]);
}

/// Windows that meet a NaN (from a NaN input, spread by the convolution) or an infinity
/// give the unfused ops' bits: the first NaN of the window wins a maximum.
#[test]
fn nans_and_infinities_pool_as_the_unfused_ops() {
    // 3 channels in: the direct kernels; 16: Winograd.
    for c in [3, 16] {
        nans_pool_as_the_unfused_ops(c);
    }
}

fn nans_pool_as_the_unfused_ops(c: usize) {
    let (n, f, side) = (2, 19, 9);
    let mut rng = StdRng::seed_from_u64(7);
    let mut xv: Vec<f32> = (0..n * c * side * side).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    for (i, v) in [(5, f32::NAN), (40, -f32::NAN), (200, f32::INFINITY), (333, f32::NEG_INFINITY), (470, f32::NAN)] {
        xv[i] = v;
    }
    let x = Tensor::from_vec(&[n, c, side, side], xv).unwrap();
    let wv: Vec<f32> = (0..f * c * 9).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let weight = Tensor::from_vec(&[f, c, 3, 3], wv).unwrap();
    let bias = Tensor::from_vec(&[f], (0..f).map(|i| i as f32 / 10.0 - 1.0).collect()).unwrap();
    let g = Window2d::square(3, 1, 1);
    let d = g.dims("test", x.shape()).unwrap();
    for pooling in [
        Pooling::Max(Window2d::square(2, 2, 0)),
        Pooling::Max(Window2d::square(3, 2, 0)),
        Pooling::Average(Window2d::square(2, 2, 0)),
    ] {
        let mut dims = pooling.window().pool_dims("test", &[n, f, d.oh, d.ow]).unwrap();
        dims.n = 1;
        let pool = Pool { pooling: &pooling, dims };
        for act in [None, Some(Activation::Relu)] {
            for k in kernel_sets() {
                let got = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, None, Some(&pool), None, false)
                    .unwrap()
                    .to_vec();
                let unfused =
                    super::forward(k, &x, &weight, Some(&bias), &g, &d, act, None, None, None, false).unwrap();
                let want = pooling.apply(&unfused).unwrap().to_vec();
                assert!(got.iter().any(|v| v.is_nan()), "{k:?} {pooling:?}: the NaNs reach the output");
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(a.to_bits(), b.to_bits(), "{k:?} {pooling:?} {act:?} element {i}: {a} vs {b}");
                }
            }
        }
    }
}
