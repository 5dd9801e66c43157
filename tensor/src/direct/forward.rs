//! The direct forward convolution: `y[n, f, oh, ow] = act(b[f] + Σ_{c,i,j} W[f, c, i, j] ·
//! x_pad[n, c, oh·sh + i, ow·sw + j])`, image by image: the image is staged into phase
//! planes ([`Staging`]), tiles of consecutive output pixels × vectors of filters are
//! accumulated in registers ([`Kernels::tile`]) into a pixels × filters block, and the
//! output pass transposes the block into the N×F×oh×ow output with the bias and the
//! activation ([`Kernels::store_planes`]).

use std::mem::MaybeUninit;

use super::dense::{Block, Dense, DenseRun};
use super::pooled::Pool;
use super::prepared::{prepared, window_key};
use super::staging::{Aligned, ChannelsLast, Source, Staging, chunks};
use super::then::{Next, Then};
use crate::activation::Activation;
use crate::buffer::Buffer;
use crate::kernels::{Kernels, Planes, Taps, Tile, pixel_offset};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Weights for the tile kernel: for each chunk of filter vectors, one row of `fv · lanes`
/// filters per tap (filters past the last one are zero).
pub(crate) struct Packed {
    pub chunks: Vec<(usize, usize)>,
    pub rows: Vec<Aligned>,
}

impl Packed {
    /// `weight(f, t)` for `f < filters`, `t < taps`, packed for `k`.
    pub(crate) fn new(k: Kernels, filters: usize, taps: usize, weight: impl Fn(usize, usize) -> f32) -> Self {
        let lanes = k.lanes();
        let chunks = chunks(filters.div_ceil(lanes), k.max_fv());
        let rows = chunks
            .iter()
            .map(|&(v0, fv)| {
                let width = fv * lanes;
                let mut rows = Aligned::zeros(taps * width);
                let data = rows.as_mut_slice();
                for t in 0..taps {
                    for l in 0..width {
                        let f = v0 * lanes + l;
                        if f < filters {
                            data[t * width + l] = weight(f, t);
                        }
                    }
                }
                rows
            })
            .collect();
        Packed { chunks, rows }
    }
}

/// Where a block's pixels read their input: pixel `q` reads a tap at `offset` from `src[at +
/// q·step + offset]`, or, when the pixels are rows (`wrap = Some([width, pitch])`), from
/// `src[at + (q div width)·pitch + (q mod width)·step + offset]` ([`Tile::wrap`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pixels {
    pub at: usize,
    pub step: usize,
    pub wrap: Option<[usize; 2]>,
}

impl Pixels {
    /// Consecutive pixels `step` apart from `at`.
    pub(crate) fn run(at: usize, step: usize) -> Self {
        Pixels { at, step, wrap: None }
    }

    /// An `oh × ow` output read from planes of `wq` pixels a row (`step` floats each) by
    /// `packed`'s tiles: as rows of `ow` when the planes' rows are wider (no pixel computed
    /// past a row's end) and every tile has 8 pixels or fewer, else as one run. (A tile's
    /// pixels then each keep an address; with 12 of them LeNet-5's first layer made its
    /// inference 26 % slower.)
    pub(crate) fn rows(k: Kernels, packed: &Packed, step: usize, ow: usize, wq: usize) -> Self {
        let few = packed.chunks.iter().all(|&(_, fv)| k.pixels(fv) <= 8);
        Pixels { at: 0, step, wrap: (wq > ow && few).then_some([ow, wq * step]) }
    }

    /// Pixels per row of the block: `ow` when wrapped, else the planes' `wq`.
    pub(crate) fn width(&self, wq: usize) -> usize {
        self.wrap.map_or(wq, |[w, _]| w)
    }

    /// One past the last input a block of `rows` rows reads with taps up to `max_tap`.
    pub(crate) fn reach(&self, rows: usize, max_tap: usize) -> usize {
        self.at + rows.checked_sub(1).map_or(0, |q| pixel_offset(self.step, self.wrap, q)) + max_tap + 1
    }
}

/// The pixels × filters block of pixels `0..count`, into `z` (rows of `z_stride`; rows up
/// to [`tiled_rows`] are written), each row through `act(row + bias)` when `bias_act` is
/// given (`bias` one entry per packed filter, zeros past the last), pixel `q` reading as
/// `px` says.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_tiles(
    k: Kernels,
    src: &[f32],
    px: Pixels,
    count: usize,
    taps: &Taps,
    packed: &Packed,
    z: &mut [f32],
    z_stride: usize,
    bias_act: Option<(&[f32], Option<Activation>)>,
) {
    for (&(v0, fv), w) in packed.chunks.iter().zip(&packed.rows) {
        let out = &mut z[v0 * k.lanes()..];
        let bias_act = bias_act.map(|(bias, act)| (&bias[v0 * k.lanes()..], act));
        k.tiles(Tile {
            src,
            at: px.at,
            step: px.step,
            wrap: px.wrap,
            count,
            taps,
            w: w.as_slice(),
            w_stride: fv * k.lanes(),
            fv,
            out,
            out_stride: z_stride,
            bias_act,
        });
    }
}

/// The rows of a [`run_tiles`] block of `count` pixels: `count` rounded up to every chunk's
/// tile.
pub(crate) fn tiled_rows(k: Kernels, packed: &Packed, count: usize) -> usize {
    packed.chunks.iter().map(|&(_, fv)| k.tiled(count, fv)).max().unwrap_or(0)
}

/// `act(conv2d(x, W) + b)` with direct kernels, followed by `then` if given (its output in
/// place of the convolution's), pooled by `pool` if given, N×F×oh×ow contiguous, or the
/// fully connected layer `dense` of that, N×O. `weight` is F×C×kh×kw contiguous (its
/// packing kept for the next call when its tensor is given), `bias` has F entries.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    k: Kernels,
    x: &Tensor<f32>,
    (weight, id): (&[f32], Option<&Tensor<f32>>),
    bias: &[f32],
    g: &Window2d,
    d: &WindowDims,
    filters: usize,
    act: Option<Activation>,
    then: Option<&Then<'_>>,
    pool: Option<&Pool<'_>>,
    dense: Option<&Dense<'_>>,
) -> Buffer<f32> {
    let st = Staging::new(g, d);
    // Channels-last phase planes where the image must be staged (not read in place), it has
    // a vector of channels or more, and they make a pixel step the tile kernel takes: its
    // taps are then groups of consecutive floats (a stride-2 16→32 layer −3 % at 28×28, −5 %
    // at 32×32, −10 % at 14×14; a 1×1 layer read in place would take 37 % longer staged).
    let staged = st.in_place(Source::tensor(x), 0, 0).is_none();
    let cl = ChannelsLast::floats_per_pixel(d.c, g.stride[1])
        .filter(|_| staged && d.c >= 8 && ChannelsLast::reads(Source::tensor(x), d.w))
        .map(|c| ChannelsLast::new(g, c, [d.h, d.w]));
    let (taps, wq, step, planes_len) = match &cl {
        Some(c) => (Taps::new(c.offsets(g.kernel)), c.wq, c.step(), c.planes_len()),
        None => (Taps::new(st.offsets(g.kernel)), st.wq, st.step, st.planes_len()),
    };
    let n_taps = taps.len();
    let key = window_key(&[0, k.lanes(), k.max_fv(), filters, n_taps, usize::from(cl.is_some()), d.c, d.h, d.w], g);
    let packed = prepared(id, key, || match &cl {
        Some(c) => Packed::new(k, filters, n_taps, c.weight(weight, d.c, g.kernel_area())),
        None => Packed::new(k, filters, n_taps, |f, t| weight[f * n_taps + t]),
    });
    let fpad = filters.div_ceil(k.lanes()) * k.lanes();
    // The output pixels as rows of `ow`, none past a row's end, unless a 1×1 convolution
    // taken in reads the block in runs of pixels.
    let px = match then {
        Some(t) if super::then::reads_rows(&t.window) => Pixels::run(0, step),
        _ => Pixels::rows(k, &packed, step, d.ow, wq),
    };
    let width = px.width(wq);
    let count = d.oh * width;
    let rows = tiled_rows(k, &packed, count);
    let mut next = then.map(|t| Next::new(k, t, filters, fpad, [d.oh, d.ow, width]));
    // The bias the tiles add before the next convolution reads them: zeros past the filters.
    let padded_bias: Vec<f32> =
        (0..if then.is_some() { fpad } else { 0 }).map(|f| bias.get(f).copied().unwrap_or(0.0)).collect();
    let reach = px.reach(rows, taps.max());
    let mut xs = Aligned::zeros(planes_len.max(reach));
    let mut z = Aligned::zeros(rows.max(next.as_ref().map_or(0, |n| n.rows)) * fpad);
    // What the output pass reads: the next convolution's block, or this one's, of
    // `out_rows` rows of `z_width` pixels (`oh × ow` of them valid).
    let (out_filters, out_bias, out_act) = then.map_or((filters, bias, act), |t| (t.filters, t.bias, t.act));
    let [z_width, out_rows, out_cols] = next.as_ref().map_or([width, d.oh, d.ow], |n| n.dims);
    let out_fpad = out_filters.div_ceil(k.lanes()) * k.lanes();
    let mut z2 = Aligned::zeros(next.as_ref().map_or(0, |n| n.rows) * out_fpad);
    let plane = out_rows * out_cols;
    let (oh, ow, out_plane) = pool.map_or((out_rows, out_cols, plane), |p| (p.dims.oh, p.dims.ow, p.plane()));
    let in_block = pool.is_some_and(|p| p.in_block());
    // The layer after reads each image's last block from a slot: the tiles' (with the bias
    // and activation), or the pooled one.
    let mut dense = dense.map(|dense| {
        assert!(pool.is_none() || in_block, "dense: a pooling outside the block");
        let (z_width, rows, cols, len) = match pool {
            Some(_) => (ow, oh, ow, out_plane * out_fpad),
            None => (z_width, out_rows, out_cols, next.as_ref().map_or(rows, |n| n.rows) * out_fpad),
        };
        let block = Block { z_width, rows, cols, channels: out_filters, stride: out_fpad, len };
        let block_bias = (0..out_fpad).map(|f| out_bias.get(f).copied().unwrap_or(0.0)).collect::<Vec<_>>();
        (DenseRun::new(k, dense, block), dense.outputs, block_bias)
    });
    let len = d.n * dense.as_ref().map_or(out_filters * out_plane, |d| d.1);
    let mut y = crate::buffer_pool::take(len);
    let mut pooled_block = Aligned::zeros(if in_block { out_plane * out_fpad } else { 0 });
    let mut planes = crate::buffer_pool::take(if pool.is_some() && !in_block { out_filters * plane } else { 0 });
    let mut pooled = Vec::new();
    for n in 0..d.n {
        let (src, at) = match (&cl, st.in_place(Source::tensor(x), n, reach)) {
            (Some(c), _) => {
                c.stage(k, Source::tensor(x), n, d.c, xs.as_mut_slice());
                (xs.as_slice(), 0)
            }
            (None, Some(image)) => image,
            (None, None) => {
                st.stage(Source::tensor(x), n, xs.as_mut_slice());
                (xs.as_slice(), 0)
            }
        };
        // Without a pooling, the layer after takes the tiles' block in its slot.
        let to_slot = match (dense.as_mut(), pool) {
            (Some((run, _, block_bias)), None) => Some((run.slot(n), Some((block_bias.as_slice(), out_act)))),
            _ => None,
        };
        let (z, filters, fpad, bias, act) = match next.as_mut() {
            None => {
                let (to, bias_act) = to_slot.unwrap_or((z.as_mut_slice(), None));
                run_tiles(k, src, Pixels { at, ..px }, count, &taps, &packed, to, fpad, bias_act);
                (z.as_slice(), filters, fpad, bias, act)
            }
            Some(next) => {
                let block = (z.as_mut_slice(), fpad);
                let bias_act = (padded_bias.as_slice(), act);
                let (to, out_bias_act) = to_slot.unwrap_or((z2.as_mut_slice(), None));
                next.image(
                    k,
                    (src, Pixels { at, ..px }),
                    count,
                    (&taps, &packed),
                    bias_act,
                    block,
                    (to, out_fpad),
                    out_bias_act,
                );
                (z2.as_slice(), out_filters, out_fpad, out_bias, out_act)
            }
        };
        let out = &mut y.spare_capacity_mut()[..len];
        if let Some((run, _, _)) = dense.as_mut() {
            if let Some(p) = pool {
                p.block(k, z, [z_width, fpad], bias, act, run.slot(n));
            }
            run.after(k, n, d.n, out);
            continue;
        }
        let image = n * filters * out_plane..(n + 1) * filters * out_plane;
        match pool {
            None => {
                k.store_planes(dense_planes(z, [fpad, filters, z_width, oh, ow], Some(bias), act, out, image.start))
            }
            Some(p) if in_block => {
                p.block(k, z, [z_width, fpad], bias, act, pooled_block.as_mut_slice());
                k.store_planes(dense_planes(
                    pooled_block.as_slice(),
                    [fpad, filters, ow, oh, ow],
                    None,
                    None,
                    out,
                    image.start,
                ));
            }
            Some(p) => {
                planes.clear();
                let to = &mut planes.spare_capacity_mut()[..filters * plane];
                k.store_planes(dense_planes(z, [fpad, filters, z_width, out_rows, out_cols], Some(bias), act, to, 0));
                // SAFETY: the pass wrote every channel, row and column of the image's planes.
                unsafe { planes.set_len(filters * plane) };
                p.planes(&planes, [plane, out_cols], &mut pooled, &mut out[image]);
            }
        }
    }
    // SAFETY: image n's pass wrote every channel, row and column of its block
    // n·F·oh·ow..(n + 1)·F·oh·ow (pooled, when pooling), or the layer after wrote its
    // outputs n·O..(n + 1)·O at the end of its group, so all `len` elements are
    // initialised.
    unsafe { y.set_len(len) };
    y
}

/// The output pass's arguments for a block `z` of `rows` rows of `z_width` pixels,
/// `stride` floats apart, of which `channels`, into contiguous planes of `rows × cols` from
/// `out[at]`.
fn dense_planes<'a>(
    z: &'a [f32],
    [stride, channels, z_width, rows, cols]: [usize; 5],
    bias: Option<&'a [f32]>,
    act: Option<Activation>,
    out: &'a mut [MaybeUninit<f32>],
    at: usize,
) -> Planes<'a> {
    Planes {
        z,
        z_stride: stride,
        z_width,
        channels,
        rows,
        cols: 0..cols,
        bias,
        act,
        out,
        at,
        plane: rows * cols,
        row_stride: cols,
        col_stride: 1,
    }
}
