//! A fully connected layer on the flattened output of a direct convolution, in inference
//! (`dense` of [`forward`](super::forward::forward)):
//! `y[n, o] = act(b[o] + Σ_{c,r,s} W[o, (c·rows + r)·cols + s] · block_n[(r·z_width + s)·stride + c])`.
//! It reads each image's channels-last block as the output pass leaves it, so the
//! convolution's output is never transposed into planes (`flatten` order) and no matrix is
//! packed: the tile kernel takes the images of a group as its pixels (`pitch` = one
//! image's block) and the flattened inputs as its taps, listed in the block's order with
//! the weights permuted to match. A group's blocks are read while they are in cache.

use std::mem::MaybeUninit;
use std::rc::Rc;

use super::forward::{Packed, Pixels, run_tiles, tiled_rows};
use super::prepared::prepared;
use super::staging::{Aligned, chunks};
use crate::activation::Activation;
use crate::kernels::{Kernels, Taps, gcd};
use crate::tensor::Tensor;

/// The layer: `outputs × inputs` weights (contiguous, `inputs` the flattened convolution
/// output in `[C, rows, cols]` order), `outputs` biases and the activation after them.
pub(crate) struct Dense<'a> {
    pub weight: &'a [f32],
    /// The weight whose packing is kept for the next call ([`prepared`]), if any.
    pub id: Option<&'a Tensor<f32>>,
    pub bias: &'a [f32],
    pub outputs: usize,
    pub act: Option<Activation>,
}

/// An image's block as the output pass leaves it: `rows × cols` valid pixels of
/// `channels`, in rows of `z_width` pixels, `stride` floats per pixel; `len` floats in all.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub z_width: usize,
    pub rows: usize,
    pub cols: usize,
    pub channels: usize,
    pub stride: usize,
    pub len: usize,
}

/// Images per group at least: two tiles of 6 on AVX2, whose 12 blocks of 49 pixels × 32
/// channels (75 KB) are read from L2 by the tiles.
const MIN_GROUP: usize = 12;

/// Whether [`DenseRun`] takes `outputs` on `k`: one chunk of vectors, so that each image's
/// block is read once (LeNet-5's 120 outputs, eight chunks, ran 1 % slower than the matrix
/// product). A tile keeps an address per image; AVX-512's 16 of one vector (10 outputs)
/// ran the stride-2 network 1.17× faster than the matrix product, so more images than
/// registers cost less than the product's packing.
pub(crate) fn takes(k: Kernels, outputs: usize) -> bool {
    chunks(outputs.div_ceil(k.lanes()), k.max_fv()).len() == 1
}

/// The layer prepared for blocks of one layout: packed weights, taps, and a group of image
/// slots with the tiles' output.
pub(super) struct DenseRun {
    /// The packed weights and the taps.
    prepared: Rc<(Packed, Taps)>,
    bias: Vec<f32>,
    act: Option<Activation>,
    outputs: usize,
    pitch: usize,
    slots: Aligned,
    z: Aligned,
    opad: usize,
    group: usize,
}

impl DenseRun {
    pub(super) fn new(k: Kernels, d: &Dense<'_>, b: Block) -> Self {
        let plane = b.rows * b.cols;
        let inputs = b.channels * plane;
        assert_eq!(d.weight.len(), d.outputs * inputs, "dense: weight extent");
        let key = vec![2, k.lanes(), k.max_fv(), d.outputs, b.z_width, b.rows, b.cols, b.channels, b.stride];
        let prepared = prepared(d.id, key, || {
            // Tap t = p·channels + c (pixel p = r·cols + s): the block's order.
            let mut offsets = Vec::with_capacity(b.channels * plane);
            for r in 0..b.rows {
                for s in 0..b.cols {
                    let at = (r * b.z_width + s) * b.stride;
                    offsets.extend(at..at + b.channels);
                }
            }
            (pack(k, d, b.channels, plane), Taps::new(offsets))
        });
        let packed = &prepared.0;
        let opad = d.outputs.div_ceil(k.lanes()) * k.lanes();
        let bias = (0..opad).map(|o| d.bias.get(o).copied().unwrap_or(0.0)).collect();
        // A multiple of every chunk's tile, so that a group's tiles never run past its slots.
        let tile = packed.chunks.iter().fold(1, |g, &(_, fv)| g / gcd(g, k.pixels(fv)) * k.pixels(fv));
        let group = tile * MIN_GROUP.div_ceil(tile);
        let slots_n = tiled_rows(k, packed, group);
        // At least the tiles' pixel step (one image of one vector of channels is less).
        let pitch = b.len.max(8);
        DenseRun {
            bias,
            act: d.act,
            outputs: d.outputs,
            pitch,
            slots: Aligned::zeros(slots_n * pitch),
            z: Aligned::zeros(slots_n * opad),
            opad,
            group,
            prepared,
        }
    }

    /// Where image `n`'s block goes.
    pub(super) fn slot(&mut self, n: usize) -> &mut [f32] {
        let at = n % self.group * self.pitch;
        &mut self.slots.as_mut_slice()[at..at + self.pitch]
    }

    /// After image `n` of `images` is in its slot: at the end of a group (or of the
    /// images), the layer over the group's images into rows `outputs` wide of `y`.
    pub(super) fn after(&mut self, k: Kernels, n: usize, images: usize, y: &mut [MaybeUninit<f32>]) {
        if !(n + 1).is_multiple_of(self.group) && n + 1 != images {
            return;
        }
        let first = n / self.group * self.group;
        let count = n + 1 - first;
        // Each image a row of one pixel; a step past 2 (unused with one pixel a row) reads
        // the taps as groups of consecutive channels, whose addresses stay in registers
        // (through the offsets array the layer took twice as long).
        let px = Pixels { at: 0, step: 8, wrap: Some([1, self.pitch]) };
        let bias_act = Some((self.bias.as_slice(), self.act));
        let z = self.z.as_mut_slice();
        let (packed, taps) = &*self.prepared;
        run_tiles(k, self.slots.as_slice(), px, count, taps, packed, z, self.opad, bias_act);
        for (i, row) in y[first * self.outputs..(n + 1) * self.outputs].chunks_exact_mut(self.outputs).enumerate() {
            for (to, &v) in row.iter_mut().zip(&z[i * self.opad..]) {
                to.write(v);
            }
        }
    }
}

/// The layer's weights packed for `k`'s tiles with the taps in the block's order: row
/// `p·channels + c` holds `W[o, c·plane + p]` for the chunk's outputs `o`. Each output's
/// weights are read in order; packed per call, it is a loop without index arithmetic past
/// the write (through [`Packed::new`]'s closure, 5 % of the stride-2 network's inference).
fn pack(k: Kernels, d: &Dense<'_>, channels: usize, plane: usize) -> Packed {
    let (lanes, inputs) = (k.lanes(), channels * plane);
    let chunks = chunks(d.outputs.div_ceil(lanes), k.max_fv());
    let rows = chunks
        .iter()
        .map(|&(v0, fv)| {
            let width = fv * lanes;
            let mut rows = Aligned::zeros(inputs * width);
            let data = rows.as_mut_slice();
            let first = v0 * lanes;
            let weight = &d.weight[first * inputs..];
            let n = width.min(d.outputs - first);
            let mut tap_rows = data.chunks_exact_mut(width);
            for p in 0..plane {
                for (c, row) in (0..channels).zip(&mut tap_rows) {
                    for (l, to) in row[..n].iter_mut().enumerate() {
                        *to = weight[l * inputs + c * plane + p];
                    }
                }
            }
            rows
        })
        .collect();
    Packed { chunks, rows }
}
