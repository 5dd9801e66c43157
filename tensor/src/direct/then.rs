//! A second convolution computed from the first one's pixels × filters block, in inference
//! (`then` of [`forward`](super::forward::forward)): the block is already channels-last,
//! the layout the tile kernel reads fastest (a tap group is consecutive floats), so the
//! first convolution's output is never transposed into planes, written out and staged
//! again.
//!
//! - A 1×1 convolution of stride 1 without padding reads the block's rows as they are, in
//!   runs of [`POINTWISE_RUN`] pixels while they are in L1.
//! - Any other window reads the block's valid rows copied into channels-last phase planes
//!   ([`ChannelsLast`]), one image at a time.

use super::forward::{Packed, Pixels, run_tiles, tiled_rows};
use std::rc::Rc;

use super::prepared::{prepared, window_key};
use super::staging::{Aligned, ChannelsLast};
use crate::activation::Activation;
use crate::kernels::{Kernels, PIXEL_STEPS, Taps};
use crate::tensor::Tensor;
use crate::window::Window2d;

/// The second convolution: `F₂×F×kh×kw` weights (contiguous), its bias, window, output
/// rows and columns (as [`Window2d::dims`] gives them) and activation.
pub(crate) struct Then<'a> {
    pub weight: &'a [f32],
    /// The weight whose packing is kept for the next call ([`prepared`]), if any.
    pub id: Option<&'a Tensor<f32>>,
    pub bias: &'a [f32],
    pub filters: usize,
    pub window: Window2d,
    pub out: [usize; 2],
    pub act: Option<Activation>,
}

/// Pixels per run of a 1×1 convolution taken in: a multiple of every kernel set's tile (3,
/// 4, 6, 8, 12 or 16 pixels), so that only an image's last run rounds up; 96 rows of 16
/// channels are 6 KB, read by the 1×1 convolution from L1.
pub(super) const POINTWISE_RUN: usize = 96;

/// Whether the block's rows are the window's input as they are (1×1, stride 1, no padding).
pub(super) fn reads_rows(g: &Window2d) -> bool {
    g.kernel == [1, 1] && g.stride == [1, 1] && g.padding == [0, 0]
}

/// The floats between two output pixels' inputs when a window reads a block of `fpad`
/// floats per pixel: one of [`PIXEL_STEPS`] for the tile kernel to take it.
pub(super) fn pixel_step(g: &Window2d, fpad: usize) -> usize {
    if reads_rows(g) { fpad } else { g.stride[1] * fpad }
}

/// Whether [`Next`] takes a window after a block of `fpad` floats per pixel.
pub(super) fn takes(g: &Window2d, fpad: usize) -> bool {
    PIXEL_STEPS.contains(&pixel_step(g, fpad))
}

/// The second convolution prepared for a first one of `c` filters (`cpad` floats per block
/// pixel) and `[rows, cols]` outputs in block rows of `z_width` pixels: packed weights,
/// taps, and where its input and output blocks live.
pub(super) struct Next {
    packed: Rc<Packed>,
    taps: Taps,
    /// The channels-last planes it reads (none for a 1×1 window reading the block's rows),
    /// and how its output pixels read them.
    staging: Option<(ChannelsLast, Aligned, Pixels)>,
    /// Pixels per row of the first convolution's block.
    z_width: usize,
    /// Rows of its pixels × filters block.
    pub rows: usize,
    /// Its output: pixels per block row, rows and columns.
    pub dims: [usize; 3],
}

impl Next {
    pub(super) fn new(k: Kernels, t: &Then<'_>, c: usize, cpad: usize, [rows, cols, z_width]: [usize; 3]) -> Self {
        let g = &t.window;
        let key = window_key(&[1, k.lanes(), k.max_fv(), t.filters, c, cpad, rows, cols, z_width], g);
        if reads_rows(g) {
            let packed = prepared(t.id, key, || Packed::new(k, t.filters, c, |f, ch| t.weight[f * c + ch]));
            let rows_out = tiled_rows(k, &packed, rows * z_width);
            let taps = Taps::new((0..c).collect());
            return Next { packed, taps, staging: None, z_width, rows: rows_out, dims: [z_width, rows, cols] };
        }
        let st = ChannelsLast::new(g, cpad, [rows, cols]);
        let area = g.kernel_area();
        let packed = prepared(t.id, key, || Packed::new(k, t.filters, area * cpad, st.weight(t.weight, c, area)));
        let taps = Taps::new(st.offsets(g.kernel));
        let [oh, ow] = t.out;
        let px = Pixels::rows(k, &packed, st.step(), ow, st.wq);
        let width = px.width(st.wq);
        let rows_out = tiled_rows(k, &packed, oh * width);
        let buf = Aligned::zeros(st.planes_len().max(px.reach(rows_out, taps.max())));
        let dims = [width, oh, ow];
        Next { packed, taps, staging: Some((st, buf, px)), z_width, rows: rows_out, dims }
    }

    /// One image: the first convolution's tiles over `count` pixels reading `src` as `px`
    /// says, through `act(· + bias)` in registers (`bias` padded to `cpad` with zeros), into
    /// its block `z`, and this convolution from that block into `z2` (`fpad2` floats per
    /// pixel), through `out_bias_act` if given.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn image(
        &mut self,
        k: Kernels,
        (src, px): (&[f32], Pixels),
        count: usize,
        (taps, packed): (&Taps, &Packed),
        (bias, act): (&[f32], Option<Activation>),
        (z, cpad): (&mut [f32], usize),
        (z2, fpad2): (&mut [f32], usize),
        out_bias_act: Option<(&[f32], Option<Activation>)>,
    ) {
        let bias_act = Some((bias, act));
        match &mut self.staging {
            None => {
                // Runs of pixels whose block stays in L1 through the convolution, its bias
                // and activation, and the 1×1 convolution; whole tiles, so only the last one
                // rounds up.
                for q in (0..count).step_by(POINTWISE_RUN) {
                    let n = POINTWISE_RUN.min(count - q);
                    let (z, z2) = (&mut z[q * cpad..], &mut z2[q * fpad2..]);
                    run_tiles(k, src, Pixels::run(px.at + q * px.step, px.step), n, taps, packed, z, cpad, bias_act);
                    run_tiles(k, z, Pixels::run(0, cpad), n, &self.taps, &self.packed, z2, fpad2, out_bias_act);
                }
            }
            Some((st, buf, px2)) => {
                run_tiles(k, src, px, count, taps, packed, z, cpad, bias_act);
                st.stage_block(z, self.z_width, buf.as_mut_slice());
                let [width, oh, _] = self.dims;
                run_tiles(k, buf.as_slice(), *px2, oh * width, &self.taps, &self.packed, z2, fpad2, out_bias_act);
            }
        }
    }
}
