//! The hyper-parameters of a run, described once: [`HYPER_PARAMETERS`] lists each with its
//! name, help, and how to read and write it as text. That one table drives the command's
//! flags, the checkpoint's `config.*` metadata, reading them back, and the check that a
//! resumed run is not given conflicting values. Adding a hyper-parameter is a field, its
//! default and one entry.

use std::fmt;
use std::str::FromStr;

use layers::optim::{Constant, Cosine, Schedule, StepDecay};
use layers::{Adam, AdamConfig, DecayFilter, LayerError, Optimizer, Sgd, SgdConfig};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// SGD with momentum (PyTorch's rule).
    Sgd,
    /// Adam (PyTorch's rule; weight decay added to the gradient).
    Adam,
    /// AdamW (decoupled weight decay).
    AdamW,
}

impl OptimizerKind {
    /// Every kind with its name, the one place the names are spelled.
    pub const ALL: [(OptimizerKind, &'static str); 3] =
        [(OptimizerKind::Sgd, "sgd"), (OptimizerKind::Adam, "adam"), (OptimizerKind::AdamW, "adamw")];
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = OptimizerKind::ALL.iter().find(|(k, _)| k == self).map_or("?", |(_, n)| n);
        f.write_str(name)
    }
}

impl FromStr for OptimizerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        OptimizerKind::ALL.iter().find(|(_, n)| *n == s).map(|(k, _)| *k).ok_or_else(|| {
            let names: Vec<&str> = OptimizerKind::ALL.iter().map(|(_, n)| *n).collect();
            format!("{s:?} is not an optimizer ({})", names.join(", "))
        })
    }
}

/// How the learning rate changes over the run, evaluated at every step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScheduleKind {
    /// Cosine annealing from the base rate to 0 over every step of the run.
    Cosine,
    /// The base rate throughout.
    Constant,
    /// Multiplied by `gamma` every `epochs` epochs (`StepLR`).
    Step {
        /// Epochs between decays (≥ 1).
        epochs: usize,
        /// The factor.
        gamma: f64,
    },
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleKind::Cosine => f.write_str("cosine"),
            ScheduleKind::Constant => f.write_str("constant"),
            ScheduleKind::Step { epochs, gamma } => write!(f, "step:{epochs}:{gamma:?}"),
        }
    }
}

impl FromStr for ScheduleKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cosine" => Ok(ScheduleKind::Cosine),
            "constant" => Ok(ScheduleKind::Constant),
            _ => {
                let parts: Vec<&str> = s.split(':').collect();
                let bad = || format!("{s:?} is not a schedule (cosine, constant or step:EPOCHS:GAMMA)");
                let ["step", epochs, gamma] = parts.as_slice() else { return Err(bad()) };
                let epochs: usize = epochs.parse().map_err(|_| bad())?;
                let gamma: f64 = gamma.parse().map_err(|_| bad())?;
                if epochs == 0 || !(gamma.is_finite() && gamma > 0.0) {
                    return Err(format!("{s:?}: step:EPOCHS:GAMMA needs EPOCHS ≥ 1 and a finite GAMMA > 0"));
                }
                Ok(ScheduleKind::Step { epochs, gamma })
            }
        }
    }
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
    /// The base learning rate.
    pub lr: f64,
    /// How the learning rate changes, step by step.
    pub schedule: ScheduleKind,
    /// SGD momentum.
    pub momentum: f64,
    /// Weight decay on the weights (not the biases).
    pub weight_decay: f64,
    /// Seeds the initial weights and every epoch's shuffle.
    pub seed: u64,
    /// Threads per step (the batch is split in that many slices).
    pub threads: usize,
    /// Stop after this many optimizer steps.
    pub max_steps: Option<u64>,
    /// Shuffle each epoch (else file order).
    pub shuffle: bool,
    /// Scale the gradients so their global L2 norm is at most this (no clipping if `None`).
    pub clip_grad_norm: Option<f64>,
}

impl Default for TrainConfig {
    /// LeNet-5's defaults, which reach 99% test accuracy on MNIST within their 10 epochs.
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 64,
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            schedule: ScheduleKind::Cosine,
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

/// One hyper-parameter: how it is named, explained, written and read.
pub struct HyperParameter {
    /// The field's name; the flag is `--name` with `-` for `_`, the metadata key `config.name`.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// The flag's value name.
    pub value_name: &'static str,
    /// A flag without a value that sets this text (e.g. `--no-shuffle` sets `false`).
    pub switch: Option<(&'static str, &'static str)>,
    /// The value as text (`none` for an absent optional value).
    pub get: fn(&TrainConfig) -> String,
    /// Sets the value from text; a message when it does not parse.
    pub set: fn(&mut TrainConfig, &str) -> Result<(), String>,
}

impl HyperParameter {
    /// The command-line flag, e.g. `--batch-size`.
    pub fn flag(&self) -> String {
        format!("--{}", self.name.replace('_', "-"))
    }

    /// The metadata key, e.g. `config.batch_size`.
    pub fn key(&self) -> String {
        format!("config.{}", self.name)
    }
}

fn parse<V: FromStr>(s: &str) -> Result<V, String> {
    s.parse().map_err(|_| format!("{s:?} is not a valid value"))
}

fn optional<V: FromStr>(s: &str) -> Result<Option<V>, String> {
    if s == "none" { Ok(None) } else { parse(s).map(Some) }
}

fn show_optional<V: fmt::Debug>(v: Option<V>) -> String {
    v.map_or_else(|| "none".into(), |v| format!("{v:?}"))
}

/// Every hyper-parameter of [`TrainConfig`].
pub const HYPER_PARAMETERS: [HyperParameter; 12] = [
    HyperParameter {
        name: "epochs",
        help: "Passes over the training set",
        value_name: "N",
        switch: None,
        get: |c| c.epochs.to_string(),
        set: |c, s| {
            c.epochs = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "batch_size",
        help: "Images per step",
        value_name: "N",
        switch: None,
        get: |c| c.batch_size.to_string(),
        set: |c, s| {
            c.batch_size = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "optimizer",
        help: "The update rule: sgd, adam or adamw",
        value_name: "NAME",
        switch: None,
        get: |c| c.optimizer.to_string(),
        set: |c, s| {
            c.optimizer = s.parse()?;
            Ok(())
        },
    },
    HyperParameter {
        name: "lr",
        help: "Base learning rate",
        value_name: "F",
        switch: None,
        get: |c| format!("{:?}", c.lr),
        set: |c, s| {
            c.lr = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "schedule",
        help: "Learning-rate schedule, per step: cosine (to 0 at the end), constant, or step:EPOCHS:GAMMA",
        value_name: "SCHEDULE",
        switch: None,
        get: |c| c.schedule.to_string(),
        set: |c, s| {
            c.schedule = s.parse()?;
            Ok(())
        },
    },
    HyperParameter {
        name: "momentum",
        help: "SGD momentum",
        value_name: "F",
        switch: None,
        get: |c| format!("{:?}", c.momentum),
        set: |c, s| {
            c.momentum = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "weight_decay",
        help: "Weight decay on the weights (not the biases)",
        value_name: "F",
        switch: None,
        get: |c| format!("{:?}", c.weight_decay),
        set: |c, s| {
            c.weight_decay = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "seed",
        help: "Seed of the initial weights and the shuffles",
        value_name: "N",
        switch: None,
        get: |c| c.seed.to_string(),
        set: |c, s| {
            c.seed = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "threads",
        help: "Threads per step (default: the machine's cores)",
        value_name: "N",
        switch: None,
        get: |c| c.threads.to_string(),
        set: |c, s| {
            c.threads = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "max_steps",
        help: "Stop after this many optimizer steps",
        value_name: "N",
        switch: None,
        get: |c| show_optional(c.max_steps),
        set: |c, s| {
            c.max_steps = optional(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "shuffle",
        help: "Take the images in file order",
        value_name: "BOOL",
        switch: Some(("no-shuffle", "false")),
        get: |c| c.shuffle.to_string(),
        set: |c, s| {
            c.shuffle = parse(s)?;
            Ok(())
        },
    },
    HyperParameter {
        name: "clip_grad_norm",
        help: "Scale the gradients so their global L2 norm is at most this",
        value_name: "F",
        switch: None,
        get: |c| show_optional(c.clip_grad_norm),
        set: |c, s| {
            c.clip_grad_norm = optional(s)?;
            Ok(())
        },
    },
];

impl TrainConfig {
    /// The configuration's `config.*` metadata entries.
    pub fn metadata(&self) -> Vec<(String, String)> {
        HYPER_PARAMETERS.iter().map(|h| (h.key(), (h.get)(self))).collect()
    }

    /// A configuration from `config.*` metadata (every key present); the error names the
    /// key.
    pub fn from_metadata(meta: &std::collections::BTreeMap<String, String>) -> Result<Self, (String, String)> {
        let mut c = TrainConfig::default();
        for h in &HYPER_PARAMETERS {
            let key = h.key();
            let value = meta.get(&key).ok_or_else(|| (key.clone(), "missing".to_string()))?;
            (h.set)(&mut c, value).map_err(|e| (key.clone(), e))?;
        }
        Ok(c)
    }

    /// Checks the values a user can get wrong; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("--epochs", self.epochs), ("--batch-size", self.batch_size), ("--threads", self.threads)] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
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

    /// The optimizer these hyper-parameters describe (weight decay on weights only).
    pub fn build_optimizer(&self) -> Result<Box<dyn Optimizer<f32> + Send>, LayerError> {
        let decay = DecayFilter::WeightsOnly;
        Ok(match self.optimizer {
            OptimizerKind::Sgd => Box::new(Sgd::new(
                SgdConfig::new(self.lr).momentum(self.momentum).weight_decay(self.weight_decay).decay(decay),
            )?),
            OptimizerKind::Adam => {
                Box::new(Adam::new(AdamConfig::adam(self.lr).weight_decay(self.weight_decay).decay(decay))?)
            }
            OptimizerKind::AdamW => {
                Box::new(Adam::new(AdamConfig::adamw(self.lr).weight_decay(self.weight_decay).decay(decay))?)
            }
        })
    }

    /// The learning rate at global step `step` of a run of `steps_per_epoch` steps per epoch.
    /// Evaluated at the global step, so a resumed run continues the same curve.
    pub fn lr_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        let per_epoch = steps_per_epoch.max(1);
        match self.schedule {
            ScheduleKind::Cosine => Cosine { total: self.epochs * per_epoch, min_factor: 0.0 }.lr(self.lr, step),
            ScheduleKind::Constant => Constant.lr(self.lr, step),
            ScheduleKind::Step { epochs, gamma } => {
                StepDecay { step_size: epochs, gamma }.lr(self.lr, step / per_epoch)
            }
        }
    }
}
