//! The channels-last forward pass of inference against the f64 im2col path: outputs laid
//! out channels-last (filters a multiple of the vector width), read back by `to_vec` and by
//! the next convolution or pool as they are; inputs contiguous, channels-last (staged
//! channels-last with a pixel stride of `C`, or in place) and sliced; random geometries
//! (kernel 1–7, stride 1–3, padding 0–3, channels 1–20 and often 8, 16 or 32, the
//! pixel strides of the constant-stride kernels, batch 1–5); every kernel set this CPU
//! runs, called explicitly. Bounds as in `tests.rs`: `(K + 2)·u·Σ|terms|`.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::forward::{self, Layout};
use crate::activation::Activation;
use crate::kernels::{KernelPath, Kernels};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

fn kernel_sets() -> Vec<Kernels> {
    KernelPath::available().into_iter().flat_map(Kernels::variants).collect()
}

/// `values` (row-major over `shape`) contiguous (0), dense channels-last (1), or
/// channels-last with two extra channels per pixel sliced off (2).
fn laid_out(shape: [usize; 4], values: &[f32], layout: u8) -> Tensor<f32> {
    let [n, c, h, w] = shape;
    let at = |i: [usize; 4]| values[((i[0] * c + i[1]) * h + i[2]) * w + i[3]];
    match layout {
        0 => Tensor::from_vec(&shape, values.to_vec()).unwrap(),
        1 => Tensor::from_fn(&[n, h, w, c], |i| at([i[0], i[3], i[1], i[2]])).unwrap().permute(&[0, 3, 1, 2]).unwrap(),
        _ => Tensor::from_fn(&[n, h, w, c + 2], |i| if i[3] < c { at([i[0], i[3], i[1], i[2]]) } else { f32::NAN })
            .unwrap()
            .permute(&[0, 3, 1, 2])
            .unwrap()
            .narrow(1, 0, c)
            .unwrap(),
    }
}

fn f64s(t: &Tensor<f32>) -> Tensor<f64> {
    Tensor::from_vec(t.shape(), t.to_vec().iter().map(|&v| f64::from(v)).collect()).unwrap()
}

fn abs64(t: &Tensor<f32>) -> Tensor<f64> {
    Tensor::from_vec(t.shape(), t.to_vec().iter().map(|&v| f64::from(v).abs()).collect()).unwrap()
}

/// `got` within `(terms + 2)·u·bound` of `want`.
fn close(what: &str, got: &[f32], want: &[f64], bound: &[f64], terms: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    let u = f64::from(f32::EPSILON) / 2.0;
    for (i, ((&g, &w), &b)) in got.iter().zip(want).zip(bound).enumerate() {
        let tol = (terms as f64 + 2.0) * u * b + f64::from(f32::MIN_POSITIVE);
        prop_assert!((f64::from(g) - w).abs() <= tol, "{} element {}: {} vs {} (bound {})", what, i, g, w, tol);
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Case {
    shape: [usize; 4],
    vectors: usize,
    window: Window2d,
    layout: u8,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=5, prop_oneof![1usize..=20, Just(8), Just(16), Just(32)], 1usize..=13, 1usize..=13),
        1usize..=4,
        ((1usize..=7, 1usize..=7), (1usize..=3, 1usize..=3), (0usize..=3, 0usize..=3)),
        0u8..3,
        any::<u64>(),
    )
        .prop_map(|((n, c, h, w), vectors, ((kh, kw), (sh, sw), (ph, pw)), layout, seed)| Case {
            shape: [n, c, h, w],
            vectors,
            window: Window2d { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] },
            layout,
            seed,
        })
        .prop_filter("the kernel fits the padded input", |c| {
            c.shape[2] + 2 * c.window.padding[0] >= c.window.kernel[0]
                && c.shape[3] + 2 * c.window.padding[1] >= c.window.kernel[1]
        })
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let [n, c, h, w] = case.shape;
    let g = case.window;
    let d: WindowDims = g.dims("test", &case.shape).unwrap();
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let xv = draw(n * c * h * w);
    let x = laid_out(case.shape, &xv, case.layout);
    for k in kernel_sets() {
        let f = case.vectors * k.lanes();
        let mut rng = StdRng::seed_from_u64(case.seed ^ f as u64);
        let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
        let (wv, bv) = (draw(f * c * g.kernel_area()), draw(f));
        let weight = Tensor::from_vec(&[f, c, g.kernel[0], g.kernel[1]], wv.clone()).unwrap();
        let bias = Tensor::from_vec(&[f], bv.clone()).unwrap();
        let want = crate::conv2d(&f64s(&x), &f64s(&weight), Some(&f64s(&bias)), &g).unwrap().to_vec();
        let bound = crate::conv2d(&abs64(&x), &abs64(&weight), Some(&abs64(&bias)), &g).unwrap().to_vec();
        let relu: Vec<f64> = want.iter().map(|&v| v.max(0.0)).collect();
        let terms = c * g.kernel_area();
        for act in [None, Some(Activation::Relu)] {
            let what = format!("{k:?} {act:?}");
            let want = if act.is_some() { &relu } else { &want };
            // The raw pass: image after image, pixels × filters.
            let y = forward::forward(k, &x, &wv, &bv, &g, &d, f, act, Layout::ChannelsLast);
            prop_assert_eq!(y.len(), n * f * d.positions());
            let mut planar = vec![0f32; y.len()];
            for (i, v) in y.iter().enumerate() {
                let (image, rest) = (i / (f * d.positions()), i % (f * d.positions()));
                let (pixel, filter) = (rest / f, rest % f);
                planar[(image * f + filter) * d.positions() + pixel] = *v;
            }
            close(&format!("{what} channels-last pass"), &planar, want, &bound, terms)?;
            // The entry point: a channels-last tensor, read in logical order by `to_vec`.
            let y = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, true).unwrap();
            prop_assert_eq!(y.shape(), &[n, f, d.oh, d.ow]);
            if super::winograd::suits(&g, c, f) && super::winograd_enabled() {
                prop_assert!(y.is_contiguous(), "Winograd's output stays contiguous");
            } else {
                prop_assert_eq!(y.strides(), &[d.positions() * f, 1, d.ow * f, f]);
            }
            close(&format!("{what} entry point"), &y.to_vec(), want, &bound, terms)?;
            // The same bits as the planar output pass (the same sums; only the store differs).
            let planar = super::forward(k, &x, &weight, Some(&bias), &g, &d, act, false).unwrap();
            let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&y), bits(&planar), "{} channels-last vs planar bits", what);
        }
        // A filter count that is not a multiple of the lanes stays contiguous.
        let odd = Tensor::from_vec(&[f + 1, c, g.kernel[0], g.kernel[1]], draw((f + 1) * c * g.kernel_area())).unwrap();
        let y = super::forward(k, &x, &odd, None, &g, &d, None, true).unwrap();
        prop_assert!(y.is_contiguous());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 96 }))]

    #[test]
    fn channels_last_outputs_match_the_im2col_path(case in case()) {
        check(&case)?;
    }
}
