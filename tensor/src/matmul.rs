//! Matrix products through `matrixmultiply`, which takes row and column strides: a
//! transposed, sliced or broadcast view goes in as it is, without a copy.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The matrix product: `[m, k]·[k, n] → [m, n]`, or batched `[b, m, k]·[b, k, n] →
    /// [b, m, n]` where a batch of 1 on either side is broadcast.
    pub fn matmul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        let mismatch =
            || TensorError::ShapeMismatch { op: "matmul", lhs: self.shape().to_vec(), rhs: rhs.shape().to_vec() };
        match (self.rank(), rhs.rank()) {
            (2, 2) => {
                let (m, n) = (self.shape()[0], rhs.shape()[1]);
                if self.shape()[1] != rhs.shape()[0] {
                    return Err(mismatch());
                }
                let mut out = Tensor::zeros(&[m, n])?;
                gemm(T::one(), self, rhs, T::zero(), &mut out)?;
                Ok(out)
            }
            (3, 3) => {
                let (ba, bb) = (self.shape()[0], rhs.shape()[0]);
                let (m, k, n) = (self.shape()[1], self.shape()[2], rhs.shape()[2]);
                if rhs.shape()[1] != k || (ba != bb && ba != 1 && bb != 1) {
                    return Err(mismatch());
                }
                let batch = ba.max(bb);
                let mut out = Tensor::zeros(&[batch, m, n])?;
                let (sa, sb) =
                    (if ba == 1 { 0 } else { self.strides()[0] }, if bb == 1 { 0 } else { rhs.strides()[0] });
                let c = out.as_mut_slice();
                for i in 0..batch {
                    // SAFETY: each operand's layout was validated when the view was made;
                    // batch i of a stays within it (stride 0 when broadcast), and the i-th
                    // m×n block of the fresh output is disjoint from the operands.
                    unsafe {
                        raw_gemm(
                            T::one(),
                            (self, self.offset() + i * sa, [m, k]),
                            (rhs, rhs.offset() + i * sb, [k, n]),
                            T::zero(),
                            &mut c[i * m * n..(i + 1) * m * n],
                        );
                    }
                }
                Ok(out)
            }
            (2 | 3, _) => Err(rhs.rank_error("matmul", self.rank())),
            _ => Err(self.rank_error("matmul", 2)),
        }
    }
}

/// `C ← α·A·B + β·C` for matrices A [m, k], B [k, n] and an existing C [m, n], which is
/// made contiguous and uniquely owned first (copy-on-write). With β = 1 it accumulates
/// into C, which is how gradients add up without a temporary.
pub fn gemm<T: Element>(alpha: T, a: &Tensor<T>, b: &Tensor<T>, beta: T, c: &mut Tensor<T>) -> Result<()> {
    for t in [a, b] {
        if t.rank() != 2 {
            return Err(t.rank_error("gemm", 2));
        }
    }
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    if b.shape()[0] != k {
        return Err(TensorError::ShapeMismatch { op: "gemm", lhs: a.shape().to_vec(), rhs: b.shape().to_vec() });
    }
    if c.shape() != [m, n] {
        return Err(TensorError::ShapeMismatch { op: "gemm", lhs: vec![m, n], rhs: c.shape().to_vec() });
    }
    let out = c.as_mut_slice();
    // SAFETY: a and b are valid views of their shapes; `out` is a uniquely owned m×n
    // contiguous buffer (as_mut_slice copied it if it was shared), disjoint from a and b.
    unsafe { raw_gemm(alpha, (a, a.offset(), [m, k]), (b, b.offset(), [k, n]), beta, out) };
    Ok(())
}

/// One gemm of the matrices at the given offsets of `a` and `b` (using their last two
/// strides) into the contiguous row-major `c`.
///
/// # Safety
/// The m×k block of `a` at `a_off` and the k×n block of `b` at `b_off` must lie inside
/// their storages; `c` must hold exactly m·n elements and not alias them.
unsafe fn raw_gemm<T: Element>(
    alpha: T,
    (a, a_off, [m, k]): (&Tensor<T>, usize, [usize; 2]),
    (b, b_off, [_, n]): (&Tensor<T>, usize, [usize; 2]),
    beta: T,
    c: &mut [T],
) {
    debug_assert_eq!(c.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for x in c.iter_mut() {
            *x = if beta == T::zero() { T::zero() } else { *x * beta };
        }
        return;
    }
    let last2 = |t: &Tensor<T>| {
        let s = t.strides();
        (s[s.len() - 2] as isize, s[s.len() - 1] as isize)
    };
    let ((rsa, csa), (rsb, csb)) = (last2(a), last2(b));
    // SAFETY: k, m, n > 0, so both blocks hold elements and their first offsets are in
    // bounds; the caller guarantees the rest of each block is.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            alpha,
            a.storage().as_ptr().add(a_off),
            rsa,
            csa,
            b.storage().as_ptr().add(b_off),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}
