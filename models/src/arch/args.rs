//! The arguments of one layer of a spec, `NAME` or `NAME(A,B,k=V,…)`: positional ones as
//! written (whole numbers or decimals, as the kind reads them), then named ones (whole
//! numbers, or `true`/`false` for a switch such as `bias=false`). A kind's parser
//! ([`Kind::parse`](super::Kind::parse)) reads them through [`Args`].

use thiserror::Error;

use super::kinds::Kinds;

/// What is wrong with a layer's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgError {
    /// Arguments given to a kind that takes none.
    #[error("{name} takes no arguments (expected {usage})")]
    NoneTaken {
        /// The kind's token.
        name: String,
        /// How it is written.
        usage: String,
    },
    /// Too few or too many positional arguments.
    #[error("expected {usage}")]
    Count {
        /// How the kind is written.
        usage: String,
    },
    /// A named argument the kind does not take.
    #[error("unknown argument {key:?} (expected {usage})")]
    UnknownKey {
        /// The argument's name.
        key: String,
        /// How the kind is written.
        usage: String,
    },
    /// A value that should be a whole number.
    #[error("{0:?} is not a whole number")]
    NotWhole(String),
    /// A value that should be a finite number.
    #[error("{0:?} is not a number")]
    NotNumber(String),
    /// A named value that should be `true` or `false`.
    #[error("{key}={value}: {key} is true or false")]
    NotSwitch {
        /// The argument's name.
        key: String,
        /// The value given.
        value: String,
    },
    /// A positional argument after a named one.
    #[error("{0:?}: positional arguments come first")]
    PositionalAfterNamed(String),
    /// Nothing between two commas or in the parentheses.
    #[error("an empty argument")]
    Empty,
    /// Text after the closing parenthesis.
    #[error("text after the closing ')'")]
    TrailingText,
    /// Values that parse but that the kind does not take (a kernel of 0, …).
    #[error("{0}")]
    Invalid(String),
}

/// The arguments of one layer: `conv(16, 3, s=2)` has the positional `16`, `3` and the
/// named `s = 2`. Named values are read as the kind asks: [`Args::key`] for a whole
/// number, [`Args::switch`] for `true`/`false`. A kind whose arguments are layers (`res`)
/// reads them with [`Args::kinds`], the list the spec is read with.
#[derive(Debug, Clone)]
pub struct Args {
    name: String,
    given: bool,
    positional: Vec<String>,
    named: Vec<(String, String)>,
    kinds: Option<Kinds>,
}

/// Two layers' arguments are equal when they are written the same (whatever list read them).
impl PartialEq for Args {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.given, &self.positional, &self.named)
            == (&other.name, other.given, &other.positional, &other.named)
    }
}

impl Eq for Args {}

impl Args {
    /// Splits a layer's token into its name and arguments: `"conv(16,3,p=1)"`.
    pub fn parse(token: &str) -> Result<Args, ArgError> {
        let (name, inner) = match token.split_once('(') {
            Some((name, rest)) => (name, Some(rest.strip_suffix(')').ok_or(ArgError::TrailingText)?)),
            None => (token, None),
        };
        let (mut positional, mut named) = (Vec::new(), Vec::new());
        for item in inner.iter().flat_map(|inner| split_outside_parentheses(inner, ',')).map(str::trim) {
            match split_outside_parentheses(item, '=')[..] {
                [k, v] => named.push((k.trim().to_string(), v.trim().to_string())),
                [_] if !named.is_empty() => return Err(ArgError::PositionalAfterNamed(item.into())),
                [_] if item.is_empty() => return Err(ArgError::Empty),
                [_] => positional.push(item.to_string()),
                _ => return Err(ArgError::NotWhole(item.into())),
            }
        }
        Ok(Args { name: name.to_string(), given: inner.is_some(), positional, named, kinds: None })
    }

    /// These arguments as read with the layer kinds `kinds` (what [`Args::kinds`] gives).
    pub fn read_with(mut self, kinds: &Kinds) -> Self {
        self.kinds = Some(kinds.clone());
        self
    }

    /// The layer kinds the spec is read with, for arguments that are layers themselves (a
    /// residual block's body): the list given by [`Args::read_with`], else the built-in one.
    pub fn kinds(&self) -> Kinds {
        self.kinds.clone().unwrap_or_else(Kinds::builtin)
    }

    /// The layer's token: `conv`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many positional arguments there are.
    pub fn len(&self) -> usize {
        self.positional.len()
    }

    /// Whether there is no positional argument.
    pub fn is_empty(&self) -> bool {
        self.positional.is_empty()
    }

    /// Checks that there are `min..=max` positional arguments and no named one outside
    /// `keys`; `usage` is how the kind is written, for the error.
    pub fn expect(&self, usage: &str, min: usize, max: usize, keys: &[&str]) -> Result<(), ArgError> {
        if self.given && max == 0 {
            return Err(ArgError::NoneTaken { name: self.name.clone(), usage: usage.into() });
        }
        let n = self.positional.len();
        if n < min || n > max || !self.given && min > 0 {
            return Err(ArgError::Count { usage: usage.into() });
        }
        if let Some((k, _)) = self.named.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
            return Err(ArgError::UnknownKey { key: k.clone(), usage: usage.into() });
        }
        Ok(())
    }

    /// The named argument `key` as a whole number (the last one when given twice); an
    /// error when it is not one (`s=true`).
    pub fn key(&self, key: &str) -> Result<Option<usize>, ArgError> {
        self.named_value(key).map(whole_number).transpose()
    }

    /// The named switch `key` (`key=true` or `key=false`; Python's `True`/`False` too), the
    /// last one when given twice; an error when it is a number.
    pub fn switch(&self, key: &str) -> Result<Option<bool>, ArgError> {
        self.named_value(key)
            .map(|v| switch_value(v).ok_or_else(|| ArgError::NotSwitch { key: key.into(), value: v.into() }))
            .transpose()
    }

    fn named_value(&self, key: &str) -> Option<&str> {
        self.named.iter().rev().find(|(n, _)| n == key).map(|(_, v)| v.as_str())
    }

    /// Positional argument `i` as a whole number (after [`Args::expect`] counted them).
    pub fn whole(&self, i: usize) -> Result<usize, ArgError> {
        whole_number(self.positional(i)?)
    }

    /// Positional argument `i` as written (a nested spec, for a kind that holds layers).
    pub fn text(&self, i: usize) -> Result<&str, ArgError> {
        self.positional(i)
    }

    /// Positional argument `i` as a finite number.
    pub fn number(&self, i: usize) -> Result<f64, ArgError> {
        let v = self.positional(i)?;
        v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| ArgError::NotNumber(v.into()))
    }

    fn positional(&self, i: usize) -> Result<&str, ArgError> {
        self.positional.get(i).map(String::as_str).ok_or(ArgError::Empty)
    }
}

/// `text` split at each `sep` outside parentheses (a nested layer's arguments stay whole:
/// `res(conv(8,3) relu)` has one argument).
pub fn split_outside_parentheses(text: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut depth) = (Vec::new(), 0, 0usize);
    for (i, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `v` as a switch: `true`/`false`, or Python's `True`/`False`.
fn switch_value(v: &str) -> Option<bool> {
    match v {
        "true" | "True" => Some(true),
        "false" | "False" => Some(false),
        _ => None,
    }
}

/// `v` as a whole number, or the error saying it is not one.
fn whole_number(v: &str) -> Result<usize, ArgError> {
    v.trim().parse::<usize>().map_err(|_| ArgError::NotWhole(v.into()))
}
