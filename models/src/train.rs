//! The training loop: seeded shuffles, data-parallel steps, evaluation, checkpoints.
//!
//! A step splits the batch into `threads` contiguous slices; each thread records its slice
//! on its own tape, with its mean loss weighted by `slice / batch`, so the gradients of the
//! slices add up to the gradient of the batch's mean loss. The slices are summed in thread
//! order, so a run is reproducible bit for bit for a given seed and thread count.
//!
//! Weight decay is the optimizer's (`g ← ∇W + λ·W` on weights, not biases), which is the
//! gradient of the derivation's `regLoss = 0.5·λ·Σ‖W‖²`; the loss reported is the data loss.
//!
//! Before each update the loss and every gradient are checked: a NaN or an infinity stops
//! the run with [`TrainError::NonFinite`], naming the step and the first parameter whose
//! gradient is not finite, and nothing is updated. With [`TrainConfig::clip_grad_norm`]
//! the gradients are then scaled by `min(1, F / (‖g‖₂ + 10⁻⁶))` over all parameters
//! (PyTorch's `clip_grad_norm_`).
//!
//! A run can stop between any two steps and go on later: [`Trainer::advance`] returns
//! when its callback asks for a pause, and [`Trainer::progress`] holds where the epoch
//! stands (its step and running sums), which [`crate::resume`] saves and restores. The
//! shuffle of an epoch is a function of the seed and the epoch, so a resumed run takes the
//! same batches in the same order and ends with the same weights and metrics, bit for bit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use autograd::{Gradients, Tape};
use layers::optim::Schedule;
use layers::{Adam, AdamConfig, DecayFilter, LayerError, Module, Optimizer, Sgd, SgdConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tensor::Tensor;

use crate::lenet5::{CLASSES, LeNet5};
use crate::mnist::{INPUT_SIDE, Split};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// SGD with momentum (PyTorch's rule).
    Sgd,
    /// Adam (PyTorch's rule).
    Adam,
}

/// Hyper-parameters of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// The update rule.
    pub optimizer: OptimizerKind,
    /// The base learning rate (annealed step by step by a cosine schedule to 0 at the end
    /// of the run).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay on the weights.
    pub weight_decay: f64,
    /// Seeds the initial weights and every epoch's shuffle.
    pub seed: u64,
    /// Threads per step.
    pub threads: usize,
    /// Stop after this many optimizer steps.
    pub max_steps: Option<u64>,
    /// Shuffle each epoch (else file order).
    pub shuffle: bool,
    /// Scale the gradients so their global L2 norm is at most this (no clipping if `None`).
    pub clip_grad_norm: Option<f64>,
}

impl Default for TrainConfig {
    /// The defaults reach 99% test accuracy on MNIST within their 10 epochs.
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 64,
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 5e-4,
            seed: 0,
            threads: 1,
            max_steps: None,
            shuffle: true,
            clip_grad_norm: None,
        }
    }
}

impl TrainConfig {
    /// Checks the values a user can get wrong; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("--epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return Err("--batch-size must be at least 1".into());
        }
        if self.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        for (name, v) in [("--lr", self.lr), ("--momentum", self.momentum), ("--weight-decay", self.weight_decay)] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name} must be a finite number ≥ 0, got {v}"));
            }
        }
        if self.lr == 0.0 {
            return Err("--lr must be positive".into());
        }
        if self.momentum >= 1.0 {
            return Err(format!("--momentum must be below 1, got {}", self.momentum));
        }
        if let Some(c) = self.clip_grad_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(format!("--clip-grad-norm must be a finite number > 0, got {c}"));
        }
        Ok(())
    }

    /// The optimizer these hyper-parameters describe.
    pub fn build_optimizer(&self) -> Result<Box<dyn Optimizer<f32> + Send>, LayerError> {
        Ok(match self.optimizer {
            OptimizerKind::Sgd => Box::new(Sgd::new(
                SgdConfig::new(self.lr)
                    .momentum(self.momentum)
                    .weight_decay(self.weight_decay)
                    .decay(DecayFilter::WeightsOnly),
            )?),
            OptimizerKind::Adam => Box::new(Adam::new(
                AdamConfig::adam(self.lr).weight_decay(self.weight_decay).decay(DecayFilter::WeightsOnly),
            )?),
        })
    }

    /// The learning-rate schedule: cosine annealing to 0 over every step of the run
    /// (`epochs · steps_per_epoch`), evaluated at the global step, so a one-epoch run
    /// anneals within its epoch and a resumed run continues the same curve.
    pub fn schedule(&self, steps_per_epoch: usize) -> layers::optim::Cosine {
        layers::optim::Cosine { total: self.epochs * steps_per_epoch, min_factor: 0.0 }
    }
}

/// Loss and accuracy over a set of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: [[usize; CLASSES]; CLASSES],
}

impl Evaluation {
    /// Accuracy per true class (NaN for a class with no image).
    pub fn per_class(&self) -> [f64; CLASSES] {
        std::array::from_fn(|c| {
            let total: usize = self.confusion[c].iter().sum();
            self.confusion[c][c] as f64 / total as f64
        })
    }
}

/// The figures of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// The learning rate at the epoch's first step (it anneals step by step).
    pub lr: f64,
    /// Mean data loss over the epoch's steps (as trained, weights changing).
    pub train_loss: f64,
    /// Training accuracy over the epoch's steps.
    pub train_accuracy: f64,
    /// Test-set evaluation at the epoch's end.
    pub test: Evaluation,
    /// Wall time of the epoch's training steps.
    pub train_seconds: f64,
    /// Wall time of the epoch's training steps and its evaluation.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// What a progress display is told after each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Step within the epoch, from 1.
    pub step: usize,
    /// Steps in the epoch.
    pub steps: usize,
    /// The step's mean loss.
    pub loss: f64,
    /// Running training accuracy over the epoch so far.
    pub accuracy: f64,
    /// Training images per second so far in the epoch.
    pub images_per_second: f64,
    /// Optimizer steps taken over the run, this one included.
    pub global_step: u64,
}

/// What the callback of [`Trainer::advance`] wants after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Take the next step.
    Continue,
    /// Return now (e.g. to write a checkpoint, or because the user pressed Ctrl-C).
    Pause,
}

/// How [`Trainer::advance`] returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Advance {
    /// The callback asked for a pause; [`Trainer::progress`] says where the epoch stands.
    Paused,
    /// The epoch ended (at its last batch or at the step limit) and was evaluated.
    EpochEnd(Box<EpochMetrics>),
}

/// Where the current epoch stands: the steps taken in it and its running sums, so that an
/// epoch interrupted and resumed reports the same metrics as one run straight through.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EpochProgress {
    /// Steps taken in the epoch (the next batch is number `step`, from 0).
    pub step: usize,
    /// Σ over the epoch's steps of (mean loss of the step · images in the step).
    pub loss_sum: f64,
    /// Training images classified correctly so far in the epoch.
    pub correct: usize,
    /// Training images seen so far in the epoch.
    pub seen: usize,
    /// Wall time of the epoch's training steps so far (informative only).
    pub train_seconds: f64,
}

/// What went wrong with a step's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite {
    /// The optimizer step that failed, over the run, from 1.
    pub step: u64,
    /// Its epoch, from 1.
    pub epoch: usize,
    /// Its step within the epoch, from 1.
    pub step_in_epoch: usize,
    /// Steps in the epoch.
    pub steps_in_epoch: usize,
    /// The step's mean loss.
    pub loss: f64,
    /// The first parameter (in `named_parameters` order) whose gradient holds a NaN or an
    /// infinity, if any.
    pub parameter: Option<String>,
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} (epoch {}, step {}/{}): ", self.step, self.epoch, self.step_in_epoch, self.steps_in_epoch)?;
        let loss_bad = !self.loss.is_finite();
        if loss_bad {
            write!(f, "the loss is {}", self.loss)?;
        }
        match (&self.parameter, loss_bad) {
            (Some(p), true) => write!(f, " and the gradient of {p} is not finite (the first such parameter)"),
            (Some(p), false) => write!(f, "the gradient of {p} is not finite (the first such parameter)"),
            (None, _) => Ok(()),
        }?;
        write!(f, "; the step was not applied")
    }
}

/// An error while training: a layer error or a checkpoint error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model or optimizer failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// Saving or loading a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] layers::CheckpointError),
    /// The loss or a gradient became NaN or infinite.
    #[error("training stopped at {0}")]
    NonFinite(Box<NonFinite>),
    /// Writing the metrics file failed.
    #[error("{path}: {source}")]
    Metrics {
        /// The metrics file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl From<autograd::AutogradError> for TrainError {
    fn from(e: autograd::AutogradError) -> Self {
        TrainError::Layer(e.into())
    }
}

impl From<tensor::TensorError> for TrainError {
    fn from(e: tensor::TensorError) -> Self {
        TrainError::Layer(e.into())
    }
}

/// The result of one step before the update: mean loss, correct predictions, gradients.
pub struct StepOutcome {
    /// Mean data loss over the batch.
    pub loss: f64,
    /// Images whose argmax is the label.
    pub correct: usize,
    /// Gradients of the batch's mean loss.
    pub grads: Gradients<f32>,
}

/// Forward and backward of one batch `x: [N, 1, 32, 32]` over `threads` slices.
pub fn forward_backward(
    model: &LeNet5<f32>,
    x: &Tensor<f32>,
    labels: &[usize],
    threads: usize,
) -> Result<StepOutcome, TrainError> {
    let n = labels.len();
    let slices = slices(n, threads);
    let run = |&(start, len): &(usize, usize)| -> Result<StepOutcome, TrainError> {
        let tape = Tape::new();
        let xs = tape.constant(x.narrow(0, start, len)?);
        let logits = model.forward(xs)?;
        let correct = count_correct(&logits.value(), &labels[start..start + len])?;
        let loss = logits.softmax_cross_entropy(&labels[start..start + len])?.scale(len as f32 / n as f32)?;
        let value = f64::from(loss.value().item()?);
        let grads = tape.backward(loss)?;
        Ok(StepOutcome { loss: value, correct, grads })
    };
    if slices.len() == 1 {
        return run(&slices[0]);
    }
    let outcomes: Vec<Result<StepOutcome, TrainError>> = std::thread::scope(|s| {
        let handles: Vec<_> = slices.iter().map(|slice| s.spawn(move || run(slice))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut outcomes = outcomes.into_iter();
    let mut total = outcomes.next().expect("at least one slice")?;
    for o in outcomes {
        let o = o?;
        total.loss += o.loss;
        total.correct += o.correct;
        total.grads.accumulate(&o.grads)?;
    }
    Ok(total)
}

/// The logits of a batch `x: [N, 1, 32, 32]` without recording gradients, the batch split
/// over `threads` (each image's logits do not depend on the split).
pub fn infer(model: &LeNet5<f32>, x: &Tensor<f32>, threads: usize) -> Result<Tensor<f32>, TrainError> {
    let n = x.shape().first().copied().unwrap_or(0);
    let run = |&(start, len): &(usize, usize)| -> Result<Tensor<f32>, TrainError> {
        let tape = Tape::no_grad();
        Ok(model.forward(tape.constant(x.narrow(0, start, len)?))?.value())
    };
    let slices = slices(n, threads);
    if slices.len() == 1 {
        return run(&slices[0]);
    }
    let parts: Vec<Result<Tensor<f32>, TrainError>> = std::thread::scope(|s| {
        let handles: Vec<_> = slices.iter().map(|slice| s.spawn(move || run(slice))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut logits = Vec::with_capacity(n * CLASSES);
    for part in parts {
        logits.extend(part?.iter());
    }
    Ok(Tensor::from_vec(&[n, CLASSES], logits)?)
}

/// `threads` contiguous `(start, len)` slices of `n` items, sizes differing by at most 1,
/// none empty.
fn slices(n: usize, threads: usize) -> Vec<(usize, usize)> {
    let parts = threads.clamp(1, n.max(1));
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let s = (start, len);
            start += len;
            s
        })
        .collect()
}

/// How many rows of `logits: [N, K]` have their first maximum at the label.
pub fn count_correct(logits: &Tensor<f32>, labels: &[usize]) -> Result<usize, TrainError> {
    let predicted = logits.argmax_axis(1, false)?;
    Ok(predicted.iter().zip(labels).filter(|(p, l)| p == *l).count())
}

/// The first parameter of `model` (in `named_parameters` order) whose gradient holds a NaN
/// or an infinity.
pub fn first_non_finite_gradient(model: &LeNet5<f32>, grads: &Gradients<f32>) -> Option<String> {
    model
        .named_parameters()
        .into_iter()
        .find(|(_, p)| grads.param(p).is_some_and(|g| g.iter().any(|x| !x.is_finite())))
        .map(|(name, _)| name)
}

/// The global L2 norm of every parameter gradient, accumulated in f64.
pub fn gradient_norm(grads: &Gradients<f32>) -> f64 {
    grads.params().flat_map(|(_, g)| g.iter()).map(|x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}

/// Scales every gradient by `min(1, max_norm / (‖g‖₂ + 10⁻⁶))`, as PyTorch's
/// `clip_grad_norm_` does; returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut Gradients<f32>, max_norm: f64) -> f64 {
    let norm = gradient_norm(grads);
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        grads.scale_all(factor as f32);
    }
    norm
}

/// Evaluates `model` on a split in batches of `batch` without recording gradients.
pub fn evaluate(model: &LeNet5<f32>, split: &Split, batch: usize) -> Result<Evaluation, TrainError> {
    evaluate_on_threads(model, split, batch, 1)
}

/// [`evaluate`] with each batch split over `threads` (the same figures for any count).
pub fn evaluate_on_threads(
    model: &LeNet5<f32>,
    split: &Split,
    batch: usize,
    threads: usize,
) -> Result<Evaluation, TrainError> {
    let mut confusion = [[0usize; CLASSES]; CLASSES];
    let mut loss_sum = 0.0f64;
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    let order: Vec<usize> = (0..split.len()).collect();
    for chunk in order.chunks(batch.max(1)) {
        split.fill_batch(chunk, &mut x, &mut labels);
        let input = Tensor::from_vec(&[chunk.len(), 1, INPUT_SIDE, INPUT_SIDE], std::mem::take(&mut x))?;
        let tape = Tape::no_grad();
        let logits = tape.constant(infer(model, &input, threads)?);
        let loss = logits.softmax_cross_entropy(&labels)?;
        loss_sum += f64::from(loss.value().item()?) * chunk.len() as f64;
        let predicted = logits.value().argmax_axis(1, false)?;
        x = input.into_vec();
        for (p, &l) in predicted.iter().zip(&labels) {
            confusion[l][p] += 1;
        }
    }
    let n = split.len().max(1) as f64;
    let correct: usize = (0..CLASSES).map(|c| confusion[c][c]).sum();
    Ok(Evaluation { loss: loss_sum / n, accuracy: correct as f64 / n, confusion })
}

/// A training run in progress: the model, the optimizer and where the run stands.
pub struct Trainer {
    /// The network.
    pub model: LeNet5<f32>,
    /// The update rule.
    pub optimizer: Box<dyn Optimizer<f32> + Send>,
    /// The hyper-parameters.
    pub config: TrainConfig,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken over the run.
    pub steps: u64,
    /// Where the current (not yet completed) epoch stands.
    pub progress: EpochProgress,
}

impl Trainer {
    /// A fresh run: weights drawn from the seed.
    pub fn new(config: TrainConfig) -> Result<Self, TrainError> {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let model = LeNet5::new(&mut rng)?;
        let optimizer = config.build_optimizer()?;
        Ok(Trainer { model, optimizer, config, epoch: 0, steps: 0, progress: EpochProgress::default() })
    }

    /// Whether the run has reached its epochs or its step limit.
    pub fn finished(&self) -> bool {
        self.epoch >= self.config.epochs || self.config.max_steps.is_some_and(|m| self.steps >= m)
    }

    /// Steps in an epoch over `n` training images.
    pub fn steps_per_epoch(&self, n: usize) -> usize {
        n.div_ceil(self.config.batch_size.max(1))
    }

    /// The order of the training images in epoch `epoch` (from 0): a shuffle seeded by
    /// the run's seed and the epoch, so it can be recomputed when resuming.
    pub fn epoch_order(&self, epoch: usize, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        if self.config.shuffle {
            let seed = self.config.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut StdRng::seed_from_u64(seed));
        }
        order
    }

    /// Trains the rest of the current epoch on `train`, then evaluates on `test`, calling
    /// `on_step` after each step. Stops early at the step limit.
    pub fn run_epoch(
        &mut self,
        train: &Split,
        test: &Split,
        mut on_step: impl FnMut(&StepReport),
    ) -> Result<EpochMetrics, TrainError> {
        loop {
            let advanced = self.advance(train, test, |r| {
                on_step(r);
                Flow::Continue
            })?;
            if let Advance::EpochEnd(m) = advanced {
                return Ok(*m);
            }
        }
    }

    /// Trains from where the current epoch stands ([`Trainer::progress`]) until `on_step`
    /// returns [`Flow::Pause`] after a step, or the epoch ends (at its last batch or the
    /// step limit; it is then evaluated on `test` and [`Trainer::epoch`] advances).
    ///
    /// A step whose loss or gradients are not finite is an error
    /// ([`TrainError::NonFinite`]) and changes nothing: the trainer stays as it was after
    /// the previous step.
    pub fn advance(
        &mut self,
        train: &Split,
        test: &Split,
        mut on_step: impl FnMut(&StepReport) -> Flow,
    ) -> Result<Advance, TrainError> {
        let started = Instant::now();
        let order = self.epoch_order(self.epoch, train.len());
        let bs = self.config.batch_size;
        let steps = self.steps_per_epoch(order.len());
        let schedule = self.config.schedule(steps);
        let lr = schedule.lr(self.config.lr, self.epoch * steps);
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        let before = self.progress.train_seconds;
        for (k, chunk) in order.chunks(bs).enumerate().skip(self.progress.step) {
            if self.config.max_steps.is_some_and(|m| self.steps >= m) {
                break;
            }
            self.optimizer.set_learning_rate(schedule.lr(self.config.lr, self.epoch * steps + k));
            train.fill_batch(chunk, &mut x, &mut labels);
            let input = Tensor::from_vec(&[chunk.len(), 1, INPUT_SIDE, INPUT_SIDE], std::mem::take(&mut x))?;
            let mut outcome = forward_backward(&self.model, &input, &labels, self.config.threads)?;
            x = input.into_vec();
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
            self.steps += 1;
            let p = &mut self.progress;
            p.step = k + 1;
            p.loss_sum += outcome.loss * chunk.len() as f64;
            p.correct += outcome.correct;
            p.seen += chunk.len();
            p.train_seconds = before + started.elapsed().as_secs_f64();
            let report = StepReport {
                epoch: self.epoch + 1,
                step: k + 1,
                steps,
                loss: outcome.loss,
                accuracy: p.correct as f64 / p.seen as f64,
                images_per_second: p.seen as f64 / p.train_seconds.max(1e-9),
                global_step: self.steps,
            };
            if on_step(&report) == Flow::Pause {
                return Ok(Advance::Paused);
            }
        }
        let p = std::mem::take(&mut self.progress);
        let train_seconds = before + started.elapsed().as_secs_f64();
        let evaluating = Instant::now();
        let test_eval = evaluate_on_threads(&self.model, test, 1000, self.config.threads)?;
        self.epoch += 1;
        let seen_f = p.seen.max(1) as f64;
        Ok(Advance::EpochEnd(Box::new(EpochMetrics {
            epoch: self.epoch,
            lr,
            train_loss: p.loss_sum / seen_f,
            train_accuracy: p.correct as f64 / seen_f,
            test: test_eval,
            train_seconds,
            seconds: train_seconds + evaluating.elapsed().as_secs_f64(),
            images_per_second: p.seen as f64 / train_seconds.max(1e-9),
        })))
    }
}

/// Appends one CSV row per epoch to `path`, writing the header when the file is new.
pub fn append_metrics(path: &Path, m: &EpochMetrics) -> Result<(), TrainError> {
    use std::io::Write;
    let err = |source| TrainError::Metrics { path: path.to_path_buf(), source };
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(err)?;
    if new {
        writeln!(
            f,
            "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,seconds,images_per_second"
        )
        .map_err(err)?;
    }
    writeln!(
        f,
        "{},{},{:.6},{:.6},{:.6},{:.6},{:.3},{:.3},{:.1}",
        m.epoch,
        m.lr,
        m.train_loss,
        m.train_accuracy,
        m.test.loss,
        m.test.accuracy,
        m.train_seconds,
        m.seconds,
        m.images_per_second
    )
    .map_err(err)
}

/// Drops the rows of a metrics file (written by [`append_metrics`]) for epochs after
/// `epochs`, rewriting it atomically: a run killed after it appended an epoch's row but
/// before its checkpoint recorded that epoch repeats the epoch when resumed, and must not
/// leave the row twice. A missing file is left missing.
pub fn truncate_metrics(path: &Path, epochs: usize) -> Result<(), TrainError> {
    let err = |source| TrainError::Metrics { path: path.to_path_buf(), source };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    let keep =
        |line: &str| line.split(',').next().and_then(|f| f.trim().parse::<usize>().ok()).is_none_or(|e| e <= epochs);
    let kept: String = text.lines().filter(|l| keep(l)).map(|l| format!("{l}\n")).collect();
    if kept == text {
        return Ok(());
    }
    layers::checkpoint::write_atomic(path, kept.as_bytes()).map_err(|e| match e {
        layers::CheckpointError::Io { source, .. } => err(source),
        other => err(std::io::Error::other(other.to_string())),
    })
}
