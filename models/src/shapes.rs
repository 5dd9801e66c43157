//! The table of a network's shapes for a batch of N: each layer's output, and each matrix
//! the derivation builds (im2col inputs, weights, products, pooling windows), with its
//! bytes, computed from shapes alone ([`crate::arch::plan`]).
//!
//! The im2col matrices are where the method pays in memory: every input value is copied
//! into one row per window that covers it (up to kh·kw rows), so `a⁽⁰⁾` of C1 holds
//! 25·784/1024 ≈ 19 times the pixels of the images it came from.

use crate::arch::plan::numel;
use crate::arch::{Arch, LENET5, NetworkPlan, Preset, SpecError};
use crate::notation::sup;

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

/// The table of a planned network ([`Arch::plan`]) for a batch of `n`, from shapes alone
/// (no weight is built): the input, then each layer's matrices and its output, layers
/// named by their index as in the checkpoint and described as the spec writes them, or, for
/// a preset, in the derivation's notation (`C1`, `a⁽⁰⁾ = im2col(input)`, …). An error names the layer
/// whose sizes at this batch overflow a `usize`.
pub fn plan_table(plan: &NetworkPlan, n: usize) -> Result<Vec<ShapeRow>, SpecError> {
    let input = checked_row("input", "x".into(), batched(&plan.input, n), None)
        .ok_or_else(|| SpecError::whole(format!("a batch of {n} inputs has more bytes than this machine can count")))?;
    let mut input_bytes = input.bytes;
    let mut rows = vec![input];
    for (i, (spec, layer)) in plan.layers.iter().enumerate() {
        let name = i.to_string();
        let fail = |what: &str| {
            SpecError::at(
                i + 1,
                spec,
                format!("its {what} for a batch of {n} has more bytes than this machine can count"),
            )
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
    match plan.preset {
        Some(preset) => Ok(derivation_rows(plan, preset, rows)),
        None => Ok(rows),
    }
}

/// LeNet-5's table for a batch of `n` images of 1×32×32 ([`plan_table`] of the preset).
pub fn table(n: usize) -> Result<Vec<ShapeRow>, SpecError> {
    plan_table(&Arch::lenet5().plan(LENET5.input, None)?, n)
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

/// The rows of a preset's table in the derivation's notation: a layer named `c3` is `C3`,
/// numbered 3, and reads `a⁽²⁾` (`a⁽⁰⁾ = im2col(input)`, `W⁽¹⁾`, `z⁽¹⁾ = a⁽⁰⁾·W⁽¹⁾ + b⁽¹⁾`,
/// …); the layers it folds in (`c3.relu`, named after it) have no rows, and an output row is
/// kept for a convolution only (a pool's and a linear layer's outputs are their last
/// matrices).
fn derivation_rows(plan: &NetworkPlan, preset: &Preset, rows: Vec<ShapeRow>) -> Vec<ShapeRow> {
    let mut out = vec![rows[0].clone()];
    let mut rows = rows.into_iter().skip(1);
    for (i, (_, layer)) in plan.layers.iter().enumerate() {
        let name = preset.names.get(i).copied().unwrap_or_default();
        let own = !name.contains('.');
        let l = name.get(1..).and_then(|d| d.parse::<usize>().ok()).unwrap_or(0);
        let (prev, this) = (sup(l.saturating_sub(1)), sup(l));
        let label = |what: &str| match what {
            "a = im2col(input)" => format!("a{prev} = im2col(input)"),
            "W" => format!("W{this}"),
            "z = a·W + b" => format!("z{this} = a{prev}·W{this} + b{this}"),
            "z = a·W" => format!("z{this} = a{prev}·W{this}"),
            "windows" => format!("a{prev} windows"),
            "max of each row" => format!("z{this} = max of each row"),
            other => other.to_string(),
        };
        for m in &layer.matrices {
            let Some(mut r) = rows.next() else { break };
            r.layer = name.to_uppercase();
            r.what = label(m.what);
            out.extend(own.then_some(r));
        }
        let Some(mut r) = rows.next() else { break };
        if own && layer.im2col_per_image > 0 {
            r.layer = name.to_uppercase();
            r.what = "output, N×C×H×W".into();
            out.push(r);
        }
    }
    out
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
