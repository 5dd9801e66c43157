//! The two inner loops of the explicit-SIMD paths, written once over the vector type and
//! instantiated by `avx2.rs` (8 lanes) and `avx512.rs` (16 lanes): `tiles`, a direct
//! convolution tile (each input pixel broadcast against `FV` vectors of filters), and `ger`,
//! the rank-`count` update of ∇W. Names other than the macro's arguments (`LANES`, `Tile`,
//! `Ger`, `Activation`, `in_bounds`, `tail_start`, `wrapped`) resolve in the module that
//! instantiates it.

/// Defines `tiles::<FV, P, T, S, WRAP>` and `ger::<R, FV, S>` (`P` and `T` the pixels of a tile and of a
/// tail tile, `S` the pixel step, `WRAP` whether the pixels are rows: `Tile::wrap`) and the `_stepped`
/// forms, which take them from their arguments, with the given target features and intrinsics.
macro_rules! fma_loops {
    (
        feature: $feature:literal,
        vector: $vector:ty,
        zero: $zero:ident,
        load: $load:ident,
        store: $store:ident,
        splat: $splat:ident,
        fmadd: $fmadd:ident,
        add: $add:ident,
        max: $max:ident $(,)?
    ) => {
        /// `act(acc + bias[v·LANES..])` when `bias_act` is given, else `acc` (`max(0, y)`
        /// keeps a NaN, the second operand, as the output pass). A function, not a closure:
        /// a closure does not take its caller's target features.
        ///
        /// # Safety
        /// The target features; the bias, if any, holds `(v + 1)·LANES` floats.
        #[inline]
        #[target_feature(enable = $feature)]
        unsafe fn epilogue(acc: $vector, bias_act: Option<(&[f32], Option<Activation>)>, v: usize) -> $vector {
            let Some((bias, act)) = bias_act else { return acc };
            in_bounds(v * LANES, LANES, bias.len());
            // SAFETY: v·LANES + LANES ≤ bias.len() (the caller's).
            let y = $add(acc, unsafe { $load(bias.as_ptr().add(v * LANES)) });
            match act {
                Some(Activation::Relu) => $max($zero(), y),
                None => y,
            }
        }

        /// [`tiles`] with the pixel step `t.step` (one of [`PIXEL_STEPS`](super::PIXEL_STEPS)) as a
        /// constant: the addresses of a tile's pixels are then one base register and fixed
        /// displacements.
        ///
        /// # Safety
        /// As [`tiles`].
        #[target_feature(enable = $feature)]
        unsafe fn tiles_stepped<const FV: usize, const P: usize, const T: usize>(t: Tile<'_>) {
            // SAFETY: forwarded.
            unsafe {
                if t.wrap.is_some() {
                    return tiles_wrapped::<FV, P, T>(t);
                }
                match t.step {
                    1 => tiles::<FV, P, T, 1, false>(t),
                    2 => tiles::<FV, P, T, 2, false>(t),
                    8 => tiles::<FV, P, T, 8, false>(t),
                    16 => tiles::<FV, P, T, 16, false>(t),
                    _ => tiles::<FV, P, T, 32, false>(t),
                }
            }
        }

        /// [`tiles_stepped`] for pixels in rows (`t.wrap`), compiled apart: inlined beside the
        /// run forms, it cost LeNet-5's first layer (12-pixel tiles, never wrapped) 17 %.
        ///
        /// # Safety
        /// As [`tiles`].
        #[inline(never)]
        #[target_feature(enable = $feature)]
        unsafe fn tiles_wrapped<const FV: usize, const P: usize, const T: usize>(t: Tile<'_>) {
            // SAFETY: forwarded.
            unsafe {
                match t.step {
                    1 => tiles::<FV, P, T, 1, true>(t),
                    2 => tiles::<FV, P, T, 2, true>(t),
                    8 => tiles::<FV, P, T, 8, true>(t),
                    16 => tiles::<FV, P, T, 16, true>(t),
                    _ => tiles::<FV, P, T, 32, true>(t),
                }
            }
        }

        /// [`ger`] with the pixel step `a.step` (1 or 2) as a constant.
        ///
        /// # Safety
        /// As [`ger`].
        #[target_feature(enable = $feature)]
        unsafe fn ger_stepped<const R: usize, const FV: usize>(a: Ger<'_>) {
            // SAFETY: forwarded.
            unsafe {
                match a.step {
                    1 => ger::<R, FV, 1>(a),
                    _ => ger::<R, FV, 2>(a),
                }
            }
        }

        /// For each tile of `P` pixels from `q0`: `acc[p][v] = Σ_t src[at + (q0 + p)·S + off_t] · w[t][v]`
        /// (with `WRAP`, pixel `q0 + p`'s place in `t.wrap`'s rows for `(q0 + p)·S`), stored as row `q0 + p`
        /// of `out`; the last few pixels in tiles of `T` ([`tail_start`]); over rows of channels (`S` > 2)
        /// by [`tiles_rows_run`].
        ///
        /// # Safety
        /// The target features; `S = t.step`, `WRAP = t.wrap.is_some()`, the last tiled pixel's input plus the
        /// max offset `< src.len()`, `w` holds a row of `FV` vectors per tap (`w_stride` apart), and `out` holds
        /// `tiled(count)` rows of `FV` vectors `out_stride` apart.
        #[target_feature(enable = $feature)]
        unsafe fn tiles<const FV: usize, const P: usize, const T: usize, const S: usize, const WRAP: bool>(
            mut t: Tile<'_>,
        ) {
            let (full, count, mut rc) = (tail_start(t.count, P, T), t.count, [0, 0]);
            // SAFETY: forwarded; the tails' rows end by `tiled(count)` as the tiles' do.
            unsafe {
                if S <= 2 {
                    tiles_run::<FV, P, S, WRAP>(&mut t, 0..full, &mut rc);
                    tiles_run::<FV, T, S, WRAP>(&mut t, full..count, &mut rc);
                } else {
                    tiles_rows_run::<FV, P, S, WRAP>(&mut t, 0..full, &mut rc);
                    tiles_rows_run::<FV, T, S, WRAP>(&mut t, full..count, &mut rc);
                }
            }
        }

        /// [`tiles`] over the tiles of `P` pixels from each of `pixels`, `rc` the first one's
        /// row and column with `WRAP`.
        ///
        /// # Safety
        /// As [`tiles`], for rows up to `pixels.end` rounded up to a tile.
        #[target_feature(enable = $feature)]
        unsafe fn tiles_run<const FV: usize, const P: usize, const S: usize, const WRAP: bool>(
            t: &mut Tile<'_>,
            pixels: std::ops::Range<usize>,
            rc: &mut [usize; 2],
        ) {
            let (src_len, w_len, out_len) = (t.src.len(), t.w.len(), t.out.len());
            let (src, w, out) = (t.src.as_ptr(), t.w.as_ptr(), t.out.as_mut_ptr());
            for q0 in pixels.step_by(P) {
                let (px, ptrs) = if WRAP { wrapped::<P, S>(t, src, rc) } else { ([0; P], [src; P]) };
                let mut acc = [[$zero(); FV]; P];
                for (k, &off) in t.taps.offsets().iter().enumerate() {
                    let mut wv = [$zero(); FV];
                    for (v, wv) in wv.iter_mut().enumerate() {
                        in_bounds(k * t.w_stride + v * LANES, LANES, w_len);
                        // SAFETY: tap k < taps.len() has FV vectors of weights at k·w_stride
                        // inside `w` (asserted extent).
                        *wv = unsafe { $load(w.add(k * t.w_stride + v * LANES)) };
                    }
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let at = if WRAP { px[p] } else { t.at + (q0 + p) * S } + off;
                        in_bounds(at, 1, src_len);
                        // SAFETY: at ≤ the last tiled pixel's input + max offset < src.len().
                        let x = $splat(unsafe { if WRAP { *ptrs[p].add(off) } else { *src.add(at) } });
                        for (acc, &wv) in acc.iter_mut().zip(&wv) {
                            *acc = $fmadd(x, wv, *acc);
                        }
                    }
                }
                for (p, acc) in acc.iter().enumerate() {
                    for (v, &acc) in acc.iter().enumerate() {
                        in_bounds((q0 + p) * t.out_stride + v * LANES, LANES, out_len);
                        // SAFETY: row q0 + p < tiled(count), vector v < FV: inside `out`.
                        unsafe { $store(out.add((q0 + p) * t.out_stride + v * LANES), epilogue(acc, t.bias_act, v)) };
                    }
                }
            }
        }

        /// [`tiles_run`] over rows of channels (`S` floats a pixel), the taps read as their
        /// groups of consecutive offsets (`Taps::groups`): `acc[p][v] = Σ_{g,c}
        /// src[at + (q0 + p)·S + base_g + c] · w[g·group + c][v]`. Each tap's pixels are one
        /// base register and constant displacements; through the offsets array the compiler
        /// kept an address per pixel and spilled the accumulators.
        ///
        /// # Safety
        /// As [`tiles_run`].
        #[target_feature(enable = $feature)]
        unsafe fn tiles_rows_run<const FV: usize, const P: usize, const S: usize, const WRAP: bool>(
            t: &mut Tile<'_>,
            pixels: std::ops::Range<usize>,
            rc: &mut [usize; 2],
        ) {
            let (src_len, w_len, out_len) = (t.src.len(), t.w.len(), t.out.len());
            let (src, w, out) = (t.src.as_ptr(), t.w.as_ptr(), t.out.as_mut_ptr());
            let (bases, group) = t.taps.groups();
            for q0 in pixels.step_by(P) {
                let first = t.at + q0 * S;
                let (px, ptrs) = if WRAP { wrapped::<P, S>(t, src, rc) } else { ([0; P], [src; P]) };
                let mut acc = [[$zero(); FV]; P];
                for (g, &base) in bases.iter().enumerate() {
                    let (from, row) = (first + base, g * group);
                    for c in 0..group {
                        let mut wv = [$zero(); FV];
                        for (v, wv) in wv.iter_mut().enumerate() {
                            in_bounds((row + c) * t.w_stride + v * LANES, LANES, w_len);
                            // SAFETY: tap row + c < taps.len() has FV vectors of weights at
                            // (row + c)·w_stride inside `w` (asserted extent).
                            *wv = unsafe { $load(w.add((row + c) * t.w_stride + v * LANES)) };
                        }
                        for (p, acc) in acc.iter_mut().enumerate() {
                            let at = if WRAP { px[p] + base } else { from + p * S } + c;
                            in_bounds(at, 1, src_len);
                            // SAFETY: base + c is tap row + c's offset, so `at` ≤ the last tiled
                            // pixel's input + max offset < src.len().
                            let x = $splat(unsafe { if WRAP { *ptrs[p].add(base + c) } else { *src.add(at) } });
                            for (acc, &wv) in acc.iter_mut().zip(&wv) {
                                *acc = $fmadd(x, wv, *acc);
                            }
                        }
                    }
                }
                for (p, acc) in acc.iter().enumerate() {
                    for (v, &acc) in acc.iter().enumerate() {
                        in_bounds((q0 + p) * t.out_stride + v * LANES, LANES, out_len);
                        // SAFETY: row q0 + p < tiled(count), vector v < FV: inside `out`.
                        unsafe { $store(out.add((q0 + p) * t.out_stride + v * LANES), epilogue(acc, t.bias_act, v)) };
                    }
                }
            }
        }

        /// `out[r][v] += Σ_q src[offsets[r] + q·S] · g[q·g_stride + v]`.
        ///
        /// # Safety
        /// The target features; `S = a.step`, every `offsets[r] + (count − 1)·S < src.len()`, `(count − 1)·g_stride
        /// + FV·LANES ≤ g.len()`, `out` holds `R` rows of `FV` vectors, `count > 0`.
        #[target_feature(enable = $feature)]
        unsafe fn ger<const R: usize, const FV: usize, const S: usize>(a: Ger<'_>) {
            let mut acc = [[$zero(); FV]; R];
            let g = a.g.as_ptr();
            let mut srcs = [a.src.as_ptr(); R];
            for (s, &off) in srcs.iter_mut().zip(a.offsets) {
                in_bounds(off, (a.count - 1) * S + 1, a.src.len());
                // SAFETY: off ≤ off + (count − 1)·S < src.len().
                *s = unsafe { s.add(off) };
            }
            for q in 0..a.count {
                let mut gv = [$zero(); FV];
                for (v, gv) in gv.iter_mut().enumerate() {
                    in_bounds(q * a.g_stride + v * LANES, LANES, a.g.len());
                    // SAFETY: q·g_stride + (v + 1)·LANES − 1 ≤ (count − 1)·g_stride + FV·LANES − 1 < g.len().
                    *gv = unsafe { $load(g.add(q * a.g_stride + v * LANES)) };
                }
                for (acc, &s) in acc.iter_mut().zip(&srcs) {
                    // SAFETY: off + q·S ≤ off + (count − 1)·S < src.len() for the tap's offset
                    // `off` (checked above, once per tap, in builds with debug assertions).
                    let x = $splat(unsafe { *s.add(q * S) });
                    for (acc, &gv) in acc.iter_mut().zip(&gv) {
                        *acc = $fmadd(x, gv, *acc);
                    }
                }
            }
            let (out_len, out) = (a.out.len(), a.out.as_mut_ptr());
            for (r, acc) in acc.iter().enumerate() {
                for (v, &acc) in acc.iter().enumerate() {
                    in_bounds((r * FV + v) * LANES, LANES, out_len);
                    // SAFETY: row r < R, vector v < FV lie inside `out` (asserted extent).
                    unsafe {
                        let at = out.add((r * FV + v) * LANES);
                        $store(at, $add($load(at), acc));
                    }
                }
            }
        }
    };
}

pub(super) use fma_loops;
