//! How the page names one layer's matrices, in one of two notations.
//!
//! - **By position** (any network): layer `i` reads `x⁽ⁱ⁾` and writes `y⁽ⁱ⁾`; its window
//!   matrix is `a⁽ⁱ⁾`, its product `z⁽ⁱ⁾`. Every layer is its own card.
//! - **The derivation's** (a [`Preset`] with stage cards: LeNet-5): the preset's names group
//!   the layers into stages (`c1`, `c1.relu` → stage C1), numbered as the derivation numbers
//!   them (`c1` → 1). Stage `n`, after stage `m`, reads `a⁽ᵐ⁾` (its im2col or window matrix,
//!   or for a fully connected stage the vector before it), computes `z⁽ⁿ⁾`, applies its
//!   activation to the rows, `y⁽ⁿ⁾ = relu(z⁽ⁿ⁾)` (`a⁽ⁿ⁾` when the stage's output is one row,
//!   the next stage's input), and gives back maps, `output⁽ⁿ⁾`; a pool's result is `z⁽ⁿ⁾`.
//!
//! A kind writes its formulas once, with roles in braces (`{a} = im2col({x})`), and
//! [`Names::fill`] writes them in the pass's notation.

use crate::arch::{LayerSpec, Preset, StageCard};
use crate::notation::sup_key;

/// A matrix's page id and its symbol in formulas: `("z3", "z⁽³⁾")`.
pub(super) type Sym = (String, String);

fn sym(letter: &str, key: &str) -> Sym {
    (format!("{letter}{key}"), format!("{letter}{}", sup_key(key)))
}

/// The names of one layer's matrices ([`super::LayerAt`] holds them).
#[derive(Debug, Clone)]
pub(super) struct Names {
    /// The derivation's notation (else by position).
    pub(super) derivation: bool,
    /// The layer's key: `3`, `3b1` in a block; the stage's number in the derivation.
    pub(super) key: String,
    /// The key of its window matrix `a` (the previous stage's number in the derivation).
    input_key: String,
    /// The prefix of its parameters' names: `3`, `3.body.1`, `c1`.
    pub(super) param: String,
    /// The input: its panel's id and its symbol in the forward formulas.
    pub(super) x: Sym,
    /// The input's symbol in the backward formulas.
    x_back: String,
    /// The layer's result.
    y: Sym,
    /// A convolution's maps.
    maps: Sym,
    /// A convolution's rows after its fused activation (`z` without one).
    rows: Sym,
    /// The page id of `∇x`, or none when it is not shown (the derivation's first stage).
    pub(super) dx: Option<String>,
    /// The derivation's stage whose output is one row: its bias is said in the product's
    /// operator (`+ b =`) and its maps are not drawn.
    pub(super) vector: bool,
}

impl Names {
    /// Layer `key`, reading the panel `input` (page id), named by position.
    pub(super) fn by_position(key: &str, param: &str, input: &str) -> Self {
        let (y, z) = (sym("y", key), sym("z", key));
        Names {
            derivation: false,
            key: key.into(),
            input_key: key.into(),
            param: param.into(),
            x: (input.into(), format!("x{}", sup_key(key))),
            x_back: format!("x{}", sup_key(key)),
            maps: y.clone(),
            y,
            rows: z,
            dx: Some(format!("dx{key}")),
            vector: false,
        }
    }

    /// Stage `n` (its parameters `param.*`) after stage `m`, whose output panel is `input`
    /// (none: the first stage, reading the image `x`); `fused` when an activation follows
    /// on its rows, `vector` when its output is one row.
    pub(super) fn derivation(
        n: usize,
        param: &str,
        input: Option<(usize, &Sym, bool)>,
        fused: bool,
        vector: bool,
    ) -> Self {
        let key = n.to_string();
        let (input_key, x, x_back, dx) = match input {
            None => ("0".to_string(), ("x".to_string(), "x".to_string()), "x".to_string(), None),
            Some((m, (id, symbol), maps)) => {
                let forward = if maps { format!("output{}", sup_key(&m.to_string())) } else { symbol.clone() };
                (m.to_string(), (id.clone(), forward), symbol.clone(), Some(format!("d{id}")))
            }
        };
        let z = sym("z", &key);
        let rows = match (fused, vector) {
            (false, _) => z.clone(),
            (true, false) => sym("y", &key),
            (true, true) => sym("a", &key),
        };
        Names {
            derivation: true,
            maps: (format!("out{key}"), format!("output{}", sup_key(&key))),
            y: z,
            rows,
            key,
            input_key,
            param: param.into(),
            x,
            x_back,
            dx,
            vector,
        }
    }

    /// The names of the activation fused on the rows of the layer these names are for: it
    /// reads `z` and writes the rows.
    pub(super) fn fused(&self) -> Self {
        let z = sym("z", &self.key);
        Names {
            x_back: z.1.clone(),
            dx: Some(format!("d{}", z.0)),
            x: z,
            y: self.rows.clone(),
            maps: self.rows.clone(),
            ..self.clone()
        }
    }

    /// Layer `j` of path `path` of the block these names are for, keyed `key`, reading the
    /// panel `input`: by position (the derivation has no blocks).
    pub(super) fn inner(&self, key: &str, path: &str, j: usize, input: &str) -> Self {
        Names::by_position(key, &format!("{}.{path}.{j}", self.param), input)
    }

    /// The page id and symbol of the role `role`: `x`, `a`, `y` (the result), `maps`,
    /// `rows`; any other (`z`, `W`, `b`, `γ`, …) as itself with the layer's key.
    pub(super) fn role(&self, role: &str) -> Sym {
        match role {
            "x" => self.x.clone(),
            "a" => sym("a", &self.input_key),
            "y" => self.y.clone(),
            "maps" => self.maps.clone(),
            "rows" => self.rows.clone(),
            r => sym(r, &self.key),
        }
    }

    /// The page id of role `role`'s matrix (`dW3` for `dW`: the gradient of `W3`).
    pub(super) fn id(&self, role: &str) -> String {
        match role.strip_prefix('d').filter(|r| !r.is_empty()) {
            Some(r) => format!("d{}", self.role(r).0),
            None => self.role(role).0,
        }
    }

    /// `template` with each `{role}` written as its symbol (`{x}` as the `backward` pass
    /// names the input when it is one), `{s}` as the layer's superscript and `{param}` as its
    /// parameters' prefix.
    pub(super) fn fill(&self, template: &str, backward: bool) -> String {
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else { break };
            out.push_str(&rest[..open]);
            let role = &rest[open + 1..close];
            match role {
                "param" => out.push_str(&self.param),
                "s" => out.push_str(&sup_key(&self.key)),
                "x" if backward => out.push_str(&self.x_back),
                r => out.push_str(&self.role(r).1),
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// One card of the pass: a layer, or a preset's stage (its head layer and the activation
/// and flatten named after it).
#[derive(Debug)]
pub(super) struct Stage<'p> {
    /// The layers, by position.
    pub(super) layers: std::ops::Range<usize>,
    /// The preset's card and the stage's number and name (`c1`): the derivation's notation.
    pub(super) card: Option<(&'p StageCard, usize, &'p str)>,
}

/// The stages of a network of `specs`: the preset's, when it has stage cards, else one per
/// layer. `None` when a preset's names and cards do not fit its layers (a bug).
pub(super) fn stages<'p>(specs: &[LayerSpec], preset: Option<&'p Preset>) -> Option<Vec<Stage<'p>>> {
    let Some(preset) = preset.filter(|p| !p.cards.is_empty()) else {
        return Some((0..specs.len()).map(|i| Stage { layers: i..i + 1, card: None }).collect());
    };
    if preset.names.len() != specs.len() {
        return None;
    }
    let heads: Vec<usize> = (0..specs.len()).filter(|i| !preset.names[*i].contains('.')).collect();
    if heads.len() != preset.cards.len() || heads.first() != Some(&0) {
        return None;
    }
    let ends = heads.iter().skip(1).copied().chain([specs.len()]);
    heads
        .iter()
        .zip(ends)
        .zip(preset.cards)
        .map(|((&start, end), card)| {
            let name = preset.names[start];
            let n = name.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().ok()?;
            Some(Stage { layers: start..end, card: Some((card, n, name)) })
        })
        .collect()
}
