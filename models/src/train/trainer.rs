//! A run in progress over any model and any data set: seeded shuffles, data-parallel
//! steps, the schedule, clipping, the non-finite stop, per-epoch evaluation.

use std::collections::BTreeMap;
use std::path::Path;

use layers::Module;
use layers::checkpoint::save_module_with_metadata;
use layers::{LayerError, Optimizer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tensor::BufferPool;

use super::evaluate::evaluate;
use super::{EpochMetrics, History, StepReport, TrainConfig, TrainError};
use crate::data::{Dataset, Preprocess};

/// Images per evaluation batch.
pub const EVAL_BATCH: usize = 1000;

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

/// A training run: the model, the optimizer, the preprocessing of its data, and where the
/// run stands. Generic over the model: LeNet-5, a [`Sequential`](layers::Sequential) built
/// from a spec, or a network of your own.
pub struct Trainer<M> {
    /// The network.
    pub model: M,
    /// The update rule.
    pub optimizer: Box<dyn Optimizer<f32> + Send>,
    /// The hyper-parameters.
    pub config: TrainConfig,
    /// How images become the network's input.
    pub preprocess: Preprocess,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken over the run.
    pub steps: u64,
    /// Where the current (not yet completed) epoch stands.
    pub progress: EpochProgress,
    /// The size of the training set the run trains on (0 before the first step).
    pub train_images: usize,
    /// The buffers of the run's steps, reused from one step to the next by all its threads,
    /// so that its speed does not depend on how the allocator treats large blocks (see
    /// [`BufferPool`]). Evaluations use a pool of their own, which goes when they end.
    pub(super) buffers: BufferPool,
}

impl<M: Module<f32>> Trainer<M> {
    /// A fresh run of `model` (its weights as they are) with the configuration's
    /// optimizer; an error for hyper-parameters out of range.
    pub fn new(model: M, config: TrainConfig, preprocess: Preprocess) -> Result<Self, TrainError> {
        config.validate().map_err(|reason| LayerError::Config { what: "TrainConfig".into(), reason })?;
        let optimizer = config.build_optimizer()?;
        Ok(Trainer {
            model,
            optimizer,
            config,
            preprocess,
            epoch: 0,
            steps: 0,
            progress: EpochProgress::default(),
            train_images: 0,
            buffers: BufferPool::new(),
        })
    }

    /// Puts the run where a saved one stood: `epoch` epochs completed, `steps` optimizer
    /// steps, the current epoch's `progress`, on `train_images` images (the optimizer's
    /// own state is restored through [`Optimizer::load_state`]).
    pub fn restore_position(&mut self, epoch: usize, steps: u64, progress: EpochProgress, train_images: usize) {
        self.epoch = epoch;
        self.steps = steps;
        self.progress = progress;
        self.train_images = train_images;
    }

    /// A seeded generator for the initial weights: `StdRng` from the run's seed.
    #[deprecated(
        note = "use `TrainConfig::weight_rng` (or `layers::init::weight_rng(seed)`), which needs no model type"
    )]
    pub fn weight_rng(seed: u64) -> StdRng {
        layers::init::weight_rng(seed)
    }

    /// Saves the network's weights (a PyTorch `state_dict`) to `path` atomically, with its
    /// preprocessing (`preprocess.*`) and the run's hyper-parameters (`config.*`) in the
    /// metadata.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let mut meta: BTreeMap<String, String> = self.config.metadata().into_iter().collect();
        meta.extend(self.preprocess.metadata());
        Ok(save_module_with_metadata(&self.model, path.as_ref(), &meta)?)
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

    /// Evaluates the model on `data` in evaluation mode (batches of [`EVAL_BATCH`], split
    /// over the run's threads), then puts it back in training mode.
    pub fn evaluate(&mut self, data: &dyn Dataset) -> Result<super::Evaluation, TrainError> {
        self.model.set_training(false);
        let e = evaluate(&self.model, data, &self.preprocess, EVAL_BATCH, self.config.threads);
        self.model.set_training(true);
        e
    }

    /// Trains the rest of the current epoch on `train`, then evaluates on `test`, calling
    /// `on_step` after each step. Stops early at the step limit.
    pub fn run_epoch(
        &mut self,
        train: &dyn Dataset,
        test: &dyn Dataset,
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

    /// Trains until the run is finished or an observer pauses it, calling `observer` after
    /// each step and each epoch (`&mut ()` for a silent run, `&mut PrintEpochs` for a line
    /// per epoch). Returns the epochs it completed, with the last and the best.
    pub fn fit(
        &mut self,
        train: &dyn Dataset,
        test: &dyn Dataset,
        observer: &mut dyn Observer<M>,
    ) -> Result<History, TrainError> {
        let mut history = History::default();
        while !self.finished() {
            match self.advance_observed(train, test, &mut |t, r| observer.on_step(t, r))? {
                Advance::Paused => return Ok(history),
                Advance::EpochEnd(m) => {
                    let flow = observer.on_epoch(self, &m)?;
                    history.epochs.push(*m);
                    if flow == Flow::Pause && !self.finished() {
                        return Ok(history);
                    }
                }
            }
        }
        history.finished = true;
        Ok(history)
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
        train: &dyn Dataset,
        test: &dyn Dataset,
        mut on_step: impl FnMut(&StepReport) -> Flow,
    ) -> Result<Advance, TrainError> {
        self.advance_observed(train, test, &mut |_, r| Ok(on_step(r)))
    }
}

/// Watches a run: after each step and each epoch. Every method has a default that does
/// nothing, so an observer implements what it needs; `()` observes nothing (a silent run).
pub trait Observer<M> {
    /// After each step; [`Flow::Pause`] makes `fit` return.
    fn on_step(&mut self, _trainer: &Trainer<M>, _report: &StepReport) -> Result<Flow, TrainError> {
        Ok(Flow::Continue)
    }

    /// After each epoch's evaluation; [`Flow::Pause`] makes `fit` return.
    fn on_epoch(&mut self, _trainer: &Trainer<M>, _metrics: &EpochMetrics) -> Result<Flow, TrainError> {
        Ok(Flow::Continue)
    }
}

impl<M> Observer<M> for () {}

/// Prints one line per epoch on stderr (loss and accuracy, train and test).
#[derive(Debug, Clone, Copy, Default)]
pub struct PrintEpochs;

impl<M> Observer<M> for PrintEpochs {
    fn on_epoch(&mut self, _: &Trainer<M>, m: &EpochMetrics) -> Result<Flow, TrainError> {
        eprintln!("{}", m.summary());
        Ok(Flow::Continue)
    }
}

macro_rules! observer_tuple {
    ($($name:ident),+) => {
        /// Each observer in order; the run pauses when any asks.
        impl<M, $($name: Observer<M>),+> Observer<M> for ($($name,)+) {
            #[allow(non_snake_case)]
            fn on_step(&mut self, trainer: &Trainer<M>, report: &StepReport) -> Result<Flow, TrainError> {
                let ($($name,)+) = self;
                let mut flow = Flow::Continue;
                $(if $name.on_step(trainer, report)? == Flow::Pause { flow = Flow::Pause; })+
                Ok(flow)
            }

            #[allow(non_snake_case)]
            fn on_epoch(&mut self, trainer: &Trainer<M>, metrics: &EpochMetrics) -> Result<Flow, TrainError> {
                let ($($name,)+) = self;
                let mut flow = Flow::Continue;
                $(if $name.on_epoch(trainer, metrics)? == Flow::Pause { flow = Flow::Pause; })+
                Ok(flow)
            }
        }
    };
}

observer_tuple!(A, B);
observer_tuple!(A, B, C);
observer_tuple!(A, B, C, D);
