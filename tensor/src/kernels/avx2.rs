//! The AVX2 + FMA kernels: 8 lanes, sixteen ymm registers, of which a tile keeps twelve
//! accumulators (`fv · pixels = 12`, as ONNX Runtime's FMA3 kernel: two FMA units × four
//! cycles of latency need at least eight independent sums in flight).

use std::arch::x86_64::*;

use super::{
    BlockPool, FromPlanes, Ger, Planes, Tile, WinogradIn, WinogradOut, in_bounds, portable, tail_start, wrapped,
};
use crate::activation::Activation;

pub(super) const LANES: usize = 8;
pub(super) const MAX_FV: usize = 2;

pub(super) fn pixels(fv: usize) -> usize {
    match fv {
        1 => 12,
        2 => 6,
        3 => 4,
        _ => 3,
    }
}

/// Eight sums in flight: two FMA units × four cycles of latency.
pub(super) fn tail(fv: usize) -> usize {
    if fv == 1 { 8 } else { 4 }
}

pub(super) fn ger_taps(fv: usize) -> usize {
    match fv {
        1 => 8,
        2 => 6,
        3 => 4,
        _ => 3,
    }
}

/// Proof that this CPU has AVX2 and FMA: only [`Token::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token(());

impl Token {
    pub(super) fn detect() -> Option<Token> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Token(()))
    }

    /// # Safety
    /// The extents of `t` must be those `Kernels::tiles` asserts.
    pub(super) unsafe fn tiles(self, t: Tile<'_>) {
        // SAFETY: the token proves AVX2 and FMA; the caller checked the extents.
        unsafe {
            match t.fv {
                1 => tiles_stepped::<1, 12, 8>(t),
                _ => tiles_stepped::<2, 6, 4>(t),
            }
        }
    }

    /// # Safety
    /// The extents of `a` must be those `Kernels::ger` asserts.
    pub(super) unsafe fn ger(self, a: Ger<'_>) {
        // SAFETY: the token proves AVX2 and FMA; the caller checked the extents.
        unsafe {
            match a.fv {
                1 => ger_stepped::<8, 1>(a),
                2 => ger_stepped::<6, 2>(a),
                3 => ger_stepped::<4, 3>(a),
                _ => ger_stepped::<3, 4>(a),
            }
        }
    }

    /// # Safety
    /// The extents of `p` must be those `Kernels::store_planes` asserts.
    pub(super) unsafe fn store_planes(self, p: Planes<'_>) {
        if p.col_stride > 2 {
            return portable::store_planes(p);
        }
        // SAFETY: the token proves AVX2; the caller checked the extents.
        unsafe { store_planes(p) }
    }

    /// # Safety
    /// The extents of `p` must be those `Kernels::gather_planes` asserts.
    pub(super) unsafe fn gather_planes(self, p: FromPlanes<'_>) {
        if !p.z_stride.is_multiple_of(LANES) {
            return portable::from_planes(p);
        }
        // SAFETY: the token proves AVX2; the caller checked the extents.
        unsafe { from_planes(p) }
    }
}

super::fma_loops::fma_loops! {
    feature: "avx2,fma",
    vector: __m256,
    zero: _mm256_setzero_ps,
    load: _mm256_loadu_ps,
    store: _mm256_storeu_ps,
    splat: _mm256_set1_ps,
    fmadd: _mm256_fmadd_ps,
    add: _mm256_add_ps,
    max: _mm256_max_ps,
}

/// The output pass of [`Planes`] with column stride 1 or 2: for each block of 8 channels
/// and up to 8 columns, the block's rows of pixels × channels are loaded, transposed in
/// registers and stored as runs of 8 (or, at a row's end, fewer: masked) columns of each
/// plane, every other float with stride 2 (a stride-2 layer's ∇x, whose columns of one
/// phase interleave with the other's). Channels past the last whole vector of a `z` row go
/// through the portable pass.
///
/// # Safety
/// AVX2; the extents `Kernels::store_planes` asserts; `col_stride` 1 or 2.
#[target_feature(enable = "avx2")]
unsafe fn store_planes(mut p: Planes<'_>) {
    let out = std::mem::take(&mut p.out);
    let vector_channels = (p.z_stride / LANES * LANES).min(p.channels.div_ceil(LANES) * LANES);
    let (z_len, out_len) = (p.z.len(), out.len());
    let (z, o) = (p.z.as_ptr(), out.as_mut_ptr().cast::<f32>());
    let relu = p.act == Some(Activation::Relu);
    if p.row_stride == p.cols.len() && p.col_stride == 1 {
        // SAFETY: the caller asserted the extents; vector_channels ≤ z_stride and
        // vector_channels < channels + 8; `o` is `out`'s start, `out_len` long.
        unsafe {
            if relu {
                store_flat::<true>(&p, vector_channels, o, out_len)
            } else {
                store_flat::<false>(&p, vector_channels, o, out_len)
            }
        };
        return portable::store_channels(&p, vector_channels.min(p.channels)..p.channels, out);
    }
    for ch0 in (0..vector_channels).step_by(LANES) {
        let count = (p.channels - ch0).min(LANES);
        let mut bias = [_mm256_setzero_ps(); LANES];
        for (j, b) in bias.iter_mut().enumerate().take(count) {
            *b = _mm256_set1_ps(p.bias.map_or(0.0, |b| b[ch0 + j]));
        }
        for r in 0..p.rows {
            let plane_row = p.at + ch0 * p.plane + r * p.row_stride;
            for c0 in p.cols.clone().step_by(LANES) {
                let n = (p.cols.end - c0).min(LANES);
                let mut v = [_mm256_setzero_ps(); LANES];
                for (i, v) in v.iter_mut().enumerate().take(n) {
                    in_bounds((r * p.z_width + c0 + i) * p.z_stride + ch0, LANES, z_len);
                    // SAFETY: pixel (r, c0 + i) with c0 + i < cols.end is a row of the
                    // asserted block, and ch0 + 8 ≤ z_stride.
                    *v = unsafe { _mm256_loadu_ps(z.add((r * p.z_width + c0 + i) * p.z_stride + ch0)) };
                }
                transpose8(&mut v);
                for (j, (&v, &b)) in v.iter().zip(&bias).enumerate().take(count) {
                    let mut y = _mm256_add_ps(v, b);
                    if relu {
                        // max(0, y) returns y when y is NaN (the second operand): NaN stays.
                        y = _mm256_max_ps(_mm256_setzero_ps(), y);
                    }
                    let at = plane_row + j * p.plane + (c0 - p.cols.start) * p.col_stride;
                    in_bounds(at, (n - 1) * p.col_stride + 1, out_len);
                    // SAFETY: channel ch0 + j < channels, row r < rows, columns c0..c0 + n
                    // inside cols: inside the asserted extent of `out`.
                    unsafe {
                        if p.col_stride == 1 { store(o.add(at), y, n) } else { store_every_other(o.add(at), y, n) }
                    };
                }
            }
        }
    }
    portable::store_channels(&p, vector_channels.min(p.channels)..p.channels, out);
}

/// `at[2i] = v[i]` for `i < n ≤ 8` (a stride-2 layer's ∇x, one phase's columns), the floats
/// between untouched: two masked stores of `v` with each lane doubled.
///
/// # Safety
/// AVX2; `at[..2n − 1]` writable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_every_other(at: *mut f32, v: __m256, n: usize) {
    let even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
    let low = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
    // SAFETY: lanes 2i < 2n of `at` (the caller's), and at + 8 inside them when n > 4.
    unsafe {
        _mm256_maskstore_ps(at, _mm256_and_si256(even, first_lanes(2 * n)), low);
        if n > 4 {
            let high = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
            _mm256_maskstore_ps(at.add(8), _mm256_and_si256(even, first_lanes(2 * (n - 4))), high);
        }
    }
}

/// The channels `0..vector_channels` of [`store_planes`] when each plane's rows follow one
/// another (`row_stride = cols.len()`): a plane is one run of `rows · cols.len()` pixels,
/// taken 8 at a time across row ends, so every store but a plane's last is a whole vector
/// (rows of 7 or 14 pixels otherwise end in partial stores of 4, 2 and 1 lanes). Every
/// vector of channels of a group of 8 pixels is stored before the next group: the group's
/// `z` rows are then read once from L1, where a pass per vector of channels read each row's
/// cache line again after a block larger than L1 (16 channels × 28×30 pixels: 54 KB).
///
/// # Safety
/// AVX2; the extents `Kernels::store_planes` asserts, `vector_channels ≤ z_stride`, a
/// multiple of 8 below `channels + 8`; `o` is the start of `out`, `out_len` floats long.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_flat<const RELU: bool>(p: &Planes<'_>, vector_channels: usize, o: *mut f32, out_len: usize) {
    let (z, z_len) = (p.z.as_ptr(), p.z.len());
    let width = p.cols.len();
    let total = p.rows * width;
    // The block row of the next pixel: row r, column cols.start + c.
    let (mut r, mut c) = (0, 0);
    for p0 in (0..total).step_by(LANES) {
        let n = (total - p0).min(LANES);
        let mut rows = [0usize; LANES];
        for row in rows.iter_mut().take(n) {
            *row = (r * p.z_width + p.cols.start + c) * p.z_stride;
            c += 1;
            if c == width {
                (r, c) = (r + 1, 0);
            }
        }
        for ch0 in (0..vector_channels).step_by(LANES) {
            let count = (p.channels - ch0).min(LANES);
            let base = p.at + ch0 * p.plane + p0;
            let mut v = [_mm256_setzero_ps(); LANES];
            for (v, &zi) in v.iter_mut().zip(&rows).take(n) {
                in_bounds(zi + ch0, LANES, z_len);
                // SAFETY: pixel (r, cols.start + c) with r < rows, c < cols.len() is a row
                // of the asserted block, and ch0 + 8 ≤ vector_channels ≤ z_stride.
                *v = unsafe { _mm256_loadu_ps(z.add(zi + ch0)) };
            }
            transpose8(&mut v);
            if n == LANES && count == LANES {
                // A whole 8×8 block (every group but a plane's last, when 8 channels
                // remain): whole-vector stores, no per-channel or per-pixel counts.
                for (j, &v) in v.iter().enumerate() {
                    in_bounds(base + j * p.plane, LANES, out_len);
                    // SAFETY: channel ch0 + j < channels, pixels p0..p0 + 8 of its plane's
                    // rows · cols.len(): inside the asserted extent of `out`.
                    unsafe {
                        _mm256_storeu_ps(o.add(base + j * p.plane), biased::<RELU>(v, splat_bias(p.bias, ch0 + j)))
                    };
                }
                continue;
            }
            for (j, &v) in v.iter().enumerate().take(count) {
                let y = biased::<RELU>(v, splat_bias(p.bias, ch0 + j));
                in_bounds(base + j * p.plane, n, out_len);
                // SAFETY: channel ch0 + j < channels, pixels p0..p0 + n of its plane's
                // rows · cols.len() (row r at r·row_stride = r·cols.len()): inside the
                // asserted extent of `out`.
                unsafe { store(o.add(base + j * p.plane), y, n) };
            }
        }
    }
}

/// `bias[ch]` in every lane, or zeros without a bias.
#[inline]
#[target_feature(enable = "avx2")]
fn splat_bias(bias: Option<&[f32]>, ch: usize) -> __m256 {
    match bias {
        Some(b) => _mm256_set1_ps(b[ch]),
        None => _mm256_setzero_ps(),
    }
}

/// `v + b`, through ReLU if `RELU` (`max(0, y)` returns `y` when it is NaN, the second
/// operand: NaN stays). A function, not a closure: a closure does not take its caller's
/// target features and may stay a call.
#[inline]
#[target_feature(enable = "avx2")]
fn biased<const RELU: bool>(v: __m256, b: __m256) -> __m256 {
    let y = _mm256_add_ps(v, b);
    if RELU { _mm256_max_ps(_mm256_setzero_ps(), y) } else { y }
}

/// The inverse of the output pass ([`FromPlanes`]) with unit column stride: runs of up to
/// 8 columns of 8 planes loaded (masked at a row's end; planes past `channels` read as
/// zero), transposed, and stored as 8-channel vectors of pixel rows.
///
/// # Safety
/// AVX2; the extents `Kernels::gather_planes` asserts; `z_stride` a multiple of 8.
#[target_feature(enable = "avx2")]
unsafe fn from_planes(p: FromPlanes<'_>) {
    let (src_len, z_len) = (p.src.len(), p.z.len());
    let (src, z) = (p.src.as_ptr(), p.z.as_mut_ptr());
    for ch0 in (0..p.channels).step_by(LANES) {
        let count = (p.channels - ch0).min(LANES);
        for r in 0..p.rows {
            let plane_row = p.at + ch0 * p.plane + r * p.row_stride;
            for c0 in p.cols.clone().step_by(LANES) {
                let n = (p.cols.end - c0).min(LANES);
                let mut v = [_mm256_setzero_ps(); LANES];
                for (j, v) in v.iter_mut().enumerate().take(count) {
                    in_bounds(plane_row + j * p.plane + c0 - p.cols.start, n, src_len);
                    // SAFETY: channel ch0 + j < channels, row r, columns c0..c0 + n inside
                    // cols: inside the asserted extent of `src`.
                    *v = unsafe { load(src.add(plane_row + j * p.plane + c0 - p.cols.start), n) };
                }
                transpose8(&mut v);
                for (i, &v) in v.iter().enumerate().take(n) {
                    in_bounds((r * p.z_width + c0 + i) * p.z_stride + ch0, LANES, z_len);
                    // SAFETY: pixel (r, c0 + i) is a row of the asserted block, and
                    // ch0 + 8 ≤ z_stride (a multiple of 8 above channels).
                    unsafe { _mm256_storeu_ps(z.add((r * p.z_width + c0 + i) * p.z_stride + ch0), v) };
                }
            }
        }
    }
}

/// The first `n ≤ 8` lanes of `v` stored at `at`: a partial vector as stores of 4, 2 and 1
/// lanes (AMD's masked stores are microcoded, an order of magnitude slower than a store,
/// and a copy through an array becomes a `memcpy` call).
///
/// # Safety
/// AVX2; `at..at + n` is valid for writes.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn store(at: *mut f32, v: __m256, n: usize) {
    // SAFETY: each store writes lanes below n, at `at` plus the lanes already written.
    unsafe {
        if n == LANES {
            return _mm256_storeu_ps(at, v);
        }
        let (mut part, mut at, mut n) = (_mm256_castps256_ps128(v), at, n);
        if n >= 4 {
            _mm_storeu_ps(at, part);
            (part, at, n) = (_mm256_extractf128_ps::<1>(v), at.add(4), n - 4);
        }
        if n >= 2 {
            // Two floats as one unaligned 8-byte store (`_mm_storel_pd` writes through an
            // `*mut f64`, which must be 8-aligned: Miri reports that as undefined).
            at.cast::<f64>().write_unaligned(_mm_cvtsd_f64(_mm_castps_pd(part)));
            (part, at, n) = (_mm_movehl_ps(part, part), at.add(2), n - 2);
        }
        if n == 1 {
            _mm_store_ss(at, part);
        }
    }
}

/// `n ≤ 8` floats loaded from `at` into the first lanes, zeros in the others.
///
/// # Safety
/// AVX2; `at..at + n` is valid for reads.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load(at: *const f32, n: usize) -> __m256 {
    if n == LANES {
        // SAFETY: 8 floats at `at` are valid (the caller's contract).
        unsafe { _mm256_loadu_ps(at) }
    } else {
        // SAFETY: the masked load reads only the first n lanes.
        unsafe { _mm256_maskload_ps(at, first_lanes(n)) }
    }
}

/// A mask of the first `n ≤ 8` lanes.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn first_lanes(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// Transposes the 8×8 block whose rows are `v`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn transpose8(v: &mut [__m256; 8]) {
    let t0 = _mm256_unpacklo_ps(v[0], v[1]);
    let t1 = _mm256_unpackhi_ps(v[0], v[1]);
    let t2 = _mm256_unpacklo_ps(v[2], v[3]);
    let t3 = _mm256_unpackhi_ps(v[2], v[3]);
    let t4 = _mm256_unpacklo_ps(v[4], v[5]);
    let t5 = _mm256_unpackhi_ps(v[4], v[5]);
    let t6 = _mm256_unpacklo_ps(v[6], v[7]);
    let t7 = _mm256_unpackhi_ps(v[6], v[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    v[0] = _mm256_permute2f128_ps::<0x20>(s0, s4);
    v[1] = _mm256_permute2f128_ps::<0x20>(s1, s5);
    v[2] = _mm256_permute2f128_ps::<0x20>(s2, s6);
    v[3] = _mm256_permute2f128_ps::<0x20>(s3, s7);
    v[4] = _mm256_permute2f128_ps::<0x31>(s0, s4);
    v[5] = _mm256_permute2f128_ps::<0x31>(s1, s5);
    v[6] = _mm256_permute2f128_ps::<0x31>(s2, s6);
    v[7] = _mm256_permute2f128_ps::<0x31>(s3, s7);
}

/// The Winograd input transform (see `winograd::input`, the same arithmetic): for 8 tiles
/// side by side, each patch row is two pairs of vectors split into even and odd columns
/// (columns 2l, 2l + 1, 2l + 2, 2l + 3 of tile l), then `Bᵀ d B` in registers. With rows
/// of 4 tiles (`twp = 4`), the low half of each vector comes from one tile row and the
/// high half from the next, split within each half.
///
/// # Safety
/// AVX2; the extents `Kernels::winograd_input` asserts.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn winograd_input(p: WinogradIn<'_>) {
    let plane = p.hst * p.wst;
    let groups = super::winograd_rows(p.th, p.twp) * p.twp;
    let (src_len, v_len) = (p.src.len(), p.v.len());
    let (src, v) = (p.src.as_ptr(), p.v.as_mut_ptr());
    for c in 0..p.channels {
        for t in (0..groups).step_by(LANES) {
            let (ty, tx) = (t / p.twp, t % p.twp);
            let base = c * plane + 2 * ty * p.wst + 2 * tx;
            let mut d = [[_mm256_setzero_ps(); 4]; 4];
            for (i, d) in d.iter_mut().enumerate() {
                let row = base + i * p.wst;
                if p.twp == 4 {
                    // Tile rows ty and ty + 1: patch rows 2·ty + i and 2·ty + 2 + i.
                    in_bounds(row, 10, src_len);
                    in_bounds(row + 2 * p.wst, 10, src_len);
                    // SAFETY: columns 0 .. 10 of patch rows 2·ty + i and 2·(ty + 1) + i, with
                    // ty + 1 < winograd_rows(th, 4): inside the staged image (wst ≥ 10,
                    // hst ≥ 2·rows + 2, asserted).
                    let (a, b, e, f) = unsafe {
                        let (lo, hi) = (src.add(row), src.add(row + 2 * p.wst));
                        (halves(lo, hi, 0), halves(lo, hi, 4), halves(lo, hi, 2), halves(lo, hi, 6))
                    };
                    (d[0], d[1]) = (_mm256_shuffle_ps::<0x88>(a, b), _mm256_shuffle_ps::<0xDD>(a, b));
                    (d[2], d[3]) = (_mm256_shuffle_ps::<0x88>(e, f), _mm256_shuffle_ps::<0xDD>(e, f));
                } else {
                    in_bounds(row, 18, src_len);
                    // SAFETY: columns 2·tx .. 2·tx + 17 of patch row 2·ty + i: inside the
                    // staged image (wst ≥ 2·twp + 2, hst ≥ 2·th + 2, asserted).
                    let (a, b, e, f) = unsafe {
                        let row = src.add(row);
                        (
                            _mm256_loadu_ps(row),
                            _mm256_loadu_ps(row.add(8)),
                            _mm256_loadu_ps(row.add(2)),
                            _mm256_loadu_ps(row.add(10)),
                        )
                    };
                    (d[0], d[1]) = (even(a, b), odd(a, b));
                    (d[2], d[3]) = (even(e, f), odd(e, f));
                }
            }
            let cols = [
                bt(d[0][0], d[1][0], d[2][0], d[3][0]),
                bt(d[0][1], d[1][1], d[2][1], d[3][1]),
                bt(d[0][2], d[1][2], d[2][2], d[3][2]),
                bt(d[0][3], d[1][3], d[2][3], d[3][3]),
            ];
            for (i, ((c0, c1), (c2, c3))) in cols[0].iter().zip(&cols[1]).zip(cols[2].iter().zip(&cols[3])).enumerate()
            {
                let row = bt(*c0, *c1, *c2, *c3);
                for (j, &x) in row.iter().enumerate() {
                    let at = (i * 4 + j) * p.v_block + c * p.tiles + t;
                    in_bounds(at, LANES, v_len);
                    // SAFETY: ξ·v_block + c·tiles + t + 8 ≤ 15·v_block + channels·tiles, as
                    // t + 8 ≤ winograd_rows(th, twp)·twp ≤ tiles (asserted).
                    unsafe { _mm256_storeu_ps(v.add(at), x) };
                }
            }
        }
    }
}

/// Four floats from `lo + at` in the low half and four from `hi + at` in the high half.
///
/// # Safety
/// AVX; `at .. at + 4` readable from both pointers.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn halves(lo: *const f32, hi: *const f32, at: usize) -> __m256 {
    // SAFETY: the caller's extents.
    unsafe { _mm256_set_m128(_mm_loadu_ps(hi.add(at)), _mm_loadu_ps(lo.add(at))) }
}

/// The Winograd output transform (see `winograd::output`): per filter and 8 tiles, 16
/// vectors in, `Aᵀ M A` in registers, and per output row the two columns of the blocks
/// interleaved into 16 pixels (8 consecutive pixels of two tile rows when `twp = 4`),
/// stored with bias and activation.
///
/// # Safety
/// AVX2; the extents `Kernels::winograd_output` asserts.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn winograd_output(p: WinogradOut<'_>) {
    let (m_len, out_len) = (p.m.len(), p.out.len());
    let (m, out) = (p.m.as_ptr(), p.out.as_mut_ptr().cast::<f32>());
    let relu = p.act == Some(Activation::Relu);
    let groups = super::winograd_rows(p.th, p.twp) * p.twp;
    for f in 0..p.filters {
        let b = _mm256_set1_ps(p.bias[f]);
        for t0 in (0..groups).step_by(LANES) {
            let (ty, g) = (t0 / p.twp, t0 % p.twp);
            if 2 * g >= p.ow || 2 * ty >= p.oh {
                continue;
            }
            let t = f * p.tiles + t0;
            let mut x = [_mm256_setzero_ps(); 16];
            for (xi, x) in x.iter_mut().enumerate() {
                in_bounds(xi * p.m_block + t, LANES, m_len);
                // SAFETY: ξ·m_block + t + 8 ≤ 15·m_block + (filters − 1)·tiles + rows·twp
                // (asserted), as t0 + 8 ≤ rows·twp.
                *x = unsafe { _mm256_loadu_ps(m.add(xi * p.m_block + t)) };
            }
            let cols = [
                at(x[0], x[4], x[8], x[12]),
                at(x[1], x[5], x[9], x[13]),
                at(x[2], x[6], x[10], x[14]),
                at(x[3], x[7], x[11], x[15]),
            ];
            let act = |v: __m256| {
                let v = _mm256_add_ps(v, b);
                // max(0, v) returns v when v is NaN (the second operand).
                if relu { _mm256_max_ps(_mm256_setzero_ps(), v) } else { v }
            };
            if let Some(pool) = p.pool {
                let [top, bottom] = [0, 1].map(|r| at(cols[0][r], cols[1][r], cols[2][r], cols[3][r]));
                let v = block_pool(pool, [top[0], top[1], bottom[0], bottom[1]].map(act));
                // Lanes are tiles g .. g + 8 of tile row ty, or (twp = 4) tiles 0 .. 4 of
                // rows ty and ty + 1: pooled outputs, in the same places.
                let (rows, cols) = (p.oh / 2, p.ow / 2);
                let parts = if p.twp == 4 {
                    [(ty, 0, v, 4), (ty + 1, 0, _mm256_permute2f128_ps::<0x01>(v, v), 4)]
                } else {
                    [(ty, g, v, LANES), (rows, 0, v, 0)]
                };
                for (row, col, v, lanes) in parts {
                    if row >= rows || col >= cols || lanes == 0 {
                        continue;
                    }
                    let n = (cols - col).min(lanes);
                    let at = p.at + f * p.plane + row * p.row_stride + col;
                    in_bounds(at, n, out_len);
                    // SAFETY: filter f, pooled row < ⌊oh/2⌋, columns col .. col + n ≤ ⌊ow/2⌋:
                    // inside the asserted extent of `out`.
                    unsafe { store(out.add(at), v, n) };
                }
                continue;
            }
            for r in [0, 1] {
                let [y0, y1] = at(cols[0][r], cols[1][r], cols[2][r], cols[3][r]);
                // Columns 2l and 2l + 1 side by side: pixels 2g .. 2g + 8, 2g + 8 .. 2g + 16
                // of one row, or (twp = 4) pixels 0 .. 8 of tile rows ty and ty + 1.
                let (lo, hi) = (_mm256_unpacklo_ps(y0, y1), _mm256_unpackhi_ps(y0, y1));
                let halves = [_mm256_permute2f128_ps::<0x20>(lo, hi), _mm256_permute2f128_ps::<0x31>(lo, hi)];
                for (h, &v) in halves.iter().enumerate() {
                    let (row, col) = if p.twp == 4 { (2 * (ty + h) + r, 0) } else { (2 * ty + r, 2 * g + h * LANES) };
                    if row >= p.oh || col >= p.ow {
                        continue;
                    }
                    let v = act(v);
                    let at = p.at + f * p.plane + row * p.row_stride + col;
                    in_bounds(at, (p.ow - col).min(LANES), out_len);
                    // SAFETY: filter f, row < oh, columns col .. min(col + 8, ow): inside
                    // the asserted extent of `out`.
                    unsafe { store(out.add(at), v, (p.ow - col).min(LANES)) };
                }
            }
        }
    }
}

/// The pooling of each lane's 2×2 block `[y₀₀, y₀₁, y₁₀, y₁₁]`: the first maximum (the
/// earlier value kept on a tie; the first NaN, blended in last to first, wins) or the sum
/// from zero in that order times ¼.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn block_pool(pool: BlockPool, y: [__m256; 4]) -> __m256 {
    match pool {
        BlockPool::Max => {
            let best = _mm256_max_ps(y[3], _mm256_max_ps(y[2], _mm256_max_ps(y[1], y[0])));
            y.iter().rev().fold(best, |v, &y| _mm256_blendv_ps(v, y, _mm256_cmp_ps::<_CMP_UNORD_Q>(y, y)))
        }
        BlockPool::Average => {
            let sum = y.iter().fold(_mm256_setzero_ps(), |sum, &y| _mm256_add_ps(sum, y));
            _mm256_mul_ps(sum, _mm256_set1_ps(0.25))
        }
    }
}

/// `Bᵀ [a b c d]ᵀ` of Winograd's F(2×2, 3×3).
#[inline]
#[target_feature(enable = "avx2")]
fn bt(a: __m256, b: __m256, c: __m256, d: __m256) -> [__m256; 4] {
    [_mm256_sub_ps(a, c), _mm256_add_ps(b, c), _mm256_sub_ps(c, b), _mm256_sub_ps(b, d)]
}

/// `Aᵀ [a b c d]ᵀ` of Winograd's F(2×2, 3×3).
#[inline]
#[target_feature(enable = "avx2")]
fn at(a: __m256, b: __m256, c: __m256, d: __m256) -> [__m256; 2] {
    [_mm256_add_ps(_mm256_add_ps(a, b), c), _mm256_sub_ps(_mm256_sub_ps(b, c), d)]
}

/// The even lanes of `a` then `b` (columns 0, 2, …, 14 of the 16 floats `a b`).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn even(a: __m256, b: __m256) -> __m256 {
    in_order(_mm256_shuffle_ps::<0x88>(a, b))
}

/// The odd lanes of `a` then `b`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn odd(a: __m256, b: __m256) -> __m256 {
    in_order(_mm256_shuffle_ps::<0xDD>(a, b))
}

/// `[a0 a2 b0 b2 | a4 a6 b4 b6]` (a shuffle's pairs) as `[a0 a2 a4 a6 b0 b2 b4 b6]`: the
/// 64-bit lanes in order 0, 2, 1, 3.
#[inline]
#[target_feature(enable = "avx2")]
fn in_order(v: __m256) -> __m256 {
    _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(v)))
}
