//! 3×3 stride-1 convolutions by Winograd's F(2×2, 3×3), and what it shares with F(4×4,
//! 3×3) (`winograd4.rs`): the products ([`Products`]), the image pass ([`Pass`]) and the
//! batch loop ([`forward_batch`]). F(2×2, 3×3) has 2.25× fewer multiplications than
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
use std::rc::Rc;

use super::WinogradMode;
use super::pooled::Pool;
use super::prepared::prepared;
use super::staging::{Aligned, Source, Staging};
use crate::activation::Activation;
use crate::buffer::Buffer;
use crate::conv_pool::Pooling;
use crate::kernels::{
    BlockPool, Kernels, Taps, Tile, WinogradIn, WinogradOut, winograd_block, winograd_filter, winograd_rows,
    winograd_tiling,
};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Whether F(2×2, 3×3) takes a convolution: a 3×3 kernel, stride 1, padding at most 2 (for
/// the transposed convolution of ∇x), and 16 or more channels in and out.
pub(crate) fn suits(g: &Window2d, inputs: usize, outputs: usize) -> bool {
    g.kernel == [3, 3] && g.stride == [1, 1] && g.padding[0] <= 2 && g.padding[1] <= 2 && inputs >= 16 && outputs >= 16
}

/// The tiling of a window `g` over inputs of dims `d` ([`winograd_tiling`]): `(th, twp,
/// rows)` and the staging of an image with room for every covered tile's 4×4 patch.
pub(crate) fn tiled(g: &Window2d, d: &WindowDims) -> (usize, usize, usize, Staging) {
    let (th, twp) = winograd_tiling(d.oh, d.ow);
    let rows = winograd_rows(th, twp);
    (th, twp, rows, Staging::new(g, d).at_least(2 * rows + 2, 2 * twp + 2))
}

/// The chunks of `nv` vectors of tiles for the products, `(first vector, vectors)` each:
/// the split whose tiles of filters (the rows [`Kernels::tile_rows`] computes) cost the
/// least, counted as `rows·(fv + ½)` (the multiply-adds, and the filters' broadcasts each
/// chunk reads again). 32 filters over 4 vectors of 16 lanes: one chunk (five tiles of 6
/// rows and a tail of 2, 32 rows), not chunks of 3 and 1 (32 rows each).
fn product_chunks(k: Kernels, nv: usize, filters: usize) -> Vec<(usize, usize)> {
    let cost = |fv: usize| k.tile_rows(filters, fv) * (2 * fv + 1);
    // best[v]: the cheapest split of v vectors, as (cost, its last chunk's width).
    let mut best = vec![(0usize, 0usize); nv + 1];
    for v in 1..=nv {
        best[v] = (1..=k.max_fv().min(v)).map(|fv| (best[v - fv].0 + cost(fv), fv)).min().unwrap_or((0, 1));
    }
    let mut widths = Vec::new();
    let mut v = nv;
    while v > 0 {
        widths.push(best[v].1);
        v -= best[v].1;
    }
    let mut v0 = 0;
    widths
        .into_iter()
        .rev()
        .map(|fv| {
            v0 += fv;
            (v0 - fv, fv)
        })
        .collect()
}

/// Where an output goes: the first element and the strides of images, channels, rows
/// (columns are contiguous). With `whole_blocks`, every block the pass computes is written
/// whole, the rows and columns past the output's included ([`Pass::cover`]): a scratch
/// with room for them takes 4-float stores only (13×13 outputs in 4×4 blocks otherwise
/// end 7 of 16 blocks in partial stores).
pub(crate) struct Dest<'a> {
    pub out: &'a mut [MaybeUninit<f32>],
    pub strides: [usize; 3],
    pub whole_blocks: bool,
}

/// The products of a Winograd convolution over one image's `tiles` (whole vectors): for
/// each position ξ of the transform, `M[ξ][f][tiles] = Σ_c U[ξ][c][f]·V[ξ][c][tiles]`,
/// filters broadcast (the tile kernel's pixels) against vectors of tiles (its lanes), input
/// channels as its taps. `U` is stored `[c][fp]`, filters past the last zero, `fp` whole
/// tiles of filters; `V` (`v`, blocks of `v_block`) is the input transform's output and `M`
/// (`m`, blocks of `m_block`) the output transform's input.
pub(crate) struct Products {
    chunks: Vec<(usize, usize)>,
    /// `U[ξ]` at `ξ·u_block`, all positions in one buffer (kept for the next call when the
    /// weight's tensor was given: [`prepared`]).
    u: Rc<Aligned>,
    u_block: usize,
    taps: Taps,
    filters: usize,
    tiles: usize,
    pub v_block: usize,
    pub m_block: usize,
    pub v: Aligned,
    pub m: Aligned,
}

impl Products {
    /// For `c` channels in, `filters` out, `tiles` tiles, and `weight(f, c, i, j)`
    /// transformed by `transform` (`G g Gᵀ`, `N` positions), the weight's tensor `id` if
    /// the transform is to be kept.
    pub(crate) fn new<const N: usize>(
        k: Kernels,
        [c, filters, tiles]: [usize; 3],
        (weight, id): (impl Fn(usize, usize, usize, usize) -> f32, Option<&Tensor<f32>>),
        transform: fn(&[f32]) -> [f32; N],
    ) -> Self {
        let chunks = product_chunks(k, tiles / k.lanes(), filters);
        let fp = chunks.iter().map(|&(_, fv)| k.tiled(filters, fv)).max().unwrap_or(0);
        let u_block = c * fp;
        let u = prepared(id, vec![3, N, k.lanes(), k.max_fv(), c, filters, fp], || {
            let mut u = Aligned::zeros(N * u_block);
            let us = u.as_mut_slice();
            for f in 0..filters {
                for ci in 0..c {
                    let g: [f32; 9] = std::array::from_fn(|t| weight(f, ci, t / 3, t % 3));
                    for (xi, &v) in transform(&g).iter().enumerate() {
                        us[xi * u_block + ci * fp + f] = v;
                    }
                }
            }
            u
        });
        let taps = Taps::new((0..c).map(|ci| ci * fp).collect());
        let (v_block, m_block) = (winograd_block(c * tiles), winograd_block(fp * tiles));
        let (v, m) = (Aligned::zeros(N * v_block), Aligned::zeros(N * m_block));
        Products { chunks, u, u_block, taps, filters, tiles, v_block, m_block, v, m }
    }

    /// `M` from `V`.
    pub(crate) fn run(&mut self, k: Kernels) {
        let lanes = k.lanes();
        for (xi, u) in self.u.as_slice().chunks_exact(self.u_block.max(1)).enumerate() {
            for &(v0, fv) in &self.chunks {
                k.tiles(Tile {
                    src: u,
                    at: 0,
                    step: 1,
                    wrap: None,
                    count: self.filters,
                    taps: &self.taps,
                    w: &self.v.as_slice()[xi * self.v_block + v0 * lanes..],
                    w_stride: self.tiles,
                    fv,
                    out: &mut self.m.as_mut_slice()[xi * self.m_block + v0 * lanes..],
                    out_stride: self.tiles,
                    bias_act: None,
                });
            }
        }
    }
}

/// One convolution's transformed filters and buffers, for its images one at a time.
pub(crate) struct Conv {
    k: Kernels,
    d: WindowDims,
    filters: usize,
    st: Staging,
    th: usize,
    twp: usize,
    tiles: usize,
    products: Products,
    xs: Aligned,
}

impl Conv {
    /// A 3×3 stride-1 window `g` over inputs of dims `d` (its batch size is ignored), with
    /// `weight(f, c, i, j)` (its tensor `id` if the transform is to be kept).
    pub(crate) fn new(
        k: Kernels,
        (weight, id): (impl Fn(usize, usize, usize, usize) -> f32, Option<&Tensor<f32>>),
        g: &Window2d,
        d: &WindowDims,
        filters: usize,
    ) -> Self {
        // The tiles padded to whole vectors (the lanes of the products).
        let (th, twp, rows, st) = tiled(g, d);
        let tiles = (rows * twp).div_ceil(k.lanes()) * k.lanes();
        let products = Products::new(k, [d.c, filters, tiles], (weight, id), winograd_filter);
        let xs = Aligned::zeros(st.planes_len());
        Conv { k, d: *d, filters, st, th, twp, tiles, products, xs }
    }
}

/// The Winograd pass of a convolution that [`suits`] it: F(4×4, 3×3) where the mode allows
/// it and it has fewer products ([`cheaper`](super::winograd4::cheaper)), else F(2×2, 3×3).
pub(crate) fn pass(
    k: Kernels,
    weight: impl Fn(usize, usize, usize, usize) -> f32,
    g: &Window2d,
    d: &WindowDims,
    filters: usize,
    id: Option<&Tensor<f32>>,
) -> Box<dyn Pass> {
    if WinogradMode::selected() == WinogradMode::F4 && super::winograd4::cheaper(d, k.lanes()) {
        Box::new(super::winograd4::Conv4::new(k, (weight, id), g, d, filters))
    } else {
        Box::new(Conv::new(k, (weight, id), g, d, filters))
    }
}

/// One image of a Winograd convolution: F(2×2, 3×3) ([`Conv`]) or F(4×4, 3×3)
/// ([`Conv4`](super::winograd4::Conv4)), each holding its transformed filters and buffers.
pub(crate) trait Pass {
    /// The rows and columns its blocks cover, at least the output's.
    fn cover(&self) -> [usize; 2];

    /// `act(conv(x[n], W) + b)`, pooled by `pool` if given: every element of image `at`'s
    /// output in `dest` written (`dest.strides[0]` is not used: the image starts at
    /// `dest.out[at]`).
    #[allow(clippy::too_many_arguments)]
    fn image(
        &mut self,
        x: Source<'_>,
        n: usize,
        bias: &[f32],
        act: Option<Activation>,
        pool: Option<BlockPool>,
        dest: &mut Dest<'_>,
        at: usize,
    );
}

impl Pass for Conv {
    fn cover(&self) -> [usize; 2] {
        [2 * self.th, 2 * self.twp]
    }

    fn image(
        &mut self,
        x: Source<'_>,
        n: usize,
        bias: &[f32],
        act: Option<Activation>,
        pool: Option<BlockPool>,
        dest: &mut Dest<'_>,
        at: usize,
    ) {
        let [oh, ow] = if dest.whole_blocks { self.cover() } else { [self.d.oh, self.d.ow] };
        let (k, p) = (self.k, &mut self.products);
        self.st.stage(x, n, self.xs.as_mut_slice());
        k.winograd_input(WinogradIn {
            src: self.xs.as_slice(),
            channels: self.d.c,
            hst: self.st.hq,
            wst: self.st.wq,
            th: self.th,
            twp: self.twp,
            tiles: self.tiles,
            v_block: p.v_block,
            v: p.v.as_mut_slice(),
        });
        p.run(k);
        k.winograd_output(WinogradOut {
            m: p.m.as_slice(),
            m_block: p.m_block,
            tiles: self.tiles,
            th: self.th,
            twp: self.twp,
            filters: self.filters,
            bias,
            act,
            out: &mut *dest.out,
            at,
            plane: dest.strides[1],
            row_stride: dest.strides[2],
            oh,
            ow,
            pool,
        });
    }
}

/// `act(conv(x, W) + b)` by the Winograd pass `conv` over `x` of dims `d`, pooled in the
/// output pass by `pool` if given; every output element is written into `dest`.
pub(crate) fn forward(
    conv: &mut dyn Pass,
    x: Source<'_>,
    bias: &[f32],
    d: &WindowDims,
    act: Option<Activation>,
    pool: Option<BlockPool>,
    mut dest: Dest<'_>,
) {
    for n in 0..d.n {
        let at = n * dest.strides[0];
        conv.image(x, n, bias, act, pool, &mut dest, at);
    }
}

/// A Winograd pass `conv` over a batch `x` of dims `d` into a new N×F×oh×ow contiguous
/// buffer, pooled by `pool` if given: a 2×2 pooling of stride 2 without padding in the
/// output pass itself, whose 2×2 blocks are its windows ([`BlockPool`]); any other pooling
/// image by image through a scratch of one image's planes, which stays in cache.
pub(crate) fn forward_batch(
    conv: &mut dyn Pass,
    x: Source<'_>,
    bias: &[f32],
    d: &WindowDims,
    filters: usize,
    act: Option<Activation>,
    pool: Option<&Pool<'_>>,
) -> Buffer<f32> {
    let (oh, ow) = pool.map_or((d.oh, d.ow), |p| (p.dims.oh, p.dims.ow));
    let image = filters * oh * ow;
    let len = d.n * image;
    let mut y = crate::buffer_pool::take(len);
    let block = pool.and_then(|p| match p.pooling {
        _ if *p.pooling.window() != Window2d::square(2, 2, 0) => None,
        Pooling::Max(_) => Some(BlockPool::Max),
        Pooling::Average(_) => Some(BlockPool::Average),
    });
    match pool {
        Some(pool) if block.is_none() => {
            // Planes of the blocks' cover, written whole.
            let [rows, cols] = conv.cover();
            let plane = rows * cols;
            let mut planes = crate::buffer_pool::take(filters * plane);
            let mut pooled = Vec::with_capacity(image);
            for n in 0..d.n {
                planes.clear();
                let out = &mut planes.spare_capacity_mut()[..filters * plane];
                conv.image(x, n, bias, act, None, &mut Dest { out, strides: [0, plane, cols], whole_blocks: true }, 0);
                // SAFETY: `Pass::image` wrote every element of the image's F planes (its whole
                // blocks cover them).
                unsafe { planes.set_len(filters * plane) };
                let out = &mut y.spare_capacity_mut()[n * image..(n + 1) * image];
                pool.planes(&planes, [plane, cols], &mut pooled, out);
            }
        }
        _ => {
            let out = &mut y.spare_capacity_mut()[..len];
            let dest = Dest { out, strides: [image, oh * ow, ow], whole_blocks: false };
            forward(conv, x, bias, d, act, block, dest);
        }
    }
    // SAFETY: every image's output (pooled, when pooling) was written, n·F·oh·ow elements.
    unsafe { y.set_len(len) };
    y
}

#[cfg(test)]
mod tests {
    use super::product_chunks;
    use crate::kernels::{KernelPath, Kernels};

    /// The chunks cover the vectors once, in order, each as wide as a kernel takes; 32
    /// filters over 4 vectors of 16 lanes, or 2 of 8, take one chunk (tiles and a tail, no
    /// row past the filters).
    #[test]
    fn product_chunks_cover_every_vector_once() {
        for k in KernelPath::available().into_iter().flat_map(Kernels::variants) {
            for nv in 1..=20 {
                for filters in 1..=70 {
                    let chunks = product_chunks(k, nv, filters);
                    let mut next = 0;
                    for &(v0, fv) in &chunks {
                        assert!(v0 == next && (1..=k.max_fv()).contains(&fv), "{k:?} {nv} {filters}: {chunks:?}");
                        next += fv;
                    }
                    assert_eq!(next, nv, "{k:?} {nv} {filters}: {chunks:?}");
                }
            }
            match k.lanes() {
                16 => assert_eq!(product_chunks(k, 4, 32), vec![(0, 4)]),
                8 => assert_eq!(product_chunks(k, 2, 32), vec![(0, 2)]),
                _ => {}
            }
        }
    }
}
