//! A fully connected layer taken into the convolution chain before it (`conv2d_dense`) on
//! random geometries, every kernel set: within the rounding bound of the chain by the f64
//! im2col path and a matrix product (an independent path), after one convolution or a
//! pair, pooled in the block or not; on f64 the same bits as the ops one after the other.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::pooled::Pool;
use super::tests::{Case, abs, case, close, f64s, kernel_sets, laid_out};
use crate::activation::Activation;
use crate::conv_dense::{Dense, conv2d_dense};
use crate::conv_pair::SecondConv;
use crate::conv_pool::Pooling;
use crate::tensor::Tensor;
use crate::window::Window2d;

/// A convolution, maybe a second one (1×1 of stride 1 or 3×3 of stride 1–2, padding 1;
/// `f2` filters), maybe a pooling (2×2 max or average of stride 2, 3×3 max of stride 2),
/// and the layer's outputs (1–40: one vector or several, one chunk of vectors or two).
type DenseCase = (Case, Option<(usize, Window2d)>, Option<Pooling>, usize);

fn dense_case() -> impl Strategy<Value = DenseCase> {
    let pooling = prop_oneof![
        2 => Just(None),
        1 => Just(Some(Pooling::Max(Window2d::square(2, 2, 0)))),
        1 => Just(Some(Pooling::Average(Window2d::square(2, 2, 0)))),
        1 => Just(Some(Pooling::Max(Window2d::square(3, 2, 0)))),
    ];
    let second = prop_oneof![
        2 => Just(None),
        1 => (1usize..=20).prop_map(|f2| Some((f2, Window2d::square(1, 1, 0)))),
        1 => (1usize..=20, 1usize..=2).prop_map(|(f2, s)| Some((f2, Window2d::square(3, s, 1)))),
    ];
    (case(), second, pooling, 1usize..=40).prop_filter("the windows fit", |(case, second, pooling, _)| {
        let d = case.window.dims("test", &case.shape).unwrap();
        let mut out = [1, case.filters, d.oh, d.ow];
        if let Some((f2, g2)) = second {
            let Ok(d2) = g2.dims("test", &out) else { return false };
            out = [1, *f2, d2.oh, d2.ow];
        }
        pooling.is_none_or(|p| p.window().pool_dims("test", &out).is_ok())
    })
}

fn check((case, second, pooling, outputs): &DenseCase) -> Result<(), TestCaseError> {
    let [n, c, h, w] = case.shape;
    let (f, g) = (case.filters, case.window);
    let d = g.dims("test", &case.shape).unwrap();
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let (xv, wv, bv) = (draw(n * c * h * w), draw(f * c * g.kernel_area()), draw(f));
    let x = laid_out(case.shape, &xv, case.layout);
    let x64 = laid_out(case.shape, &f64s(&xv), case.layout);
    let t32 = |v: &[f32], shape: &[usize]| Tensor::from_vec(shape, v.to_vec()).unwrap();
    let t64 = |v: &[f32], shape: &[usize]| Tensor::from_vec(shape, f64s(v)).unwrap();
    let ta = |v: &[f32], shape: &[usize]| Tensor::from_vec(shape, abs(v)).unwrap();
    let wshape = [f, c, g.kernel[0], g.kernel[1]];
    let (weight, bias) = (t32(&wv, &wshape), t32(&bv, &[f]));
    let (w64, b64) = (t64(&wv, &wshape), t64(&bv, &[f]));
    let mut out = [n, f, d.oh, d.ow];
    let mut terms = 8 * c * g.kernel_area();
    // The f64 chain and the bound of its f32 rounding: every sum in absolute values.
    let mut bound = crate::conv2d(&ta(&xv, &case.shape), &ta(&wv, &wshape), Some(&ta(&bv, &[f])), &g).unwrap();
    let second = second.map(|(f2, g2)| {
        let shape = [f2, f, g2.kernel[0], g2.kernel[1]];
        let (w2v, b2v) = (draw(f2 * f * g2.kernel_area()), draw(f2));
        let d2 = g2.dims("test", &out).unwrap();
        out = [n, f2, d2.oh, d2.ow];
        terms += 8 * f * g2.kernel_area();
        bound = crate::conv2d(&bound, &ta(&w2v, &shape), Some(&ta(&b2v, &[f2])), &g2).unwrap();
        (g2, d2, t32(&w2v, &shape), t32(&b2v, &[f2]), t64(&w2v, &shape), t64(&b2v, &[f2]))
    });
    let pool = pooling.as_ref().map(|pooling| {
        let mut dims = pooling.window().pool_dims("test", &out).unwrap();
        out = [n, dims.c, dims.oh, dims.ow];
        terms += pooling.window().kernel_area();
        bound = Pooling::Max(*pooling.window()).apply(&bound).unwrap();
        dims.n = 1;
        Pool { pooling, dims }
    });
    let inputs = out[1] * out[2] * out[3];
    let (wdv, bdv) = (draw(outputs * inputs), draw(*outputs));
    let (wd, bd) = (t32(&wdv, &[*outputs, inputs]), t32(&bdv, &[*outputs]));
    let (wd64, bd64) = (t64(&wdv, &[*outputs, inputs]), t64(&bdv, &[*outputs]));
    let bound = bound.reshape(&[n, inputs]).unwrap().matmul(&ta(&wdv, &[*outputs, inputs]).t().unwrap()).unwrap();
    let bound = bound.add(&ta(&bdv, &[*outputs])).unwrap().to_vec();
    terms += 8 * inputs;

    for (act, dense_act) in [(None, None), (Some(Activation::Relu), Some(Activation::Relu))] {
        let mut y64 = crate::conv2d_activated(&x64, &w64, Some(&b64), &g, act).unwrap();
        if let Some((g2, _, _, _, w264, b264)) = &second {
            y64 = crate::conv2d_activated(&y64, w264, Some(b264), g2, act).unwrap();
        }
        if let Some(p) = pooling {
            y64 = p.apply(&y64).unwrap();
        }
        let mut want64 = y64.reshape(&[n, inputs]).unwrap().matmul(&wd64.t().unwrap()).unwrap().add(&bd64).unwrap();
        if let Some(a) = dense_act {
            want64.map_inplace(|v| a.apply(v));
        }
        let dense = Dense { weight: &wd, bias: Some(&bd), act: dense_act };
        let then =
            second.as_ref().map(|(g2, _, w2, b2, _, _)| SecondConv { weight: w2, bias: Some(b2), window: *g2, act });
        let takes = |k| {
            second.as_ref().is_none_or(|(g2, d2, w2, ..)| super::takes_next(k, (&g, &d, f), (g2, d2, w2.shape()[0])))
                && super::takes_dense(k, (&g, &d, f), second.is_some(), pool.as_ref(), *outputs)
        };
        for k in kernel_sets().into_iter().filter(|&k| takes(k)) {
            let what = format!("{k:?} {second:?} {pooling:?} {outputs} {act:?}");
            let got = super::forward(
                k,
                &x,
                &weight,
                Some(&bias),
                &g,
                &d,
                act,
                then.as_ref(),
                pool.as_ref(),
                Some(&dense),
                false,
            );
            let got = got.unwrap();
            prop_assert_eq!(got.shape(), &[n, *outputs]);
            close(&what, &got.to_vec(), &want64.to_vec(), &bound, terms)?;
        }
        // The public entry point on the selected path, and on f64 the ops one after the other.
        let got = conv2d_dense(&x, &weight, Some(&bias), &g, act, then.as_ref(), pooling.as_ref(), &dense).unwrap();
        close("conv2d_dense", &got.to_vec(), &want64.to_vec(), &bound, terms)?;
        let dense64 = Dense { weight: &wd64, bias: Some(&bd64), act: dense_act };
        let then64 =
            second.as_ref().map(|(g2, _, _, _, w2, b2)| SecondConv { weight: w2, bias: Some(b2), window: *g2, act });
        let got64 = conv2d_dense(&x64, &w64, Some(&b64), &g, act, then64.as_ref(), pooling.as_ref(), &dense64).unwrap();
        prop_assert_eq!(got64.to_vec(), want64.to_vec());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 160 }))]

    #[test]
    fn a_dense_layer_taken_in_matches_the_ops(case in dense_case()) {
        check(&case)?;
    }
}

/// Batches of several groups of images, the last one partial (the property test's batches
/// fit in one group).
#[test]
fn a_dense_layer_over_several_groups_matches_the_ops() {
    let case = |n, seed| Case { shape: [n, 3, 9, 9], filters: 16, window: Window2d::square(3, 2, 1), layout: 0, seed };
    for (n, seed) in [(25, 1), (37, 2), (48, 3)] {
        for pooling in [None, Some(Pooling::Max(Window2d::square(2, 2, 0)))] {
            check(&(case(n, seed), None, pooling, 10)).unwrap();
            check(&(case(n, seed), Some((32, Window2d::square(3, 2, 1))), pooling, 12)).unwrap();
        }
    }
}

/// The stride-2 network of the grid ends in a layer its pair takes in on every kernel set:
/// 10 outputs after 32 filters of stride 2.
#[test]
fn the_grid_dense_layer_is_taken_in() {
    let s2 = Window2d::square(3, 2, 1);
    let d = s2.dims("test", &[2, 1, 28, 28]).unwrap();
    for k in kernel_sets() {
        assert!(super::takes_dense(k, (&s2, &d, 16), true, None, 10), "{k:?}");
    }
}

/// Errors name the op: a layer's weight that does not take the flattened output, a bias of
/// the wrong length.
#[test]
fn conv2d_dense_rejects_what_does_not_fit() {
    let x = Tensor::<f32>::zeros(&[2, 3, 6, 6]).unwrap();
    let weight = Tensor::<f32>::zeros(&[4, 3, 3, 3]).unwrap();
    let g = Window2d::square(3, 1, 0);
    let ok = Tensor::<f32>::zeros(&[5, 4 * 4 * 4]).unwrap();
    let wrong = Tensor::<f32>::zeros(&[5, 4 * 4 * 4 + 1]).unwrap();
    let rank3 = Tensor::<f32>::zeros(&[5, 4, 16]).unwrap();
    let bias = Tensor::<f32>::zeros(&[6]).unwrap();
    for (w, b) in [(&wrong, None), (&rank3, None), (&ok, Some(&bias))] {
        let dense = Dense { weight: w, bias: b, act: None };
        let e = conv2d_dense(&x, &weight, None, &g, None, None, None, &dense).unwrap_err().to_string();
        assert!(e.contains("conv2d_dense"), "{e}");
    }
    let dense = Dense { weight: &ok, bias: None, act: None };
    assert_eq!(conv2d_dense(&x, &weight, None, &g, None, None, None, &dense).unwrap().shape(), &[2, 5]);
}
