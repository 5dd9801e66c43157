//! How a hyper-parameter is described ([`HyperParameter`]) and how its value is written
//! and read as text ([`HyperValue`]): what the table of [`super::config`] is made of.

use std::str::FromStr;

use super::config::{OptimizerKind, ScheduleKind, TrainConfig};
use crate::data::Augment;

/// A value written as one of a fixed list of names.
pub(super) trait Named: Sized + Copy + PartialEq + 'static {
    /// Each value with its name.
    const NAMES: &'static [(Self, &'static str)];
}

pub(super) fn name_of<V: Named>(v: &V) -> Option<&'static str> {
    V::NAMES.iter().find(|(k, _)| k == v).map(|(_, n)| *n)
}

pub(super) fn named<V: Named>(s: &str) -> Option<V> {
    V::NAMES.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
}

pub(super) fn names<V: Named>() -> Vec<&'static str> {
    V::NAMES.iter().map(|(_, n)| *n).collect()
}

/// `a, b or c`.
pub(super) fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The type of a hyper-parameter: how its values are written and read as text (flags,
/// metadata), and the names it takes when it takes one of a list.
pub trait HyperValue: Sized {
    /// The value as text (`none` for an absent optional value).
    fn show(&self) -> String;
    /// The value of a text; a message when it does not parse.
    fn read(text: &str) -> Result<Self, String>;
    /// The names the value takes, when it is one of a list (shown in the help).
    fn choices() -> Vec<&'static str> {
        Vec::new()
    }
}

fn parse<V: FromStr>(s: &str) -> Result<V, String> {
    s.parse().map_err(|_| format!("{s:?} is not a valid value"))
}

macro_rules! shown_by {
    ($($t:ty: $show:expr),+ $(,)?) => {$(
        impl HyperValue for $t {
            fn show(&self) -> String {
                $show(self)
            }
            fn read(text: &str) -> Result<Self, String> {
                parse(text)
            }
        }
    )+};
}

shown_by!(usize: usize::to_string, u64: u64::to_string, bool: bool::to_string, f64: |v: &f64| format!("{v:?}"));

impl<V: HyperValue> HyperValue for Option<V> {
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "none".into(), V::show)
    }

    fn read(text: &str) -> Result<Self, String> {
        if text == "none" { Ok(None) } else { V::read(text).map(Some) }
    }
}

impl HyperValue for OptimizerKind {
    fn show(&self) -> String {
        self.to_string()
    }

    fn read(text: &str) -> Result<Self, String> {
        text.parse()
    }

    fn choices() -> Vec<&'static str> {
        names::<Self>()
    }
}

impl HyperValue for Augment {
    fn show(&self) -> String {
        self.to_string()
    }

    fn read(text: &str) -> Result<Self, String> {
        text.parse()
    }
}

impl HyperValue for ScheduleKind {
    fn show(&self) -> String {
        self.to_string()
    }

    fn read(text: &str) -> Result<Self, String> {
        text.parse()
    }
}

/// One hyper-parameter: how it is named, explained, written, read and checked.
pub struct HyperParameter {
    /// The field's name; the flag is `--name` with `-` for `_`, the metadata key `config.name`.
    pub name: &'static str,
    /// One line of help, without the list of choices ([`HyperParameter::help`] has it).
    pub summary: &'static str,
    /// The flag's value name.
    pub value_name: &'static str,
    /// A flag without a value that sets this text (e.g. `--no-shuffle` sets `false`).
    pub switch: Option<(&'static str, &'static str)>,
    /// The value as text (`none` for an absent optional value).
    pub get: fn(&TrainConfig) -> String,
    /// Sets the value from text; a message when it does not parse.
    pub set: fn(&mut TrainConfig, &str) -> Result<(), String>,
    /// Whether the value is in range; what it must be (`must be at least 1`) when not.
    pub check: fn(&TrainConfig) -> Result<(), String>,
    /// The names the value takes, when it is one of a list.
    pub choices: fn() -> Vec<&'static str>,
    /// The value of a checkpoint written before the hyper-parameter existed (`None`: the
    /// key must be there).
    pub absent: Option<&'static str>,
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

    /// One line of help, with the choices when there is a list of them (`The update rule:
    /// sgd, adam or adamw`).
    pub fn help(&self) -> String {
        match (self.choices)() {
            choices if choices.is_empty() => self.summary.to_string(),
            choices => format!("{}: {}", self.summary, or_list(&choices)),
        }
    }
}
