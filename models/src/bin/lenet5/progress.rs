//! What `lenet5 train` shows and does between steps: the progress bar, the checkpoints,
//! the metrics file, and stopping at Ctrl-C (or SIGTERM) after writing a checkpoint.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use layers::Module;
use models::resume::Checkpointer;
use models::train::{EpochMetrics, Flow, MetricsCsv, Observer, StepReport, TrainError, Trainer};

/// Set by Ctrl-C (SIGINT) or SIGTERM; the training loop checks it after each step.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set when training starts: before, a signal ends the process at once.
pub static TRAINING: AtomicBool = AtomicBool::new(false);

/// Handles Ctrl-C (SIGINT) and SIGTERM: before training starts (loading, downloading,
/// building, fitting statistics, any of which can take long) the process exits at once
/// with status 130, having written nothing; during training the first signal asks the loop
/// to stop after the current step and write a checkpoint, a second one exits at once.
pub fn handle_interrupts() {
    let _ = ctrlc::set_handler(|| {
        if !TRAINING.load(Ordering::SeqCst) {
            eprintln!("lenet5: interrupted before training started; nothing was written");
            std::process::exit(130);
        }
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("lenet5: interrupted again: exiting without writing a checkpoint");
            std::process::exit(130);
        }
    });
}

/// The progress bar, the checkpoints, the metrics file and Ctrl-C.
pub struct CliObserver {
    bar: Option<ClearedBar>,
    style: ProgressStyle,
    steps_per_epoch: usize,
    pub checkpoints: Checkpointer,
    metrics: Option<MetricsCsv>,
}

impl<M: Module<f32>> Observer<M> for CliObserver {
    fn on_step(&mut self, trainer: &Trainer<M>, r: &StepReport) -> Result<Flow, TrainError> {
        let bar = &self
            .bar
            .get_or_insert_with(|| {
                let b = ProgressBar::new(self.steps_per_epoch as u64).with_style(self.style.clone());
                b.set_prefix(format!("{}/{}", r.epoch, trainer.config.epochs));
                ClearedBar(b)
            })
            .0;
        bar.set_position(r.step as u64);
        bar.set_message(format!("loss {:.4} acc {:.2}% {:.0} img/s", r.loss, 100.0 * r.accuracy, r.images_per_second));
        let ends_epoch = r.step == r.steps || trainer.config.max_steps == Some(r.global_step);
        if INTERRUPTED.load(Ordering::SeqCst) && !ends_epoch {
            self.bar = None;
            self.checkpoints.write(trainer)?;
            return Ok(Flow::Pause);
        }
        self.checkpoints.on_step(trainer, r)
    }

    fn on_epoch(&mut self, trainer: &Trainer<M>, m: &EpochMetrics) -> Result<Flow, TrainError> {
        self.bar = None;
        if let Some(metrics) = &mut self.metrics {
            metrics.on_epoch(trainer, m)?;
        }
        self.checkpoints.on_epoch(trainer, m)?;
        eprintln!("{}", m.summary());
        Ok(if INTERRUPTED.load(Ordering::SeqCst) { Flow::Pause } else { Flow::Continue })
    }
}

/// A progress bar cleared from the terminal when dropped.
struct ClearedBar(ProgressBar);

impl Drop for ClearedBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl CliObserver {
    /// An observer with no bar yet (one is made at each epoch's first step).
    pub fn new(
        style: ProgressStyle,
        steps_per_epoch: usize,
        checkpoints: Checkpointer,
        metrics: Option<MetricsCsv>,
    ) -> Self {
        CliObserver { bar: None, style, steps_per_epoch, checkpoints, metrics }
    }

    /// Clears the progress bar from the terminal.
    pub fn clear(&mut self) {
        self.bar = None;
    }
}
