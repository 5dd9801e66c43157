//! The table of LeNet-5's shapes for a batch of N: each layer's output, and each matrix the
//! derivation builds (im2col inputs, weights, products, pooling windows), with its bytes.
//!
//! The im2col matrices are where the method pays in memory: every input value is copied
//! into one row per window that covers it (up to kh·kw rows), so `a⁽⁰⁾` of C1 holds
//! 25·784/1024 ≈ 19 times the pixels of the images it came from.

use crate::lenet5::LeNet5;

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
/// and output. Layers are named by their index, as in the checkpoint.
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

/// The table for a batch of `n` images of 1×32×32.
pub fn table(model: &LeNet5<f32>, n: usize) -> layers::Result<Vec<ShapeRow>> {
    let mut rows = Vec::new();
    let mut shape = vec![n, 1, 32, 32];
    rows.push(row("input", "x".into(), shape.clone(), None));
    for (name, stage) in model.stages() {
        // The derivation numbers layers C1 = 1 … F7 = 7; layer L reads a⁽ᴸ⁻¹⁾.
        let l = name[1..].parse::<usize>().unwrap_or(0);
        let (prev, this) = (sup(l.saturating_sub(1)), sup(l));
        let out = stage.output_shape(&shape)?;
        let numel: usize = shape.iter().product();
        match name {
            "C1" | "C3" | "C5" => {
                let conv = match name {
                    "C1" => &model.c1,
                    "C3" => &model.c3,
                    _ => &model.c5,
                };
                let w = conv.weight.shape();
                let (f, taps) = (w[0], w[1] * w[2] * w[3]);
                let positions = out[0] * out[2] * out[3];
                rows.push(row(name, format!("a{prev} = im2col(input)"), vec![positions, taps], Some(numel * F32)));
                rows.push(row(name, format!("W{this}"), vec![taps, f], None));
                rows.push(row(name, format!("z{this} = a{prev}·W{this} + b{this}"), vec![positions, f], None));
                rows.push(row(name, "output, N×C×H×W".into(), out.clone(), None));
            }
            "S2" | "S4" => {
                let window = model.pool.window();
                let windows = out.iter().product::<usize>();
                rows.push(row(
                    name,
                    format!("a{prev} windows"),
                    vec![windows, window.kernel_area()],
                    Some(numel * F32),
                ));
                rows.push(row(name, format!("z{this} = max of each row"), out.clone(), None));
            }
            "F6" | "F7" => {
                let lin = if name == "F6" { &model.f6 } else { &model.f7 };
                let w = lin.weight.shape();
                rows.push(row(name, format!("W{this}"), vec![w[1], w[0]], None));
                rows.push(row(name, format!("z{this} = a{prev}·W{this} + b{this}"), out.clone(), None));
            }
            _ => {}
        }
        shape = out;
    }
    Ok(rows)
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
