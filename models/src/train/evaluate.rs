//! Evaluation: mean loss, accuracy, accuracy per class and the confusion matrix, for any
//! number of classes.

use autograd::Tape;
use layers::Module;
use tensor::{BufferPool, Tensor};

use super::TrainError;
use super::step::infer;
use crate::data::{Dataset, Preprocess};

/// Loss and accuracy over a set of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// `confusion[true][predicted]` counts, K×K for the network's K outputs.
    pub confusion: Vec<Vec<usize>>,
}

impl Evaluation {
    /// Accuracy per true class (NaN for a class with no image).
    pub fn per_class(&self) -> Vec<f64> {
        self.confusion.iter().enumerate().map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>() as f64).collect()
    }

    /// The number of images evaluated.
    pub fn images(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }
}

/// Checks that `model` takes `data`'s images after `preprocess` and gives an output per
/// class, `[N, C, H, W] → [N, K]` with `K` at least the data's classes (a subset of a data
/// set may lack the last classes). Returns the input shape `[C, H, W]` and `K`; the error
/// says which shapes disagree.
pub fn check_model<M: Module<f32> + ?Sized>(
    model: &M,
    data: &dyn Dataset,
    preprocess: &Preprocess,
) -> Result<(Vec<usize>, usize), TrainError> {
    let [c, h, w] = preprocess.output_shape(data.image_shape())?;
    let out = model.output_shape(&[1, c, h, w])?;
    match out.as_slice() {
        &[1, k] if k >= data.classes() => Ok((vec![c, h, w], k)),
        _ => Err(TrainError::Output { input: vec![c, h, w], output: out, classes: data.classes() }),
    }
}

/// Evaluates `model` on `data` in batches of `batch`, each split over `threads` (the same
/// figures for any count), without recording gradients. The batches reuse their buffers
/// through a [`BufferPool`] of the evaluation's own, freed at its end: evaluation batches
/// are larger than training steps, and the run should not keep their buffers.
pub fn evaluate<M: Module<f32> + ?Sized>(
    model: &M,
    data: &dyn Dataset,
    preprocess: &Preprocess,
    batch: usize,
    threads: usize,
) -> Result<Evaluation, TrainError> {
    let buffers = BufferPool::new();
    let _entered = buffers.enter();
    let (input, classes) = check_model(model, data, preprocess)?;
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut loss_sum = 0.0f64;
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    let order: Vec<usize> = (0..data.len()).collect();
    for chunk in order.chunks(batch.max(1)) {
        preprocess.fill_batch(data, chunk, &mut x, &mut labels)?;
        let shape = [&[chunk.len()][..], &input].concat();
        let batch = Tensor::from_vec(&shape, std::mem::take(&mut x))?;
        let tape = Tape::no_grad();
        let logits = tape.constant(infer(model, &batch, threads)?);
        let loss = logits.softmax_cross_entropy(&labels)?;
        loss_sum += f64::from(loss.value().item()?) * chunk.len() as f64;
        let predicted = logits.value().argmax_axis(1, false)?;
        x = batch.into_vec();
        for (p, &l) in predicted.iter().zip(&labels) {
            confusion[l][p] += 1;
        }
    }
    let n = data.len().max(1) as f64;
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    Ok(Evaluation { loss: loss_sum / n, accuracy: correct as f64 / n, confusion })
}
