//! Winograd's F(4×4, 3×3) against the im2col path in f64, on every kernel set: the forward
//! pass with and without ReLU, its 2×2 pooling in the output pass (the same bits as the
//! pooling op on its unpooled output), and `∇x` through [`InputGrad`], on geometries with
//! sides up to 22 (partial tiles, rows of 1 to 6 tiles, which wrap across vectors), 16–20
//! channels in, 16–36 out, padding 0–2 and three input layouts.
//!
//! The bound: each output is `Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A`; its roundings are within
//! `(K + 2)·u` of the same expression with every matrix, filter and input in absolute values
//! (`K` the roundings along a chain: the transforms' few, plus one per input channel). The
//! transforms' entries reach 5 and 8, so this bound is several times the direct sum's; a
//! wrong tap, tile or lane is still off by whole terms, far outside it.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::backward::InputGrad;
use super::staging::Source;
use super::tests::{Case, abs, close, f64s, kernel_sets, laid_out, winograd_geometry};
use super::winograd::{self, Dest, Pass};
use super::winograd4::{Conv4, cheaper};
use crate::activation::Activation;
use crate::conv_pool::Pooling;
use crate::kernels::{BlockPool, Kernels};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

const BT: [[f64; 6]; 6] = [
    [4.0, 0.0, 5.0, 0.0, 1.0, 0.0],
    [0.0, 4.0, 4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, 4.0, 1.0, 1.0, 0.0],
    [0.0, 2.0, 1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, 1.0, 2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, 5.0, 0.0, 1.0],
];
const G: [[f64; 3]; 6] = [
    [0.25, 0.0, 0.0],
    [1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0],
    [1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];
const AT: [[f64; 6]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, 1.0, 2.0, 2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, 1.0, 8.0, 8.0, 1.0],
];

/// The bound of a 3×3 stride-1 convolution by F(4×4, 3×3) of `x` (N×C×H×W contiguous,
/// absolute values) with `w` (F×C×3×3, absolute values) and `b` (F), padded by `padding`,
/// whose output is `oh × ow`: `|Aᵀ| [Σ_c (|G| |g| |Gᵀ|) ⊙ (|Bᵀ| |d| |B|)] |A| + |b|`.
fn bound(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    wt: &[f64],
    b: &[f64],
    padding: [usize; 2],
    [oh, ow]: [usize; 2],
) -> Vec<f64> {
    let f = b.len();
    let at = |ni: usize, ci: usize, y: usize, xx: usize| {
        let (y, xx) = (y as isize - padding[0] as isize, xx as isize - padding[1] as isize);
        let inside = y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w;
        if inside { x[((ni * c + ci) * h + y as usize) * w + xx as usize] } else { 0.0 }
    };
    let u: Vec<[f64; 36]> = (0..f * c)
        .map(|fc| {
            std::array::from_fn(|xi| {
                let (p, q) = (xi / 6, xi % 6);
                (0..9).map(|ij| G[p][ij / 3] * G[q][ij % 3] * wt[fc * 9 + ij]).sum()
            })
        })
        .collect();
    let mut out = vec![0.0; n * f * oh * ow];
    for ni in 0..n {
        for ty in 0..oh.div_ceil(4) {
            for tx in 0..ow.div_ceil(4) {
                let v: Vec<[f64; 36]> = (0..c)
                    .map(|ci| {
                        std::array::from_fn(|xi| {
                            let (p, q) = (xi / 6, xi % 6);
                            (0..36)
                                .map(|rs| BT[p][rs / 6] * BT[q][rs % 6] * at(ni, ci, 4 * ty + rs / 6, 4 * tx + rs % 6))
                                .sum()
                        })
                    })
                    .collect();
                #[allow(clippy::needless_range_loop)]
                for fi in 0..f {
                    let m: [f64; 36] = std::array::from_fn(|xi| (0..c).map(|ci| u[fi * c + ci][xi] * v[ci][xi]).sum());
                    for r in 0..4 {
                        for s in 0..4 {
                            let (y, xx) = (4 * ty + r, 4 * tx + s);
                            if y < oh && xx < ow {
                                let sum: f64 = (0..36).map(|xi| AT[r][xi / 6] * AT[s][xi % 6] * m[xi]).sum();
                                out[((ni * f + fi) * oh + y) * ow + xx] = sum + b[fi];
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// F(4×4, 3×3)'s forward pass into a buffer of NaNs (which a missed element would keep),
/// pooled in the output pass by `pool` if given.
fn forward4(
    case: &Case,
    x: &Tensor<f32>,
    wv: &[f32],
    bv: &[f32],
    act: Option<Activation>,
    pool: Option<BlockPool>,
) -> Vec<Vec<f32>> {
    let (c, f, g) = (case.shape[1], case.filters, case.window);
    let d = g.dims("test", &case.shape).unwrap();
    let (oh, ow) = if pool.is_some() { (d.oh / 2, d.ow / 2) } else { (d.oh, d.ow) };
    let weight = |fi: usize, ci: usize, i: usize, j: usize| wv[((fi * c + ci) * 3 + i) * 3 + j];
    kernel_sets()
        .into_iter()
        .map(|k| {
            let mut y = vec![std::mem::MaybeUninit::new(f32::NAN); case.shape[0] * f * oh * ow];
            let dest = Dest { out: &mut y, strides: [f * oh * ow, oh * ow, ow], whole_blocks: false };
            let mut conv = Conv4::new(k, (weight, None), &g, &d, f);
            winograd::forward(&mut conv as &mut dyn Pass, Source::tensor(x), bv, &d, act, pool, dest);
            // SAFETY: initialised above.
            y.iter().map(|v| unsafe { v.assume_init() }).collect()
        })
        .collect()
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let [n, c, h, w] = case.shape;
    let (f, g) = (case.filters, case.window);
    let d: WindowDims = g.dims("test", &case.shape).unwrap();
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut draw = |len: usize| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
    let (xv, wv, bv, gv) = (draw(n * c * h * w), draw(f * c * 9), draw(f), draw(n * f * d.positions()));
    let x = laid_out(case.shape, &xv, case.layout);
    let x64 = laid_out(case.shape, &f64s(&xv), case.layout);
    let w64 = Tensor::from_vec(&[f, c, 3, 3], f64s(&wv)).unwrap();
    let b64 = Tensor::from_vec(&[f], f64s(&bv)).unwrap();
    let want = crate::conv2d(&x64, &w64, Some(&b64), &g).unwrap().to_vec();
    let bound_y = bound(&abs(&xv), case.shape, &abs(&wv), &abs(&bv), g.padding, [d.oh, d.ow]);
    let terms = c + 24;
    for act in [None, Some(Activation::Relu)] {
        let want: Vec<f64> = want.iter().map(|&v| if act.is_some() { v.max(0.0) } else { v }).collect();
        let unpooled = forward4(case, &x, &wv, &bv, act, None);
        for (k, y) in kernel_sets().into_iter().zip(&unpooled) {
            close(&format!("{k:?} F(4×4, 3×3) y {act:?}"), y, &want, &bound_y, terms)?;
        }
        // The SIMD sets do the same operations per lane, on 8 or 16 lanes: the same bits.
        let simd: Vec<&Vec<f32>> = kernel_sets()
            .into_iter()
            .zip(&unpooled)
            .filter(|(k, _)| !matches!(k, Kernels::Portable))
            .map(|(_, y)| y)
            .collect();
        for y in &simd[1.min(simd.len())..] {
            prop_assert!(y.iter().zip(simd[0]).all(|(a, b)| a.to_bits() == b.to_bits()), "8 and 16 lanes differ");
        }
        if d.oh < 2 || d.ow < 2 {
            continue;
        }
        for (pool, pooling) in [
            (BlockPool::Max, Pooling::Max(Window2d::square(2, 2, 0))),
            (BlockPool::Average, Pooling::Average(Window2d::square(2, 2, 0))),
        ] {
            let pooled = forward4(case, &x, &wv, &bv, act, Some(pool));
            for ((k, y), unpooled) in kernel_sets().into_iter().zip(&pooled).zip(&unpooled) {
                let unpooled = Tensor::from_vec(&[n, f, d.oh, d.ow], unpooled.clone()).unwrap();
                let want = pooling.apply(&unpooled).unwrap().to_vec();
                let same = y.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                prop_assert!(same && y.len() == want.len(), "{:?} {:?} {:?}: {:?} vs {:?}", k, pool, act, y, want);
            }
        }
    }

    // ∇x: the forward convolution of ∇z padded by 2 − p with the filters turned 180° and
    // transposed; F(4×4, 3×3) where it is cheaper for ∇x's size, else F(2×2, 3×3) (whose
    // bound is the direct sum's, several times: the other test's).
    let g64 = Tensor::from_vec(&[n, f, d.oh, d.ow], f64s(&gv)).unwrap();
    let want = crate::conv2d_backward(&x64, &w64, &g, &g64, [true, false, false]).unwrap().input.unwrap().to_vec();
    let turned: Vec<f64> = (0..c * f * 9)
        .map(|o| {
            let (cf, i, j) = (o / 9, o % 9 / 3, o % 3);
            f64::from(wv[((cf % f * c + cf / f) * 3 + 2 - i) * 3 + 2 - j]).abs()
        })
        .collect();
    let padding = [2 - g.padding[0], 2 - g.padding[1]];
    let bound_four = bound(&abs(&gv), [n, f, d.oh, d.ow], &turned, &vec![0.0; c], padding, [h, w]);
    let ag = Tensor::from_vec(&[n, f, d.oh, d.ow], abs(&gv)).unwrap();
    let (aw, ax) =
        (Tensor::from_vec(&[f, c, 3, 3], abs(&wv)).unwrap(), Tensor::from_vec(&case.shape, abs(&xv)).unwrap());
    let bound_two = crate::conv2d_backward(&ax, &aw, &g, &ag, [true, false, false]).unwrap().input.unwrap().to_vec();
    let dz = Window2d { kernel: [3, 3], stride: [1, 1], padding }.dims("test", &[1, f, d.oh, d.ow]).unwrap();
    for k in kernel_sets() {
        let four = cheaper(&dz, k.lanes());
        let (bound_x, terms) = if four { (&bound_four, f + 24) } else { (&bound_two, 8 * f * 9) };
        let strides = crate::contiguous_strides(&case.shape);
        let mut input = InputGrad::new(k, &wv, &g, &d, f, true);
        let mut gx = vec![std::mem::MaybeUninit::new(f32::NAN); n * c * h * w];
        let per_image = f * d.positions();
        for ni in 0..n {
            input.image(&gv[ni * per_image..(ni + 1) * per_image], ni, &mut gx, &strides);
        }
        // SAFETY: initialised above.
        let gx: Vec<f32> = gx.iter().map(|v| unsafe { v.assume_init() }).collect();
        close(&format!("{k:?} ∇x (F(4×4, 3×3): {four})"), &gx, &want, bound_x, terms)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 64 }))]

    #[test]
    fn winograd4_matches_the_im2col_path(case in winograd_geometry(2, if cfg!(miri) { 9 } else { 22 })) {
        check(&case)?;
    }
}

/// The choice: F(4×4, 3×3) for 14×14 and larger outputs, not for 8×8 (four tiles, half a
/// vector) nor 4×4.
#[test]
fn winograd4_is_chosen_where_it_has_fewer_products() {
    let dims = |side: usize| WindowDims { n: 1, c: 16, h: side, w: side, oh: side, ow: side };
    for lanes in [8, 16] {
        assert!(cheaper(&dims(14), 8) && cheaper(&dims(32), lanes) && cheaper(&dims(28), lanes));
        assert!(!cheaper(&dims(8), lanes) && !cheaper(&dims(4), lanes));
    }
}
