//! A 1×1 convolution taken into the convolution before it (`conv2d_pointwise`) on random
//! geometries, every kernel set: the same bits as the two direct convolutions one after the
//! other (and the pooling op), and within the rounding bound of the two convolutions by the
//! f64 im2col path (an independent path).

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::pooled::Pool;
use super::tests::{Case, abs, case, close, f64s, kernel_sets, laid_out};
use crate::activation::Activation;
use crate::conv_pointwise::{Pointwise, conv2d_pointwise};
use crate::conv_pool::Pooling;
use crate::tensor::Tensor;
use crate::window::Window2d;

/// A convolution, the 1×1 convolution's filters (1–40), and maybe a pooling (a 2×2 max or
/// average of stride 2, which the output pass pools in the block, or a 3×3 max of stride 2).
fn pointwise_case() -> impl Strategy<Value = (Case, usize, Option<Pooling>)> {
    let pooling = prop_oneof![
        2 => Just(None),
        1 => Just(Some(Pooling::Max(Window2d::square(2, 2, 0)))),
        1 => Just(Some(Pooling::Average(Window2d::square(2, 2, 0)))),
        1 => Just(Some(Pooling::Max(Window2d::square(3, 2, 0)))),
    ];
    (case(), 1usize..=40, pooling).prop_filter("the pooling fits the output", |(case, f2, pooling)| {
        let d = case.window.dims("test", &case.shape).unwrap();
        pooling.is_none_or(|p| p.window().pool_dims("test", &[1, *f2, d.oh, d.ow]).is_ok())
    })
}

fn check(case: &Case, f2: usize, pooling: Option<&Pooling>) -> Result<(), TestCaseError> {
    let [n, c, h, w] = case.shape;
    let (f, g, one) = (case.filters, case.window, Window2d::square(1, 1, 0));
    let d = g.dims("test", &case.shape).unwrap();
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let (xv, wv, bv, w2v, b2v) = (draw(n * c * h * w), draw(f * c * g.kernel_area()), draw(f), draw(f2 * f), draw(f2));
    let x = laid_out(case.shape, &xv, case.layout);
    let weight = Tensor::from_vec(&[f, c, g.kernel[0], g.kernel[1]], wv.clone()).unwrap();
    let bias = Tensor::from_vec(&[f], bv.clone()).unwrap();
    let w2 = Tensor::from_vec(&[f2, f, 1, 1], w2v.clone()).unwrap();
    let b2 = Tensor::from_vec(&[f2], b2v.clone()).unwrap();
    let mid = [n, f, d.oh, d.ow];
    let d2 = one.dims("test", &mid).unwrap();
    let pool = pooling.map(|pooling| {
        let mut dims = pooling.window().pool_dims("test", &[n, f2, d.oh, d.ow]).unwrap();
        dims.n = 1;
        Pool { pooling, dims }
    });
    let pooled = |y: Tensor<f64>| pooling.map_or(Ok(y.clone()), |p| p.apply(&y)).unwrap();

    // The f64 reference and its bound: the second convolution of the first one's absolute
    // bound (an activation and a pooling move an error by no more than it is).
    let x64 = laid_out(case.shape, &f64s(&xv), case.layout);
    let t64 = |v: &[f32], shape: &[usize]| Tensor::from_vec(shape, f64s(v)).unwrap();
    let (w64, b64, w264, b264) =
        (t64(&wv, weight.shape()), t64(&bv, &[f]), t64(&w2v, &[f2, f, 1, 1]), t64(&b2v, &[f2]));
    let a = |v: &[f32], shape: &[usize]| Tensor::from_vec(shape, abs(v)).unwrap();
    let first = crate::conv2d(&a(&xv, &case.shape), &a(&wv, weight.shape()), Some(&a(&bv, &[f])), &g).unwrap();
    let bound = crate::conv2d(&first, &a(&w2v, &[f2, f, 1, 1]), Some(&a(&b2v, &[f2])), &one).unwrap();
    let bound = pooling.map_or(Ok(bound.clone()), |p| Pooling::Max(*p.window()).apply(&bound)).unwrap().to_vec();
    let terms = 8 * (c * g.kernel_area() + f) + pooling.map_or(0, |p| p.window().kernel_area());

    for act in [None, Some(Activation::Relu)] {
        let y64 = crate::conv2d_activated(&x64, &w64, Some(&b64), &g, act).unwrap();
        let want64 = pooled(crate::conv2d_activated(&y64, &w264, Some(&b264), &one, act).unwrap());
        for k in kernel_sets().into_iter().filter(|&k| super::takes_pointwise(k, &g, &d, f)) {
            let what = format!("{k:?} {pooling:?} {act:?}");
            let then = Pointwise { weight: &w2, bias: Some(&b2), act };
            let got = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, Some(&then), pool.as_ref()).unwrap();
            let y = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, None, None).unwrap();
            let want = super::forward(k, &y, &w2, Some(&b2), &one, &d2, act, None, pool.as_ref()).unwrap();
            prop_assert_eq!(got.shape(), want.shape());
            let (got, want) = (got.to_vec(), want.to_vec());
            let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
            prop_assert!(same, "{}: fused {:?} vs unfused {:?}", what, got, want);
            close(&what, &got, &want64.to_vec(), &bound, terms)?;
        }
    }
    // The public entry point on the selected path against the unfused public ops, and on f64.
    let act = Some(Activation::Relu);
    let next = Pointwise { weight: &w2, bias: Some(&b2), act };
    let got = conv2d_pointwise(&x, &weight, Some(&bias), &g, act, &next, pooling).unwrap();
    let y = crate::conv2d_activated(&x, &weight, Some(&bias), &g, act).unwrap();
    let want = crate::conv2d_activated(&y, &w2, Some(&b2), &one, act).unwrap();
    let want = pooling.map_or(Ok(want.clone()), |p| p.apply(&want)).unwrap();
    prop_assert_eq!(got.to_vec(), want.to_vec());
    let next64 = Pointwise { weight: &w264, bias: Some(&b264), act };
    let got64 = conv2d_pointwise(&x64, &w64, Some(&b64), &g, act, &next64, pooling).unwrap();
    let y64 = crate::conv2d_activated(&x64, &w64, Some(&b64), &g, act).unwrap();
    prop_assert_eq!(
        got64.to_vec(),
        pooled(crate::conv2d_activated(&y64, &w264, Some(&b264), &one, act).unwrap()).to_vec()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 160 }))]

    #[test]
    fn a_pointwise_convolution_taken_in_matches_the_two_ops(case in pointwise_case()) {
        check(&case.0, case.1, case.2.as_ref())?;
    }
}

/// The grid's pair (16 filters, a whole vector or two, then 8): the fused pass is taken on
/// every kernel set whose vectors the 16 filters fill.
#[test]
fn the_grid_pair_is_taken_in() {
    let (g, d) = (Window2d::square(3, 1, 1), Window2d::square(3, 1, 1).dims("test", &[2, 1, 28, 28]).unwrap());
    for k in kernel_sets() {
        assert!(super::takes_pointwise(k, &g, &d, 16), "{k:?}");
    }
}

/// The runs of pixels of the fused pass are whole tiles on every kernel set and width, so
/// that only an image's last run rounds up past its pixels.
#[test]
fn pointwise_runs_are_whole_tiles() {
    for k in kernel_sets() {
        for fv in 1..=k.max_fv() {
            assert_eq!(k.tiled(super::forward::POINTWISE_RUN, fv), super::forward::POINTWISE_RUN, "{k:?} {fv}");
        }
    }
}

/// Errors name the op: a second weight that is not 1×1 or does not take the first one's
/// filters, a bias of the wrong length, a pooling larger than the output.
#[test]
fn conv2d_pointwise_rejects_what_does_not_fit() {
    let x = Tensor::<f32>::zeros(&[2, 3, 6, 6]).unwrap();
    let weight = Tensor::<f32>::zeros(&[4, 3, 3, 3]).unwrap();
    let g = Window2d::square(3, 1, 0);
    let wide = Tensor::<f32>::zeros(&[5, 4, 3, 3]).unwrap();
    let wrong_c = Tensor::<f32>::zeros(&[5, 3, 1, 1]).unwrap();
    let ok = Tensor::<f32>::zeros(&[5, 4, 1, 1]).unwrap();
    let bias = Tensor::<f32>::zeros(&[6]).unwrap();
    let too_big = Pooling::Max(Window2d::square(5, 1, 0));
    for (w2, b2, pooling) in
        [(&wide, None, None), (&wrong_c, None, None), (&ok, Some(&bias), None), (&ok, None, Some(&too_big))]
    {
        let next = Pointwise { weight: w2, bias: b2, act: None };
        let e = conv2d_pointwise(&x, &weight, None, &g, None, &next, pooling).unwrap_err().to_string();
        assert!(e.contains("conv2d_pointwise"), "{e}");
    }
    let next = Pointwise { weight: &ok, bias: None, act: None };
    assert_eq!(conv2d_pointwise(&x, &weight, None, &g, None, &next, None).unwrap().shape(), &[2, 5, 4, 4]);
}
