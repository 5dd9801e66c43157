//! Everything a program that builds and trains a small CNN needs, in one `use`:
//! `use models::prelude::*;` (the layers, the training stack, the data sets).

pub use layers::prelude::*;

pub use crate::arch::Arch;
pub use crate::data::{Dataset, ImageSet, Preprocess, TensorSet, TrainTest};
pub use crate::lenet5::LeNet5;
pub use crate::resume::Checkpointer;
pub use crate::train::{
    EpochMetrics, Evaluation, Fit, MetricsCsv, Observer, OptimizerKind, PrintEpochs, ScheduleKind, TrainConfig,
    TrainError, Trainer,
};
