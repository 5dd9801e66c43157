//! 3×3 stride-1 convolutions by Winograd's F(4×4, 3×3) (`kernels/winograd4.rs`): 36
//! products per 4×4 output block and channel pair where F(2×2, 3×3) takes 64, chosen where
//! its tiles, padded to whole vectors, need at most four fifths of F(2×2, 3×3)'s products
//! ([`cheaper`]: 14×14 and larger outputs; not 8×8, whose four tiles leave half of a vector
//! empty). Per image as [`Conv`](super::winograd::Conv): the input staged, transformed
//! (`V[ξ][c][tile]`), multiplied by the transformed filters (`U[ξ][c][f]`, once per call)
//! with the direct tile kernel, and transformed back into 4×4 output blocks written into
//! the output planes with bias and activation (or pooled in 2×2 windows).

use super::staging::{Aligned, Source, Staging};
use super::winograd::{Dest, Pass, Products};
use crate::activation::Activation;
use crate::kernels::{
    BlockPool, Kernels, WINOGRAD4_POSITIONS, Wino4In, Wino4Out, winograd_rows, winograd_tiling, winograd4_filter,
};
use crate::tensor::Tensor;
use crate::window::{Window2d, WindowDims};

/// Whether F(4×4, 3×3) has fewer products than F(2×2, 3×3) by a fifth or more on an
/// `oh × ow` output, tiles padded to whole vectors of `lanes` (its transforms cost more per
/// output: each tile's patch and block go through 8×8 and 4×4 transposes).
pub(crate) fn cheaper(d: &WindowDims, lanes: usize) -> bool {
    let four = WINOGRAD4_POSITIONS * (d.oh.div_ceil(4) * d.ow.div_ceil(4)).div_ceil(lanes) * lanes;
    let (th, twp) = winograd_tiling(d.oh, d.ow);
    let two = 16 * (winograd_rows(th, twp) * twp).div_ceil(lanes) * lanes;
    5 * four <= 4 * two
}

/// One convolution's transformed filters and buffers, for its images one at a time.
pub(crate) struct Conv4 {
    k: Kernels,
    d: WindowDims,
    filters: usize,
    st: Staging,
    tw: usize,
    tiles: usize,
    products: Products,
    xs: Aligned,
}

impl Conv4 {
    /// A 3×3 stride-1 window `g` over inputs of dims `d` (its batch size is ignored), with
    /// `weight(f, c, i, j)` (its tensor `id` if the transform is to be kept).
    pub(crate) fn new(
        k: Kernels,
        (weight, id): (impl Fn(usize, usize, usize, usize) -> f32, Option<&Tensor<f32>>),
        g: &Window2d,
        d: &WindowDims,
        filters: usize,
    ) -> Self {
        let lanes = k.lanes();
        // Tiles row-major, `tw` to a row, padded to whole vectors (the products' lanes); the
        // staging holds every padded tile's 6×6 patch (zeros past the image), each row
        // readable 8 floats wide.
        let (th, tw) = (d.oh.div_ceil(4), d.ow.div_ceil(4).max(1));
        let tiles = (th * tw).max(1).div_ceil(lanes) * lanes;
        let rows = (tiles - 1) / tw + 1;
        let st = Staging::new(g, d).at_least(4 * rows + 2, 4 * tw + 4);
        let products = Products::new(k, [d.c, filters, tiles], (weight, id), winograd4_filter);
        let xs = Aligned::zeros(st.planes_len());
        Conv4 { k, d: *d, filters, st, tw, tiles, products, xs }
    }
}

impl Pass for Conv4 {
    fn cover(&self) -> [usize; 2] {
        [4 * self.d.oh.div_ceil(4), 4 * self.tw]
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
        k.winograd4_input(Wino4In {
            src: self.xs.as_slice(),
            channels: self.d.c,
            hst: self.st.hq,
            wst: self.st.wq,
            tw: self.tw,
            tiles: self.tiles,
            v_block: p.v_block,
            v: p.v.as_mut_slice(),
        });
        p.run(k);
        k.winograd4_output(Wino4Out {
            m: p.m.as_slice(),
            m_block: p.m_block,
            tiles: self.tiles,
            tw: self.tw,
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
