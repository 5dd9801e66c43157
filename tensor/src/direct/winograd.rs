//! 3×3 stride-1 convolutions by Winograd's F(2×2, 3×3): 2.25× fewer multiplications than
//! the direct kernel, for layers wide enough that the transforms are small beside the 16
//! matrix products (16 or more input and output channels). Per image: the input staged
//! with room for whole tiles, transformed (`V[ξ][c][tile]`), multiplied by the transformed
//! filters (`U[ξ][c][f]`, once per call) with the direct tile kernel (filters in the place of
//! its pixels, tiles in its lanes, input channels as its taps), and transformed back into
//! 2×2 output blocks written straight into the output planes with bias and activation.
//!
//! Its rounding differs from a direct sum by the transforms' additions: F(2×2, 3×3)'s
//! matrices hold only 0, ±1 and ±½, so the error stays within a small multiple of the
//! direct one (tested against the f64 im2col path; `research/direct-conv.md`).

use std::mem::MaybeUninit;

use super::staging::{Aligned, Source, Staging, chunks};
use crate::activation::Activation;
use crate::kernels::{Kernels, Taps, Tile, WinogradIn, WinogradOut, winograd_filter};
use crate::window::{Window2d, WindowDims};

/// Whether F(2×2, 3×3) takes a convolution: a 3×3 kernel, stride 1, padding at most 2 (for
/// the transposed convolution of ∇x), and 16 or more channels in and out.
pub(crate) fn suits(g: &Window2d, inputs: usize, outputs: usize) -> bool {
    g.kernel == [3, 3] && g.stride == [1, 1] && g.padding[0] <= 2 && g.padding[1] <= 2 && inputs >= 16 && outputs >= 16
}

/// Where an output goes: the first element and the strides of images, channels, rows
/// (columns are contiguous).
pub(crate) struct Dest<'a> {
    pub out: &'a mut [MaybeUninit<f32>],
    pub strides: [usize; 3],
}

/// `act(conv(x, W) + b)` for a 3×3 stride-1 window `g` over `x` of dims `d`, with
/// `weight(f, c, i, j)`; every output element is written into `dest`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    k: Kernels,
    x: Source<'_>,
    weight: impl Fn(usize, usize, usize, usize) -> f32,
    bias: &[f32],
    g: &Window2d,
    d: &WindowDims,
    filters: usize,
    act: Option<Activation>,
    dest: Dest<'_>,
) {
    let c = d.c;
    let lanes = k.lanes();
    let (th, tw) = (d.oh.div_ceil(2), d.ow.div_ceil(2));
    // Tile rows padded to whole vectors of tiles (the lanes of the products).
    let twp = tw.div_ceil(lanes) * lanes;
    let tiles = th * twp;
    let st = Staging::new(g, d).at_least(2 * th + 2, 2 * twp + 2);
    // The products: for each ξ, M[f][tiles] = Σ_c U[c][f]·V[c][tiles], filters broadcast
    // (the tile kernel's pixels) against vectors of tiles (its lanes), input channels as
    // its taps. U is stored [c][fp], filters past the last zero, fp a whole number of tiles.
    let chunks = chunks(tiles / lanes, k.max_fv());
    let fp = chunks.iter().map(|&(_, fv)| k.tiled(filters, fv)).max().unwrap_or(0);
    let mut u: Vec<Aligned> = (0..16).map(|_| Aligned::zeros(c * fp)).collect();
    for f in 0..filters {
        for ci in 0..c {
            let g: [f32; 9] = std::array::from_fn(|t| weight(f, ci, t / 3, t % 3));
            for (xi, &v) in winograd_filter(&g).iter().enumerate() {
                u[xi].as_mut_slice()[ci * fp + f] = v;
            }
        }
    }
    let taps = Taps::new((0..c).map(|ci| ci * fp).collect());
    let m_block = fp * tiles;
    let mut xs = Aligned::zeros(st.planes_len());
    let mut v = Aligned::zeros(16 * c * tiles);
    let mut m = Aligned::zeros(16 * m_block);
    let Dest { out, strides } = dest;
    for n in 0..d.n {
        st.stage(x, n, xs.as_mut_slice());
        k.winograd_input(WinogradIn {
            src: xs.as_slice(),
            channels: c,
            hst: st.hq,
            wst: st.wq,
            th,
            twp,
            tiles,
            v: v.as_mut_slice(),
        });
        for (xi, u) in u.iter().enumerate() {
            for &(v0, fv) in &chunks {
                k.tiles(Tile {
                    src: u.as_slice(),
                    at: 0,
                    count: filters,
                    taps: &taps,
                    w: &v.as_slice()[xi * c * tiles + v0 * lanes..],
                    w_stride: tiles,
                    fv,
                    out: &mut m.as_mut_slice()[xi * m_block + v0 * lanes..],
                    out_stride: tiles,
                });
            }
        }
        k.winograd_output(WinogradOut {
            m: m.as_slice(),
            m_block,
            tiles,
            th,
            twp,
            filters,
            bias,
            act,
            out: &mut *out,
            at: n * strides[0],
            plane: strides[1],
            row_stride: strides[2],
            oh: d.oh,
            ow: d.ow,
        });
    }
}
