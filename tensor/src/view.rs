//! Views: new layouts over the same storage, without copying elements.

use crate::error::{Result, TensorError};
use crate::layout::{broadcast_strides, checked_numel, reshape_strides};
use crate::tensor::Tensor;

impl<T: Clone> Tensor<T> {
    /// The same elements in logical order under a new shape: a view when the layout allows
    /// it (always for a contiguous tensor), a contiguous copy otherwise.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let n = checked_numel("reshape", shape)?;
        if n != self.numel() {
            return Err(TensorError::ShapeMismatch { op: "reshape", lhs: self.shape().to_vec(), rhs: shape.to_vec() });
        }
        Ok(match reshape_strides(self.shape(), self.strides(), shape) {
            Some(strides) => self.with_layout(shape.to_vec(), strides, self.offset()),
            None => Tensor::from_vec_unchecked(shape.to_vec(), self.to_vec()),
        })
    }

    /// A view whose axis `i` is this tensor's axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor<T>> {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        let valid = perm.len() == rank && perm.iter().all(|&p| p < rank && !std::mem::replace(&mut seen[p], true));
        if !valid {
            return Err(TensorError::InvalidPermutation { op: "permute", perm: perm.to_vec(), rank });
        }
        let shape = perm.iter().map(|&p| self.shape()[p]).collect();
        let strides = perm.iter().map(|&p| self.strides()[p]).collect();
        Ok(self.with_layout(shape, strides, self.offset()))
    }

    /// A view with axes `a` and `b` swapped.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor<T>> {
        for axis in [a, b] {
            if axis >= self.rank() {
                return Err(self.axis_error("transpose", axis));
            }
        }
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a matrix (a view).
    pub fn t(&self) -> Result<Tensor<T>> {
        if self.rank() != 2 {
            return Err(self.rank_error("t", 2));
        }
        self.transpose(0, 1)
    }

    /// A view of `len` entries of `axis` starting at `start`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor<T>> {
        let d = self.dim(axis).map_err(|_| self.axis_error("narrow", axis))?;
        if start.checked_add(len).is_none_or(|end| end > d) {
            return Err(TensorError::IndexOutOfRange {
                op: "narrow",
                axis,
                index: start,
                len,
                shape: self.shape().to_vec(),
            });
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = len;
        let offset = if len == 0 { self.offset() } else { self.offset() + start * self.strides()[axis] };
        Ok(self.with_layout(shape, self.strides().to_vec(), offset))
    }

    /// A view of entry `index` of `axis`, with that axis removed.
    pub fn select(&self, axis: usize, index: usize) -> Result<Tensor<T>> {
        let d = self.dim(axis).map_err(|_| self.axis_error("select", axis))?;
        if index >= d {
            return Err(TensorError::IndexOutOfRange {
                op: "select",
                axis,
                index,
                len: 1,
                shape: self.shape().to_vec(),
            });
        }
        let mut shape = self.shape().to_vec();
        let mut strides = self.strides().to_vec();
        let offset = self.offset() + index * strides[axis];
        shape.remove(axis);
        strides.remove(axis);
        Ok(self.with_layout(shape, strides, offset))
    }

    /// A view with a new axis of size 1 inserted at `axis` (0 ..= rank).
    pub fn unsqueeze(&self, axis: usize) -> Result<Tensor<T>> {
        if axis > self.rank() {
            return Err(self.axis_error("unsqueeze", axis));
        }
        let mut shape = self.shape().to_vec();
        let mut strides = self.strides().to_vec();
        shape.insert(axis, 1);
        strides.insert(axis, 1);
        Ok(self.with_layout(shape, strides, self.offset()))
    }

    /// A view of this tensor stretched to `shape` under numpy's broadcasting rules: new
    /// leading axes and stretched size-1 axes get stride 0.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let strides = broadcast_strides("broadcast_to", self.shape(), self.strides(), shape)?;
        Ok(self.with_layout(shape.to_vec(), strides, self.offset()))
    }
}
