//! The table of a network's shapes for a batch of N: each layer's output, and each matrix
//! the derivation builds (im2col inputs, weights, products, pooling windows), with its
//! bytes, computed from shapes alone ([`crate::arch::plan`]).
//!
//! The im2col matrices are where the method pays in memory: every input value is copied
//! into one row per window that covers it (up to kh·kw rows), so `a⁽⁰⁾` of C1 holds
//! 25·784/1024 ≈ 19 times the pixels of the images it came from.

use crate::arch::plan::numel;
use crate::arch::{Arch, LayerSpec, NetworkPlan, SpecError};

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeRow {
    /// The layer (C1, S2, … for LeNet-5; the position and module for a spec).
    pub layer: String,
    /// What the row shows (e.g. `a⁽⁰⁾ = im2col(x)`).
    pub what: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its size in bytes (f32).
    pub bytes: usize,
    /// For an im2col or window matrix, the bytes of the tensor it was built from.
    pub source_bytes: Option<usize>,
}

const F32: usize = std::mem::size_of::<f32>();

fn row(layer: &str, what: String, shape: Vec<usize>, source_bytes: Option<usize>) -> ShapeRow {
    let bytes = shape.iter().product::<usize>() * F32;
    ShapeRow { layer: layer.to_string(), what, shape, bytes, source_bytes }
}

/// The table of a [`Sequential`](layers::Sequential) for a batch of `n` inputs of `input =
/// [C, H, W]`: each layer's matrices ([`MatrixForm`](layers::MatrixForm))
/// and output. Layers are named by their index, as in the checkpoint. (A network described
/// by a spec has its table from shapes alone: [`plan_table`].)
pub fn sequential_table(net: &layers::Sequential<f32>, input: [usize; 3], n: usize) -> layers::Result<Vec<ShapeRow>> {
    let mut shape = vec![n, input[0], input[1], input[2]];
    let mut rows = vec![row("input", "x".into(), shape.clone(), None)];
    for (name, layer) in net.named_layers() {
        let out = layer.output_shape(&shape)?;
        let numel: usize = shape.iter().product();
        for (what, matrix) in layer.matrix_shapes(&shape) {
            let copied = (what.contains("im2col") || what == "windows").then_some(numel * F32);
            rows.push(row(name, what, matrix, copied));
        }
        rows.push(row(name, format!("output of {}", layer.describe()), out.clone(), None));
        shape = out;
    }
    Ok(rows)
}

/// The table of a planned network ([`Arch::plan`]) for a batch of `n`, from shapes alone
/// (no weight is built): the input, then each layer's matrices and its output, layers
/// named by their index as in the checkpoint and described as the spec writes them. An
/// error names the layer whose sizes at this batch overflow a `usize`.
pub fn plan_table(plan: &NetworkPlan, n: usize) -> Result<Vec<ShapeRow>, SpecError> {
    let input = checked_row("input", "x".into(), batched(&plan.input, n), None).ok_or_else(|| SpecError {
        position: None,
        text: String::new(),
        reason: format!("a batch of {n} inputs has more bytes than this machine can count"),
    })?;
    let mut input_bytes = input.bytes;
    let mut rows = vec![input];
    for (i, (spec, layer)) in plan.layers.iter().enumerate() {
        let name = i.to_string();
        let fail = |what: &str| SpecError {
            position: Some(i + 1),
            text: spec.to_string(),
            reason: format!("its {what} for a batch of {n} has more bytes than this machine can count"),
        };
        for m in &layer.matrices {
            let source = m.copies_input.then_some(input_bytes);
            rows.push(checked_row(&name, m.what.into(), m.shape_for(n), source).ok_or_else(|| fail(m.what))?);
        }
        let out = checked_row(&name, format!("output of {spec}"), batched(&layer.output, n), None)
            .ok_or_else(|| fail("output"))?;
        input_bytes = out.bytes;
        rows.push(out);
    }
    Ok(rows)
}

/// `[n, sample…]`, or `None` when its size overflows.
fn batched(sample: &[usize], n: usize) -> Option<Vec<usize>> {
    let shape = [&[n][..], sample].concat();
    numel(&shape)?;
    Some(shape)
}

/// A row whose bytes are counted without overflow, or `None`.
fn checked_row(layer: &str, what: String, shape: Option<Vec<usize>>, source_bytes: Option<usize>) -> Option<ShapeRow> {
    let shape = shape?;
    let bytes = numel(&shape)?.checked_mul(F32)?;
    Some(ShapeRow { layer: layer.to_string(), what, shape, bytes, source_bytes })
}

/// The names of LeNet-5's layers in the derivation, in the order of
/// [`LENET5_LAYERS`](crate::arch::LENET5_LAYERS).
const LENET5_NAMES: [&str; 12] = ["C1", "relu", "S2", "C3", "relu", "S4", "C5", "relu", "flatten", "F6", "relu", "F7"];

/// The table of LeNet-5 for a batch of `n` images of 1×32×32, with the derivation's names
/// (`a⁽⁰⁾ = im2col(input)`, `W⁽¹⁾`, …), from shapes alone.
pub fn table(n: usize) -> Result<Vec<ShapeRow>, SpecError> {
    let plan = Arch::LeNet5.plan([1, 32, 32], None)?;
    let rows = plan_table(&plan, n)?;
    let mut out = vec![rows[0].clone()];
    let mut rows = rows.into_iter().skip(1).peekable();
    for ((spec, layer), name) in plan.layers.iter().zip(LENET5_NAMES) {
        // The derivation numbers layers C1 = 1 … F7 = 7; layer L reads a⁽ᴸ⁻¹⁾.
        let l = name[1..].parse::<usize>().unwrap_or(0);
        let (prev, this) = (sup(l.saturating_sub(1)), sup(l));
        let labels: Vec<String> = match spec {
            LayerSpec::Conv { .. } => vec![
                format!("a{prev} = im2col(input)"),
                format!("W{this}"),
                format!("z{this} = a{prev}·W{this} + b{this}"),
                "output, N×C×H×W".into(),
            ],
            LayerSpec::MaxPool { .. } => vec![format!("a{prev} windows"), format!("z{this} = max of each row")],
            LayerSpec::Linear { .. } => vec![format!("W{this}"), format!("z{this} = a{prev}·W{this} + b{this}")],
            _ => Vec::new(),
        };
        // Each layer's rows: its matrices, then its output (shown for a convolution only:
        // a pool's and a linear layer's outputs are their last matrices).
        for i in 0..=layer.matrices.len() {
            let Some(mut r) = rows.next() else { break };
            if let Some(label) = labels.get(i) {
                r.layer = name.to_string();
                r.what = label.clone();
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// `⁽ⁿ⁾` for a layer number.
fn sup(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = n.to_string().chars().map(|c| DIGITS[c.to_digit(10).unwrap_or(0) as usize]).collect();
    format!("⁽{digits}⁾")
}

/// The table as aligned text.
pub fn render(rows: &[ShapeRow]) -> String {
    let width = rows.iter().map(|r| r.what.chars().count()).max().unwrap_or(0).max(24);
    let mut out =
        format!("{:<6} {:<width$} {:<18} {:>12} {:>12}\n", "layer", "matrix", "shape", "bytes", "copied from");
    for r in rows {
        let shape = r.shape.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
        let source = r.source_bytes.map(|b| b.to_string()).unwrap_or_default();
        out.push_str(&format!("{:<6} {:<width$} {:<18} {:>12} {:>12}\n", r.layer, r.what, shape, r.bytes, source));
    }
    out
}
