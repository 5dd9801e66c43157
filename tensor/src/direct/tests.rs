//! The direct kernels against the im2col path in f64, on random geometries (kernel 1–7,
//! stride 1–3, padding 0–3, channel counts that are not multiples of the vector width,
//! batch 1–5, three input layouts), forward with bias and ReLU, `∇x` and `∇W`, on every
//! kernel set this CPU can run, each called explicitly (not through `TENSOR_KERNELS`).
//!
//! The bound: a sum of `K` products in f32, in any order and with or without fused
//! multiply-adds, is within `(K + 2)·u·Σ|terms|` of the exact sum (`u = 2⁻²⁴`); `Σ|terms|`
//! is the same convolution of the absolute values, in f64. A wrong tap, offset or lane is
//! off by a whole term, far outside it.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::staging::Source;
use super::{Plan, backward, forward, winograd};
use crate::activation::Activation;
use crate::conv2d_backward::{ConvInput, ImageSource};
use crate::kernels::{KernelPath, Kernels};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Every kernel set of every direct path this CPU runs, 16-lane and 8-lane ones on AVX-512.
pub(super) fn kernel_sets() -> Vec<Kernels> {
    KernelPath::available().into_iter().flat_map(Kernels::variants).collect()
}

#[derive(Debug, Clone)]
pub(super) struct Case {
    pub shape: [usize; 4],
    pub filters: usize,
    pub window: Window2d,
    pub layout: u8,
    pub seed: u64,
}

/// Under Miri (an interpreter, many thousand times slower) the strategies draw smaller
/// sizes, still past a vector of channels (9 and 17 cross the 8- and 16-lane widths).
const MIRI: bool = cfg!(miri);

/// `small` under Miri, else `full`.
const fn sized(full: usize, small: usize) -> usize {
    if MIRI { small } else { full }
}

pub(super) fn case() -> impl Strategy<Value = Case> {
    let channels = 1usize..=sized(12, 9);
    cases([sized(5, 2), sized(13, 6), sized(40, 17), sized(7, 3)], channels, [3, 3], 3)
}

/// Up to `n` images of `channels` channels and up to `side × side` pixels, up to `filters`
/// filters, kernels up to `k × k`, strides up to `stride` and padding up to `pad` on each
/// axis, the kernel fitting the padded input.
fn cases(
    [n, side, filters, k]: [usize; 4],
    channels: impl Strategy<Value = usize>,
    stride: [usize; 2],
    pad: usize,
) -> impl Strategy<Value = Case> {
    (
        (1usize..=n, channels, 1usize..=side, 1usize..=side),
        1usize..=filters,
        ((1usize..=k, 1usize..=k), (1usize..=stride[0], 1usize..=stride[1]), (0usize..=pad, 0usize..=pad)),
        0u8..3,
        any::<u64>(),
    )
        .prop_map(|((n, c, h, w), filters, ((kh, kw), (sh, sw), (ph, pw)), layout, seed)| Case {
            shape: [n, c, h, w],
            filters,
            window: Window2d { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] },
            layout,
            seed,
        })
        .prop_filter("the kernel fits the padded input", |c| {
            c.shape[2] + 2 * c.window.padding[0] >= c.window.kernel[0]
                && c.shape[3] + 2 * c.window.padding[1] >= c.window.kernel[1]
        })
}

/// `values` (row-major over `shape`) contiguous, channels-last, or as a slice of a wider
/// buffer.
pub(super) fn laid_out<T: crate::Element>(shape: [usize; 4], values: &[T], layout: u8) -> Tensor<T> {
    let [n, c, h, w] = shape;
    let at = |i: [usize; 4]| values[((i[0] * c + i[1]) * h + i[2]) * w + i[3]];
    match layout {
        0 => Tensor::from_vec(&shape, values.to_vec()).unwrap(),
        1 => Tensor::from_fn(&[n, h, w, c], |i| at([i[0], i[3], i[1], i[2]])).unwrap().permute(&[0, 3, 1, 2]).unwrap(),
        _ => Tensor::from_fn(&[n, c, h, w + 3], |i| {
            if i[3] >= 2 && i[3] < w + 2 { at([i[0], i[1], i[2], i[3] - 2]) } else { T::nan() }
        })
        .unwrap()
        .narrow(3, 2, w)
        .unwrap(),
    }
}

pub(super) fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

pub(super) fn abs(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x).abs()).collect()
}

/// `got` within `(terms + 2)·u·bound` of `want`, element by element.
pub(super) fn close(what: &str, got: &[f32], want: &[f64], bound: &[f64], terms: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    let u = f64::from(f32::EPSILON) / 2.0;
    for (i, ((&g, &w), &b)) in got.iter().zip(want).zip(bound).enumerate() {
        let tol = (terms as f64 + 2.0) * u * b + f64::from(f32::MIN_POSITIVE);
        prop_assert!((f64::from(g) - w).abs() <= tol, "{} element {}: {} vs {} (bound {})", what, i, g, w, tol);
    }
    Ok(())
}

/// The bound of ∇W by F(3×3, 2×2): its sums with every matrix and value in absolute
/// values, `|A'ᵀ| [Σ_{n, tiles} (|G'| |δ| |G'ᵀ|) ⊙ (|Bᵀ| |d| |B|)] |A'|`, from `|x|` and
/// `|∇z|` (contiguous): the transforms add terms the direct sum does not have (they cancel),
/// and their roundings scale with these.
fn winograd_weight_bound(case: &Case, ax: &[f64], ag: &[f64], d: &WindowDims) -> Vec<f64> {
    let ([n, c, h, w], f, [ph, pw]) = (case.shape, case.filters, case.window.padding);
    let bt = [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]];
    let gp = [[1.0, 0.0], [0.5, 0.5], [0.5, 0.5], [0.0, 1.0]];
    let at = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]];
    let x = |ni: usize, ci: usize, y: usize, xx: usize| {
        let inside = y >= ph && xx >= pw && y - ph < h && xx - pw < w;
        if inside { ax[((ni * c + ci) * h + y - ph) * w + xx - pw] } else { 0.0 }
    };
    let dz = |ni: usize, fi: usize, y: usize, xx: usize| {
        if y < d.oh && xx < d.ow { ag[((ni * f + fi) * d.oh + y) * d.ow + xx] } else { 0.0 }
    };
    let mut s = vec![0.0f64; f * c * 16];
    for ni in 0..n {
        for (ty, tx) in (0..d.oh.div_ceil(2)).flat_map(|ty| (0..d.ow.div_ceil(2)).map(move |tx| (ty, tx))) {
            let (y0, x0) = (2 * ty, 2 * tx);
            let v: Vec<[f64; 16]> = (0..c)
                .map(|ci| {
                    std::array::from_fn(|xi| {
                        let (p, q) = (xi / 4, xi % 4);
                        (0..16).map(|rs| bt[p][rs / 4] * bt[q][rs % 4] * x(ni, ci, y0 + rs / 4, x0 + rs % 4)).sum()
                    })
                })
                .collect();
            let gh: Vec<[f64; 16]> = (0..f)
                .map(|fi| {
                    std::array::from_fn(|xi| {
                        let (p, q) = (xi / 4, xi % 4);
                        (0..4).map(|ab| gp[p][ab / 2] * gp[q][ab % 2] * dz(ni, fi, y0 + ab / 2, x0 + ab % 2)).sum()
                    })
                })
                .collect();
            for (fi, gh) in gh.iter().enumerate() {
                for (ci, v) in v.iter().enumerate() {
                    for xi in 0..16 {
                        s[(fi * c + ci) * 16 + xi] += gh[xi] * v[xi];
                    }
                }
            }
        }
    }
    (0..f * c * 9)
        .map(|o| {
            let (fc, i, j) = (o / 9, o % 9 / 3, o % 3);
            (0..16).map(|xi| at[i][xi / 4] * at[j][xi % 4] * s[fc * 16 + xi]).sum()
        })
        .collect()
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let [n, c, h, w] = case.shape;
    let (f, g) = (case.filters, case.window);
    let d: WindowDims = g.dims("test", &case.shape).unwrap();
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let (xv, wv, bv, gv) = (draw(n * c * h * w), draw(f * c * g.kernel_area()), draw(f), draw(n * f * d.positions()));
    let x = laid_out(case.shape, &xv, case.layout);
    let weight = Tensor::from_vec(&[f, c, g.kernel[0], g.kernel[1]], wv.clone()).unwrap();
    let bias = Tensor::from_vec(&[f], bv.clone()).unwrap();
    let x64 = laid_out(case.shape, &f64s(&xv), case.layout);
    let w64 = Tensor::from_vec(weight.shape(), f64s(&wv)).unwrap();
    let b64 = Tensor::from_vec(&[f], f64s(&bv)).unwrap();
    let g64 = Tensor::from_vec(&[n, f, d.oh, d.ow], f64s(&gv)).unwrap();
    let (ax, aw) =
        (Tensor::from_vec(&case.shape, abs(&xv)).unwrap(), Tensor::from_vec(weight.shape(), abs(&wv)).unwrap());
    let (ab, ag) =
        (Tensor::from_vec(&[f], abs(&bv)).unwrap(), Tensor::from_vec(&[n, f, d.oh, d.ow], abs(&gv)).unwrap());

    // The references: the im2col path in f64 (f64 always takes it), and its bounds.
    let want_y = crate::conv2d(&x64, &w64, Some(&b64), &g).unwrap().to_vec();
    let bound_y = crate::conv2d(&ax, &aw, Some(&ab), &g).unwrap().to_vec();
    let want_g = crate::conv2d_backward(&x64, &w64, &g, &g64, [true, true, false]).unwrap();
    let bound_g = crate::conv2d_backward(&ax, &aw, &g, &ag, [true, true, false]).unwrap();
    let (want_gx, want_gw) = (want_g.input.unwrap().to_vec(), want_g.weight.unwrap().to_vec());
    let (bound_gx, bound_gw) = (bound_g.input.unwrap().to_vec(), bound_g.weight.unwrap().to_vec());
    let relu_y: Vec<f64> = want_y.iter().map(|&v| v.max(0.0)).collect();
    let winograd_gw =
        if winograd::suits(&g, c, f) { winograd_weight_bound(case, &abs(&xv), &abs(&gv), &d) } else { vec![] };

    let winograd = winograd::suits(&g, c, f);
    let winograd_x = winograd::suits(&g, f, c) && x.is_contiguous();
    // F(2×2, 3×3)'s transforms add up to 4 inputs and 9 products: a few more roundings.
    let slack = if winograd || winograd_x { 8 } else { 1 };
    for k in kernel_sets() {
        let what = format!("{k:?}");
        for act in [None, Some(Activation::Relu)] {
            let want = if act.is_some() { &relu_y } else { &want_y };
            let y = forward::forward(k, &x, (&wv, None), &bv, &g, &d, f, act, None, None, None);
            close(&format!("{what} y {act:?}"), &y, want, &bound_y, c * g.kernel_area())?;
            if winograd {
                let mut y = vec![std::mem::MaybeUninit::new(f32::NAN); y.len()];
                let dest = winograd::Dest {
                    out: &mut y,
                    strides: [f * d.positions(), d.positions(), d.ow],
                    whole_blocks: false,
                };
                let weight = |fi: usize, ci: usize, i: usize, j: usize| wv[((fi * c + ci) * 3 + i) * 3 + j];
                let mut conv = winograd::Conv::new(k, (weight, None), &g, &d, f);
                winograd::forward(&mut conv, Source::tensor(&x), &bv, &d, act, None, dest);
                // SAFETY: initialised above (to NaN, which a missed element would keep).
                let y: Vec<f32> = y.iter().map(|v| unsafe { v.assume_init() }).collect();
                close(&format!("{what} Winograd y {act:?}"), &y, want, &bound_y, slack * c * g.kernel_area())?;
            }
        }
        let y = super::forward(k, &x, &weight, Some(&bias), &g, &d, None, None, None, None, false).unwrap();
        prop_assert_eq!(y.shape(), &[n, f, d.oh, d.ow]);
        close(&format!("{what} y by the entry point"), &y.to_vec(), &want_y, &bound_y, slack * c * g.kernel_area())?;

        // ∇x by the stride phases (and by Winograd where it applies), image by image, into
        // a buffer of NaNs, which an element left unwritten would keep.
        let strides = if x.is_dense() { x.strides().to_vec() } else { crate::contiguous_strides(x.shape()) };
        let per_image = f * d.positions();
        for wino in [false, true].into_iter().filter(|&wino| !wino || winograd_x) {
            let mut input = backward::InputGrad::new(k, &wv, &g, &d, f, wino);
            let mut gx = vec![std::mem::MaybeUninit::new(f32::NAN); x.numel()];
            for ni in 0..n {
                input.image(&gv[ni * per_image..(ni + 1) * per_image], ni, &mut gx, &strides);
            }
            // SAFETY: initialised above.
            let gx: Vec<f32> = gx.iter().map(|v| unsafe { v.assume_init() }).collect();
            let gx = Tensor::from_dense(gx, case.shape.to_vec(), strides.clone());
            let terms = if wino { slack } else { 1 } * f * g.kernel_area();
            close(&format!("{what} ∇x (Winograd: {wino})"), &gx.to_vec(), &want_gx, &bound_gx, terms)?;
        }
        for wino in [false, true].into_iter().filter(|&wino| !wino || winograd) {
            let mut weight_grad = backward::WeightGrad::new(k, &g, &d, f, wino);
            for ni in 0..n {
                weight_grad.image(Source::tensor(&x), ni, &gv[ni * per_image..(ni + 1) * per_image]);
            }
            let (bound, terms) =
                if wino { (&winograd_gw, n * d.positions() + 16) } else { (&bound_gw, n * d.positions()) };
            close(&format!("{what} ∇W (Winograd: {wino})"), &weight_grad.finish(), &want_gw, bound, terms)?;
        }

        // The entry point with ReLU's VJP, ∇z = ∇y ⊙ 1(y > 0) for the y it computed.
        let y = super::forward(k, &x, &weight, Some(&bias), &g, &d, Some(Activation::Relu), None, None, None, false)
            .unwrap()
            .to_vec();
        let masked: Vec<f32> = gv.iter().zip(&y).map(|(&g, &y)| if y > 0.0 { g } else { 0.0 }).collect();
        let gm = Tensor::from_vec(&[n, f, d.oh, d.ow], f64s(&masked)).unwrap();
        let am = Tensor::from_vec(&[n, f, d.oh, d.ow], abs(&masked)).unwrap();
        let want = crate::conv2d_backward(&x64, &w64, &g, &gm, [true, true, true]).unwrap();
        let bound = crate::conv2d_backward(&ax, &aw, &g, &am, [true, true, true]).unwrap();
        let relu_y = Some((Activation::Relu, &y[..]));
        let got = super::backward([Some(k), Some(k)], ConvInput::Tensor(&x), &weight, &gv, relu_y, &g, &d, true, None)
            .unwrap();
        let gx = got.input.unwrap();
        prop_assert_eq!(gx.shape(), &case.shape);
        if x.is_dense() {
            prop_assert_eq!(gx.strides(), x.strides());
        }
        let (want_x, bound_x) = (want.input.unwrap().to_vec(), bound.input.unwrap().to_vec());
        close(&format!("{what} masked ∇x"), &gx.to_vec(), &want_x, &bound_x, slack * f * g.kernel_area())?;
        let (want_w, mut bound_w, mut terms) =
            (want.weight.unwrap().to_vec(), bound.weight.unwrap().to_vec(), n * d.positions());
        if winograd {
            (bound_w, terms) = (winograd_weight_bound(case, &abs(&xv), &abs(&masked), &d), terms + 16);
        }
        close(&format!("{what} masked ∇W"), &got.weight.unwrap().to_vec(), &want_w, &bound_w, terms)?;
        let (want_b, bound_b) = (want.bias.unwrap().to_vec(), bound.bias.unwrap().to_vec());
        close(&format!("{what} masked ∇b"), &got.bias.unwrap(), &want_b, &bound_b, n * d.positions())?;

        // The input read image by image from a source, and ∇x added into a sum image by
        // image: the bits of ∇x and ∇W with x contiguous, and of the sum plus that ∇x.
        let xc = x.to_contiguous();
        let both = [Some(k), Some(k)];
        let with_x = super::backward(both, ConvInput::Tensor(&xc), &weight, &gv, relu_y, &g, &d, true, None).unwrap();
        let (want_x, want_w) = (with_x.input.unwrap().to_vec(), with_x.weight.unwrap().to_vec());
        let source = ConvInput::Images(&xc as &dyn ImageSource<f32>);
        let read = super::backward(both, source, &weight, &gv, relu_y, &g, &d, true, None).unwrap();
        prop_assert_eq!(bits(&read.input.unwrap().to_vec()), bits(&want_x), "{} ∇x, images", what);
        prop_assert_eq!(bits(&read.weight.unwrap().to_vec()), bits(&want_w), "{} ∇W, images", what);
        let base: Vec<f32> = (0..xc.numel()).map(|i| (i % 7) as f32 * 0.25 - 0.75).collect();
        let mut sum = base.clone();
        let added = super::backward(both, source, &weight, &gv, relu_y, &g, &d, true, Some(&mut sum[..])).unwrap();
        prop_assert!(added.input.is_none());
        prop_assert_eq!(bits(&added.weight.unwrap().to_vec()), bits(&want_w), "{} ∇W beside the sum", what);
        let want_sum: Vec<f32> = base.iter().zip(&want_x).map(|(a, b)| a + b).collect();
        prop_assert_eq!(bits(&sum), bits(&want_sum), "{} ∇x added", what);
    }
    Ok(())
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Geometries that Winograd's F(2×2, 3×3) takes: 3×3, stride 1, padding 0–2, 16 or more
/// channels in and out, odd and even sizes (partial 2×2 blocks).
pub(super) fn winograd_case() -> impl Strategy<Value = Case> {
    winograd_geometry(sized(3, 1), sized(17, 5))
}

/// [`winograd_case`]'s geometries with batches up to `n` and sides up to `side`.
pub(super) fn winograd_geometry(n: usize, side: usize) -> impl Strategy<Value = Case> {
    let (c, f) = (sized(20, 17), sized(36, 17));
    (
        (1usize..=n, 16usize..=c, 1usize..=side, 1usize..=side),
        16usize..=f,
        (0usize..=2, 0usize..=2),
        0u8..3,
        any::<u64>(),
    )
        .prop_map(|((n, c, h, w), filters, (ph, pw), layout, seed)| Case {
            shape: [n, c, h, w],
            filters,
            window: Window2d { kernel: [3, 3], stride: [1, 1], padding: [ph, pw] },
            layout,
            seed,
        })
        .prop_filter("the kernel fits the padded input", |c| {
            c.shape[2] + 2 * c.window.padding[0] >= 3 && c.shape[3] + 2 * c.window.padding[1] >= 3
        })
}

/// Geometries whose input the forward pass stages channels-last (`ChannelsLast`): 8,
/// 13–16 or 26–32 channels (a pixel of 8, 16 or 32 floats), column stride 1 or 2 (16 or
/// 32 floats apart), any kernel 1–5, row stride 1–3 and padding 0–2.
fn channels_last_case() -> impl Strategy<Value = Case> {
    let channels = prop_oneof![Just(8usize), 13usize..=16, 26usize..=sized(32, 26)];
    cases([sized(3, 1), sized(11, 5), sized(24, 9), 5], channels, [3, 2], 2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 160 }))]

    #[test]
    fn direct_kernels_match_the_im2col_path(case in case()) {
        check(&case)?;
    }

    #[test]
    fn channels_last_staging_matches_the_im2col_path(case in channels_last_case()) {
        check(&case)?;
    }

    #[test]
    fn winograd_matches_the_im2col_path(case in winograd_case()) {
        check(&case)?;
    }
}

/// A stride past the padded input (up to `usize::MAX`) along one or both axes: `conv2d`
/// clamps it to the one output position it gives before any kernel sees it (so no staging
/// plane or phase loop is sized by it). Every kernel set with the clamped window, and the
/// public f32 entry points (the selected path) with the huge one, against the f64 im2col
/// path with the huge one.
fn check_huge_stride(case: &Case, huge: usize, axes: usize) -> Result<(), TestCaseError> {
    let mut g = case.window;
    for axis in (0..2).filter(|axis| axes & (1 << axis) != 0) {
        g.stride[axis] = huge;
    }
    let d = g.dims("test", &case.shape).unwrap();
    let clamped = g.clamped(&d);
    prop_assert!(
        clamped.stride[0] <= case.shape[2] + 2 * g.padding[0] && clamped.stride[1] <= case.shape[3] + 2 * g.padding[1]
    );
    check(&Case { window: clamped, ..case.clone() })?;

    let [n, c, h, w] = case.shape;
    let f = case.filters;
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let (xv, wv, gv) = (draw(n * c * h * w), draw(f * c * g.kernel_area()), draw(n * f * d.positions()));
    let x = laid_out(case.shape, &xv, case.layout);
    let weight = Tensor::from_vec(&[f, c, g.kernel[0], g.kernel[1]], wv.clone()).unwrap();
    let gy = Tensor::from_vec(&[n, f, d.oh, d.ow], gv.clone()).unwrap();
    let x64 = laid_out(case.shape, &f64s(&xv), case.layout);
    let w64 = Tensor::from_vec(weight.shape(), f64s(&wv)).unwrap();
    let g64 = Tensor::from_vec(gy.shape(), f64s(&gv)).unwrap();
    let ax = Tensor::from_vec(&case.shape, abs(&xv)).unwrap();
    let aw = Tensor::from_vec(weight.shape(), abs(&wv)).unwrap();
    let ag = Tensor::from_vec(gy.shape(), abs(&gv)).unwrap();
    let terms = 8 * c * g.kernel_area();
    let y = crate::conv2d(&x, &weight, None, &g).unwrap();
    let (want, bound) = (crate::conv2d(&x64, &w64, None, &g).unwrap(), crate::conv2d(&ax, &aw, None, &g).unwrap());
    close("y, huge stride", &y.to_vec(), &want.to_vec(), &bound.to_vec(), terms)?;
    let got = crate::conv2d_backward(&x, &weight, &g, &gy, [true, true, true]).unwrap();
    let want = crate::conv2d_backward(&x64, &w64, &g, &g64, [true, true, true]).unwrap();
    let bound = crate::conv2d_backward(&ax, &aw, &g, &ag, [true, true, true]).unwrap();
    for (what, got, want, bound, terms) in [
        ("∇x", got.input, want.input, bound.input, 8 * f * g.kernel_area()),
        ("∇W", got.weight, want.weight, bound.weight, n * d.positions()),
        ("∇b", got.bias, want.bias, bound.bias, n * d.positions()),
    ] {
        let (got, want, bound) = (got.unwrap().to_vec(), want.unwrap().to_vec(), bound.unwrap().to_vec());
        close(&format!("{what}, huge stride"), &got, &want, &bound, terms)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 48 }))]

    #[test]
    fn strides_past_the_input_are_clamped_before_the_kernels(
        case in case(),
        huge in prop_oneof![Just(usize::MAX), Just(1usize << 62), Just(1usize << 32), 14usize..=1000],
        axes in 1usize..=3,
    ) {
        check_huge_stride(&case, huge, axes)?;
    }
}

/// Wide layers (too slow for Miri): several chunks of filter vectors (up to 80 filters), more taps than a tile
/// of weights fits in registers, and tall images (several tiles per row).
#[test]
#[cfg_attr(miri, ignore)]
fn wide_layers_match_the_im2col_path() {
    let cases = [
        ([2, 16, 14, 14], 32, Window2d::square(3, 1, 1)),
        ([1, 3, 20, 9], 80, Window2d::square(5, 2, 2)),
        ([3, 9, 6, 30], 17, Window2d::square(3, 3, 0)),
        // Stride 2 over rows of 16 or more columns: the staging's blocks of 8 column pairs,
        // an odd width (a last column without its pair) and an even one.
        ([2, 3, 7, 35], 9, Window2d::square(3, 2, 1)),
        ([1, 2, 5, 34], 16, Window2d::square(3, 2, 0)),
    ];
    for (seed, (shape, filters, window)) in cases.into_iter().enumerate() {
        check(&Case { shape, filters, window, layout: 0, seed: seed as u64 }).unwrap();
    }
}

/// The paths this CPU cannot run are said, not skipped silently.
#[test]
fn report_the_paths_this_cpu_lacks() {
    let missing: Vec<_> = KernelPath::ALL.into_iter().filter(|p| !p.is_supported()).map(KernelPath::name).collect();
    if !missing.is_empty() {
        eprintln!("direct kernels not tested on this CPU: {}", missing.join(", "));
    }
    assert!(KernelPath::available().contains(&KernelPath::Portable));
}

/// The plan: f64 never takes the direct kernels, nor does a whole-input window.
#[test]
fn f64_and_whole_input_windows_take_the_im2col_path() {
    let d = Window2d::square(3, 1, 1).dims("test", &[2, 3, 8, 8]).unwrap();
    let p = Plan::new::<f64>(&Window2d::square(3, 1, 1), &d, 4);
    assert!(p.forward.is_none() && p.input_grad.is_none() && p.weight_grad.is_none());
    let whole = Window2d::square(5, 1, 0);
    let d = whole.dims("test", &[2, 3, 5, 5]).unwrap();
    assert!(Plan::on(KernelPath::Portable, &whole, &d, 4).forward.is_none());
    let d = Window2d::square(3, 1, 1).dims("test", &[2, 3, 8, 8]).unwrap();
    assert!(Plan::on(KernelPath::Portable, &Window2d::square(3, 1, 1), &d, 4).forward.is_some());
}
