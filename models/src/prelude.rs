//! Everything a program that builds and trains a small CNN needs, in one `use`:
//! `use models::prelude::*;` (the layers, the training stack, the data sets: `mnist::load`
//! reads any IDX folder).

pub use layers::prelude::*;

pub use crate::arch::Arch;
pub use crate::data::{Dataset, ImageSet, Preprocess, TensorSet, TrainTest};
pub use crate::lenet5::LeNet5;
pub use crate::mnist;
pub use crate::resume::Checkpointer;
pub use crate::train::{
    Advance, EpochMetrics, Evaluation, Flow, History, MetricsCsv, Observer, OptimizerKind, PrintEpochs, ScheduleKind,
    StepReport, TrainConfig, TrainError, Trainer,
};
