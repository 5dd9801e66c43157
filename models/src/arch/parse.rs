//! Parsing a spec: tokens at whitespace outside parentheses, each a layer with positional
//! and named arguments; unknown names get a "did you mean".

use std::str::FromStr;

use layers::LeakyReLU;

use super::{Arch, LENET5_1998, LayerSpec, SpecError};

const NAMES: [&str; 13] = [
    "conv",
    "maxpool",
    "relu",
    "flatten",
    "linear",
    "batchnorm",
    "dropout",
    "avgpool",
    "tanh",
    "sigmoid",
    "leakyrelu",
    "lenet5",
    "lenet5-1998",
];

impl FromStr for Arch {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let tokens = tokens(spec)?;
        if tokens.is_empty() {
            return Err(SpecError { position: None, text: String::new(), reason: "the spec has no layer".into() });
        }
        if tokens.len() == 1 && tokens[0] == "lenet5" {
            return Ok(Arch::LeNet5);
        }
        if tokens.len() == 1 && tokens[0] == "lenet5-1998" {
            return LENET5_1998.parse();
        }
        let layers = tokens.iter().enumerate().map(|(i, t)| parse_layer(i + 1, t)).collect::<Result<_, _>>()?;
        Ok(Arch::Layers(layers))
    }
}

/// Splits a spec at whitespace outside parentheses.
fn tokens(spec: &str) -> Result<Vec<String>, SpecError> {
    let (mut out, mut current, mut depth) = (Vec::new(), String::new(), 0i32);
    for ch in spec.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            let position = Some(out.len() + 1);
            return Err(SpecError { position, text: format!("{current})"), reason: "a ')' without its '('".into() });
        }
        if ch.is_whitespace() && depth == 0 {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else if !(ch.is_whitespace() && depth > 0) {
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

fn parse_layer(position: usize, token: &str) -> Result<LayerSpec, SpecError> {
    let err = |reason: String| SpecError { position: Some(position), text: token.to_string(), reason };
    let (name, args) = match token.split_once('(') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix(')').ok_or_else(|| err("text after the closing ')'".into()))?;
            (name, Some(inner))
        }
        None => (token, None),
    };
    let (positional, named) = match args {
        Some(inner) => arguments(inner).map_err(&err)?,
        None => (Vec::new(), Vec::new()),
    };
    let expect = |usage: &str, min: usize, max: usize, keys: &[&str]| -> Result<(), SpecError> {
        if args.is_some() && max == 0 {
            return Err(err(format!("{name} takes no arguments (expected {usage})")));
        }
        if positional.len() < min || positional.len() > max || args.is_none() && min > 0 {
            return Err(err(format!("expected {usage}")));
        }
        if let Some((k, _)) = named.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
            return Err(err(format!("unknown argument {k:?} (expected {usage})")));
        }
        Ok(())
    };
    let key = |k: &str| named.iter().rev().find(|(n, _)| n == k).map(|(_, v)| *v);
    let whole = |i: usize| whole_number(&positional[i]).map_err(&err);
    let fraction = |i: usize| -> Result<f64, SpecError> {
        let v = &positional[i];
        v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| err(format!("{v:?} is not a number")))
    };
    let layer = match name {
        "conv" => {
            expect("conv(OUT,K[,s=S][,p=P])", 2, 2, &["s", "p"])?;
            LayerSpec::Conv {
                out: whole(0)?,
                kernel: whole(1)?,
                stride: key("s").unwrap_or(1),
                padding: key("p").unwrap_or(0),
            }
        }
        "maxpool" | "avgpool" => {
            expect(&format!("{name}(K[,s=S][,p=P])"), 1, 1, &["s", "p"])?;
            let kernel = whole(0)?;
            let (stride, padding) = (key("s").unwrap_or(kernel), key("p").unwrap_or(0));
            if name == "maxpool" {
                LayerSpec::MaxPool { kernel, stride, padding }
            } else {
                LayerSpec::AvgPool { kernel, stride, padding }
            }
        }
        "batchnorm" => {
            expect("batchnorm", 0, 0, &[])?;
            LayerSpec::BatchNorm
        }
        "dropout" => {
            expect("dropout(P) with P in [0, 1]", 1, 1, &[])?;
            LayerSpec::Dropout { p: fraction(0)? }
        }
        "tanh" => {
            expect("tanh", 0, 0, &[])?;
            LayerSpec::Tanh
        }
        "sigmoid" => {
            expect("sigmoid", 0, 0, &[])?;
            LayerSpec::Sigmoid
        }
        "leakyrelu" => {
            expect("leakyrelu or leakyrelu(SLOPE)", 0, 1, &[])?;
            let slope = if positional.is_empty() { LeakyReLU::DEFAULT_SLOPE } else { fraction(0)? };
            LayerSpec::LeakyRelu { slope }
        }
        "relu" => {
            expect("relu", 0, 0, &[])?;
            LayerSpec::Relu
        }
        "flatten" => {
            expect("flatten", 0, 0, &[])?;
            LayerSpec::Flatten
        }
        "linear" => {
            expect("linear(OUT)", 1, 1, &[])?;
            LayerSpec::Linear { out: whole(0)? }
        }
        "lenet5" | "lenet5-1998" => {
            return Err(err(format!("the preset {name} stands alone: it is the whole network")));
        }
        other => {
            let near = NAMES.iter().min_by_key(|n| edit_distance(n, other)).filter(|n| edit_distance(n, other) <= 2);
            let hint = near.map(|n| format!("; did you mean {n}?")).unwrap_or_default();
            return Err(err(format!("unknown layer {other:?} (layers: {}){hint}", NAMES.join(", "))));
        }
    };
    layer.check().map_err(err)?;
    Ok(layer)
}

/// Positional arguments of a layer (as written: whole numbers or, for `dropout` and
/// `leakyrelu`, decimals) and named ones (whole numbers).
type Arguments = (Vec<String>, Vec<(String, usize)>);

/// `v` as a whole number, or an error saying it is not one.
fn whole_number(v: &str) -> Result<usize, String> {
    v.trim().parse::<usize>().map_err(|_| format!("{v:?} is not a whole number"))
}

/// `"16, 3, s=2"` → `(["16", "3"], [("s", 2)])`.
fn arguments(inner: &str) -> Result<Arguments, String> {
    let (mut positional, mut named) = (Vec::new(), Vec::new());
    for item in inner.split(',').map(str::trim) {
        match item.split_once('=') {
            Some((k, v)) => named.push((k.trim().to_string(), whole_number(v)?)),
            None if !named.is_empty() => return Err(format!("{item:?}: positional arguments come first")),
            None if item.is_empty() => return Err("an empty argument".into()),
            None => positional.push(item.to_string()),
        }
    }
    Ok((positional, named))
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
