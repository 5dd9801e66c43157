//! Parsing a spec: tokens at whitespace outside parentheses, each a layer of a registered
//! kind ([`Kinds`]) with positional and named arguments ([`Args`]); unknown names get a
//! "did you mean".

use std::str::FromStr;

use super::args::Args;
use super::kinds::{Kinds, PRESETS};
use super::{Arch, LENET5_1998, LayerSpec, SpecError, resnet};

impl FromStr for Arch {
    type Err = SpecError;

    /// A spec of the built-in kinds ([`Kinds::builtin`]).
    fn from_str(spec: &str) -> Result<Self, SpecError> {
        Kinds::builtin().parse(spec)
    }
}

impl FromStr for LayerSpec {
    type Err = SpecError;

    /// One layer of a built-in kind: `conv(16,3,p=1)`.
    fn from_str(token: &str) -> Result<Self, SpecError> {
        Kinds::builtin().parse_layer(1, token.trim())
    }
}

impl Kinds {
    /// The network `spec` describes, its layers of these kinds: a preset alone, or layers
    /// separated by whitespace. An error names the layer's position and text.
    pub fn parse(&self, spec: &str) -> Result<Arch, SpecError> {
        let tokens = tokens(spec)?;
        if tokens.is_empty() {
            return Err(SpecError::whole("the spec has no layer"));
        }
        if tokens.len() == 1 && tokens[0] == "lenet5" {
            return Ok(Arch::lenet5());
        }
        if tokens.len() == 1 && tokens[0] == "lenet5-1998" {
            return self.parse(LENET5_1998);
        }
        if let Some(spec) = tokens.first().filter(|_| tokens.len() == 1).and_then(|t| resnet::spec(t)) {
            return self.parse(&spec);
        }
        let layers: Vec<LayerSpec> =
            tokens.iter().enumerate().map(|(i, t)| self.parse_layer(i + 1, t)).collect::<Result<_, _>>()?;
        Ok(Arch::from(layers))
    }

    /// The layers of `spec` (no preset): a nested spec, such as a residual block's body.
    pub fn parse_layers(&self, spec: &str) -> Result<Vec<LayerSpec>, SpecError> {
        let tokens = tokens(spec)?;
        if tokens.is_empty() {
            return Err(SpecError::whole("no layer"));
        }
        tokens.iter().enumerate().map(|(i, t)| self.parse_layer(i + 1, t)).collect()
    }

    /// The layer `token` (at `position` in its spec, from 1) of one of these kinds.
    pub fn parse_layer(&self, position: usize, token: &str) -> Result<LayerSpec, SpecError> {
        let err = |reason: String| SpecError { position: Some(position), text: token.to_string(), reason };
        let args = Args::parse(token).map_err(|e| err(e.to_string()))?.read_with(self);
        let name = args.name();
        if let Some(kind) = self.get(name) {
            return kind.parse(&args).map_err(|e| err(e.to_string()));
        }
        if PRESETS.contains(&name) {
            return Err(err(format!("the preset {name} stands alone: it is the whole network")));
        }
        let names: Vec<&str> = self.entries().iter().map(|e| e.name).chain(PRESETS).collect();
        let near = names.iter().min_by_key(|n| edit_distance(n, name)).filter(|n| edit_distance(n, name) <= 2);
        let hint = near.map(|n| format!("; did you mean {n}?")).unwrap_or_default();
        Err(err(format!("unknown layer {name:?} (layers: {}){hint}", names.join(", "))))
    }
}

/// Splits a spec at whitespace outside parentheses.
/// How deep parentheses may nest in a spec (`res(` inside `res(` …): the parser and the
/// planner recurse once per level, so a bound keeps a hostile spec from overflowing the stack.
pub const MAX_NESTING: usize = 16;

/// Inside parentheses, whitespace is dropped except one space between two words, which
/// separates the layers of a nested spec (`res(conv(8,3) relu)`).
fn tokens(spec: &str) -> Result<Vec<String>, SpecError> {
    let (mut out, mut current, mut depth, mut space) = (Vec::new(), String::new(), 0i32, false);
    for ch in spec.chars() {
        if depth > 0 && !ch.is_whitespace() {
            if space && !matches!(ch, ',' | ')' | '|') && !current.ends_with(['(', ',', '|']) {
                current.push(' ');
            }
            space = false;
        }
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth > MAX_NESTING as i32 {
            let position = Some(out.len() + 1);
            let reason = format!("parentheses nested deeper than {MAX_NESTING}");
            return Err(SpecError { position, text: current, reason });
        }
        if depth < 0 {
            let position = Some(out.len() + 1);
            return Err(SpecError { position, text: format!("{current})"), reason: "a ')' without its '('".into() });
        }
        if ch.is_whitespace() && depth == 0 {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else if ch.is_whitespace() {
            space = true;
        } else {
            current.push(ch);
        }
    }
    if depth != 0 {
        return Err(SpecError { position: Some(out.len() + 1), text: current, reason: "a '(' without its ')'".into() });
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
