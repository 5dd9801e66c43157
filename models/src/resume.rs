//! Resuming a training run: the state file written beside the weights.
//!
//! `lenet5 train --out lenet5.safetensors` keeps that file a pure PyTorch `state_dict`
//! (`c1.weight` … `f7.bias`), which `eval`, `predict` and `--init-from` read. Resuming
//! needs more, so each checkpoint also writes `lenet5.state.safetensors` beside it
//! ([`state_path`]), a safetensors file holding:
//!
//! | entry | what |
//! |---|---|
//! | tensor `model.<name>` | every parameter of the network (`model.c1.weight`, …) |
//! | tensor `optimizer.<kind>.<name>` | the optimizer's buffers, from [`Optimizer::state`](layers::Optimizer::state) (`optimizer.momentum.c1.weight` for SGD; `exp_avg`, `exp_avg_sq` and the per-parameter `step` for Adam) |
//! | `format`, `version` | `lenet5-train-state`, [`STATE_VERSION`] |
//! | `epoch` | epochs completed |
//! | `step_in_epoch` | steps taken in the current epoch |
//! | `steps` | optimizer steps taken over the run |
//! | `optimizer.step` | the optimizer's own step count |
//! | `epoch.loss_sum`, `epoch.correct`, `epoch.seen` | the current epoch's running sums, so its metrics come out as in a run straight through |
//! | `epoch.train_seconds` | its training time so far (informative only) |
//! | `data.train_images` | how many training images the run uses (checked on resume) |
//! | `config.*` | every hyper-parameter of [`TrainConfig`]: `epochs`, `batch_size`, `optimizer`, `lr`, `momentum`, `weight_decay`, `seed`, `threads`, `max_steps`, `shuffle`, `clip_grad_norm` |
//!
//! **The random state.** No generator state needs saving: the initial weights are drawn
//! from `config.seed` (and are in the file anyway), and the shuffle of epoch `e` comes from
//! a generator seeded afresh by `(seed, e)` at the epoch's start
//! ([`Trainer::epoch_order`]). So `(config.seed, epoch, step_in_epoch)` *is* the random
//! state: the next batch is batch number `step_in_epoch` of epoch `epoch`'s order. The
//! learning rate is the schedule's at the global step `epoch · steps_per_epoch +
//! step_in_epoch` ([`TrainConfig::schedule`]), and the step's arithmetic depends on
//! `config.threads` (the batch is split in that many slices), which is why the thread
//! count is a hyper-parameter of the file: a resumed run with the same seed and threads
//! ends with the same weights and metrics, bit for bit, as a run straight through.
//!
//! Floating-point values are written in Rust's shortest round-trip notation, so they read
//! back exactly. Loading checks everything before building the trainer: the format and
//! version, every metadata entry (a typed error naming the file and the entry), the
//! hyper-parameters, that the counters agree with each other, every model tensor (present,
//! right shape, finite), and every optimizer buffer (known kind, known parameter, right
//! shape).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use layers::checkpoint::{Checkpoint, assign_parameters, read_checkpoint, write_tensors};
use layers::{CheckpointError, Module, OptimizerState};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

use crate::lenet5::LeNet5;
use crate::train::{EpochProgress, OptimizerKind, TrainConfig, Trainer};

/// The `format` metadata of a state file.
pub const STATE_FORMAT: &str = "lenet5-train-state";
/// The version of the state file's layout this code writes and reads.
pub const STATE_VERSION: u32 = 1;

/// Why a state file cannot be resumed from.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The file could not be read, is not a safetensors file, or lacks or mangles an entry.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The file is a safetensors file but not a training state (e.g. the weights file).
    #[error(
        "{path}: not a training state file (no \"format\": \"{STATE_FORMAT}\" metadata); pass the .state.safetensors file written beside --out"
    )]
    NotState {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a version of the layout this code does not read.
    #[error("{path}: state format version {found}, this lenet5 reads version {STATE_VERSION}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: String,
    },
    /// The entries parse but do not make a valid run (out of range, or disagreeing).
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The run trained on a different number of images than the data folder holds.
    #[error("{path}: the run trained on {expected} images, but the data holds {got}")]
    Data {
        /// The file.
        path: PathBuf,
        /// Training images the run used.
        expected: usize,
        /// Training images in the data now.
        got: usize,
    },
}

/// The state file written beside the weights file `out`: `lenet5.safetensors` →
/// `lenet5.state.safetensors` (the extension, whatever it is, becomes `.state.safetensors`).
pub fn state_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{stem}.state.safetensors"))
}

/// The weights file a state file sits beside (the inverse of [`state_path`]), when its
/// name ends in `.state.safetensors`.
pub fn weights_path(state: &Path) -> Option<PathBuf> {
    let name = state.file_name()?.to_str()?;
    let stem = name.strip_suffix(".state.safetensors").filter(|s| !s.is_empty())?;
    Some(state.with_file_name(format!("{stem}.safetensors")))
}

/// A run read back from a state file.
pub struct Resumed {
    /// The trainer, where the run stood.
    pub trainer: Trainer,
    /// How many training images the run uses.
    pub train_images: usize,
}

impl Resumed {
    /// Checks that the data about to be trained on has as many training images as the run
    /// had (`path` names the state file in the error).
    pub fn check_data(&self, train_images: usize, path: &Path) -> Result<(), ResumeError> {
        if train_images != self.train_images {
            return Err(ResumeError::Data { path: path.to_path_buf(), expected: self.train_images, got: train_images });
        }
        Ok(())
    }
}

/// The metadata entries of a configuration (the `config.*` keys).
pub fn config_metadata(c: &TrainConfig) -> Vec<(&'static str, String)> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    vec![
        ("config.epochs", c.epochs.to_string()),
        ("config.batch_size", c.batch_size.to_string()),
        (
            "config.optimizer",
            match c.optimizer {
                OptimizerKind::Sgd => "sgd",
                OptimizerKind::Adam => "adam",
            }
            .into(),
        ),
        ("config.lr", format!("{:?}", c.lr)),
        ("config.momentum", format!("{:?}", c.momentum)),
        ("config.weight_decay", format!("{:?}", c.weight_decay)),
        ("config.seed", c.seed.to_string()),
        ("config.threads", c.threads.to_string()),
        ("config.max_steps", opt(c.max_steps.map(|m| m.to_string()))),
        ("config.shuffle", c.shuffle.to_string()),
        ("config.clip_grad_norm", opt(c.clip_grad_norm.map(|v| format!("{v:?}")))),
    ]
}

/// Writes the state of `trainer` (trained on `train_images` images) to `path`, atomically
/// (see [`layers::checkpoint::write_atomic`]).
pub fn save_state(trainer: &Trainer, train_images: usize, path: &Path) -> Result<(), CheckpointError> {
    let opt_state = trainer.optimizer.state();
    let mut named: Vec<(String, &Tensor<f32>)> =
        trainer.model.named_parameters().into_iter().map(|(n, p)| (format!("model.{n}"), &p.value)).collect();
    named.extend(opt_state.tensors.iter().map(|(n, t)| (format!("optimizer.{n}"), t)));
    let p = &trainer.progress;
    let mut meta: BTreeMap<String, String> = [
        ("format", STATE_FORMAT.to_string()),
        ("version", STATE_VERSION.to_string()),
        ("epoch", trainer.epoch.to_string()),
        ("step_in_epoch", p.step.to_string()),
        ("steps", trainer.steps.to_string()),
        ("optimizer.step", opt_state.step.to_string()),
        ("epoch.loss_sum", format!("{:?}", p.loss_sum)),
        ("epoch.correct", p.correct.to_string()),
        ("epoch.seen", p.seen.to_string()),
        ("epoch.train_seconds", format!("{:?}", p.train_seconds)),
        ("data.train_images", train_images.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    meta.extend(config_metadata(&trainer.config).into_iter().map(|(k, v)| (k.to_string(), v)));
    write_tensors(path, &named, &meta)
}

/// Reads and checks a state file written by [`save_state`] (see the module docs for what
/// is checked).
pub fn load_state(path: &Path) -> Result<Resumed, ResumeError> {
    let checkpoint = read_checkpoint::<f32>(path)?;
    resume_from(checkpoint, path)
}

/// Builds the trainer a parsed state file describes (`path` names it in errors).
pub fn resume_from(checkpoint: Checkpoint<f32>, path: &Path) -> Result<Resumed, ResumeError> {
    let Checkpoint { tensors, metadata } = checkpoint;
    let m = Meta { map: &metadata, path };
    if metadata.get("format").map(String::as_str) != Some(STATE_FORMAT) {
        return Err(ResumeError::NotState { path: path.to_path_buf() });
    }
    let version = m.raw("version")?;
    if version != STATE_VERSION.to_string() {
        return Err(ResumeError::Version { path: path.to_path_buf(), found: version.to_string() });
    }
    let invalid = |reason: String| ResumeError::Invalid { path: path.to_path_buf(), reason };

    let config = TrainConfig {
        epochs: m.get("config.epochs")?,
        batch_size: m.get("config.batch_size")?,
        optimizer: match m.raw("config.optimizer")? {
            "sgd" => OptimizerKind::Sgd,
            "adam" => OptimizerKind::Adam,
            other => return Err(m.bad("config.optimizer", format!("{other:?} is neither \"sgd\" nor \"adam\""))),
        },
        lr: m.get("config.lr")?,
        momentum: m.get("config.momentum")?,
        weight_decay: m.get("config.weight_decay")?,
        seed: m.get("config.seed")?,
        threads: m.get("config.threads")?,
        max_steps: m.optional("config.max_steps")?,
        shuffle: m.get("config.shuffle")?,
        clip_grad_norm: m.optional("config.clip_grad_norm")?,
    };
    config.validate().map_err(|e| invalid(format!("hyper-parameters out of range: {e}")))?;

    let train_images: usize = m.get("data.train_images")?;
    let epoch: usize = m.get("epoch")?;
    let steps: u64 = m.get("steps")?;
    let progress = EpochProgress {
        step: m.get("step_in_epoch")?,
        loss_sum: m.get("epoch.loss_sum")?,
        correct: m.get("epoch.correct")?,
        seen: m.get("epoch.seen")?,
        train_seconds: m.get("epoch.train_seconds")?,
    };
    let optimizer_step: u64 = m.get("optimizer.step")?;
    check_counters(&config, train_images, epoch, steps, optimizer_step, &progress).map_err(invalid)?;

    // The tensors: model.<name> and optimizer.<kind>.<name>, nothing else.
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut model = LeNet5::<f32>::new(&mut rng).map_err(|e| invalid(e.to_string()))?;
    let shapes: BTreeMap<String, Vec<usize>> =
        model.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
    let mut weights = BTreeMap::new();
    let mut buffers = Vec::new();
    for (name, t) in tensors {
        if let Some(param) = name.strip_prefix("model.") {
            if !shapes.contains_key(param) {
                return Err(CheckpointError::Unexpected { path: path.to_path_buf(), name }.into());
            }
            if t.iter().any(|x| !x.is_finite()) {
                return Err(invalid(format!("tensor {name:?} holds a NaN or an infinity")));
            }
            weights.insert(param.to_string(), t);
        } else if let Some(buffer) = name.strip_prefix("optimizer.") {
            check_buffer(buffer, &t, &shapes).map_err(|reason| invalid(format!("tensor {name:?}: {reason}")))?;
            buffers.push((buffer.to_string(), t));
        } else {
            return Err(CheckpointError::Unexpected { path: path.to_path_buf(), name }.into());
        }
    }
    assign_parameters(&mut model, &mut weights, path).map_err(|e| match e {
        CheckpointError::Missing { path, name } => CheckpointError::Missing { path, name: format!("model.{name}") },
        CheckpointError::Shape { path, name, expected, got } => {
            CheckpointError::Shape { path, name: format!("model.{name}"), expected, got }
        }
        other => other,
    })?;
    let mut optimizer = config.build_optimizer().map_err(|e| invalid(e.to_string()))?;
    optimizer
        .load_state(OptimizerState { tensors: buffers, step: optimizer_step })
        .map_err(|e| invalid(format!("optimizer state: {e}")))?;
    let trainer = Trainer { model, optimizer, config, epoch, steps, progress };
    Ok(Resumed { trainer, train_images })
}

/// Checks that the counters of a state agree with each other and with the configuration.
fn check_counters(
    config: &TrainConfig,
    train_images: usize,
    epoch: usize,
    steps: u64,
    optimizer_step: u64,
    p: &EpochProgress,
) -> Result<(), String> {
    if train_images == 0 {
        return Err("data.train_images is 0".into());
    }
    let per_epoch = train_images.div_ceil(config.batch_size);
    if epoch > config.epochs {
        return Err(format!("epoch {epoch} is past the run's {} epoch(s)", config.epochs));
    }
    if p.step > per_epoch {
        return Err(format!("step_in_epoch {} is past the epoch's {per_epoch} steps", p.step));
    }
    let seen = (p.step as u128 * config.batch_size as u128).min(train_images as u128);
    if p.seen as u128 != seen {
        return Err(format!(
            "epoch.seen is {}, but {} step(s) of {} images see {seen}",
            p.seen, p.step, config.batch_size
        ));
    }
    if p.correct > p.seen {
        return Err(format!("epoch.correct {} exceeds epoch.seen {}", p.correct, p.seen));
    }
    if !(p.loss_sum.is_finite() && p.loss_sum >= 0.0) {
        return Err(format!("epoch.loss_sum {} is not a finite number ≥ 0", p.loss_sum));
    }
    if !(p.train_seconds.is_finite() && p.train_seconds >= 0.0) {
        return Err(format!("epoch.train_seconds {} is not a finite number ≥ 0", p.train_seconds));
    }
    let expected = epoch as u128 * per_epoch as u128 + p.step as u128;
    let stopped_at_limit = config.max_steps == Some(steps) && p.step == 0;
    if steps as u128 != expected && !stopped_at_limit {
        return Err(format!(
            "steps is {steps}, but {epoch} epoch(s) of {per_epoch} steps and {} step(s) make {expected}",
            p.step
        ));
    }
    if config.max_steps.is_some_and(|m| steps > m) {
        return Err(format!("steps {steps} is past config.max_steps"));
    }
    if optimizer_step != steps {
        return Err(format!("optimizer.step is {optimizer_step}, but steps is {steps}"));
    }
    Ok(())
}

/// Checks an optimizer buffer `<kind>.<parameter>`: a known parameter, and its shape (a
/// scalar for a step count).
fn check_buffer(buffer: &str, t: &Tensor<f32>, shapes: &BTreeMap<String, Vec<usize>>) -> Result<(), String> {
    let Some((kind, param)) = buffer.split_once('.') else { return Err("not named <kind>.<parameter>".into()) };
    let Some(shape) = shapes.get(param) else { return Err(format!("{param:?} is not a parameter of LeNet-5")) };
    let expected: &[usize] = if kind == "step" { &[] } else { shape };
    if t.shape() != expected {
        return Err(format!("shape {:?}, expected {expected:?}", t.shape()));
    }
    if t.iter().any(|x| !x.is_finite()) {
        return Err("holds a NaN or an infinity".into());
    }
    Ok(())
}

/// Typed access to a state file's metadata.
struct Meta<'a> {
    map: &'a BTreeMap<String, String>,
    path: &'a Path,
}

impl Meta<'_> {
    fn bad(&self, key: &str, reason: String) -> ResumeError {
        CheckpointError::Metadata { path: self.path.to_path_buf(), key: key.to_string(), reason }.into()
    }

    fn raw(&self, key: &str) -> Result<&str, ResumeError> {
        self.map.get(key).map(String::as_str).ok_or_else(|| self.bad(key, "missing".into()))
    }

    fn get<T: FromStr>(&self, key: &str) -> Result<T, ResumeError> {
        let raw = self.raw(key)?;
        raw.parse().map_err(|_| self.bad(key, format!("{raw:?} is not a valid {}", type_words::<T>())))
    }

    fn optional<T: FromStr>(&self, key: &str) -> Result<Option<T>, ResumeError> {
        if self.raw(key)? == "none" { Ok(None) } else { self.get(key).map(Some) }
    }
}

/// A type's name in words, for error messages.
fn type_words<T>() -> &'static str {
    match std::any::type_name::<T>() {
        "f64" => "number",
        "bool" => "boolean (true or false)",
        _ => "whole number",
    }
}
