//! A convolution taken into the convolution before it (`conv2d_pair`) on random
//! geometries, every kernel set: within the rounding bound of the two convolutions by the
//! f64 im2col path (an independent path), and for a 1×1 second convolution of stride 1
//! without padding the same bits as the two direct convolutions one after the other (and
//! the pooling op).

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::pooled::Pool;
use super::tests::{Case, abs, case, close, f64s, kernel_sets, laid_out};
use crate::activation::Activation;
use crate::conv_pair::{SecondConv, conv2d_pair};
use crate::conv_pool::Pooling;
use crate::tensor::Tensor;
use crate::window::Window2d;

/// A convolution, the second convolution's filters (1–40) and window (1×1 of stride 1
/// without padding half the time, else a kernel of 1–4, stride 1–3, padding 0–2), and
/// maybe a pooling (a 2×2 max or average of stride 2, which the output pass pools in the
/// block, or a 3×3 max of stride 2).
fn pair_case() -> impl Strategy<Value = (Case, usize, Window2d, Option<Pooling>)> {
    let pooling = prop_oneof![
        2 => Just(None),
        1 => Just(Some(Pooling::Max(Window2d::square(2, 2, 0)))),
        1 => Just(Some(Pooling::Average(Window2d::square(2, 2, 0)))),
        1 => Just(Some(Pooling::Max(Window2d::square(3, 2, 0)))),
    ];
    let any = ((1usize..=4, 1usize..=4), (1usize..=3, 1usize..=3), (0usize..=2, 0usize..=2))
        .prop_map(|((kh, kw), (sh, sw), (ph, pw))| Window2d { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] });
    let window = prop_oneof![1 => Just(Window2d::square(1, 1, 0)), 1 => any];
    (case(), 1usize..=40, window, pooling).prop_filter(
        "the second window and the pooling fit",
        |(case, f2, g2, pooling)| {
            let d = case.window.dims("test", &case.shape).unwrap();
            let Ok(d2) = g2.dims("test", &[1, case.filters, d.oh, d.ow]) else { return false };
            pooling.is_none_or(|p| p.window().pool_dims("test", &[1, *f2, d2.oh, d2.ow]).is_ok())
        },
    )
}

fn check(case: &Case, f2: usize, g2: Window2d, pooling: Option<&Pooling>) -> Result<(), TestCaseError> {
    let [n, c, h, w] = case.shape;
    let (f, g, a2) = (case.filters, case.window, g2.kernel_area());
    let d = g.dims("test", &case.shape).unwrap();
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let (xv, wv, bv, w2v, b2v) =
        (draw(n * c * h * w), draw(f * c * g.kernel_area()), draw(f), draw(f2 * f * a2), draw(f2));
    let x = laid_out(case.shape, &xv, case.layout);
    let weight = Tensor::from_vec(&[f, c, g.kernel[0], g.kernel[1]], wv.clone()).unwrap();
    let bias = Tensor::from_vec(&[f], bv.clone()).unwrap();
    let w2 = Tensor::from_vec(&[f2, f, g2.kernel[0], g2.kernel[1]], w2v.clone()).unwrap();
    let b2 = Tensor::from_vec(&[f2], b2v.clone()).unwrap();
    let mid = [n, f, d.oh, d.ow];
    let d2 = g2.dims("test", &mid).unwrap();
    let pool = pooling.map(|pooling| {
        let mut dims = pooling.window().pool_dims("test", &[n, f2, d2.oh, d2.ow]).unwrap();
        dims.n = 1;
        Pool { pooling, dims }
    });
    let pooled = |y: Tensor<f64>| pooling.map_or(Ok(y.clone()), |p| p.apply(&y)).unwrap();

    // The f64 reference and its bound: the second convolution of the first one's absolute
    // bound (an activation and a pooling move an error by no more than it is).
    let x64 = laid_out(case.shape, &f64s(&xv), case.layout);
    let t64 = |v: &[f32], shape: &[usize]| Tensor::from_vec(shape, f64s(v)).unwrap();
    let (w64, b64, w264, b264) = (t64(&wv, weight.shape()), t64(&bv, &[f]), t64(&w2v, w2.shape()), t64(&b2v, &[f2]));
    let a = |v: &[f32], shape: &[usize]| Tensor::from_vec(shape, abs(v)).unwrap();
    let first = crate::conv2d(&a(&xv, &case.shape), &a(&wv, weight.shape()), Some(&a(&bv, &[f])), &g).unwrap();
    let bound = crate::conv2d(&first, &a(&w2v, w2.shape()), Some(&a(&b2v, &[f2])), &g2).unwrap();
    let bound = pooling.map_or(Ok(bound.clone()), |p| Pooling::Max(*p.window()).apply(&bound)).unwrap().to_vec();
    let terms = 8 * (c * g.kernel_area() + f * a2) + pooling.map_or(0, |p| p.window().kernel_area());

    for act in [None, Some(Activation::Relu)] {
        let y64 = crate::conv2d_activated(&x64, &w64, Some(&b64), &g, act).unwrap();
        let want64 = pooled(crate::conv2d_activated(&y64, &w264, Some(&b264), &g2, act).unwrap());
        let takes = |k| super::takes_next(k, (&g, &d, f), (&g2, &d2, f2));
        for k in kernel_sets().into_iter().filter(|&k| takes(k)) {
            let what = format!("{k:?} {g2:?} {pooling:?} {act:?}");
            let then = SecondConv { weight: &w2, bias: Some(&b2), window: g2, act };
            let got = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, Some(&then), pool.as_ref(), None, false)
                .unwrap();
            let y = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, None, None, None, false).unwrap();
            let want = super::forward(k, &y, &w2, Some(&b2), &g2, &d2, act, None, pool.as_ref(), None, false).unwrap();
            prop_assert_eq!(got.shape(), want.shape());
            let (got, want) = (got.to_vec(), want.to_vec());
            if g2 == Window2d::square(1, 1, 0) {
                let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                prop_assert!(same, "{}: fused {:?} vs unfused {:?}", what, got, want);
            }
            close(&what, &got, &want64.to_vec(), &bound, terms)?;
        }
    }
    // The public entry point on the selected path against the f64 reference (and the
    // unfused public ops' bits for a 1×1 second convolution), and on f64 against the
    // unfused ops.
    let act = Some(Activation::Relu);
    let second = SecondConv { weight: &w2, bias: Some(&b2), window: g2, act };
    let got = conv2d_pair(&x, &weight, Some(&bias), &g, act, &second, pooling).unwrap();
    let y64 = crate::conv2d_activated(&x64, &w64, Some(&b64), &g, act).unwrap();
    let want64 = pooled(crate::conv2d_activated(&y64, &w264, Some(&b264), &g2, act).unwrap());
    close("conv2d_pair", &got.to_vec(), &want64.to_vec(), &bound, terms)?;
    if g2 == Window2d::square(1, 1, 0) {
        let y = crate::conv2d_activated(&x, &weight, Some(&bias), &g, act).unwrap();
        let want = crate::conv2d_activated(&y, &w2, Some(&b2), &g2, act).unwrap();
        let want = pooling.map_or(Ok(want.clone()), |p| p.apply(&want)).unwrap();
        prop_assert_eq!(got.to_vec(), want.to_vec());
    }
    let second64 = SecondConv { weight: &w264, bias: Some(&b264), window: g2, act };
    let got64 = conv2d_pair(&x64, &w64, Some(&b64), &g, act, &second64, pooling).unwrap();
    prop_assert_eq!(got64.to_vec(), want64.to_vec());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 160 }))]

    #[test]
    fn a_convolution_taken_in_matches_the_two_ops(case in pair_case()) {
        check(&case.0, case.1, case.2, case.3.as_ref())?;
    }
}

/// The grid's pairs are taken in on every kernel set: 16 filters (a whole vector or two)
/// then a 1×1 convolution of 8, and 16 filters of stride 2 then 32 of stride 2 (a pixel
/// step of 32 floats: 16 filters are two vectors of AVX2, one of AVX-512).
#[test]
fn the_grid_pairs_are_taken_in() {
    let dims = |g: Window2d, shape: [usize; 4]| g.dims("test", &shape).unwrap();
    let (g, one) = (Window2d::square(3, 1, 1), Window2d::square(1, 1, 0));
    let (d, d2) = (dims(g, [2, 1, 28, 28]), dims(one, [2, 16, 28, 28]));
    let s2 = Window2d::square(3, 2, 1);
    let (e, e2) = (dims(s2, [2, 1, 28, 28]), dims(s2, [2, 16, 14, 14]));
    for k in kernel_sets() {
        assert!(super::takes_next(k, (&g, &d, 16), (&one, &d2, 8)), "{k:?}");
        assert!(super::takes_next(k, (&s2, &e, 16), (&s2, &e2, 32)), "{k:?}");
    }
}

/// The runs of pixels of the fused pass are whole tiles on every kernel set and width, so
/// that only an image's last run rounds up past its pixels.
#[test]
fn pointwise_runs_are_whole_tiles() {
    for k in kernel_sets() {
        for fv in 1..=k.max_fv() {
            assert_eq!(k.tiled(super::then::POINTWISE_RUN, fv), super::then::POINTWISE_RUN, "{k:?} {fv}");
        }
    }
}

/// Errors name the op: a second weight larger than the padded input or that does not take
/// the first one's filters, a bias of the wrong length, a pooling larger than the output.
#[test]
fn conv2d_pair_rejects_what_does_not_fit() {
    let x = Tensor::<f32>::zeros(&[2, 3, 6, 6]).unwrap();
    let weight = Tensor::<f32>::zeros(&[4, 3, 3, 3]).unwrap();
    let g = Window2d::square(3, 1, 0);
    let wide = Tensor::<f32>::zeros(&[5, 4, 5, 5]).unwrap();
    let wrong_c = Tensor::<f32>::zeros(&[5, 3, 1, 1]).unwrap();
    let ok = Tensor::<f32>::zeros(&[5, 4, 1, 1]).unwrap();
    let bias = Tensor::<f32>::zeros(&[6]).unwrap();
    let too_big = Pooling::Max(Window2d::square(5, 1, 0));
    for (w2, b2, pooling) in
        [(&wide, None, None), (&wrong_c, None, None), (&ok, Some(&bias), None), (&ok, None, Some(&too_big))]
    {
        let second = SecondConv { weight: w2, bias: b2, window: Window2d::square(w2.shape()[2], 1, 0), act: None };
        let e = conv2d_pair(&x, &weight, None, &g, None, &second, pooling).unwrap_err().to_string();
        assert!(e.contains("conv2d_pair"), "{e}");
    }
    let second = SecondConv { weight: &ok, bias: None, window: Window2d::square(1, 1, 0), act: None };
    assert_eq!(conv2d_pair(&x, &weight, None, &g, None, &second, None).unwrap().shape(), &[2, 5, 4, 4]);
    let strided = Tensor::<f32>::zeros(&[5, 4, 3, 3]).unwrap();
    let second = SecondConv { weight: &strided, bias: None, window: Window2d::square(3, 2, 1), act: None };
    assert_eq!(conv2d_pair(&x, &weight, None, &g, None, &second, None).unwrap().shape(), &[2, 5, 2, 2]);
}
