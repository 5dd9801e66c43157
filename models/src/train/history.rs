//! What [`Trainer::fit`](super::Trainer::fit) returns: the epochs it ran, with the last and
//! the best.

use super::EpochMetrics;

/// The epochs one call of [`Trainer::fit`](super::Trainer::fit) completed, in order, and
/// whether the run is finished or was paused by an observer. (A run paused and fitted again
/// returns the epochs of each call in its own `History`; the metrics CSV
/// ([`MetricsCsv`](super::MetricsCsv)) keeps them all.)
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// Each epoch's metrics, in order.
    pub epochs: Vec<EpochMetrics>,
    /// Whether every epoch (or the step limit) is done; `false` when an observer paused
    /// the run, which another `fit` continues.
    pub finished: bool,
}

impl History {
    /// The last epoch completed, if any.
    pub fn last(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }

    /// The epoch with the highest test accuracy (the first of equals), if any.
    pub fn best(&self) -> Option<&EpochMetrics> {
        self.epochs.iter().reduce(|best, e| if e.test.accuracy > best.test.accuracy { e } else { best })
    }

    /// The last epoch's test accuracy (0 when no epoch completed).
    pub fn test_accuracy(&self) -> f64 {
        self.last().map_or(0.0, |e| e.test.accuracy)
    }
}
