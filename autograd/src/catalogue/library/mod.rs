//! The catalogue entries of the library's own ops, one per `Var` method, grouped by kind.

mod activations;
mod arithmetic;
mod dropout;
mod elementwise;
mod matrix;
mod normalisation;
mod pooling;
mod reductions;
mod shape;
mod windows;

use proptest::prelude::*;
use tensor::{Element, Tensor};

use super::{AnyEntry, OpCase};
use crate::strategies::{self, GeometryBounds};

/// Every op of `autograd::ops`, as a catalogue entry.
pub fn entries() -> Vec<Box<dyn AnyEntry>> {
    vec![
        Box::new(elementwise::Add),
        Box::new(elementwise::Scale),
        Box::new(elementwise::Relu),
        Box::new(elementwise::Sum),
        Box::new(elementwise::Mean),
        Box::new(elementwise::SumSquares),
        Box::new(arithmetic::Mul),
        Box::new(arithmetic::Sub),
        Box::new(arithmetic::Div),
        Box::new(arithmetic::Exp),
        Box::new(arithmetic::Ln),
        Box::new(reductions::SumAxis),
        Box::new(reductions::MeanAxis),
        Box::new(activations::Tanh),
        Box::new(activations::Sigmoid),
        Box::new(activations::LeakyRelu),
        Box::new(dropout::Dropout),
        Box::new(shape::Reshape),
        Box::new(shape::Flatten),
        Box::new(shape::Permute),
        Box::new(shape::Transpose),
        Box::new(matrix::Matmul),
        Box::new(matrix::AddBias),
        Box::new(matrix::MaxRows),
        Box::new(matrix::SoftmaxCrossEntropy),
        Box::new(windows::Im2col),
        Box::new(windows::Conv2d),
        Box::new(windows::Conv2dRelu),
        Box::new(windows::PoolWindows),
        Box::new(windows::MaxPool2d),
        Box::new(pooling::AvgPool2d),
        Box::new(normalisation::BatchNormTrain),
        Box::new(normalisation::BatchNormEval),
        Box::new(normalisation::BatchNormTrainRelu),
        Box::new(normalisation::BatchNormEvalRelu),
    ]
}

/// Tensors of `shape` with elements uniform in [−1, 1].
fn dense(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    strategies::tensor::<f64>(shape)
}

/// Tensors of `shape` with elements uniform in [`lo`, `hi`].
fn uniform(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(lo..=hi, n).prop_map(move |v| Tensor::from_vec(&shape, v).expect("n elements"))
}

/// Operand shapes of a broadcasting binary op, drawn from a common shape of rank 1 to 3:
/// each operand takes size 1 on some axes and drops some leading axes (down to rank 0).
fn broadcast_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    strategies::shape(1..=3, 1..=4)
        .prop_flat_map(|s| {
            let r = s.len();
            let ones = proptest::collection::vec(any::<bool>(), r);
            (Just(s), ones.clone(), ones, 0..=r, 0..=r)
        })
        .prop_map(|(s, ones_a, ones_b, drop_a, drop_b)| {
            let side = |ones: &[bool], drop: usize| -> Vec<usize> {
                s.iter().zip(ones).skip(drop).map(|(&d, &one)| if one { 1 } else { d }).collect()
            };
            (side(&ones_a, drop_a), side(&ones_b, drop_b))
        })
}

/// Shapes of rank 0 to 3, axes of 1 to 4.
fn any_shape() -> impl Strategy<Value = Vec<usize>> {
    strategies::shape(0..=3, 1..=4)
}

/// Tensors of `shape` with values on the grid `k/4`, `|k| ≤ levels`: many exact ties (and
/// zeros), distinct values at least 1/4 apart.
fn on_grid(shape: Vec<usize>, levels: i32) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(-levels..=levels, n).prop_map(move |k| {
        Tensor::from_vec(&shape, k.into_iter().map(|k| f64::from(k) / 4.0).collect()).expect("n elements")
    })
}

/// The nudge step of "ties go to the first maximum" for values on the grid of [`on_grid`]:
/// the whole nudge stays below a quarter of the grid's step.
fn tie_step(x: &Tensor<f64>) -> f64 {
    0.25 / (4.0 * x.numel() as f64)
}

/// A tensor argument (not an input: it is not differentiated) in element type `T`:
/// contiguous, or, when `strided`, a view with every stride doubled into a buffer whose
/// other half holds NaN, so that arguments get the layout check the suite gives inputs
/// (an op that reads the storage as if it were the tensor reads NaN).
fn cast_arg<T: Element>(t: &Tensor<f64>, strided: bool) -> tensor::Result<Tensor<T>> {
    let values = t.iter().map(T::from_f64_lossy);
    if !strided {
        return Tensor::from_vec(t.shape(), values.collect());
    }
    let buffer: Vec<usize> = t.shape().iter().copied().chain([2]).collect();
    Tensor::from_vec(&buffer, values.flat_map(|v| [v, T::nan()]).collect())?.select(t.rank(), 0)
}

/// A case of zero tensors of `shapes`, for the wrong-shape calls.
fn zeros<A>(shapes: &[&[usize]], args: A) -> OpCase<A> {
    OpCase::new(shapes.iter().map(|s| Tensor::zeros(s).expect("a small shape")).collect(), args)
}

/// Small geometries: at most 2·3·6·6 = 216 input elements, kernels up to 4 (non-square),
/// strides up to 3, padding up to 2.
fn small_windows() -> GeometryBounds {
    GeometryBounds { batch: 1..=2, channels: 1..=3, size: 1..=6, kernel: 1..=4, stride: 1..=3, padding: 0..=2 }
}
