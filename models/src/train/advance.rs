//! One epoch of a run, step by step: [`Trainer::advance_observed`] and the named steps it
//! is made of — check the data, assemble a batch, take the gradient step (refused when
//! not finite), account for it, and close the epoch with its evaluation.

use std::time::Instant;

use layers::Module;
use layers::optim::{clip_grad_norm, first_non_finite_gradient};
use tensor::Tensor;

use super::evaluate::check_model;
use super::step::{StepOutcome, forward_backward_step};
use super::{Advance, EpochMetrics, Flow, NonFinite, StepReport, TrainError, Trainer};
use crate::data::Dataset;

/// Where an epoch is: its step count, rate, and the clock of its training time.
struct EpochClock {
    steps: usize,
    lr: f64,
    started: Instant,
    /// Training time of the epoch before this call (a resumed epoch's).
    before: f64,
}

impl EpochClock {
    fn train_seconds(&self) -> f64 {
        self.before + self.started.elapsed().as_secs_f64()
    }
}

impl<M: Module<f32>> Trainer<M> {
    /// [`Trainer::advance`] with a callback that also sees the trainer and may fail.
    pub fn advance_observed(
        &mut self,
        train: &dyn Dataset,
        test: &dyn Dataset,
        on_step: &mut dyn FnMut(&Self, &StepReport) -> Result<Flow, TrainError>,
    ) -> Result<Advance, TrainError> {
        let _entered = self.buffers.enter();
        let input = self.start_epoch(train)?;
        let order = self.epoch_order(self.epoch, train.len());
        let steps = self.steps_per_epoch(order.len());
        let clock = EpochClock {
            steps,
            lr: self.config.lr_at(self.epoch * steps, steps),
            started: Instant::now(),
            before: self.progress.train_seconds,
        };
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for (k, chunk) in order.chunks(self.config.batch_size).enumerate().skip(self.progress.step) {
            if self.config.max_steps.is_some_and(|m| self.steps >= m) {
                break;
            }
            self.optimizer.set_learning_rate(self.config.lr_at(self.epoch * steps + k, steps));
            let batch = self.batch(train, chunk, &input, std::mem::take(&mut x), &mut labels)?;
            let outcome =
                forward_backward_step(&self.model, &batch, &labels, self.config.threads, self.config.seed, self.steps);
            x = batch.into_vec();
            let (loss, correct) = self.update(outcome?, k, steps)?;
            let report = self.account(k, chunk.len(), loss, correct, &clock);
            if on_step(self, &report)? == Flow::Pause {
                return Ok(Advance::Paused);
            }
        }
        self.finish_epoch(test, &clock)
    }

    /// Checks the model against the data (the input shape it takes), and that the run
    /// trains on the data it started on; the model in training mode.
    fn start_epoch(&mut self, train: &dyn Dataset) -> Result<Vec<usize>, TrainError> {
        let (input, _) = check_model(&self.model, train, &self.preprocess)?;
        if self.train_images != 0 && self.train_images != train.len() {
            return Err(TrainError::DataChanged { expected: self.train_images, got: train.len() });
        }
        self.train_images = train.len();
        self.model.set_training(true);
        Ok(input)
    }

    /// The batch of images `chunk`, preprocessed and augmented, in the buffer `x` (reused
    /// from step to step), with their labels.
    fn batch(
        &self,
        train: &dyn Dataset,
        chunk: &[usize],
        input: &[usize],
        mut x: Vec<f32>,
        labels: &mut Vec<usize>,
    ) -> Result<Tensor<f32>, TrainError> {
        self.preprocess.fill_batch(train, chunk, &mut x, labels)?;
        let augment = &self.config.augment;
        augment.apply_batch(&mut x, chunk, train.image_shape(), &self.preprocess, self.config.seed, self.epoch)?;
        let shape = [&[chunk.len()][..], input].concat();
        Ok(Tensor::from_vec(&shape, x)?)
    }

    /// The optimizer's step on the gradients of step `k` (of `steps`), clipped when asked;
    /// a loss or gradient that is not finite is an error and changes nothing. Returns the
    /// batch's loss and how many of its images were classified right.
    fn update(&mut self, mut outcome: StepOutcome, k: usize, steps: usize) -> Result<(f64, usize), TrainError> {
        let parameter = first_non_finite_gradient(&self.model, &outcome.grads);
        if !outcome.loss.is_finite() || parameter.is_some() {
            return Err(TrainError::NonFinite(Box::new(NonFinite {
                step: self.steps + 1,
                epoch: self.epoch + 1,
                step_in_epoch: k + 1,
                steps_in_epoch: steps,
                loss: outcome.loss,
                parameter,
            })));
        }
        if let Some(max_norm) = self.config.clip_grad_norm {
            clip_grad_norm(&mut outcome.grads, max_norm);
        }
        self.optimizer.step(self.model.named_parameters_mut(), &outcome.grads)?;
        Ok((outcome.loss, outcome.correct))
    }

    /// Counts step `k` (a batch of `n` images, its mean `loss`, `correct` of them right) in
    /// the run and the epoch, and reports it.
    fn account(&mut self, k: usize, n: usize, loss: f64, correct: usize, clock: &EpochClock) -> StepReport {
        self.steps += 1;
        let p = &mut self.progress;
        p.step = k + 1;
        p.loss_sum += loss * n as f64;
        p.correct += correct;
        p.seen += n;
        p.train_seconds = clock.train_seconds();
        StepReport {
            epoch: self.epoch + 1,
            step: k + 1,
            steps: clock.steps,
            loss,
            accuracy: p.correct as f64 / p.seen as f64,
            images_per_second: p.seen as f64 / p.train_seconds.max(1e-9),
            global_step: self.steps,
        }
    }

    /// Evaluates on `test`, advances the epoch and returns its metrics.
    fn finish_epoch(&mut self, test: &dyn Dataset, clock: &EpochClock) -> Result<Advance, TrainError> {
        let p = std::mem::take(&mut self.progress);
        let train_seconds = clock.train_seconds();
        let evaluating = Instant::now();
        let test_eval = self.evaluate(test)?;
        self.epoch += 1;
        let seen = p.seen.max(1) as f64;
        Ok(Advance::EpochEnd(Box::new(EpochMetrics {
            epoch: self.epoch,
            lr: clock.lr,
            train_loss: p.loss_sum / seen,
            train_accuracy: p.correct as f64 / seen,
            test: test_eval,
            train_seconds,
            seconds: train_seconds + evaluating.elapsed().as_secs_f64(),
            images_per_second: p.seen as f64 / train_seconds.max(1e-9),
        })))
    }
}
