//! The catalogue entries of the library's own ops, one file per file of `autograd/src/ops/`
//! (same name), one entry per `Var` method; the broadcasting arithmetic (`add`, `sub`,
//! `mul`, `div`) shares one entry, [`Broadcasting`], each op giving only its call.

mod add;
mod add_activated;
mod add_bias;
mod avg_pool2d;
mod batch_norm;
mod batch_norm_eval;
mod conv2d;
mod div;
mod dropout;
mod exp;
mod global_avg_pool2d;
mod im2col;
mod leaky_relu;
mod ln;
mod matmul;
mod max_pool2d;
mod max_rows;
mod mul;
mod permute;
mod pool_windows;
mod relu;
mod reshape;
mod scale;
mod sigmoid;
mod softmax_cross_entropy;
mod sub;
mod sum;
mod sum_axis;
mod sum_squares;
mod tanh;

use std::marker::PhantomData;

use proptest::prelude::*;
use tensor::{Element, Tensor, Window2d};

use super::{AnyEntry, Entry, OpCase};
use crate::error::Result;
use crate::strategies::{self, GeometryBounds, WindowCase};
use crate::tape::Var;

/// Every op of `autograd::ops`, as a catalogue entry, in the order of the files.
pub fn entries() -> Vec<Box<dyn AnyEntry>> {
    vec![
        Box::new(Broadcasting::<add::Add>::ENTRY),
        Box::new(add::ResidualAdd),
        Box::new(add_activated::AddActivated),
        Box::new(add_bias::AddBias),
        Box::new(avg_pool2d::AvgPool2d),
        Box::new(batch_norm::BatchNormTrain),
        Box::new(batch_norm::BatchNormTrainRelu),
        Box::new(batch_norm_eval::BatchNormEval),
        Box::new(batch_norm_eval::BatchNormEvalRelu),
        Box::new(conv2d::Conv2d),
        Box::new(conv2d::Conv2dRelu),
        Box::new(Broadcasting::<div::Div>::ENTRY),
        Box::new(dropout::Dropout),
        Box::new(exp::Exp),
        Box::new(global_avg_pool2d::GlobalAvgPool2d),
        Box::new(im2col::Im2col),
        Box::new(leaky_relu::LeakyRelu),
        Box::new(ln::Ln),
        Box::new(matmul::Matmul),
        Box::new(max_pool2d::MaxPool2d),
        Box::new(max_rows::MaxRows),
        Box::new(Broadcasting::<mul::Mul>::ENTRY),
        Box::new(permute::Permute),
        Box::new(permute::Transpose),
        Box::new(pool_windows::PoolWindows),
        Box::new(relu::Relu),
        Box::new(reshape::Reshape),
        Box::new(reshape::Flatten),
        Box::new(scale::Scale),
        Box::new(sigmoid::Sigmoid),
        Box::new(softmax_cross_entropy::SoftmaxCrossEntropy),
        Box::new(Broadcasting::<sub::Sub>::ENTRY),
        Box::new(sum::Sum),
        Box::new(sum::Mean),
        Box::new(sum_axis::SumAxis),
        Box::new(sum_axis::MeanAxis),
        Box::new(sum_squares::SumSquares),
        Box::new(tanh::Tanh),
    ]
}

/// A broadcasting binary op of the catalogue: its name, its call in either element type,
/// and how far from 0 its second operand must stay (the divisor of `div`).
pub(super) trait BinaryOp: 'static {
    /// The op's name.
    const NAME: &'static str;
    /// `|b| ≥` this in the cases (`None`: `b` anywhere in [−1, 1]).
    const B_AWAY_FROM_ZERO: Option<f64> = None;
    /// `op(a, b)`.
    fn call<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> Result<Var<'t, T>>;
}

/// The entry of a [`BinaryOp`]: operands of broadcastable shapes ([`broadcast_shapes`]),
/// and wrong shapes that do not broadcast (a trailing axis that differs and is not 1, and
/// a leading one).
pub(super) struct Broadcasting<O>(PhantomData<O>);

impl<O> Broadcasting<O> {
    const ENTRY: Self = Broadcasting(PhantomData);
}

impl<O: BinaryOp> Entry for Broadcasting<O> {
    type Args = ();

    fn name(&self) -> &'static str {
        O::NAME
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        broadcast_shapes()
            .prop_flat_map(|(a, b)| {
                let b = match O::B_AWAY_FROM_ZERO {
                    Some(distance) => strategies::tensor_away_from_zero::<f64>(b, distance).boxed(),
                    None => dense(b).boxed(),
                };
                (dense(a), b)
            })
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> Result<Var<'t, T>> {
        O::call(x[0], x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![zeros(&[&[2, 3], &[4]], ()), zeros(&[&[2, 3], &[3, 3]], ()), zeros(&[&[2, 3, 1], &[4, 1]], ())]
    }
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

/// One input of each geometry `geometry` draws, uniform in [−1, 1], with the window as
/// the argument: the cases of the windowed ops without kinks or ties.
fn windowed(geometry: impl Strategy<Value = WindowCase> + 'static) -> BoxedStrategy<OpCase<Window2d>> {
    geometry
        .prop_flat_map(|g| (dense(g.input), Just(g.window)))
        .prop_map(|(x, window)| OpCase::new(vec![x], window))
        .boxed()
}

/// The wrong-shape calls every pooling op refuses: an input of rank 3, and padding over
/// half the kernel.
fn pool_wrong_shapes() -> Vec<OpCase<Window2d>> {
    vec![zeros(&[&[2, 3, 4]], Window2d::square(2, 2, 0)), zeros(&[&[1, 1, 4, 4]], Window2d::square(2, 1, 2))]
}

/// Small geometries: at most 2·3·6·6 = 216 input elements, kernels up to 4 (non-square),
/// strides up to 3, padding up to 2.
fn small_windows() -> GeometryBounds {
    GeometryBounds { batch: 1..=2, channels: 1..=3, size: 1..=6, kernel: 1..=4, stride: 1..=3, padding: 0..=2 }
}
