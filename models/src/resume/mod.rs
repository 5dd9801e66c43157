//! Resuming a training run: the state file written beside the weights.
//!
//! `lenet5 train --out lenet5.safetensors` keeps that file a PyTorch `state_dict`
//! (`c1.weight` … `f7.bias` for LeNet-5, `0.weight` … for a spec), with the network and its
//! preprocessing in the metadata ([`crate::network`]), which `eval`, `predict` and
//! `--init-from` read. Resuming needs more, so each checkpoint also writes
//! `lenet5.state.safetensors` beside it ([`state_path`]), a safetensors file holding:
//!
//! | entry | what |
//! |---|---|
//! | tensor `model.<name>` | every parameter and buffer of the network (`model.c1.weight`, …, `model.1.running_mean`) |
//! | tensor `optimizer.<kind>.<name>` | the optimizer's buffers, from [`Optimizer::state`](layers::Optimizer::state) (`optimizer.momentum.c1.weight` for SGD; `exp_avg`, `exp_avg_sq` and the per-parameter `step` for Adam) |
//! | `format`, `version` | `lenet5-train-state`, [`STATE_VERSION`] |
//! | `epoch` | epochs completed |
//! | `step_in_epoch` | steps taken in the current epoch |
//! | `steps` | optimizer steps taken over the run |
//! | `optimizer.step` | the optimizer's own step count |
//! | `epoch.loss_sum`, `epoch.correct`, `epoch.seen` | the current epoch's running sums, so its metrics come out as in a run straight through |
//! | `epoch.train_seconds` | its training time so far (informative only) |
//! | `data.train_images` | how many training images the run uses (checked on resume) |
//! | `config.*` | every hyper-parameter of [`TrainConfig`] ([`HYPER_PARAMETERS`](crate::train::HYPER_PARAMETERS)) |
//! | `preprocess.*` | the padding and the per-channel mean and std ([`Preprocess::metadata`]) |
//! | anything else | what the caller adds: the network (`arch`, `input`, `classes`) and the data folder (`data.dir`) for `lenet5` |
//!
//! Files of version 1 (LeNet-5 only, before specs) are read with LeNet-5's fixed
//! preprocessing ([`Preprocess::mnist`]).
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
use layers::{CheckpointError, CheckpointFault, Module, OptimizerState, WithPath};
use tensor::Tensor;

mod checkpointer;
mod error;

pub use checkpointer::Checkpointer;
pub use error::{ResumeError, StateFault};

use crate::data::Preprocess;
use crate::network::{NetworkInfo, describe};
use crate::train::{EpochProgress, TrainConfig, Trainer};

/// The `format` metadata of a state file.
pub const STATE_FORMAT: &str = "lenet5-train-state";
/// The version of the state file's layout this code writes and reads.
pub const STATE_VERSION: u32 = 2;

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

/// Writes the state of `trainer` to `path`, atomically (see
/// [`layers::checkpoint::write_atomic`]), with `extra` metadata entries of the caller's.
pub fn save_state<M: Module<f32>>(
    trainer: &Trainer<M>,
    path: &Path,
    extra: &[(String, String)],
) -> Result<(), CheckpointError> {
    let opt_state = trainer.optimizer.state();
    let buffers: Vec<(String, Tensor<f32>)> =
        trainer.model.named_buffers().into_iter().map(|(n, b)| (format!("model.{n}"), b.get())).collect();
    let mut named: Vec<(String, &Tensor<f32>)> =
        trainer.model.named_parameters().into_iter().map(|(n, p)| (format!("model.{n}"), &p.value)).collect();
    named.extend(buffers.iter().map(|(n, t)| (n.clone(), t)));
    named.extend(opt_state.tensors.iter().map(|(n, t)| (format!("optimizer.{n}"), t)));
    let p = &trainer.progress;
    let mut meta: BTreeMap<String, String> = extra.iter().cloned().collect();
    meta.extend(
        [
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
            ("data.train_images", trainer.train_images.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v)),
    );
    meta.extend(trainer.config.metadata());
    meta.extend(trainer.preprocess.metadata());
    write_tensors(path, &named, &meta)
}

/// A state file read and checked, before its network is built: the run it describes
/// (network, hyper-parameters, preprocessing; [`crate::network::describe`]'s one rule for
/// files without them) and where it stood. [`StateFile::resume`] then builds the network
/// and restores the trainer; a caller may look at the run first (the command checks its
/// flags against it and estimates its memory).
pub struct StateFile {
    /// The file.
    pub path: PathBuf,
    /// The network.
    pub info: NetworkInfo,
    /// The run's hyper-parameters.
    pub config: TrainConfig,
    /// Its preprocessing.
    pub preprocess: Preprocess,
    checkpoint: Checkpoint<f32>,
}

impl StateFile {
    /// Reads and checks the state file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ResumeError> {
        let path = path.as_ref();
        StateFile::parse(read_checkpoint::<f32>(path)?, path)
    }

    /// Checks a parsed state file (`path` names it in errors): the format and version, the
    /// network, the hyper-parameters and the preprocessing.
    pub fn parse(checkpoint: Checkpoint<f32>, path: &Path) -> Result<Self, ResumeError> {
        if checkpoint.metadata.get("format").map(String::as_str) != Some(STATE_FORMAT) {
            return Err(WithPath::new(path, StateFault::NotState).into());
        }
        let m = Meta { map: &checkpoint.metadata, path };
        let version = m.raw("version")?;
        if version != "1" && version != STATE_VERSION.to_string() {
            return Err(WithPath::new(path, StateFault::Version { found: version.to_string() }).into());
        }
        let mut meta = checkpoint.metadata.clone();
        if version == "1" {
            // Version 1 spelled the switch `config.shuffle` as today, had no schedule (cosine).
            meta.entry("config.schedule".into()).or_insert_with(|| "cosine".into());
        }
        let config = TrainConfig::from_metadata(&meta).map_err(|(key, reason)| m.bad(&key, reason))?;
        config.validate().map_err(|e| m.invalid(format!("hyper-parameters out of range: {e}")))?;
        let (info, preprocess) = describe(&checkpoint.metadata, path)?;
        Ok(StateFile { path: path.to_path_buf(), info, config, preprocess, checkpoint })
    }

    /// A metadata entry of the file (`data.dir`, `preprocess.pad`, …).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.checkpoint.metadata.get(key).map(String::as_str)
    }

    /// Builds the network the file describes (refused before allocating when it is larger
    /// than the file's tensors can fill: [`NetworkInfo::build_for_file`]) and restores the
    /// run into it.
    pub fn resume(self) -> Result<Resumed, ResumeError> {
        let held = crate::network::held_values(&self.checkpoint, "model.");
        let model = self
            .info
            .build_for_file(&self.preprocess, held)
            .map_err(|e| WithPath::new(&self.path, StateFault::Invalid(format!("arch: {e}"))))?;
        let info = self.info.clone();
        let trainer = self.resume_into(model)?;
        Ok(Resumed { train_images: trainer.train_images, trainer, info })
    }

    /// Restores the run into `model`, a network of the file's architecture built by the
    /// caller. Everything is checked before anything is used: that the counters agree,
    /// every model tensor (present, right shape, finite) and every optimizer buffer.
    pub fn resume_into<M: Module<f32>>(self, mut model: M) -> Result<Trainer<M>, ResumeError> {
        let StateFile { path, config, preprocess, checkpoint, .. } = self;
        let path = path.as_path();
        let Checkpoint { tensors, metadata } = checkpoint;
        let m = Meta { map: &metadata, path };
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
        check_counters(&config, train_images, epoch, steps, optimizer_step, &progress).map_err(|r| m.invalid(r))?;

        // The tensors: model.<name> and optimizer.<kind>.<name>, nothing else.
        let shapes: BTreeMap<String, Vec<usize>> =
            model.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
        let buffer_names = layers::checkpoint::state_names(&model);
        let mut weights = BTreeMap::new();
        let mut buffers = Vec::new();
        for (name, t) in tensors {
            if let Some(param) = name.strip_prefix("model.") {
                if !buffer_names.contains(param) {
                    return Err(CheckpointError::new(path, CheckpointFault::Unexpected { name }).into());
                }
                if t.iter().any(|x| !x.is_finite()) {
                    return Err(m.invalid(format!("tensor {name:?} holds a NaN or an infinity")));
                }
                weights.insert(param.to_string(), t);
            } else if let Some(buffer) = name.strip_prefix("optimizer.") {
                check_buffer(buffer, &t, &shapes).map_err(|reason| m.invalid(format!("tensor {name:?}: {reason}")))?;
                buffers.push((buffer.to_string(), t));
            } else {
                return Err(CheckpointError::new(path, CheckpointFault::Unexpected { name }).into());
            }
        }
        assign_parameters(&mut model, &mut weights, path).map_err(|e| {
            e.map(|fault| match fault {
                CheckpointFault::Missing { name } => CheckpointFault::Missing { name: format!("model.{name}") },
                CheckpointFault::Shape { name, expected, got } => {
                    CheckpointFault::Shape { name: format!("model.{name}"), expected, got }
                }
                other => other,
            })
        })?;
        let mut trainer = Trainer::new(model, config, preprocess).map_err(|e| m.invalid(e.to_string()))?;
        trainer
            .optimizer
            .load_state(OptimizerState { tensors: buffers, step: optimizer_step })
            .map_err(|e| m.invalid(format!("optimizer state: {e}")))?;
        trainer.restore_position(epoch, steps, progress, train_images);
        Ok(trainer)
    }
}

/// The trainer a parsed state file describes, with `model` (a network of the file's
/// architecture) taking the file's weights (`path` names the file in errors):
/// [`StateFile::parse`] then [`StateFile::resume_into`].
pub fn resume_from<M: Module<f32>>(
    checkpoint: Checkpoint<f32>,
    model: M,
    path: &Path,
) -> Result<Trainer<M>, ResumeError> {
    StateFile::parse(checkpoint, path)?.resume_into(model)
}

/// A run read back from a state file, with the network its metadata describes.
pub struct Resumed {
    /// The trainer, where the run stood.
    pub trainer: Trainer<Box<dyn Module<f32>>>,
    /// How many training images the run uses.
    pub train_images: usize,
    /// The network (LeNet-5 on MNIST for a version-1 file).
    pub info: NetworkInfo,
}

impl Resumed {
    /// Checks that the data about to be trained on has as many training images as the run
    /// had (`path` names the state file in the error).
    pub fn check_data(&self, train_images: usize, path: &Path) -> Result<(), ResumeError> {
        if train_images != self.train_images {
            let data = StateFault::Data { expected: self.train_images, got: train_images };
            return Err(WithPath::new(path, data).into());
        }
        Ok(())
    }
}

/// Reads a state file written by [`save_state`] (through a [`Checkpointer`]), builds the
/// network its metadata describes, and restores the run: [`StateFile::read`] then
/// [`StateFile::resume`].
pub fn load_state(path: impl AsRef<Path>) -> Result<Resumed, ResumeError> {
    StateFile::read(path)?.resume()
}

/// [`load_state`] on a parsed file (`path` names it in errors).
pub fn resume_checkpoint(checkpoint: Checkpoint<f32>, path: &Path) -> Result<Resumed, ResumeError> {
    StateFile::parse(checkpoint, path)?.resume()
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
    let Some(shape) = shapes.get(param) else { return Err(format!("{param:?} is not a parameter of the network")) };
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
        CheckpointError::new(self.path, CheckpointFault::Metadata { key: key.to_string(), reason }).into()
    }

    fn invalid(&self, reason: String) -> ResumeError {
        WithPath::new(self.path, StateFault::Invalid(reason)).into()
    }

    fn raw(&self, key: &str) -> Result<&str, ResumeError> {
        self.map.get(key).map(String::as_str).ok_or_else(|| self.bad(key, "missing".into()))
    }

    fn get<T: FromStr>(&self, key: &str) -> Result<T, ResumeError> {
        let raw = self.raw(key)?;
        raw.parse().map_err(|_| self.bad(key, format!("{raw:?} is not a valid {}", type_words::<T>())))
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
