//! The `Tensor` type: a strided view over shared storage, its constructors and accessors.

use std::sync::Arc;

use crate::buffer::Buffer;
use crate::error::{Result, TensorError};
use crate::layout::{checked_numel, contiguous_strides, for_each_offset};

/// An n-dimensional array: a shape, strides in elements (0 on a broadcast axis) and an
/// offset into storage that several tensors may share.
///
/// Views (reshape, permute, narrow, broadcast) share the storage and copy nothing. Writes
/// go through `&mut self` and are copy-on-write: a tensor whose storage is shared gets its
/// own copy first, so a write never shows through another tensor.
///
/// `T` is any `Clone` type for layout operations (argmax yields `Tensor<usize>`); the
/// arithmetic needs [`Element`](crate::Element).
#[derive(Clone)]
pub struct Tensor<T> {
    /// The elements; a buffer lent by a [`BufferPool`](crate::BufferPool) goes back to it
    /// when the last tensor viewing it is dropped.
    storage: Arc<Buffer<T>>,
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

impl<T> Tensor<T> {
    /// Assembles a tensor from its parts; the caller guarantees that every index of the
    /// layout falls inside `storage`.
    pub(crate) fn from_parts(storage: Arc<Buffer<T>>, shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        // An empty view has no element to point at, and a narrow or select along another
        // axis may have moved its offset past the end of the storage: pin it to 0 so that
        // `storage[offset..offset + numel]` stays in bounds.
        let offset = if shape.contains(&0) { 0 } else { offset };
        debug_assert!(
            shape.contains(&0)
                || offset + shape.iter().zip(&strides).map(|(d, s)| (d - 1) * s).sum::<usize>() < storage.len()
                || (shape.is_empty() && offset < storage.len())
        );
        Tensor { storage, shape, strides, offset }
    }

    /// A view with a new layout over the same storage.
    pub(crate) fn with_layout(&self, shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        Tensor::from_parts(Arc::clone(&self.storage), shape, strides, offset)
    }

    /// A contiguous tensor that owns `data`, whose length the caller has checked.
    pub(crate) fn from_vec_unchecked(shape: Vec<usize>, data: impl Into<Buffer<T>>) -> Self {
        let strides = contiguous_strides(&shape);
        Tensor { storage: Arc::new(data.into()), shape, strides, offset: 0 }
    }

    /// A tensor of `shape` and `strides` over a dense block `data`.
    pub(crate) fn from_dense(data: impl Into<Buffer<T>>, shape: Vec<usize>, strides: Vec<usize>) -> Self {
        Tensor::from_parts(Arc::new(data.into()), shape, strides, 0)
    }

    /// The size of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The step in storage elements between neighbours along each axis.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Where the first element sits in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements (1 for a rank-0 tensor).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The size of one axis.
    pub fn dim(&self, axis: usize) -> Result<usize> {
        self.shape.get(axis).copied().ok_or_else(|| self.axis_error("dim", axis))
    }

    /// The whole storage this tensor views (possibly more than its own elements).
    pub fn storage(&self) -> &[T] {
        &self.storage
    }

    /// Whether another tensor holds this one's storage too.
    pub(crate) fn storage_shared(&self) -> bool {
        Arc::strong_count(&self.storage) > 1
    }

    /// Whether two tensors view the same storage.
    pub fn shares_storage_with(&self, other: &Tensor<T>) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// Whether the elements lie in row-major order with no gaps (size-1 axes ignored).
    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            return true;
        }
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 {
                if s != expected {
                    return false;
                }
                expected *= d;
            }
        }
        true
    }

    /// The elements as one slice in logical order, when the tensor is contiguous.
    pub fn as_slice(&self) -> Option<&[T]> {
        self.is_contiguous().then(|| &self.storage[self.offset..self.offset + self.numel()])
    }

    /// Whether the elements fill `numel` consecutive storage slots in some axis order (a
    /// permutation of a contiguous layout, e.g. channels-last storage viewed as N×C×H×W).
    /// Element-wise ops keep such a layout instead of reordering the data.
    pub fn is_dense(&self) -> bool {
        crate::layout::is_dense(&self.shape, &self.strides)
    }

    /// The storage block of a dense tensor, in storage (not logical) order.
    pub fn dense_slice(&self) -> Option<&[T]> {
        self.is_dense().then(|| &self.storage[self.offset..self.offset + self.numel()])
    }

    /// A tensor of this one's shape and strides over a dense block `data` (storage order).
    pub(crate) fn with_dense_data<U>(&self, data: impl Into<Buffer<U>>) -> Tensor<U> {
        let data = data.into();
        debug_assert!(self.is_dense() && data.len() == self.numel());
        Tensor::from_dense(data, self.shape.clone(), self.strides.clone())
    }

    /// Storage offsets of every element in logical order.
    pub(crate) fn for_each_offset(&self, f: impl FnMut(usize)) {
        for_each_offset(&self.shape, &self.strides, self.offset, f);
    }

    pub(crate) fn axis_error(&self, op: &'static str, axis: usize) -> TensorError {
        TensorError::AxisOutOfRange { op, axis, shape: self.shape.clone() }
    }

    pub(crate) fn rank_error(&self, op: &'static str, expected: usize) -> TensorError {
        TensorError::RankMismatch { op, expected, shape: self.shape.clone() }
    }
}

impl<T: Clone> Tensor<T> {
    /// A contiguous tensor of `shape` holding `data` in row-major order; an error when the
    /// length does not match.
    pub fn from_vec(shape: &[usize], data: Vec<T>) -> Result<Self> {
        let expected = checked_numel("from_vec", shape)?;
        if expected != data.len() {
            return Err(TensorError::LengthMismatch {
                op: "from_vec",
                shape: shape.to_vec(),
                expected,
                got: data.len(),
            });
        }
        Ok(Tensor::from_vec_unchecked(shape.to_vec(), data))
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Tensor::from_vec_unchecked(Vec::new(), vec![value])
    }

    /// A tensor of `shape` with every element `value`.
    pub fn full(shape: &[usize], value: T) -> Result<Self> {
        let n = checked_numel("full", shape)?;
        Ok(Tensor::from_vec_unchecked(shape.to_vec(), vec![value; n]))
    }

    /// A tensor of `shape` whose element at each index is `f(index)`.
    pub fn from_fn(shape: &[usize], mut f: impl FnMut(&[usize]) -> T) -> Result<Self> {
        let n = checked_numel("from_fn", shape)?;
        let mut data = Vec::with_capacity(n);
        let mut index = vec![0usize; shape.len()];
        for _ in 0..n {
            data.push(f(&index));
            for axis in (0..shape.len()).rev() {
                index[axis] += 1;
                if index[axis] < shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Ok(Tensor::from_vec_unchecked(shape.to_vec(), data))
    }

    /// The element at a multi-index.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        if index.len() != self.rank() {
            return Err(TensorError::RankMismatch { op: "get", expected: index.len(), shape: self.shape.clone() });
        }
        let mut off = self.offset;
        for (axis, ((&i, &d), &s)) in index.iter().zip(&self.shape).zip(&self.strides).enumerate() {
            if i >= d {
                return Err(TensorError::IndexOutOfRange {
                    op: "get",
                    axis,
                    index: i,
                    len: 1,
                    shape: self.shape.clone(),
                });
            }
            off += i * s;
        }
        Ok(self.storage[off].clone())
    }

    /// The value of a one-element tensor (any rank).
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::ShapeMismatch { op: "item", lhs: self.shape.clone(), rhs: Vec::new() });
        }
        let mut value = None;
        self.for_each_offset(|o| value = Some(self.storage[o].clone()));
        Ok(value.expect("one element"))
    }

    /// The elements in logical (row-major) order.
    pub fn to_vec(&self) -> Vec<T> {
        if let Some(s) = self.as_slice() {
            return s.to_vec();
        }
        let mut out = Vec::with_capacity(self.numel());
        self.for_each_offset(|o| out.push(self.storage[o].clone()));
        out
    }

    /// A contiguous copy of the elements in a buffer from the pool this tensor's storage
    /// came from, if any (see [`BufferPool`](crate::BufferPool)).
    fn contiguous_copy(&self) -> Tensor<T> {
        let mut data = self.storage.sibling(self.numel());
        match self.as_slice() {
            Some(s) => data.extend_from_slice(s),
            None => self.for_each_offset(|o| data.push(self.storage[o].clone())),
        }
        Tensor::from_vec_unchecked(self.shape.clone(), data)
    }

    /// Iterates over the elements in logical order.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        Offsets::new(&self.shape, &self.strides, self.offset).map(move |o| self.storage[o].clone())
    }

    /// This tensor if it is already contiguous (sharing storage), else a contiguous copy.
    pub fn to_contiguous(&self) -> Tensor<T> {
        if self.is_contiguous() {
            return self.clone();
        }
        self.contiguous_copy()
    }

    /// A contiguous, uniquely owned slice of this tensor's elements for writing: copies
    /// first when the tensor is a strided view or its storage is shared (copy-on-write).
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let exact = self.is_contiguous() && self.offset == 0 && self.storage.len() == self.numel();
        if !exact {
            *self = self.contiguous_copy();
        }
        let n = self.numel();
        &mut Arc::make_mut(&mut self.storage)[..n]
    }

    /// The storage block of a dense tensor for writing, in storage order, copying first
    /// when the storage is shared (copy-on-write); `None` for a non-dense tensor.
    pub fn dense_mut_slice(&mut self) -> Option<&mut [T]> {
        if !self.is_dense() {
            return None;
        }
        let (start, n) = (self.offset, self.numel());
        Some(&mut Arc::make_mut(&mut self.storage)[start..start + n])
    }

    /// The storage `Vec` of a contiguous, exactly sized tensor, without a copy when nothing
    /// else shares it.
    pub fn into_vec(self) -> Vec<T> {
        let exact = self.is_contiguous() && self.offset == 0 && self.storage.len() == self.numel();
        if exact {
            Arc::try_unwrap(self.storage).map(Buffer::into_vec).unwrap_or_else(|shared| shared.to_vec())
        } else {
            self.to_vec()
        }
    }
}

/// Storage offsets of a strided layout in logical order.
struct Offsets<'a> {
    shape: &'a [usize],
    strides: &'a [usize],
    index: Vec<usize>,
    next: Option<usize>,
}

impl<'a> Offsets<'a> {
    fn new(shape: &'a [usize], strides: &'a [usize], offset: usize) -> Self {
        let next = (!shape.contains(&0)).then_some(offset);
        Offsets { shape, strides, index: vec![0; shape.len()], next }
    }
}

impl Iterator for Offsets<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let current = self.next?;
        let mut off = current;
        let mut axis = self.shape.len();
        self.next = loop {
            if axis == 0 {
                break None;
            }
            axis -= 1;
            self.index[axis] += 1;
            off += self.strides[axis];
            if self.index[axis] < self.shape[axis] {
                break Some(off);
            }
            off -= self.strides[axis] * self.shape[axis];
            self.index[axis] = 0;
        };
        Some(current)
    }
}

impl<T: PartialEq + Clone> PartialEq for Tensor<T> {
    /// Equal shapes and equal elements in logical order, whatever the layouts.
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.iter().eq(other.iter())
    }
}

impl<T: crate::Element> Tensor<T> {
    /// A tensor of `shape` filled with zeros (its buffer from the thread's
    /// [`BufferPool`](crate::BufferPool), if it has entered one).
    pub fn zeros(shape: &[usize]) -> Result<Self> {
        Tensor::filled(shape, T::zero())
    }

    /// A tensor of `shape` filled with ones (its buffer from the thread's
    /// [`BufferPool`](crate::BufferPool), if it has entered one).
    pub fn ones(shape: &[usize]) -> Result<Self> {
        Tensor::filled(shape, T::one())
    }

    fn filled(shape: &[usize], value: T) -> Result<Self> {
        let n = checked_numel("full", shape)?;
        Ok(Tensor::from_vec_unchecked(shape.to_vec(), crate::buffer_pool::filled(n, value)))
    }

    /// A tensor of `shape` written `chunk` elements at a time in row-major order: `write(k,
    /// out)` fills chunk `k` (`out` zeroed just before, while it is in cache, not the whole
    /// tensor first), its buffer from the thread's [`BufferPool`](crate::BufferPool) if it
    /// has entered one. An error if `chunk` does not divide the element count.
    ///
    /// ```
    /// let t = tensor::Tensor::<f32>::from_chunks(&[2, 3], 3, |k, row| {
    ///     row.iter_mut().enumerate().for_each(|(i, v)| *v = (10 * k + i) as f32)
    /// })
    /// .unwrap();
    /// assert_eq!(t.to_vec(), [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    /// ```
    pub fn from_chunks(shape: &[usize], chunk: usize, mut write: impl FnMut(usize, &mut [T])) -> Result<Self> {
        let n = checked_numel("from_chunks", shape)?;
        if n > 0 && (chunk == 0 || !n.is_multiple_of(chunk)) {
            return Err(TensorError::InvalidArgument {
                op: "from_chunks",
                reason: format!("chunks of {chunk} do not divide {n} elements"),
            });
        }
        let mut buffer = crate::buffer_pool::take(n);
        for k in 0..n.checked_div(chunk).unwrap_or(0) {
            let start = buffer.len();
            buffer.resize(start + chunk, T::zero());
            write(k, &mut buffer[start..]);
        }
        Ok(Tensor::from_vec_unchecked(shape.to_vec(), buffer))
    }
}
