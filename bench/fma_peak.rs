//! The FMA limit of one core: a loop of independent fused multiply-adds on registers only
//! (no loads or stores), timed, for AVX-512 (16 f32 lanes) and AVX2 (8 lanes) when the CPU
//! has them. Twelve accumulators hide the FMA latency (4 cycles × up to 2 units = 8 in
//! flight needed). The figure is the denominator of `bench/NOTES.md`'s "share of the FMA
//! limit". Not part of the workspace (one file, built on its own):
//!     rustc -C opt-level=3 --edition 2024 -o /tmp/fma_peak bench/fma_peak.rs && /tmp/fma_peak

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::time::Instant;

    const ACC: usize = 12;
    const ITERS: usize = 50_000_000;

    /// GFLOP/s of `ITERS` rounds of `ACC` FMAs on 8-lane registers.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2() -> f64 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); ACC];
        let t = Instant::now();
        for _ in 0..ITERS {
            for r in acc.iter_mut() {
                *r = _mm256_fmadd_ps(*r, a, b);
            }
        }
        let s = t.elapsed().as_secs_f64();
        let mut sum = [0.0f32; 8];
        let total = acc.iter().fold(_mm256_setzero_ps(), |x, &y| _mm256_add_ps(x, y));
        unsafe { _mm256_storeu_ps(sum.as_mut_ptr(), total) };
        std::hint::black_box(sum);
        (ITERS * ACC * 8 * 2) as f64 / s / 1e9
    }

    /// GFLOP/s of `ITERS` rounds of `ACC` FMAs on 16-lane registers.
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512() -> f64 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); ACC];
        let t = Instant::now();
        for _ in 0..ITERS {
            for r in acc.iter_mut() {
                *r = _mm512_fmadd_ps(*r, a, b);
            }
        }
        let s = t.elapsed().as_secs_f64();
        std::hint::black_box(_mm512_reduce_add_ps(acc.iter().fold(_mm512_setzero_ps(), |x, &y| _mm512_add_ps(x, y))));
        (ITERS * ACC * 16 * 2) as f64 / s / 1e9
    }

    pub fn run() {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected at run time.
            let best = (0..3).map(|_| unsafe { avx2() }).fold(0.0, f64::max);
            println!("AVX2+FMA, 8 f32 lanes: {best:.1} GFLOP/s (best of 3)");
        }
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was detected at run time.
            let best = (0..3).map(|_| unsafe { avx512() }).fold(0.0, f64::max);
            println!("AVX-512F, 16 f32 lanes: {best:.1} GFLOP/s (best of 3)");
        }
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    x86::run();
    #[cfg(not(target_arch = "x86_64"))]
    println!("fma_peak measures x86-64 only");
}
