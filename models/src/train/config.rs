//! The hyper-parameters of a run, described once: [`HYPER_PARAMETERS`] lists each with its
//! name, help, how to read and write it as text and the range it must be in. That one table
//! drives the command's flags, the checkpoint's `config.*` metadata, reading them back, the
//! check of the values ([`TrainConfig::validate`]) and the check that a resumed run is not
//! given conflicting values. Adding a hyper-parameter is one entry of the table below: the
//! field, its type, default, value name, help and range.

use std::fmt;
use std::str::FromStr;

use layers::optim::{Constant, Cosine, Schedule, StepDecay};
use layers::{Adam, AdamConfig, DecayFilter, LayerError, Optimizer, Sgd, SgdConfig};

use super::hyper::{HyperParameter, HyperValue, Named, name_of, named, names, or_list};
use crate::data::Augment;

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

impl Named for OptimizerKind {
    const NAMES: &'static [(Self, &'static str)] = &OptimizerKind::ALL;
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(name_of(self).unwrap_or("?"))
    }
}

impl FromStr for OptimizerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        named(s).ok_or_else(|| format!("{s:?} is not an optimizer ({})", names::<Self>().join(", ")))
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

impl ScheduleKind {
    /// The form of [`ScheduleKind::Step`] as text: `step:EPOCHS:GAMMA`.
    const STEP: &'static str = "step";
}

impl Named for ScheduleKind {
    const NAMES: &'static [(Self, &'static str)] =
        &[(ScheduleKind::Cosine, "cosine"), (ScheduleKind::Constant, "constant")];
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, name_of(self)) {
            (_, Some(name)) => f.write_str(name),
            (ScheduleKind::Step { epochs, gamma }, None) => write!(f, "{}:{epochs}:{gamma:?}", ScheduleKind::STEP),
            _ => f.write_str("?"),
        }
    }
}

impl FromStr for ScheduleKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(kind) = named(s) {
            return Ok(kind);
        }
        let step = format!("{}:EPOCHS:GAMMA", ScheduleKind::STEP);
        let bad = || format!("{s:?} is not a schedule ({})", or_list(&[names::<Self>(), vec![step.as_str()]].concat()));
        let mut parts = s.split(':');
        let (Some(ScheduleKind::STEP), Some(epochs), Some(gamma), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let epochs: usize = epochs.parse().map_err(|_| bad())?;
        let gamma: f64 = gamma.parse().map_err(|_| bad())?;
        if epochs == 0 || !(gamma.is_finite() && gamma > 0.0) {
            return Err(format!("{s:?}: {step} needs EPOCHS ≥ 1 and a finite GAMMA > 0"));
        }
        Ok(ScheduleKind::Step { epochs, gamma })
    }
}

/// Declares [`TrainConfig`] (its fields, their defaults) and [`HYPER_PARAMETERS`] from one
/// table: per field, `name: Type = default, "VALUE NAME", "help"`, then optionally
/// `check RANGE` (a function of the value), `switch "flag" = "value"` and `absent "value"`
/// (its value in a checkpoint written before it existed).
macro_rules! hyper_parameters {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $t:ty = $default:expr, $value_name:literal, $summary:literal
        $(, check $check:path)? $(, switch $flag:literal = $set:literal)? $(, absent $absent:literal)?;
    )+) => {
        /// Hyper-parameters of a run.
        ///
        /// Two starting points, each listed in full (write `..TrainConfig::default()` or
        /// `..TrainConfig::lenet5_recipe()` after the fields you set):
        ///
        /// | field | [`TrainConfig::default()`] | [`TrainConfig::lenet5_recipe()`] |
        /// |---|---|---|
        /// | `epochs` | 10 | 10 |
        /// | `batch_size` | 64 | 64 |
        /// | `optimizer` | Adam | SGD |
        /// | `lr` | 1e-3 | 0.05 |
        /// | `schedule` | constant | cosine (to 0 at the last step) |
        /// | `momentum` (SGD only) | 0 | 0.9 |
        /// | `weight_decay` (weights, not biases) | 0 | 5e-4 |
        /// | `seed` | 0 | 0 |
        /// | `threads` | the machine's cores | the machine's cores |
        /// | `max_steps` | none | none |
        /// | `shuffle` | true | true |
        /// | `clip_grad_norm` | none | none |
        /// | `augment` | none | none |
        ///
        /// The default is PyTorch's for each optimizer: `optimizer: OptimizerKind::Sgd` (or
        /// `AdamW`) with `..TrainConfig::default()` is `torch.optim.SGD(params, lr=1e-3)` (or
        /// `AdamW(params, lr=1e-3, weight_decay=0)`: unlike PyTorch's `AdamW`, no decay
        /// unless asked), with a constant rate. Adam's betas are (0.9, 0.999) and its eps
        /// 1e-8 ([`AdamConfig`](layers::AdamConfig)). LeNet-5's recipe reaches 99% test
        /// accuracy on MNIST in its 10 epochs; `lenet5 train` starts from it.
        ///
        /// One seed drives the run: the initial weights of a network built with
        /// [`SequentialBuilder::build`](layers::SequentialBuilder::build) (or by `lenet5
        /// train`) come from [`TrainConfig::weight_rng`], the shuffle of each epoch from
        /// `(seed, epoch)` ([`Trainer::epoch_order`](super::Trainer::epoch_order)), dropout's
        /// masks from `(seed, step, layer, sample)`, the augmentation of each training image
        /// from `(seed, epoch, image)` ([`Augment::draw`]). The same seed and thread count
        /// give the same run, bit for bit.
        ///
        /// ```
        /// use models::prelude::*;
        ///
        /// let adam = TrainConfig::default();
        /// assert_eq!((adam.optimizer, adam.lr, adam.weight_decay), (OptimizerKind::Adam, 1e-3, 0.0));
        /// assert_eq!((adam.schedule, adam.momentum, adam.epochs, adam.batch_size), (ScheduleKind::Constant, 0.0, 10, 64));
        /// let sgd = TrainConfig { optimizer: OptimizerKind::Sgd, ..TrainConfig::default() };
        /// assert_eq!((sgd.lr, sgd.momentum, sgd.weight_decay), (1e-3, 0.0, 0.0));
        /// let lenet5 = TrainConfig::lenet5_recipe();
        /// assert_eq!((lenet5.optimizer, lenet5.lr, lenet5.momentum), (OptimizerKind::Sgd, 0.05, 0.9));
        /// assert_eq!((lenet5.weight_decay, lenet5.schedule), (5e-4, ScheduleKind::Cosine));
        /// ```
        #[derive(Debug, Clone, PartialEq)]
        pub struct TrainConfig {
            $($(#[doc = $doc])* pub $name: $t,)+
        }

        impl Default for TrainConfig {
            /// PyTorch's defaults for every optimizer (the table on [`TrainConfig`]); LeNet-5's
            /// SGD recipe is [`TrainConfig::lenet5_recipe`].
            fn default() -> Self {
                TrainConfig { $($name: $default,)+ }
            }
        }

        /// Every hyper-parameter of [`TrainConfig`].
        pub const HYPER_PARAMETERS: [HyperParameter; [$(stringify!($name)),+].len()] = [$(
            HyperParameter {
                name: stringify!($name),
                summary: $summary,
                value_name: $value_name,
                switch: [$(Some(($flag, $set)),)? None][0],
                get: |c| HyperValue::show(&c.$name),
                set: |c, s| {
                    c.$name = HyperValue::read(s)?;
                    Ok(())
                },
                check: |_c| {
                    $($check(&_c.$name)?;)?
                    Ok(())
                },
                choices: <$t as HyperValue>::choices,
                absent: [$(Some($absent),)? None][0],
            },
        )+];
    };
}

hyper_parameters! {
    /// Passes over the training set.
    epochs: usize = 10, "N", "Passes over the training set", check at_least_one;
    /// Images per step.
    batch_size: usize = 64, "N", "Images per step", check at_least_one;
    /// The update rule.
    optimizer: OptimizerKind = OptimizerKind::Adam, "NAME", "The update rule";
    /// The base learning rate.
    lr: f64 = 1e-3, "F", "Base learning rate", check positive;
    /// How the learning rate changes, step by step.
    schedule: ScheduleKind = ScheduleKind::Constant, "SCHEDULE",
        "Learning-rate schedule, per step: cosine (to 0 at the end), constant, or step:EPOCHS:GAMMA";
    /// SGD momentum (unused by Adam and AdamW).
    momentum: f64 = 0.0, "F", "SGD momentum", check below_one;
    /// Weight decay on the weights (not the biases).
    weight_decay: f64 = 0.0, "F", "Weight decay on the weights (not the biases)", check non_negative;
    /// Seeds the initial weights, every epoch's shuffle and the dropout masks.
    seed: u64 = 0, "N", "Seed of the initial weights, the shuffles and the dropout masks";
    /// Threads per step (the batch is split in that many slices); the machine's cores by
    /// default. A run is reproducible for a given seed and thread count.
    threads: usize = machine_cores(), "N", "Threads per step (default: the machine's cores)", check at_least_one;
    /// Stop after this many optimizer steps.
    max_steps: Option<u64> = None, "N", "Stop after this many optimizer steps";
    /// Shuffle each epoch (else file order).
    shuffle: bool = true, "BOOL", "Take the images in file order", switch "no-shuffle" = "false";
    /// Scale the gradients so their global L2 norm is at most this (no clipping if `None`).
    clip_grad_norm: Option<f64> = None, "F", "Scale the gradients so their global L2 norm is at most this",
        check positive_if_set;
    /// Crops and flips of the training images, drawn per image from `(seed, epoch, image)`
    /// as batches are filled; never at evaluation.
    augment: Augment = Augment::NONE, "LIST",
        "Augment the training images on the fly (never at evaluation): none, or crop:P (zero-pad by P, then a \
         random crop back to size) and flip (left-right, probability 1/2), comma-separated, e.g. crop:4,flip; \
         drawn from the seed, the epoch and the image",
        absent "none";
}

/// The machine's cores (1 when unknown).
fn machine_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn at_least_one(v: &usize) -> Result<(), String> {
    if *v == 0 { Err("must be at least 1".into()) } else { Ok(()) }
}

fn non_negative(v: &f64) -> Result<(), String> {
    if v.is_finite() && *v >= 0.0 { Ok(()) } else { Err(format!("must be a finite number ≥ 0, got {v}")) }
}

fn positive(v: &f64) -> Result<(), String> {
    non_negative(v)?;
    if *v == 0.0 { Err("must be positive".into()) } else { Ok(()) }
}

fn below_one(v: &f64) -> Result<(), String> {
    non_negative(v)?;
    if *v >= 1.0 { Err(format!("must be below 1, got {v}")) } else { Ok(()) }
}

fn positive_if_set(v: &Option<f64>) -> Result<(), String> {
    match v {
        Some(c) if !(c.is_finite() && *c > 0.0) => Err(format!("must be a finite number > 0, got {c}")),
        _ => Ok(()),
    }
}

impl TrainConfig {
    /// LeNet-5's recipe, the `lenet5` command's defaults: SGD with momentum 0.9, rate 0.05
    /// annealed by a cosine to 0 over the run, weight decay 5e-4 on the weights, 10 epochs
    /// of batches of 64 (99% test accuracy on MNIST). The other fields are
    /// [`TrainConfig::default`]'s.
    pub fn lenet5_recipe() -> Self {
        TrainConfig {
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            schedule: ScheduleKind::Cosine,
            momentum: 0.9,
            weight_decay: 5e-4,
            ..TrainConfig::default()
        }
    }

    /// The generator of the initial weights of a run with this seed: `StdRng` seeded by
    /// [`TrainConfig::seed`], drawn layer by layer in order (what
    /// [`SequentialBuilder::build`](layers::SequentialBuilder::build) and `lenet5 train`
    /// use).
    pub fn weight_rng(&self) -> rand::rngs::StdRng {
        layers::init::weight_rng(self.seed)
    }

    /// The configuration's `config.*` metadata entries.
    pub fn metadata(&self) -> Vec<(String, String)> {
        HYPER_PARAMETERS.iter().map(|h| (h.key(), (h.get)(self))).collect()
    }

    /// A configuration from `config.*` metadata (every key present, but those of
    /// hyper-parameters added since, which take their [`HyperParameter::absent`] value);
    /// the error names the key.
    pub fn from_metadata(meta: &std::collections::BTreeMap<String, String>) -> Result<Self, (String, String)> {
        let mut c = TrainConfig::default();
        for h in &HYPER_PARAMETERS {
            let key = h.key();
            let value = meta.get(&key).map(String::as_str).or(h.absent);
            let value = value.ok_or_else(|| (key.clone(), "missing".to_string()))?;
            (h.set)(&mut c, value).map_err(|e| (key.clone(), e))?;
        }
        Ok(c)
    }

    /// Checks the values a user can get wrong; the message names the option (e.g.
    /// `--epochs must be at least 1`).
    pub fn validate(&self) -> Result<(), String> {
        HYPER_PARAMETERS.iter().try_for_each(|h| (h.check)(self).map_err(|e| format!("{} {e}", h.flag())))
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

/// Every hyper-parameter as `name value`, comma-separated, in table order (the recipe
/// `lenet5 train` prints at start): `epochs 10, batch_size 64, optimizer sgd, lr 0.05, …`.
impl fmt::Display for TrainConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = HYPER_PARAMETERS.iter().map(|h| format!("{} {}", h.name, (h.get)(self))).collect();
        f.write_str(&items.join(", "))
    }
}
