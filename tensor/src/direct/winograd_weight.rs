//! `∇W` of a 3×3 stride-1 convolution by Winograd's F(3×3, 2×2) (`kernels/winograd.rs`):
//!
//! `∇W[f, c] = Σ_{n, tiles} A'ᵀ [(G' δ G'ᵀ) ⊙ (Bᵀ d B)] A'`
//!
//! for each 2×2 block `δ` of `∇z[n, f]` (zero past its edges) and the 4×4 patch `d` of
//! the padded input under it (the forward's tile). The sum over tiles moves inside `A'`,
//! so for each of the 16 positions ξ of the transform it is one matrix product,
//! `S[ξ][c][f] = Σ_t V[ξ][c][t] · Ĝ[t][ξ][f]`, computed by the outer-product kernel
//! ([`Kernels::ger`]) with channels as its taps, and `A'ᵀ S A'` is applied once at the
//! end: 16 multiplications per channel pair and 2×2 block against the direct kernel's 36
//! (9 per pixel), and no `wq − ow` columns computed and dropped.

use super::backward::gather_gradient;
use super::staging::{Aligned, Source, Staging, chunks};
use crate::buffer::Buffer;
use crate::kernels::{Ger, Kernels, WinogradGrad, WinogradIn, winograd_block, winograd_weight_gradient};
use crate::window::{Window2d, WindowDims};

/// One chunk of `fv` filter vectors from vector `v0`: for each ξ, where the channels' rows
/// of V start, in groups of `ger_taps(fv)`, the last padded with channel 0 (its sums are
/// dropped); and the sums, `[ξ][channel slot][fv·lanes]`.
struct Part {
    v0: usize,
    fv: usize,
    slots: usize,
    offsets: Vec<usize>,
    sums: Buffer<f32>,
}

/// ∇W of one convolution by F(3×3, 2×2), summed image by image.
pub(crate) struct WeightGrad {
    k: Kernels,
    d: WindowDims,
    filters: usize,
    st: Staging,
    th: usize,
    twp: usize,
    rows: usize,
    v_block: usize,
    fpad: usize,
    xs: Aligned,
    v: Aligned,
    gt: Aligned,
    gh: Aligned,
    parts: Vec<Part>,
}

impl WeightGrad {
    /// For a window `g` that [`super::winograd::suits`] over inputs of dims `d`.
    pub(crate) fn new(k: Kernels, g: &Window2d, d: &WindowDims, filters: usize) -> Self {
        let lanes = k.lanes();
        let (th, twp, rows, st) = super::winograd::tiled(g, d);
        let tiles = rows * twp;
        let fpad = filters.div_ceil(lanes) * lanes;
        let v_block = winograd_block(d.c * tiles);
        let parts = chunks(fpad / lanes, k.max_fv())
            .into_iter()
            .map(|(v0, fv)| {
                let slots = d.c.div_ceil(k.ger_taps(fv)) * k.ger_taps(fv);
                let channel = |slot: usize| if slot < d.c { slot } else { 0 };
                let offsets = (0..16 * slots).map(|o| o / slots * v_block + channel(o % slots) * tiles).collect();
                Part { v0, fv, slots, offsets, sums: crate::buffer_pool::filled(16 * slots * fv * lanes, 0.0f32) }
            })
            .collect();
        WeightGrad {
            k,
            d: *d,
            filters,
            th,
            twp,
            rows,
            v_block,
            fpad,
            xs: Aligned::zeros(st.planes_len()),
            v: Aligned::zeros(16 * v_block),
            gt: Aligned::zeros(4 * tiles * fpad),
            gh: Aligned::zeros(16 * tiles * fpad),
            st,
            parts,
        }
    }

    /// Adds image n's products: its input from `x`, its `∇z` (F×oh×ow contiguous).
    pub(crate) fn image(&mut self, x: Source<'_>, n: usize, gz: &[f32]) {
        let (k, d, lanes, tiles) = (self.k, self.d, self.k.lanes(), self.rows * self.twp);
        self.st.stage(x, n, self.xs.as_mut_slice());
        k.winograd_input(WinogradIn {
            src: self.xs.as_slice(),
            channels: d.c,
            hst: self.st.hq,
            wst: self.st.wq,
            th: self.th,
            twp: self.twp,
            tiles,
            v_block: self.v_block,
            v: self.v.as_mut_slice(),
        });
        // ∇z as pixels × filters on a grid of 2·rows × 2·twp (zero past oh × ow, never
        // written), then its blocks' transforms.
        gather_gradient(k, gz, &d, self.filters, self.gt.as_mut_slice(), self.fpad, 2 * self.twp);
        k.winograd_gradient(WinogradGrad {
            gt: self.gt.as_slice(),
            fpad: self.fpad,
            z_width: 2 * self.twp,
            rows: self.rows,
            twp: self.twp,
            g: self.gh.as_mut_slice(),
        });
        let (v, gh, fpad) = (self.v.as_slice(), self.gh.as_slice(), self.fpad);
        for part in &mut self.parts {
            let (r, width) = (k.ger_taps(part.fv), part.fv * lanes);
            let per_xi = part.offsets.chunks_exact(part.slots).zip(part.sums.chunks_exact_mut(part.slots * width));
            for (xi, (offsets, sums)) in per_xi.enumerate() {
                for (offsets, out) in offsets.chunks_exact(r).zip(sums.chunks_exact_mut(r * width)) {
                    k.ger(Ger {
                        src: v,
                        offsets,
                        step: 1,
                        count: tiles,
                        g: &gh[xi * fpad + part.v0 * lanes..],
                        g_stride: 16 * fpad,
                        fv: part.fv,
                        out,
                    });
                }
            }
        }
    }

    /// `∇W`, F×C×3×3 contiguous.
    pub(crate) fn finish(self) -> Buffer<f32> {
        let (lanes, c) = (self.k.lanes(), self.d.c);
        let mut gw = crate::buffer_pool::filled(self.filters * c * 9, 0.0f32);
        for part in &self.parts {
            let width = part.fv * lanes;
            let per_xi = part.slots * width;
            for l in 0..width {
                let f = part.v0 * lanes + l;
                if f >= self.filters {
                    continue;
                }
                for ci in 0..c {
                    let s: [f32; 16] = std::array::from_fn(|xi| part.sums[xi * per_xi + ci * width + l]);
                    let at = (f * c + ci) * 9;
                    gw[at..at + 9].copy_from_slice(&winograd_weight_gradient(&s));
                }
            }
        }
        gw
    }
}
