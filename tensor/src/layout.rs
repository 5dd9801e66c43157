//! Shapes, strides and the walk over a strided layout in logical (row-major) order.

use crate::error::{Result, TensorError};

/// The row-major strides of a contiguous tensor of `shape`, in elements.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1usize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc = acc.saturating_mul(d);
    }
    strides
}

/// Whether a layout covers exactly `numel` consecutive storage elements in some axis order
/// (its strides are a permutation of the contiguous strides; size-1 axes ignored): a
/// permuted contiguous tensor, such as an N×C×H×W view of channels-last storage.
pub fn is_dense(shape: &[usize], strides: &[usize]) -> bool {
    if shape.contains(&0) {
        return true;
    }
    let mut axes: Vec<(usize, usize)> =
        shape.iter().zip(strides).filter(|(d, _)| **d != 1).map(|(&d, &s)| (s, d)).collect();
    axes.sort_unstable();
    let mut expected = 1;
    for (s, d) in axes {
        if s != expected {
            return false;
        }
        expected *= d;
    }
    true
}

/// The number of elements of `shape`, or an error when the product overflows `usize`.
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| TensorError::InvalidArgument {
        op,
        reason: format!("shape {shape:?} has more elements than fit in memory"),
    })
}

/// The shape two operands broadcast to under numpy's rules: align trailing axes; each pair
/// of sizes must be equal or one of them 1.
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let rank = lhs.len().max(rhs.len());
    let mut out = vec![0; rank];
    for (i, o) in out.iter_mut().enumerate() {
        let a = dim_from_right(lhs, rank - 1 - i);
        let b = dim_from_right(rhs, rank - 1 - i);
        *o = match (a, b) {
            (a, b) if a == b => a,
            (1, b) => b,
            (a, 1) => a,
            _ => {
                return Err(TensorError::ShapeMismatch { op, lhs: lhs.to_vec(), rhs: rhs.to_vec() });
            }
        };
    }
    Ok(out)
}

fn dim_from_right(shape: &[usize], k: usize) -> usize {
    if k < shape.len() { shape[shape.len() - 1 - k] } else { 1 }
}

/// Calls `f(offset)` for every index of `shape` in row-major order, where the offset of an
/// index is `offset + Σ index[i]·strides[i]`.
pub(crate) fn for_each_offset(shape: &[usize], strides: &[usize], offset: usize, mut f: impl FnMut(usize)) {
    for_each_offset2(shape, strides, offset, strides, 0, |a, _| f(a));
}

/// Like [`for_each_offset`] over two layouts of the same shape at once:
/// `f(offset_a, offset_b)` for every index in row-major order.
pub(crate) fn for_each_offset2(
    shape: &[usize],
    sa: &[usize],
    oa: usize,
    sb: &[usize],
    ob: usize,
    mut f: impl FnMut(usize, usize),
) {
    if shape.contains(&0) {
        return;
    }
    let rank = shape.len();
    if rank == 0 {
        f(oa, ob);
        return;
    }
    let inner = shape[rank - 1];
    let (ia, ib) = (sa[rank - 1], sb[rank - 1]);
    let mut index = vec![0usize; rank - 1];
    let (mut base_a, mut base_b) = (oa, ob);
    loop {
        let (mut a, mut b) = (base_a, base_b);
        for _ in 0..inner {
            f(a, b);
            a += ia;
            b += ib;
        }
        // Advance the odometer over the outer axes.
        let mut axis = rank - 1;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            base_a += sa[axis];
            base_b += sb[axis];
            if index[axis] < shape[axis] {
                break;
            }
            base_a -= sa[axis] * shape[axis];
            base_b -= sb[axis] * shape[axis];
            index[axis] = 0;
        }
    }
}

/// Strides that view a tensor of `shape`/`strides` as `target` under broadcasting
/// (stride 0 on new or stretched axes), or an error when `shape` does not broadcast to it.
pub(crate) fn broadcast_strides(
    op: &'static str,
    shape: &[usize],
    strides: &[usize],
    target: &[usize],
) -> Result<Vec<usize>> {
    if shape.len() > target.len() {
        return Err(TensorError::ShapeMismatch { op, lhs: shape.to_vec(), rhs: target.to_vec() });
    }
    let lead = target.len() - shape.len();
    let mut out = vec![0; target.len()];
    for i in 0..shape.len() {
        out[lead + i] = if shape[i] == target[lead + i] {
            strides[i]
        } else if shape[i] == 1 {
            0
        } else {
            return Err(TensorError::ShapeMismatch { op, lhs: shape.to_vec(), rhs: target.to_vec() });
        };
    }
    Ok(out)
}

/// Strides that view `shape`/`strides` as `new_shape` without moving data, if the layout
/// allows it (numpy's no-copy reshape: each run of merged old axes must be contiguous
/// among themselves).
pub(crate) fn reshape_strides(shape: &[usize], strides: &[usize], new_shape: &[usize]) -> Option<Vec<usize>> {
    // Drop size-1 axes of the old layout: they never constrain the result.
    let (old_d, old_s): (Vec<usize>, Vec<usize>) =
        shape.iter().zip(strides).filter(|(d, _)| **d != 1).map(|(d, s)| (*d, *s)).unzip();
    let mut new_strides = vec![0usize; new_shape.len()];
    if new_shape.contains(&0) || shape.contains(&0) {
        return Some(contiguous_strides(new_shape));
    }
    let (mut oi, mut ni) = (0usize, 0usize);
    let (on, nn) = (old_d.len(), new_shape.len());
    while oi < on && ni < nn {
        // Take the smallest groups old[oi..oj] and new[ni..nj] with equal products.
        let (mut oj, mut nj) = (oi + 1, ni + 1);
        let (mut op, mut np) = (old_d[oi], new_shape[ni]);
        while op != np {
            if np < op {
                np *= new_shape[nj];
                nj += 1;
            } else {
                op *= old_d[oj];
                oj += 1;
            }
        }
        // The old group must be one contiguous run.
        for k in oi..oj - 1 {
            if old_s[k] != old_s[k + 1] * old_d[k + 1] {
                return None;
            }
        }
        // Strides of the new group, from the innermost old stride outwards.
        new_strides[nj - 1] = old_s[oj - 1];
        for k in (ni..nj - 1).rev() {
            new_strides[k] = new_strides[k + 1] * new_shape[k + 1];
        }
        oi = oj;
        ni = nj;
    }
    // Remaining new axes are all of size 1; give them any consistent stride.
    for s in &mut new_strides[ni..] {
        *s = 1;
    }
    Some(new_strides)
}
