//! Reductions over one axis or over all elements: sum, mean, max, argmax, log-sum-exp.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::for_each_offset;
use crate::tensor::Tensor;

impl<T: Clone> Tensor<T> {
    /// Reduces `axis` with `reduce(lane)`, where `lane` yields the storage offsets of one
    /// lane along the axis; the result has the axis removed (or kept with size 1).
    fn reduce_lanes<U: Clone>(
        &self,
        op: &'static str,
        axis: usize,
        keepdim: bool,
        mut reduce: impl FnMut(&mut dyn Iterator<Item = usize>) -> U,
    ) -> Result<Tensor<U>> {
        if axis >= self.rank() {
            return Err(self.axis_error(op, axis));
        }
        let (len, step) = (self.shape()[axis], self.strides()[axis]);
        let mut outer_shape = self.shape().to_vec();
        let mut outer_strides = self.strides().to_vec();
        outer_shape.remove(axis);
        outer_strides.remove(axis);
        let mut data = Vec::with_capacity(outer_shape.iter().product());
        for_each_offset(&outer_shape, &outer_strides, self.offset(), |base| {
            data.push(reduce(&mut (0..len).map(|k| base + k * step)));
        });
        if keepdim {
            outer_shape.insert(axis, 1);
        }
        Ok(Tensor::from_vec_unchecked(outer_shape, data))
    }

    fn nonempty_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        match self.shape().get(axis) {
            None => Err(self.axis_error(op, axis)),
            Some(0) => Err(TensorError::EmptyReduction { op, axis, shape: self.shape().to_vec() }),
            Some(_) => Ok(()),
        }
    }
}

impl<T: Element> Tensor<T> {
    /// The sum of all elements (0 for an empty tensor).
    pub fn sum_all(&self) -> T {
        match self.as_slice() {
            Some(s) => s.iter().copied().sum(),
            None => self.iter().sum(),
        }
    }

    /// The mean of all elements (NaN for an empty tensor).
    pub fn mean_all(&self) -> T {
        self.sum_all() / T::from_usize(self.numel()).unwrap_or_else(T::nan)
    }

    /// The largest element; NaN if any element is NaN.
    pub fn max_all(&self) -> Result<T> {
        if self.numel() == 0 {
            return Err(TensorError::EmptyReduction { op: "max_all", axis: 0, shape: self.shape().to_vec() });
        }
        let mut best = T::neg_infinity();
        for x in self.iter() {
            if x.is_nan() {
                return Ok(x);
            }
            if x > best {
                best = x;
            }
        }
        Ok(best)
    }

    /// Sums over `axis`, removing it unless `keepdim`.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        let data = self.storage();
        self.reduce_lanes("sum_axis", axis, keepdim, |lane| lane.map(|o| data[o]).sum())
    }

    /// The mean over `axis`, removing it unless `keepdim`.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        let n = T::from_usize(self.dim(axis).map_err(|_| self.axis_error("mean_axis", axis))?).unwrap_or_else(T::nan);
        let data = self.storage();
        self.reduce_lanes("mean_axis", axis, keepdim, |lane| lane.map(|o| data[o]).sum::<T>() / n)
    }

    /// The maximum over `axis` (NaN if the lane holds a NaN).
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        self.nonempty_axis("max_axis", axis)?;
        let data = self.storage();
        self.reduce_lanes("max_axis", axis, keepdim, |lane| {
            let first = argmax_lane(data, lane);
            data[first]
        })
    }

    /// The index of the maximum along `axis`; ties go to the first maximum, and a NaN
    /// counts as the maximum (the first NaN wins).
    pub fn argmax_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<usize>> {
        self.nonempty_axis("argmax_axis", axis)?;
        let data = self.storage();
        let step = self.strides()[axis];
        let offset_of = |o: usize, base: usize| (o - base).checked_div(step).unwrap_or(0);
        self.reduce_lanes("argmax_axis", axis, keepdim, |lane| {
            let mut lane = lane.peekable();
            let base = *lane.peek().expect("non-empty lane");
            offset_of(argmax_lane(data, &mut lane), base)
        })
    }

    /// `ln Σⱼ exp(x[i, j])` for each row i of a matrix, computed stably as
    /// `m + ln Σⱼ exp(x[i, j] − m)` with `m` the row maximum.
    pub fn logsumexp_rows(&self) -> Result<Tensor<T>> {
        if self.rank() != 2 {
            return Err(self.rank_error("logsumexp_rows", 2));
        }
        self.nonempty_axis("logsumexp_rows", 1)?;
        let data = self.storage();
        let (cols, step) = (self.shape()[1], self.strides()[1]);
        self.reduce_lanes("logsumexp_rows", 1, false, |lane| {
            let base = lane.next().expect("non-empty row");
            let row = (0..cols).map(|k| data[base + k * step]);
            let m = row.clone().fold(T::neg_infinity(), T::max);
            if m.is_infinite() {
                return m;
            }
            m + row.map(|x| (x - m).exp()).sum::<T>().ln()
        })
    }
}

/// The storage offset of the first maximum in a lane (the first NaN if any).
fn argmax_lane<T: Element>(data: &[T], lane: &mut dyn Iterator<Item = usize>) -> usize {
    let mut best = lane.next().expect("non-empty lane");
    if data[best].is_nan() {
        return best;
    }
    for o in lane {
        let x = data[o];
        if x.is_nan() {
            return o;
        }
        if x > data[best] {
            best = o;
        }
    }
    best
}

/// `Σ v` in eight interleaved partial sums (element `i` into sum `i mod 8`, the tail of fewer
/// than eight after them), which the compiler keeps in one vector register: a single running
/// sum is a chain of dependent adds, one add's latency per element.
///
/// ```
/// let v: Vec<f32> = (1..=20).map(|i| i as f32).collect();
/// assert_eq!(tensor::lane_sum(&v), 210.0);
/// ```
pub fn lane_sum<T: Element>(v: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder().iter().copied().sum::<T>();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    lanes.iter().copied().sum::<T>() + tail
}
