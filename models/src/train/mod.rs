//! The training stack, one for every model and data set: seeded shuffles, data-parallel
//! steps, every optimizer and schedule, clipping, the non-finite stop, evaluation,
//! metrics, checkpoints and bit-identical resume.
//!
//! ```no_run
//! use models::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = mnist::load("data/mnist")?;
//! let config = TrainConfig { epochs: 1, seed: 3, ..TrainConfig::default() }; // Adam, 1e-3
//! let net = Sequential::input(data.train.image_shape())
//!     .with(LazyConv2d::new(16, 3).padding(1))
//!     .with(ReLU)
//!     .with(MaxPool2d::new(2, 2)?)
//!     .with(Flatten)
//!     .with(LazyLinear::new(10))
//!     .build(config.seed)?;
//! let mut trainer = Trainer::new(net, config, Preprocess::fit(&data.train, 0)?)?;
//! let history = trainer.fit(&data.train, &data.test, &mut PrintEpochs)?;
//! println!("test accuracy {:.2}%", 100.0 * history.test_accuracy());
//! trainer.save("mnist-cnn.safetensors")?;
//! # Ok(()) }
//! ```
//!
//! A step splits the batch into `threads` contiguous slices on their own tapes
//! ([`forward_backward`]); the slices' gradients are summed in thread order, so a run is
//! reproducible bit for bit for a given seed and thread count. Weight decay is the
//! optimizer's (`g ← ∇W + λ·W` on weights, not biases), the gradient of the derivation's
//! `regLoss = 0.5·λ·Σ‖W‖²`; the loss reported is the data loss.
//!
//! The model is in training mode ([`Module::set_training`](layers::Module::set_training))
//! for the steps and in evaluation mode for [`Trainer::evaluate`] and the evaluation at each
//! epoch's end (batch normalisation then uses its running statistics, dropout is the
//! identity); [`evaluate`] and [`infer`] use the model in the mode it is in.
//!
//! Before each update the loss and every gradient are checked: a NaN or an infinity stops
//! the run with [`TrainError::NonFinite`], naming the step and the first parameter whose
//! gradient is not finite, and nothing is updated. With [`TrainConfig::clip_grad_norm`]
//! the gradients are then scaled by `min(1, F / (‖g‖₂ + 10⁻⁶))` over all parameters
//! (PyTorch's `clip_grad_norm_`).
//!
//! A run can stop between any two steps and go on later: [`Trainer::advance`] returns
//! when its callback asks for a pause, [`Trainer::fit`] when an [`Observer`] does, and
//! [`Trainer::progress`] holds where the epoch stands, which [`crate::resume`] saves and
//! restores. The shuffle of an epoch is a function of the seed and the epoch, so a resumed
//! run takes the same batches in the same order and ends with the same weights and
//! metrics, bit for bit.

mod advance;
mod chunk;
mod config;
mod error;
mod evaluate;
mod history;
mod hyper;
mod metrics;
mod step;
mod trainer;

pub use chunk::INFER_CHUNK;
pub use config::{HYPER_PARAMETERS, OptimizerKind, ScheduleKind, TrainConfig};
pub use error::{NonFinite, TrainError};
pub use evaluate::{Evaluation, check_model, evaluate};
pub use history::History;
pub use hyper::HyperParameter;
pub use metrics::{EpochMetrics, MetricsCsv, StepReport, append_metrics, truncate_metrics};
pub use step::{StepOutcome, count_correct, forward_backward, forward_backward_step, infer, slices};
pub use trainer::{Advance, EVAL_BATCH, EpochProgress, Flow, Observer, PrintEpochs, Trainer};
