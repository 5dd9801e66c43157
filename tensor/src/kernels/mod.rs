//! The SIMD microkernels of the direct convolutions (`crate::direct`), one set per
//! instruction set, chosen once per process: AVX-512F, AVX2 + FMA, or a portable set in
//! safe Rust that the compiler vectorises for the baseline target.
//!
//! Every kernel works on `f32` with the output channels in the lanes of a vector ("channels
//! in lanes", as ONNX Runtime's NCHWc kernels): an input value is broadcast and multiplied
//! with a vector of weights, one per output channel, so any channel count above the vector
//! width fills every lane, and any input channel count, kernel, stride and padding is the
//! same loop over a list of tap offsets. The three kernels:
//!
//! - [`Kernels::tiles`]: `out[p][f] = Σ_t src[at + p + offset_t] · w[t][f]` for a tile of
//!   `P` consecutive pixels and `fv` vectors of channels, the accumulators in registers;
//! - [`Kernels::ger`]: `out[r][f] += Σ_q src[offset_r + q] · g[q][f]`, a sum of outer
//!   products over pixels (the weight gradient) for `R` taps;
//! - [`Kernels::store_planes`]: the output pass from a pixels × channels block to
//!   channel planes, transposed 8×8 in registers, with bias and activation.
//!
//! Each checks its arguments' extents against its slices before it touches memory (an
//! `assert!` per call, not per element), so that the `unsafe` loads inside stay in bounds
//! on every geometry.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use crate::activation::Activation;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx2_pool;
#[cfg(target_arch = "x86_64")]
mod avx2_sums;
#[cfg(target_arch = "x86_64")]
mod avx2_winograd4;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avx512_pool;
#[cfg(target_arch = "x86_64")]
mod avx512_winograd4;
#[cfg(target_arch = "x86_64")]
mod fma_loops;
mod pool_block;
mod portable;
#[cfg(test)]
mod tests;
mod winograd;
mod winograd4;

pub(crate) use winograd::{filter as winograd_filter, weight_gradient as winograd_weight_gradient};
pub(crate) use winograd4::{POSITIONS as WINOGRAD4_POSITIONS, Wino4In, Wino4Out, filter as winograd4_filter};

/// How `f32` convolutions are computed: through im2col and matrixmultiply (the
/// derivation's path and the reference), or with this crate's direct kernels for one
/// instruction set.
///
/// Chosen once per process ([`KernelPath::selected`]): the best path the CPU has, capped by
/// the environment variable `TENSOR_KERNELS=im2col|portable|avx2|avx512`, which can lower
/// the choice but never raise it above what the CPU supports. f64 always takes the im2col
/// path. On the direct paths, 3×3 stride-1 convolutions with 16 or more channels in and
/// out use Winograd: F(4×4, 3×3) for the forward pass and `∇x` where it has fewer products
/// (14×14 outputs and larger), else F(2×2, 3×3), and F(3×3, 2×2) for `∇W`;
/// `TENSOR_WINOGRAD=2` keeps F(2×2, 3×3) everywhere, `TENSOR_WINOGRAD=off` the direct kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelPath {
    /// im2col and `matrixmultiply` only, as for f64.
    Im2col,
    /// Direct kernels in safe Rust, vectorised by the compiler for the baseline target.
    Portable,
    /// Direct kernels with AVX2 and FMA (8 lanes).
    Avx2,
    /// Direct kernels with AVX-512F (16 lanes; 8-lane AVX2 kernels where a layer has 8
    /// channels or fewer).
    Avx512,
}

impl KernelPath {
    /// Every path, slowest first.
    pub const ALL: [KernelPath; 4] = [KernelPath::Im2col, KernelPath::Portable, KernelPath::Avx2, KernelPath::Avx512];

    /// The name `TENSOR_KERNELS` takes.
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Im2col => "im2col",
            KernelPath::Portable => "portable",
            KernelPath::Avx2 => "avx2",
            KernelPath::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            KernelPath::Im2col | KernelPath::Portable => true,
            KernelPath::Avx2 => avx2_token().is_some(),
            KernelPath::Avx512 => avx512_token().is_some(),
        }
    }

    /// The paths this CPU can run, slowest first.
    pub fn available() -> Vec<KernelPath> {
        KernelPath::ALL.into_iter().filter(|p| p.is_supported()).collect()
    }

    /// The path of this process: the best one the CPU supports, or the one `TENSOR_KERNELS`
    /// names if that is lower. An unknown name, or a path the CPU lacks, is reported once on
    /// standard error and replaced by the best supported path below it.
    pub fn selected() -> KernelPath {
        static SELECTED: OnceLock<KernelPath> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let best = KernelPath::available().into_iter().max().unwrap_or(KernelPath::Portable);
            let Ok(wanted) = std::env::var("TENSOR_KERNELS") else { return best };
            match KernelPath::ALL.into_iter().find(|p| p.name() == wanted.trim()) {
                Some(p) if p <= best => p,
                Some(p) => {
                    eprintln!("TENSOR_KERNELS={}: this CPU cannot run it; using {}", p.name(), best.name());
                    best
                }
                None => {
                    eprintln!(
                        "TENSOR_KERNELS={wanted}: expected im2col, portable, avx2 or avx512; using {}",
                        best.name()
                    );
                    best
                }
            }
        })
    }
}

/// Checks, in builds with debug assertions (the test profile), that the `n` floats from
/// index `at` lie inside a slice of `len`: the SIMD kernels call it before every raw load
/// and store, so the property tests run them bounds-checked access by access. Release
/// builds compile it away; their safety rests on the extents each entry point asserts.
#[inline(always)]
#[track_caller]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn in_bounds(at: usize, n: usize, len: usize) {
    debug_assert!(at.checked_add(n).is_some_and(|end| end <= len), "kernel access {at}..{at}+{n} outside 0..{len}");
}

#[cfg(target_arch = "x86_64")]
fn avx2_token() -> Option<avx2::Token> {
    avx2::Token::detect()
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_token() -> Option<()> {
    None
}

#[cfg(target_arch = "x86_64")]
fn avx512_token() -> Option<avx512::Token> {
    avx512::Token::detect()
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_token() -> Option<()> {
    None
}

/// The microkernels of one path and vector width. The x86 variants hold a token that exists
/// only once the CPU's support was detected, which is what makes their safe wrappers sound.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kernels {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2(avx2::Token),
    #[cfg(target_arch = "x86_64")]
    Avx512(avx512::Token),
}

/// A list of tap offsets with its largest element, which the kernels' bounds checks use,
/// and the same list as groups of `group` consecutive offsets from each of `bases` (the
/// form the tile kernel for rows of channels reads: one base per group, the channels
/// constant steps from it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Taps {
    offsets: Vec<usize>,
    max: usize,
    bases: Vec<usize>,
    group: usize,
}

impl Taps {
    /// The groups are the longest whose length divides every maximal run of consecutive
    /// offsets (1 if the runs are coprime).
    pub(crate) fn new(offsets: Vec<usize>) -> Self {
        let max = offsets.iter().copied().max().unwrap_or(0);
        let mut group = 0;
        let mut run = 0;
        for (i, &o) in offsets.iter().enumerate() {
            if i > 0 && offsets[i - 1].checked_add(1) == Some(o) {
                run += 1;
            } else {
                group = gcd(group, run);
                run = 1;
            }
        }
        let group = gcd(group, run).max(1);
        let bases = offsets.iter().step_by(group).copied().collect();
        Taps { offsets, max, bases, group }
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len()
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The first offset of each group of consecutive offsets, and the groups' length: tap
    /// `g·group + c` is at `bases[g] + c`.
    pub(crate) fn groups(&self) -> (&[usize], usize) {
        (&self.bases, self.group)
    }
}

pub(crate) fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The pixel steps [`Kernels::tiles`] takes (each compiled as a constant).
pub(crate) const PIXEL_STEPS: [usize; 5] = [1, 2, 8, 16, 32];

/// The arguments of [`Kernels::tiles`]: `fv` vectors of channels for pixels `0..count`,
/// computed in tiles of `pixels(fv)` and, for the last few, of `tail(fv)` ([`tail_start`]),
/// the last tile running past `count` (at most to `tiled(count, fv)`: rows between are
/// written or not, and read by no caller).
pub(crate) struct Tile<'a> {
    pub src: &'a [f32],
    /// Where pixel 0 reads its tap at offset 0.
    pub at: usize,
    /// How far apart consecutive pixels read, one of [`PIXEL_STEPS`]: 1, 2 for a stride-2
    /// convolution whose columns stay interleaved, or the floats between the pixels of
    /// channels-last rows (8, 16, 32) for a convolution of a pixels × channels block. Pixel
    /// `q` reads `src[at + q·step + offset]`.
    pub step: usize,
    /// `Some([width, pitch])` when the pixels are rows of `width`, `pitch` floats apart
    /// (`pitch ≥ width·step`): pixel `q` then reads `src[at + (q div width)·pitch + (q mod
    /// width)·step + offset]`, and no row holds columns past the output's (see
    /// [`pixel_offset`]).
    pub wrap: Option<[usize; 2]>,
    pub count: usize,
    pub taps: &'a Taps,
    /// `taps.len()` rows of `fv · lanes` weights, `w_stride` apart.
    pub w: &'a [f32],
    pub w_stride: usize,
    pub fv: usize,
    /// Row `p` of the result starts at `out[p · out_stride]`.
    pub out: &'a mut [f32],
    pub out_stride: usize,
    /// Applied to each row before it is stored, if given: `act(row + bias)`, `bias` the
    /// `fv · lanes` channels' (the same operations as the output pass).
    pub bias_act: Option<(&'a [f32], Option<Activation>)>,
}

/// Where the tiles of `p` pixels of a [`Tile`] end and its tiles of `t` (`t ≤ p`) begin, for
/// `count` pixels: the split computing the fewest rows, a tile of `t` counted as `t` rows
/// however few it holds (with fewer than `t` pixels a tile has too few sums in flight to end
/// sooner), ties to fewer small tiles. 32 filters in tiles of 6: four, then two of 4 (32
/// rows, not 36); 49 pixels: seven, then two of 4 (50 rows, not 54). `t` tiles of `p` cost
/// what `p` tiles of `t` do, so only the last `t` counts of whole tiles need trying.
/// Inlined, so that the kernels' constant `p` and `t` turn its divisions into multiplications
/// (called, it took 2.7 % of a Winograd network's inference).
#[inline(always)]
pub(crate) fn tail_start(count: usize, p: usize, t: usize) -> usize {
    let (mut rows, mut start) = (count.div_ceil(p) * p, count);
    let last = count / p * p;
    for k in 0..t.min(count / p + 1) {
        let full = last - k * p;
        let r = full + (count - full).div_ceil(t) * t;
        if r < rows {
            (rows, start) = (r, full);
        }
    }
    start
}

/// Where pixel `q` of a [`Tile`] reads, from its `at`: `q·step`, or with rows (`wrap =
/// Some([width, pitch])`) `(q div width)·pitch + (q mod width)·step`.
pub(crate) fn pixel_offset(step: usize, wrap: Option<[usize; 2]>, q: usize) -> usize {
    match wrap {
        Some([width, pitch]) => q / width * pitch + q % width * step,
        None => q * step,
    }
}

/// The input indices of a tile's `P` pixels, whose first one is at row `rc[0]`, column
/// `rc[1]` of `t.wrap`'s rows (advanced past them; counted, not divided), and their
/// addresses from `src`. The SIMD tiles read through the addresses: the compiler keeps them
/// in registers, where index sums went through the stack and spilled the accumulators.
#[inline(always)]
pub(super) fn wrapped<const P: usize, const S: usize>(
    t: &Tile<'_>,
    src: *const f32,
    rc: &mut [usize; 2],
) -> ([usize; P], [*const f32; P]) {
    let [width, pitch] = t.wrap.unwrap_or([usize::MAX, 0]);
    let px: [usize; P] = std::array::from_fn(|_| {
        let at = t.at + rc[0] * pitch + rc[1] * S;
        rc[1] += 1;
        if rc[1] == width {
            *rc = [rc[0] + 1, 0];
        }
        at
    });
    let mut ptrs = [src; P];
    for (ptr, &at) in ptrs.iter_mut().zip(&px) {
        *ptr = src.wrapping_add(at);
    }
    (px, ptrs)
}

/// The arguments of [`Kernels::ger`]: `Σ_q src[offsets[r] + q·step] · g[q · g_stride + f]`
/// added to `out[r · fv · lanes + f]`, for `r < offsets.len() = ger_taps(fv)` and `q <
/// count` (`step` 1 or 2, as [`Tile::step`]).
pub(crate) struct Ger<'a> {
    pub src: &'a [f32],
    pub offsets: &'a [usize],
    pub step: usize,
    pub count: usize,
    pub g: &'a [f32],
    pub g_stride: usize,
    pub fv: usize,
    pub out: &'a mut [f32],
}

/// The arguments of [`Kernels::store_planes`]: for channel `ch < channels`, row `r < rows`
/// and column `c` in `cols`, `out[at + ch·plane + r·row_stride + (c − cols.start)·col_stride]
/// = act(z[(r·z_width + c)·z_stride + ch] + bias[ch])`. `out` may be uninitialised: the
/// pass writes those elements and reads none.
pub(crate) struct Planes<'a> {
    pub z: &'a [f32],
    pub z_stride: usize,
    pub z_width: usize,
    pub channels: usize,
    pub rows: usize,
    pub cols: std::ops::Range<usize>,
    pub bias: Option<&'a [f32]>,
    pub act: Option<Activation>,
    pub out: &'a mut [MaybeUninit<f32>],
    pub at: usize,
    pub plane: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// The arguments of [`Kernels::gather_planes`], the inverse of the output pass: for channel
/// `ch < channels`, row `r < rows` and column `c` in `cols`, `z[(r·z_width + c)·z_stride +
/// ch] = src[at + ch·plane + r·row_stride + (c − cols.start)]`.
pub(crate) struct FromPlanes<'a> {
    pub src: &'a [f32],
    pub at: usize,
    pub plane: usize,
    pub row_stride: usize,
    pub channels: usize,
    pub rows: usize,
    pub cols: std::ops::Range<usize>,
    pub z: &'a mut [f32],
    pub z_stride: usize,
    pub z_width: usize,
}

/// The arguments of [`Kernels::max_pool_plane`]: one channel plane of a `kernel × kernel`
/// max-pool of stride 2 without padding, `rows × count` outputs: `out[r·count + q]` is the
/// first maximum of the window whose top-left tap is `src[at + 2r·row_stride + 2q]` (rows
/// `row_stride` apart), and `winners[r·count + q]` its index in `src`.
pub(crate) struct PoolPlane<'a> {
    pub src: &'a [f32],
    pub at: usize,
    pub row_stride: usize,
    pub kernel: usize,
    pub rows: usize,
    pub count: usize,
    pub out: &'a mut [f32],
    pub winners: Option<&'a mut [usize]>,
}

/// The arguments of [`Kernels::max_pool_planes`]: `planes` channel planes of a 3×3 max-pool
/// of stride 2 without padding nor winners, each as a [`PoolPlane`]: plane
/// `i = n·channels + c` has its top-left tap at `src[at + n·strides[0] + c·strides[1]]` and
/// its `rows × count` outputs at `out[i·rows·count..]`.
pub(crate) struct PoolPlanes<'a> {
    pub src: &'a [f32],
    pub at: usize,
    pub strides: [usize; 2],
    pub channels: usize,
    pub planes: usize,
    pub row_stride: usize,
    pub rows: usize,
    pub count: usize,
    pub out: &'a mut [f32],
}

impl PoolPlanes<'_> {
    /// Plane `i`'s top-left tap.
    fn plane_at(&self, i: usize) -> usize {
        self.at + i / self.channels * self.strides[0] + i % self.channels * self.strides[1]
    }
}

/// The arguments of [`Kernels::pool_block`]: a pooling of `rows × cols` windows of
/// `kernel` taps every `step` pixels over a pixels × channels block `z` (pixel `(y, x)` at
/// `(y·z_width + x)·stride`), `act(z + bias)` pooled channel by channel for the first
/// `bias.len()` floats of each pixel into `out` (pixel `(r, q)` at `(r·cols + q)·stride`):
/// the first maximum when `scale` is `None`, else the sum from zero in row-major order
/// times `scale`.
pub(crate) struct PoolBlock<'a> {
    pub z: &'a [f32],
    pub z_width: usize,
    pub stride: usize,
    pub bias: &'a [f32],
    pub act: Option<Activation>,
    pub scale: Option<f32>,
    pub kernel: [usize; 2],
    pub step: [usize; 2],
    pub rows: usize,
    pub cols: usize,
    pub out: &'a mut [f32],
}

/// The arguments of [`Kernels::winograd_input`]: `src` holds `channels` planes of
/// `hst × wst` (a staged, zero-padded image); tile `(ty, tx)` (for `ty <`
/// [`winograd_rows`]`(th, twp)`, `tx < twp`) reads the 4×4 patch at row `2·ty`, column
/// `2·tx`; its transform goes to `v[ξ·v_block + c·tiles + ty·twp + tx]`. The tiles go
/// in groups of 8 consecutive indices (a vector's lanes): `twp` is a multiple of 8, or 4
/// for rows of at most 4 tiles, two rows to a group, so that an 8×8 output does not leave
/// half of every vector empty.
pub(crate) struct WinogradIn<'a> {
    pub src: &'a [f32],
    pub channels: usize,
    pub hst: usize,
    pub wst: usize,
    pub th: usize,
    pub twp: usize,
    pub tiles: usize,
    pub v_block: usize,
    pub v: &'a mut [f32],
}

/// The arguments of [`Kernels::winograd_output`]: `m[ξ·m_block + f·tiles + ty·twp + tx]`
/// holds the transformed products of filter `f` and tile `(ty, tx)` (tiles in the lanes,
/// laid out as [`WinogradIn`]'s);
/// the tile's 2×2 output block, with bias and activation, goes to rows `2·ty + r < oh` and
/// columns `2·tx + s < ow` of `out[at + f·plane + row·row_stride + column]`, which may be
/// uninitialised (the pass writes and never reads it). With `pool`, the block's pooling
/// goes instead to `out[at + f·plane + ty·row_stride + tx]` for `ty < ⌊oh/2⌋`, `tx <
/// ⌊ow/2⌋`: a 2×2 pooling of stride 2 without padding, whose windows are the blocks.
pub(crate) struct WinogradOut<'a> {
    pub m: &'a [f32],
    pub m_block: usize,
    pub tiles: usize,
    pub th: usize,
    pub twp: usize,
    pub filters: usize,
    pub bias: &'a [f32],
    pub act: Option<Activation>,
    pub out: &'a mut [MaybeUninit<f32>],
    pub at: usize,
    pub plane: usize,
    pub row_stride: usize,
    pub oh: usize,
    pub ow: usize,
    pub pool: Option<BlockPool>,
}

/// A 2×2 pooling of stride 2 over the output pass's 2×2 blocks: each block's first maximum
/// in row-major order (a NaN wins, the first one), or `(((0 + y₀₀) + y₀₁) + y₁₀) + y₁₁)·¼`,
/// the pooling ops' rules and order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockPool {
    Max,
    Average,
}

/// The arguments of [`Kernels::winograd_gradient`]: `gt[(y·z_width + x)·fpad + f]` holds
/// pixel `(y, x)` of `∇z`'s plane `f` (zero past its edges, `fpad` a multiple of 8); tile
/// `(ty, tx)` (`ty < rows`, `tx < twp`) takes the 2×2 block at row `2·ty`, column `2·tx`,
/// and its transform goes to `g[((ty·twp + tx)·16 + ξ)·fpad + f]`.
pub(crate) struct WinogradGrad<'a> {
    pub gt: &'a [f32],
    pub fpad: usize,
    pub z_width: usize,
    pub rows: usize,
    pub twp: usize,
    pub g: &'a mut [f32],
}

/// Whether `twp` tiles per row make whole groups of 8: a multiple of 8, or 4 (two rows
/// to a group).
fn winograd_width(twp: usize) -> bool {
    twp == 4 || (twp > 0 && twp.is_multiple_of(8))
}

/// The stride of the 16 blocks of `len` floats (one per ξ) of a Winograd buffer: `len` in
/// whole cache lines, one more when that is a multiple of 1 KiB. The transforms read or
/// write the 16 blocks at once; 16 streams a multiple of 4 KiB apart fall in one set of
/// the L1 cache (8 ways) and evict each other (`winograd_input` took 21 % of resnet20's
/// training step on AVX-512).
pub(crate) fn winograd_block(len: usize) -> usize {
    let lines = len.div_ceil(16) * 16;
    if lines.is_multiple_of(256) { lines + 16 } else { lines }
}

/// The Winograd tiling of an `oh × ow` output: `(th, twp)`, `th` rows of 2×2 tiles, each
/// padded to `twp` tiles, whole groups of 8 (the transforms' lanes), or 4 when a row holds
/// at most 4 tiles (two rows to a group, so that an 8×8 output does not leave half of every
/// vector empty).
pub(crate) fn winograd_tiling(oh: usize, ow: usize) -> (usize, usize) {
    let tw = ow.div_ceil(2);
    (oh.div_ceil(2), if tw <= 4 { 4 } else { tw.div_ceil(8) * 8 })
}

/// The tile rows the Winograd transforms cover for `th` rows of `twp`: whole groups of 8
/// tiles, so an odd count of 4-tile rows gains one (its tiles are computed and not stored).
pub(crate) fn winograd_rows(th: usize, twp: usize) -> usize {
    if twp == 4 { th.div_ceil(2) * 2 } else { th }
}

impl Kernels {
    /// The kernels of `path` for a layer whose vectors hold `channels` channels: on the
    /// AVX-512 path, the 8-lane AVX2 kernels when 16 lanes would leave more of them empty.
    /// None for [`KernelPath::Im2col`] and for paths the CPU lacks.
    pub(crate) fn new(path: KernelPath, channels: usize) -> Option<Kernels> {
        match path {
            KernelPath::Im2col => None,
            KernelPath::Portable => Some(Kernels::Portable),
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx2 => avx2_token().map(Kernels::Avx2),
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx512 => {
                let token = avx512_token()?;
                let narrow = channels.div_ceil(8) * 8 < channels.div_ceil(16) * 16;
                Some(if narrow { Kernels::Avx2(token.avx2()) } else { Kernels::Avx512(token) })
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => None,
        }
    }

    /// The kernel sets of `path` whatever the channel count (on AVX-512, the 16-lane ones
    /// only), for tests that run each set explicitly.
    #[cfg(test)]
    pub(crate) fn variants(path: KernelPath) -> Vec<Kernels> {
        match path {
            KernelPath::Im2col => Vec::new(),
            KernelPath::Portable => vec![Kernels::Portable],
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx2 => avx2_token().map(Kernels::Avx2).into_iter().collect(),
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx512 => avx512_token().map(Kernels::Avx512).into_iter().collect(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => Vec::new(),
        }
    }

    /// The partial sums of [`crate::widened`]'s sum over the whole chunks of `values`, if
    /// this kernel set has them (the AVX2 and AVX-512 paths).
    pub(crate) fn widened_partials(self, values: &[f32], mean: Option<f64>) -> Option<[f64; crate::widened::PARTIALS]> {
        match self {
            Kernels::Portable => None,
            #[cfg(target_arch = "x86_64")]
            // SAFETY: both tokens prove AVX2 (an AVX-512 token holds an AVX2 one).
            Kernels::Avx2(_) | Kernels::Avx512(_) => Some(unsafe { avx2_sums::partials(values, mean) }),
        }
    }

    /// The partial sums of [`crate::widened`]'s pair of sums over the whole chunks of `a`
    /// and `b`, if this kernel set has them.
    #[allow(clippy::type_complexity)]
    pub(crate) fn widened_pair_partials(
        self,
        a: &[f32],
        b: &[f32],
    ) -> Option<([f64; crate::widened::PAIR_PARTIALS], [f64; crate::widened::PAIR_PARTIALS])> {
        match self {
            Kernels::Portable => None,
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as `widened_partials`.
            Kernels::Avx2(_) | Kernels::Avx512(_) => Some(unsafe { avx2_sums::pair_partials(a, b) }),
        }
    }

    /// Floats per vector.
    pub(crate) fn lanes(self) -> usize {
        match self {
            Kernels::Portable => portable::LANES,
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => avx2::LANES,
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) => avx512::LANES,
        }
    }

    /// The most vectors of channels one tile holds.
    pub(crate) fn max_fv(self) -> usize {
        match self {
            Kernels::Portable => portable::MAX_FV,
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => avx2::MAX_FV,
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) => avx512::MAX_FV,
        }
    }

    /// Pixels per tile with `fv` vectors of channels.
    pub(crate) fn pixels(self, fv: usize) -> usize {
        match self {
            Kernels::Portable => portable::pixels(fv),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => avx2::pixels(fv),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) => avx512::pixels(fv),
        }
    }

    /// Taps per [`Kernels::ger`] call with `fv` vectors of channels.
    pub(crate) fn ger_taps(self, fv: usize) -> usize {
        match self {
            Kernels::Portable => portable::ger_taps(fv),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => avx2::ger_taps(fv),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) => avx512::ger_taps(fv),
        }
    }

    /// Pixels per tile of the last few pixels ([`tail_start`]) with `fv` vectors of
    /// channels: the fewest that keep as many sums in flight as the FMA units take.
    pub(crate) fn tail(self, fv: usize) -> usize {
        match self {
            Kernels::Portable => portable::tail(fv),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => avx2::tail(fv),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) => avx512::tail(fv),
        }
    }

    /// `count` rounded up to whole tiles of `fv` vectors: the rows a [`Tile`]'s output
    /// must hold.
    pub(crate) fn tiled(self, count: usize, fv: usize) -> usize {
        count.div_ceil(self.pixels(fv)) * self.pixels(fv)
    }

    /// The rows [`Kernels::tiles`] computes for `count` pixels of `fv` vectors (its cost):
    /// whole tiles, then whole tails.
    pub(crate) fn tile_rows(self, count: usize, fv: usize) -> usize {
        let (p, t) = (self.pixels(fv), self.tail(fv));
        let full = tail_start(count, p, t);
        full.div_ceil(p) * p + (count - full).div_ceil(t) * t
    }

    /// Tiles of pixels × channels (see [`Tile`]). Panics if an extent exceeds its slice.
    pub(crate) fn tiles(self, t: Tile<'_>) {
        let (width, rows) = (t.fv * self.lanes(), self.tiled(t.count, t.fv));
        assert!((1..=self.max_fv()).contains(&t.fv), "tiles: {} vectors", t.fv);
        if rows == 0 {
            return;
        }
        assert!(PIXEL_STEPS.contains(&t.step), "tiles: pixel step {}", t.step);
        assert!(t.bias_act.is_none_or(|(b, _)| b.len() >= width), "tiles: bias extent");
        assert!(t.wrap.is_none_or(|[w, pitch]| w > 0 && pitch >= w * t.step), "tiles: rows");
        let last = t.at + pixel_offset(t.step, t.wrap, rows - 1);
        assert!(t.taps.len() == 0 || last + t.taps.max() < t.src.len(), "tiles: input extent");
        assert!(t.w_stride >= width, "tiles: weight stride");
        assert!(t.taps.len() == 0 || t.w.len() >= (t.taps.len() - 1) * t.w_stride + width, "tiles: weight extent");
        assert!(t.out_stride >= width && t.out.len() >= (rows - 1) * t.out_stride + width, "tiles: output extent");
        match self {
            Kernels::Portable => portable::tiles(t),
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(token) => unsafe { token.tiles(t) },
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(token) => unsafe { token.tiles(t) },
        }
    }

    /// Outer products summed over pixels (see [`Ger`]). Panics if an extent exceeds its
    /// slice.
    pub(crate) fn ger(self, a: Ger<'_>) {
        let width = a.fv * self.lanes();
        assert!((1..=self.max_fv()).contains(&a.fv), "ger: {} vectors", a.fv);
        assert_eq!(a.offsets.len(), self.ger_taps(a.fv), "ger: taps");
        assert!(a.step == 1 || a.step == 2, "ger: pixel step {}", a.step);
        let reach = a.count.saturating_sub(1) * a.step;
        assert!(a.count == 0 || a.offsets.iter().all(|&o| o + reach < a.src.len()), "ger: input extent");
        assert!(a.count == 0 || (a.count - 1) * a.g_stride + width <= a.g.len(), "ger: gradient extent");
        assert!(a.out.len() >= a.offsets.len() * width, "ger: output extent");
        if a.count == 0 {
            return;
        }
        match self {
            Kernels::Portable => portable::ger(a),
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(token) => unsafe { token.ger(a) },
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(token) => unsafe { token.ger(a) },
        }
    }

    /// The output pass into channel planes (see [`Planes`]). Panics if an extent exceeds
    /// its slice.
    pub(crate) fn store_planes(self, p: Planes<'_>) {
        if p.channels == 0 || p.rows == 0 || p.cols.is_empty() {
            return;
        }
        let (last_r, width) = (p.rows - 1, p.cols.len() - 1);
        assert!(p.z_stride >= p.channels && p.cols.end <= p.z_width, "store_planes: layout");
        assert!(p.z.len() >= (last_r * p.z_width + p.cols.end) * p.z_stride, "store_planes: block extent");
        assert!(p.bias.is_none_or(|b| b.len() >= p.channels), "store_planes: bias");
        let last = p.at + (p.channels - 1) * p.plane + last_r * p.row_stride + width * p.col_stride;
        assert!(last < p.out.len(), "store_planes: output extent");
        match self {
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(token) => unsafe { token.store_planes(p) },
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(token) => unsafe { token.avx2().store_planes(p) },
            Kernels::Portable => portable::store_planes(p),
        }
    }

    /// Channel planes into a pixels × channels block (see [`FromPlanes`]). Panics if an
    /// extent exceeds its slice.
    pub(crate) fn gather_planes(self, p: FromPlanes<'_>) {
        if p.channels == 0 || p.rows == 0 || p.cols.is_empty() {
            return;
        }
        let last_r = p.rows - 1;
        assert!(p.z_stride >= p.channels && p.cols.end <= p.z_width, "gather_planes: layout");
        assert!(p.z.len() >= (last_r * p.z_width + p.cols.end) * p.z_stride, "gather_planes: block extent");
        let last = p.at + (p.channels - 1) * p.plane + last_r * p.row_stride + p.cols.len() - 1;
        assert!(last < p.src.len(), "gather_planes: input extent");
        match self {
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(token) => unsafe { token.gather_planes(p) },
            // SAFETY: the extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(token) => unsafe { token.avx2().gather_planes(p) },
            Kernels::Portable => portable::from_planes(p),
        }
    }

    /// One channel plane of a 2×2 or 3×3 max-pool of stride 2 (see [`PoolPlane`]), if this
    /// kernel set has one (the AVX2 and AVX-512 paths); false otherwise. Panics if an extent
    /// exceeds its slice.
    pub(crate) fn max_pool_plane(self, p: PoolPlane<'_>) -> bool {
        let k = p.kernel;
        assert!(k == 2 || k == 3, "max_pool_plane: kernel {k}");
        if p.count == 0 || p.rows == 0 {
            return true;
        }
        let last = p.at + (2 * (p.rows - 1) + k - 1) * p.row_stride + 2 * (p.count - 1) + k - 1;
        assert!(last < p.src.len(), "max_pool_plane: input extent");
        let outputs = p.rows * p.count;
        assert!(
            p.out.len() >= outputs && p.winners.as_ref().is_none_or(|w| w.len() >= outputs),
            "max_pool_plane: output"
        );
        match self {
            Kernels::Portable => false,
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => {
                // SAFETY: both tokens prove AVX2 (an AVX-512 token holds an AVX2 one); the
                // extents were asserted above.
                unsafe { avx2_pool::max_pool_plane(p) };
                true
            }
        }
    }

    /// Every plane of a 3×3 max-pool of stride 2 without winners (see [`PoolPlanes`]), if
    /// this kernel set pools them together (AVX-512, rows of at most 7 outputs: two planes to
    /// a vector); false otherwise. Panics if an extent exceeds its slice.
    pub(crate) fn max_pool_planes(self, p: PoolPlanes<'_>) -> bool {
        if p.count == 0 || p.rows == 0 || p.planes == 0 {
            return true;
        }
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) if p.count <= avx512_pool::MAX_COUNT => {
                // Offsets grow with the image and the channel, so the last plane's last tap
                // is the furthest.
                assert!(p.channels > 0, "max_pool_planes: no channels");
                let last = p.plane_at(p.planes - 1) + 2 * p.rows * p.row_stride + 2 * p.count;
                assert!(last < p.src.len(), "max_pool_planes: input extent");
                assert!(p.out.len() >= p.planes * p.rows * p.count, "max_pool_planes: output");
                // SAFETY: the token proves AVX-512F (and AVX2); extents asserted above.
                unsafe { avx512_pool::max_pool_planes(p) };
                true
            }
            _ => false,
        }
    }

    /// One channel plane of the 2×2 average pool of stride 2 (a [`PoolPlane`] of kernel 2
    /// without winners): `out = (((0 + a₀₀) + a₀₁) + a₁₀) + a₁₁)·scale`, the scalar pass's
    /// order, so the same bits. False when this kernel set has none (portable). Panics if an
    /// extent exceeds its slice.
    pub(crate) fn avg_pool_plane(self, p: PoolPlane<'_>, scale: f32) -> bool {
        assert!(p.kernel == 2 && p.winners.is_none(), "avg_pool_plane: a 2×2 window, no winners");
        if p.count == 0 || p.rows == 0 {
            return true;
        }
        let last = p.at + (2 * p.rows - 1) * p.row_stride + 2 * p.count - 1;
        assert!(last < p.src.len(), "avg_pool_plane: input extent");
        assert!(p.out.len() >= p.rows * p.count, "avg_pool_plane: output");
        match self {
            Kernels::Portable => false,
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => {
                // SAFETY: both tokens prove AVX2 (an AVX-512 token holds an AVX2 one); the
                // extents were asserted above.
                unsafe { avx2_pool::avg_pool_plane(p, scale) };
                true
            }
        }
    }

    /// A pooling over a pixels × channels block, with bias and activation (see
    /// [`PoolBlock`]). Panics if an extent exceeds its slice.
    pub(crate) fn pool_block(self, p: PoolBlock<'_>) {
        let ([kh, kw], [sh, sw]) = (p.kernel, p.step);
        if p.rows == 0 || p.cols == 0 || p.bias.is_empty() {
            return;
        }
        let width = p.bias.len().div_ceil(8) * 8;
        assert!(width <= p.stride && kh > 0 && kw > 0, "pool_block: layout");
        let last_tap = ((p.rows - 1) * sh + kh - 1) * p.z_width + (p.cols - 1) * sw + kw - 1;
        assert!((p.cols - 1) * sw + kw <= p.z_width, "pool_block: window past the row");
        assert!(last_tap * p.stride + width <= p.z.len(), "pool_block: block extent");
        assert!((p.rows * p.cols - 1) * p.stride + width <= p.out.len(), "pool_block: output extent");
        match self {
            Kernels::Portable => pool_block::portable(p),
            // SAFETY: the AVX-512 token proves AVX-512F; the extents were asserted above, and
            // each pixel's channels fill whole vectors of 16.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) if p.bias.len().div_ceil(16) * 16 <= p.stride => unsafe { pool_block::avx512(p) },
            // SAFETY: both tokens prove AVX2 (an AVX-512 token holds an AVX2 one); the
            // extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => unsafe { pool_block::avx2(p) },
        }
    }

    /// The input transform of Winograd's F(2×2, 3×3) (see [`WinogradIn`]). Panics if an
    /// extent exceeds its slice.
    pub(crate) fn winograd_input(self, p: WinogradIn<'_>) {
        let rows = winograd_rows(p.th, p.twp);
        assert!(winograd_width(p.twp) && p.wst >= 2 * p.twp + 2 && p.hst >= 2 * rows + 2, "winograd_input: layout");
        assert!(p.src.len() >= p.channels * p.hst * p.wst && p.tiles >= rows * p.twp, "winograd_input: input extent");
        assert!(p.v_block >= p.channels * p.tiles, "winograd_input: layout");
        assert!(p.v.len() >= 15 * p.v_block + p.channels * p.tiles, "winograd_input: output extent");
        match self {
            Kernels::Portable => winograd::input(p),
            // SAFETY: both tokens prove AVX2 (an AVX-512 token holds an AVX2 one).
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => unsafe { avx2::winograd_input(p) },
        }
    }

    /// The gradient transform of Winograd's F(3×3, 2×2) (see [`WinogradGrad`]). Panics if
    /// an extent exceeds its slice.
    pub(crate) fn winograd_gradient(self, p: WinogradGrad<'_>) {
        if p.rows == 0 || p.twp == 0 {
            return;
        }
        assert!(p.fpad.is_multiple_of(8) && p.z_width >= 2 * p.twp, "winograd_gradient: layout");
        assert!(p.gt.len() >= ((2 * p.rows - 1) * p.z_width + 2 * p.twp) * p.fpad, "winograd_gradient: input extent");
        assert!(p.g.len() >= 16 * p.rows * p.twp * p.fpad, "winograd_gradient: output extent");
        match self {
            Kernels::Portable => winograd::gradient(p),
            // SAFETY: both tokens prove AVX2 and FMA (an AVX-512 token holds an AVX2 one).
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => unsafe { winograd::gradient_avx2(p) },
        }
    }

    /// The output transform of Winograd's F(2×2, 3×3) (see [`WinogradOut`]). Panics if an
    /// extent exceeds its slice.
    pub(crate) fn winograd_output(self, p: WinogradOut<'_>) {
        assert!(
            winograd_width(p.twp)
                && 2 * p.th >= p.oh
                && 2 * p.twp >= p.ow
                && p.tiles >= winograd_rows(p.th, p.twp) * p.twp,
            "winograd_output: layout"
        );
        if p.filters == 0 || p.oh == 0 || p.ow == 0 {
            return;
        }
        assert!(
            p.m.len() >= 15 * p.m_block + (p.filters - 1) * p.tiles + winograd_rows(p.th, p.twp) * p.twp,
            "winograd_output: input extent"
        );
        assert!(p.bias.len() >= p.filters, "winograd_output: bias");
        let (rows, cols) = if p.pool.is_some() { (p.oh / 2, p.ow / 2) } else { (p.oh, p.ow) };
        if rows == 0 || cols == 0 {
            return;
        }
        let last = p.at + (p.filters - 1) * p.plane + (rows - 1) * p.row_stride + cols - 1;
        assert!(last < p.out.len(), "winograd_output: output extent");
        match self {
            Kernels::Portable => winograd::output(p),
            // SAFETY: both tokens prove AVX2 (an AVX-512 token holds an AVX2 one); the
            // extents were asserted above.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => unsafe { avx2::winograd_output(p) },
        }
    }

    /// The input transform of Winograd's F(4×4, 3×3) (see [`Wino4In`]). Panics if a patch
    /// or a transform lies outside its slice.
    pub(crate) fn winograd4_input(self, p: Wino4In<'_>) {
        assert!(p.tiles.is_multiple_of(8) && p.tw > 0, "winograd4_input: layout");
        if p.tiles == 0 || p.channels == 0 {
            return;
        }
        let last_row = (p.tiles - 1) / p.tw;
        // Each patch row is read 8 floats wide by the SIMD paths.
        assert!(4 * last_row + 6 <= p.hst && 4 * (p.tw - 1) + 8 <= p.wst, "winograd4_input: patch past the plane");
        assert!(p.src.len() >= p.channels * p.hst * p.wst, "winograd4_input: input extent");
        assert!(p.v_block >= p.channels * p.tiles, "winograd4_input: layout");
        assert!(
            p.v.len() >= (WINOGRAD4_POSITIONS - 1) * p.v_block + p.channels * p.tiles,
            "winograd4_input: output extent"
        );
        match self {
            Kernels::Portable => winograd4::input(p),
            // SAFETY: the AVX-512 token proves AVX-512F and VL; 16 lanes take whole vectors.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) if p.tiles.is_multiple_of(16) => unsafe { avx512_winograd4::input(p) },
            // SAFETY: both tokens prove AVX2 and FMA (an AVX-512 token holds an AVX2 one).
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => unsafe { avx2_winograd4::input(p) },
        }
    }

    /// The output transform of Winograd's F(4×4, 3×3) (see [`Wino4Out`]). Panics if an
    /// element lies outside its slice.
    pub(crate) fn winograd4_output(self, p: Wino4Out<'_>) {
        assert!(p.tw >= p.ow.div_ceil(4) && p.tiles >= p.oh.div_ceil(4) * p.tw, "winograd4_output: layout");
        assert!(p.tiles.is_multiple_of(8) && p.bias.len() >= p.filters, "winograd4_output: layout");
        let (rows, cols) = if p.pool.is_some() { (p.oh / 2, p.ow / 2) } else { (p.oh, p.ow) };
        if p.filters == 0 || rows == 0 || cols == 0 {
            return;
        }
        let last = p.at + (p.filters - 1) * p.plane + (rows - 1) * p.row_stride + cols - 1;
        assert!(last < p.out.len(), "winograd4_output: output extent");
        assert!(
            p.m.len() >= (WINOGRAD4_POSITIONS - 1) * p.m_block + p.filters * p.tiles,
            "winograd4_output: input extent"
        );
        match self {
            Kernels::Portable => winograd4::output(p),
            // SAFETY: the AVX-512 token proves AVX-512F and VL; 16 lanes take whole vectors.
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512(_) if p.tiles.is_multiple_of(16) => unsafe { avx512_winograd4::output(p) },
            // SAFETY: both tokens prove AVX2 and FMA (an AVX-512 token holds an AVX2 one).
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) | Kernels::Avx512(_) => unsafe { avx2_winograd4::output(p) },
        }
    }
}
