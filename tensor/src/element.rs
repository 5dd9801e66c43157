//! The floating-point element types a tensor computes with: f32 to train, f64 to check
//! gradients.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use num_traits::{Float, FromPrimitive};

/// A floating-point element: `num_traits::Float` plus the general matrix product that
/// `matrixmultiply` provides for it (`sgemm` for f32, `dgemm` for f64).
pub trait Element:
    Float
    + FromPrimitive
    + Default
    + Debug
    + Display
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Send
    + Sync
    + 'static
{
    /// The name of the type, as in safetensors' dtype strings ("F32", "F64").
    const DTYPE: &'static str;

    /// `C ← α·A·B + β·C` for an m×k matrix A, a k×n matrix B and an m×n matrix C, each
    /// given by a pointer to its first element and its row and column strides in elements.
    ///
    /// # Safety
    /// Every element `a + i·rsa + j·csa` (i < m, j < k), and likewise for `b` (k×n) and `c`
    /// (m×n), must be valid for reads (and for `c`, writes); the elements of `c` must not
    /// overlap each other or `a`, `b`. When `beta` is zero, `c` need not be initialised.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );

    /// Converts from f64, rounding to the nearest representable value.
    fn from_f64_lossy(x: f64) -> Self;

    /// Widens to f64 (exact for both f32 and f64).
    fn to_f64_exact(self) -> f64;
}

impl Element for f32 {
    const DTYPE: &'static str = "F32";

    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract, which is sgemm's.
        unsafe { matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }

    fn from_f64_lossy(x: f64) -> f32 {
        x as f32
    }

    fn to_f64_exact(self) -> f64 {
        f64::from(self)
    }
}

impl Element for f64 {
    const DTYPE: &'static str = "F64";

    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract, which is dgemm's.
        unsafe { matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }

    fn from_f64_lossy(x: f64) -> f64 {
        x
    }

    fn to_f64_exact(self) -> f64 {
        self
    }
}
