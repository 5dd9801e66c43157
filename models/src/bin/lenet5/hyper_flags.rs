//! The hyper-parameter flags of `lenet5 train`: one per entry of [`HYPER_PARAMETERS`], with
//! the command's defaults per optimizer, read back into a [`TrainConfig`] and checked
//! against a resumed run's.

use std::path::Path;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};
use models::train::{HYPER_PARAMETERS, OptimizerKind, TrainConfig};

use crate::{Failure, default_threads};

/// The command's defaults for `optimizer`: LeNet-5's recipe ([`TrainConfig::lenet5_recipe`]),
/// whose SGD numbers (rate 0.05, weight decay 5e-4) give way to PyTorch's for Adam and AdamW
/// (rate 1e-3, no weight decay: [`TrainConfig::default`]'s). The machine's cores as threads.
pub fn command_defaults(optimizer: OptimizerKind) -> TrainConfig {
    let recipe = TrainConfig { threads: default_threads(), ..TrainConfig::lenet5_recipe() };
    match optimizer {
        OptimizerKind::Sgd => recipe,
        OptimizerKind::Adam | OptimizerKind::AdamW => {
            let pytorch = TrainConfig::default();
            TrainConfig { optimizer, lr: pytorch.lr, weight_decay: pytorch.weight_decay, ..recipe }
        }
    }
}

/// Adds one flag per hyper-parameter ([`HYPER_PARAMETERS`]) to the `train` command, with its
/// default, or its default per optimizer when that differs.
pub fn with_hyper_parameters(cmd: clap::Command) -> clap::Command {
    cmd.args(HYPER_PARAMETERS.iter().map(|h| {
        let arg = Arg::new(h.name).help(h.help());
        match h.switch {
            Some((flag, _)) => arg.long(flag).action(ArgAction::SetTrue),
            None => {
                let defaults: Vec<(&str, String)> =
                    OptimizerKind::ALL.iter().map(|&(kind, name)| (name, (h.get)(&command_defaults(kind)))).collect();
                let arg = arg.long(h.flag().trim_start_matches("--").to_string()).value_name(h.value_name);
                let arg = arg.allow_negative_numbers(true).action(ArgAction::Set);
                let default = defaults[0].1.clone();
                if default == "none" || h.name == "threads" {
                    arg
                } else if defaults.iter().all(|(_, d)| *d == default) {
                    arg.default_value(default)
                } else {
                    let each: Vec<String> = defaults.iter().map(|(name, d)| format!("{d} with {name}")).collect();
                    arg.help(format!("{} [default: {}]", h.help(), each.join(", ")))
                }
            }
        }
    }))
}

/// Whether `id` was given on the command line (not taken from its default).
pub fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// The hyper-parameters the command line gives, the others from [`command_defaults`] for
/// the optimizer it names.
pub fn config_from(matches: &ArgMatches) -> Result<TrainConfig, Failure> {
    let mut given_values = Vec::new();
    for h in HYPER_PARAMETERS.iter().filter(|h| given(matches, h.name)) {
        let value = match h.switch {
            Some((_, value)) => value.to_string(),
            None => matches.get_one::<String>(h.name).cloned().unwrap_or_default(),
        };
        let flag = h.switch.map_or_else(|| h.flag(), |(f, _)| format!("--{f}"));
        given_values.push((h, flag, value));
    }
    // The optimizer first: the defaults of the others follow it.
    let mut config = TrainConfig::lenet5_recipe();
    for (h, flag, value) in given_values.iter().filter(|(h, _, _)| h.name == "optimizer") {
        (h.set)(&mut config, value).map_err(|e| Failure::Usage(format!("{flag}: {e}")))?;
    }
    config = command_defaults(config.optimizer);
    for (h, flag, value) in &given_values {
        (h.set)(&mut config, value).map_err(|e| Failure::Usage(format!("{flag}: {e}")))?;
    }
    config.validate().map_err(Failure::Usage)?;
    Ok(config)
}

/// An error for the first hyper-parameter given on the command line that disagrees with
/// the resumed run's.
pub fn check_conflicts(
    matches: &ArgMatches,
    cli: &TrainConfig,
    run: &TrainConfig,
    state: &Path,
) -> Result<(), Failure> {
    for h in &HYPER_PARAMETERS {
        let (mine, theirs) = ((h.get)(cli), (h.get)(run));
        if given(matches, h.name) && mine != theirs {
            let flag = h.switch.map_or_else(|| h.flag(), |(f, _)| format!("--{f}"));
            return Err(conflict(&flag, h.name, &theirs, state));
        }
    }
    Ok(())
}

/// The usage error for `flag`, which disagrees with the resumed run's `name = theirs`.
pub fn conflict(flag: &str, name: &str, theirs: &str, state: &Path) -> Failure {
    Failure::Usage(format!(
        "{flag} conflicts with the resumed run's {name} = {theirs} in {}; a resumed run keeps its settings (leave {flag} out)",
        state.display()
    ))
}
