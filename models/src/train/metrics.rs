//! What a run reports: after each step, after each epoch, and to the metrics CSV file.

use std::path::{Path, PathBuf};

use layers::WithPath;

use super::{Evaluation, Flow, Observer, TrainError, Trainer};

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

impl EpochMetrics {
    /// One line: the epoch's training and test loss and accuracy, time and speed.
    pub fn summary(&self) -> String {
        format!(
            "epoch {:>2}: train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | {:.1} s ({:.0} img/s)",
            self.epoch,
            self.train_loss,
            100.0 * self.train_accuracy,
            self.test.loss,
            100.0 * self.test.accuracy,
            self.seconds,
            self.images_per_second
        )
    }
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

/// An observer that writes each epoch's row to a metrics CSV file: rows of this epoch and
/// later ones (an earlier run's, or one a killed run wrote before its checkpoint) are
/// dropped first ([`truncate_metrics`]), then the row is appended ([`append_metrics`]). The
/// file is not touched before the first epoch ends.
#[derive(Debug, Clone)]
pub struct MetricsCsv {
    /// The file.
    pub path: PathBuf,
}

impl<M> Observer<M> for MetricsCsv {
    fn on_epoch(&mut self, _: &Trainer<M>, m: &EpochMetrics) -> Result<Flow, TrainError> {
        truncate_metrics(&self.path, m.epoch.saturating_sub(1))?;
        append_metrics(&self.path, m)?;
        Ok(Flow::Continue)
    }
}

/// Appends one CSV row per epoch to `path`, writing the header when the file is new.
pub fn append_metrics(path: &Path, m: &EpochMetrics) -> Result<(), TrainError> {
    use std::io::Write;
    let err = |source| TrainError::Metrics(WithPath::new(path, source));
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
    let err = |source| TrainError::Metrics(WithPath::new(path, source));
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
    layers::checkpoint::write_atomic(path, kept.as_bytes()).map_err(|e| match e.source {
        layers::CheckpointFault::Io(source) => err(source),
        other => err(std::io::Error::other(other.to_string())),
    })
}
