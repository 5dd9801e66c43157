//! The non-contiguous layouts the suite feeds an op, and the weighting that turns any output
//! into a scalar for the gradient checks.

use std::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor};

use crate::error::Result;
use crate::op::Op;
use crate::tape::Var;

/// A non-contiguous layout of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The same values with the axes' strides reversed (a transpose of a transposed copy):
    /// the last axis no longer has stride 1.
    Transposed,
    /// The same values inside a larger buffer whose border holds NaN: every stride is
    /// larger than the contiguous one and the offset is not 0, so an op that reads the
    /// storage as if it were the tensor reads NaN.
    Sliced,
    /// The first slice along the first axis longer than 1, repeated along that axis with
    /// stride 0 (other values than the input's: the contiguous copy is of the view).
    Broadcast,
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            View::Transposed => "transposed",
            View::Sliced => "sliced",
            View::Broadcast => "broadcast",
        })
    }
}

impl View {
    /// Every kind of view.
    pub const ALL: [View; 3] = [View::Transposed, View::Sliced, View::Broadcast];

    /// `x` in this layout, or `None` when the layout would be contiguous (a transpose of a
    /// tensor with fewer than two axes longer than 1, a broadcast of one with none).
    pub fn of(self, x: &Tensor<f64>) -> Option<Tensor<f64>> {
        if x.numel() < 2 {
            return None;
        }
        let shape = x.shape();
        let view = match self {
            View::Transposed => {
                if shape.iter().filter(|&&d| d > 1).count() < 2 {
                    return None;
                }
                let reversed: Vec<usize> = (0..x.rank()).rev().collect();
                x.permute(&reversed).ok()?.to_contiguous().permute(&reversed).ok()?
            }
            View::Sliced => {
                let padded: Vec<usize> = shape.iter().map(|d| d + 2).collect();
                let dense = x.to_contiguous();
                let big = Tensor::from_fn(&padded, |i| {
                    let inner: Option<Vec<usize>> =
                        i.iter().zip(shape).map(|(&k, &d)| (1..=d).contains(&k).then(|| k - 1)).collect();
                    inner.map_or(f64::NAN, |inner| dense.get(&inner).unwrap_or(f64::NAN))
                })
                .ok()?;
                let mut view = big;
                for (axis, &d) in shape.iter().enumerate() {
                    view = view.narrow(axis, 1, d).ok()?;
                }
                view
            }
            View::Broadcast => {
                let axis = shape.iter().position(|&d| d > 1)?;
                x.narrow(axis, 0, 1).ok()?.broadcast_to(shape).ok()?
            }
        };
        (!view.is_contiguous()).then_some(view)
    }
}

/// `s = Σᵢ wᵢ·yᵢ` over the elements of `y` that are not infinite, for weights uniform in
/// [−1, 1] drawn from the output's size: a scalar that depends on every element, the same
/// function on every evaluation of a gradient check. Infinite entries (the −∞ that pooling
/// reads in the padding) are constants and are skipped; a NaN propagates.
///
/// VJP: `∇y = ∇s·w` on the elements kept, 0 elsewhere.
pub(crate) fn weigh<'t, T: Element>(y: Var<'t, T>) -> Result<Var<'t, T>> {
    let value = y.value();
    let weights = weights::<T>(value.shape())?;
    let kept = value.map(|v| if v.is_infinite() { T::zero() } else { T::one() });
    let total = value.iter().zip(weights.iter()).filter(|(v, _)| !v.is_infinite()).map(|(v, w)| v * w).sum::<T>();
    let mask = weights.mul(&kept)?;
    y.tape().record(&[y], Tensor::scalar(total), || Weigh { mask })
}

fn weights<T: Element>(shape: &[usize]) -> tensor::Result<Tensor<T>> {
    let n: usize = shape.iter().product();
    let mut rng = StdRng::seed_from_u64(0x0077_e167 ^ n as u64);
    let w = Tensor::<f64>::rand_uniform(shape, -1.0, 1.0, &mut rng)?;
    Ok(Tensor::from_vec(shape, w.iter().map(T::from_f64_lossy).collect())?.to_contiguous())
}

struct Weigh<T> {
    mask: Tensor<T>,
}

impl<T: Element> Op<T> for Weigh<T> {
    fn name(&self) -> &'static str {
        "catalogue_weigh"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![want[0].then(|| grad.item().map(|g| self.mask.mul_scalar(g))).transpose()?])
    }
}
