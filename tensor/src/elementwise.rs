//! Element-wise arithmetic with numpy broadcasting, masks, and in-place updates.

use crate::buffer_pool::{collected, take};
use crate::element::Element;
use crate::error::Result;
use crate::layout::{broadcast_shapes, broadcast_strides, contiguous_strides, for_each_offset2};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// `f` applied to every element.
    /// The result keeps a dense input's layout (a channels-last view stays channels-last).
    pub fn map(&self, f: impl Fn(T) -> T) -> Tensor<T> {
        match self.dense_slice() {
            Some(s) => self.with_dense_data(collected(s.len(), s.iter().map(|&x| f(x)))),
            None => Tensor::from_vec_unchecked(self.shape().to_vec(), collected(self.numel(), self.iter().map(f))),
        }
    }

    /// `f(a, b)` for each pair of elements of `self` and `other` broadcast to a common shape.
    pub fn zip_map(&self, other: &Tensor<T>, op: &'static str, f: impl Fn(T, T) -> T) -> Result<Tensor<T>> {
        if self.shape() == other.shape()
            && same_dense_layout(self, other)
            && let (Some(a), Some(b)) = (self.dense_slice(), other.dense_slice())
        {
            return Ok(self.with_dense_data(collected(a.len(), a.iter().zip(b).map(|(&x, &y)| f(x, y)))));
        }
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        let sa = broadcast_strides(op, self.shape(), self.strides(), &shape)?;
        let sb = broadcast_strides(op, other.shape(), other.strides(), &shape)?;
        let (da, db) = (self.storage(), other.storage());
        let mut data = take(shape.iter().product());
        for_each_offset2(&shape, &sa, self.offset(), &sb, other.offset(), |i, j| data.push(f(da[i], db[j])));
        Ok(Tensor::from_vec_unchecked(shape, data))
    }

    /// `self + other`, broadcast.
    pub fn add(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "add", |a, b| a + b)
    }

    /// `self − other`, broadcast.
    pub fn sub(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "sub", |a, b| a - b)
    }

    /// `self ⊙ other` (element-wise product), broadcast.
    pub fn mul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "mul", |a, b| a * b)
    }

    /// `self / other` element-wise, broadcast.
    pub fn div(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "div", |a, b| a / b)
    }

    /// The larger of each pair, broadcast.
    pub fn maximum(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "maximum", |a, b| if b > a { b } else { a })
    }

    /// `self + c`.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| x + c)
    }

    /// `self − c`.
    pub fn sub_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| x - c)
    }

    /// `self · c`.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| x * c)
    }

    /// `self / c`.
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| x / c)
    }

    /// `max(x, 0)`; NaN stays NaN.
    pub fn relu(&self) -> Tensor<T> {
        self.map(crate::activation::relu)
    }

    /// `eˣ`.
    pub fn exp(&self) -> Tensor<T> {
        self.map(T::exp)
    }

    /// The natural logarithm.
    pub fn ln(&self) -> Tensor<T> {
        self.map(T::ln)
    }

    /// `−x`.
    pub fn neg(&self) -> Tensor<T> {
        self.map(|x| -x)
    }

    /// `|x|`.
    pub fn abs(&self) -> Tensor<T> {
        self.map(T::abs)
    }

    /// `√x`.
    pub fn sqrt(&self) -> Tensor<T> {
        self.map(T::sqrt)
    }

    /// `x²`.
    pub fn square(&self) -> Tensor<T> {
        self.map(|x| x * x)
    }

    /// 1 where `self > other`, else 0 (broadcast).
    pub fn gt(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "gt", |a, b| mask(a > b))
    }

    /// 1 where `self ≥ other`, else 0 (broadcast).
    pub fn ge(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "ge", |a, b| mask(a >= b))
    }

    /// 1 where `self < other`, else 0 (broadcast).
    pub fn lt(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "lt", |a, b| mask(a < b))
    }

    /// 1 where `self ≤ other`, else 0 (broadcast).
    pub fn le(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "le", |a, b| mask(a <= b))
    }

    /// 1 where `self == other`, else 0 (broadcast).
    pub fn eq_mask(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "eq_mask", |a, b| mask(a == b))
    }

    /// 1 where `self > c`, else 0.
    pub fn gt_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| mask(x > c))
    }

    /// 1 where `self ≥ c`, else 0.
    pub fn ge_scalar(&self, c: T) -> Tensor<T> {
        self.map(|x| mask(x >= c))
    }

    /// Applies `f` to every element in place.
    pub fn map_inplace(&mut self, f: impl Fn(T) -> T) {
        for x in self.as_mut_slice() {
            *x = f(*x);
        }
    }

    /// `self[i] = f(self[i], other[i])` in place, with `other` broadcast to `self`'s shape
    /// (which does not change).
    pub fn zip_map_inplace(&mut self, other: &Tensor<T>, op: &'static str, f: impl Fn(T, T) -> T) -> Result<()> {
        if self.shape() == other.shape()
            && same_dense_layout(self, other)
            && let Some(b) = other.dense_slice()
            && let Some(a) = self.dense_mut_slice()
        {
            for (x, &y) in a.iter_mut().zip(b) {
                *x = f(*x, y);
            }
            return Ok(());
        }
        let shape = self.shape().to_vec();
        let sb = broadcast_strides(op, other.shape(), other.strides(), &shape)?;
        let src = other.storage();
        let (ob, contiguous_other) = (other.offset(), other.shape() == shape.as_slice() && other.is_contiguous());
        let dst = self.as_mut_slice();
        if contiguous_other {
            for (d, &s) in dst.iter_mut().zip(&src[ob..ob + shape.iter().product::<usize>()]) {
                *d = f(*d, s);
            }
        } else {
            let sa = contiguous_strides(&shape);
            for_each_offset2(&shape, &sa, 0, &sb, ob, |i, j| dst[i] = f(dst[i], src[j]));
        }
        Ok(())
    }

    /// `self += other` in place (`other` broadcast to `self`).
    pub fn add_assign(&mut self, other: &Tensor<T>) -> Result<()> {
        self.zip_map_inplace(other, "add_assign", |a, b| a + b)
    }

    /// `self ← self + α·x` in place (BLAS `axpy`; `x` broadcast to `self`).
    pub fn axpy(&mut self, alpha: T, x: &Tensor<T>) -> Result<()> {
        self.zip_map_inplace(x, "axpy", |a, b| a + alpha * b)
    }

    /// `self ← α·self` in place.
    pub fn scale(&mut self, alpha: T) {
        self.map_inplace(|x| x * alpha);
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: T) {
        self.as_mut_slice().fill(value);
    }

    /// Copies `src` (broadcast to `self`'s shape) into `self`.
    pub fn copy_from(&mut self, src: &Tensor<T>) -> Result<()> {
        self.zip_map_inplace(src, "copy_from", |_, b| b)
    }
}

/// Whether two dense tensors of one shape lay their elements out in the same order.
fn same_dense_layout<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> bool {
    a.shape().iter().enumerate().all(|(i, &d)| d == 1 || a.strides()[i] == b.strides()[i])
        && a.is_dense()
        && b.is_dense()
}

fn mask<T: Element>(cond: bool) -> T {
    if cond { T::one() } else { T::zero() }
}
