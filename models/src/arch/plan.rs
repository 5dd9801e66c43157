//! A spec's sizes from its shapes alone, before any weight exists: each layer's output
//! shape, its parameter and buffer counts, and the matrices the derivation builds, all in
//! checked arithmetic, so that a number too large for the machine is an error naming the
//! layer instead of an allocation that aborts. One function per layer kind
//! ([`LayerSpec::plan`] dispatches); the builder ([`super::build_layers`]), the shapes
//! table ([`crate::shapes`]) and the memory estimate ([`crate::memory`]) all read it.
//!
//! Shapes here are one sample's (`[C, H, W]` or `[F]`); a batch of N multiplies them in
//! [`PlannedMatrix::shape_for`], checked too.

use super::{LayerSpec, SpecError};

/// What one layer of a spec is, as far as sizes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPlan {
    /// The output's shape for one sample: `[C, H, W]` or `[F]`.
    pub output: Vec<usize>,
    /// Trainable values (weights and biases).
    pub parameters: usize,
    /// Values kept in the checkpoint that are not trained (batch norm's running statistics
    /// and its batch count).
    pub buffers: usize,
    /// The matrices the derivation shows for the layer, in the order it builds them.
    pub matrices: Vec<PlannedMatrix>,
    /// A convolution's im2col matrix for one image (`oh·ow × C·kh·kw` elements); 0 for
    /// other layers.
    pub im2col_per_image: usize,
}

/// One matrix of a layer, for a batch of any size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMatrix {
    /// What it is, as the shapes table names it (`a = im2col(input)`, `W`, …).
    pub what: &'static str,
    /// Its shape for one sample.
    pub shape: Vec<usize>,
    /// How a batch of N changes the shape.
    pub batched: Batched,
    /// Whether it copies the layer's input (im2col, pooling windows).
    pub copies_input: bool,
}

/// How a batch of N changes a matrix's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batched {
    /// Not at all (a weight).
    No,
    /// N times the rows (one row per output position of each image).
    Rows,
    /// A leading axis of N.
    Axis,
}

impl PlannedMatrix {
    fn new(what: &'static str, shape: Vec<usize>, batched: Batched) -> Self {
        PlannedMatrix { what, shape, batched, copies_input: false }
    }

    /// Its shape for a batch of `n`; `None` when a size overflows a `usize`.
    pub fn shape_for(&self, n: usize) -> Option<Vec<usize>> {
        let mut shape = self.shape.clone();
        match self.batched {
            Batched::No => {}
            Batched::Rows => shape[0] = shape[0].checked_mul(n)?,
            Batched::Axis => shape.insert(0, n),
        }
        numel(&shape)?;
        Some(shape)
    }
}

/// A whole network's plan: the input and each layer with its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPlan {
    /// One sample's input shape `[C, H, W]` (after preprocessing).
    pub input: [usize; 3],
    /// Each layer and its sizes, in order.
    pub layers: Vec<(LayerSpec, LayerPlan)>,
}

impl NetworkPlan {
    /// The output shape of one sample (the input's for a network of no layer).
    pub fn output(&self) -> &[usize] {
        self.layers.last().map_or(&self.input[..], |(_, p)| &p.output)
    }

    /// Trainable values of the whole network (no overflow: each layer's count was checked
    /// against the others when planned).
    pub fn parameters(&self) -> usize {
        self.layers.iter().map(|(_, p)| p.parameters).sum()
    }

    /// Buffer values of the whole network.
    pub fn buffers(&self) -> usize {
        self.layers.iter().map(|(_, p)| p.buffers).sum()
    }
}

/// `∏ shape`, or `None` when it overflows a `usize`.
pub fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// `[N, 16, 5, 5]` for one sample's shape.
pub(super) fn show(sample: &[usize]) -> String {
    let rest: Vec<String> = sample.iter().map(usize::to_string).collect();
    if rest.is_empty() { "[N]".into() } else { format!("[N, {}]", rest.join(", ")) }
}

/// Plans `layers` on inputs of `input = [C, H, W]`: every layer's sizes, then (when given)
/// that the output has one value per class, then that something is trainable. The first
/// error names its layer.
pub fn plan_layers(layers: &[LayerSpec], input: [usize; 3], classes: Option<usize>) -> Result<NetworkPlan, SpecError> {
    let whole = |reason: String| SpecError { position: None, text: String::new(), reason };
    if layers.is_empty() {
        return Err(whole("the spec has no layer".into()));
    }
    if numel(&input).is_none() {
        let [c, h, w] = input;
        return Err(whole(format!("the input {c}×{h}×{w} has more values than this machine can count")));
    }
    let mut planned = Vec::with_capacity(layers.len());
    let (mut shape, mut parameters) = (input.to_vec(), 0usize);
    for (i, spec) in layers.iter().enumerate() {
        let err = |reason: String| SpecError { position: Some(i + 1), text: spec.to_string(), reason };
        let plan = spec.plan(&shape).map_err(err)?;
        parameters = parameters
            .checked_add(plan.parameters)
            .and_then(|p| p.checked_add(plan.buffers))
            .ok_or_else(|| err("the network's parameters are more than this machine can count".into()))?;
        shape = plan.output.clone();
        planned.push((*spec, plan));
    }
    let plan = NetworkPlan { input, layers: planned };
    if let Some(classes) = classes.filter(|&c| shape.len() != 1 || shape[0] < c) {
        let last = layers.len();
        return Err(SpecError {
            position: Some(last),
            text: layers[last - 1].to_string(),
            reason: format!(
                "the network's output is {}, but the data has {classes} classes: end with linear({classes})",
                show(&shape)
            ),
        });
    }
    if plan.parameters() == 0 {
        return Err(whole("the network has no parameter to train: add a conv or linear layer".into()));
    }
    Ok(plan)
}

impl LayerSpec {
    /// This layer's sizes on an input of one sample's shape `input`, or what is wrong.
    pub fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        self.check()?;
        match *self {
            LayerSpec::Conv { out, kernel, stride, padding } => conv(input, out, kernel, stride, padding),
            LayerSpec::MaxPool { kernel, stride, padding } => pool("maxpool", input, kernel, stride, padding),
            LayerSpec::AvgPool { kernel, stride, padding } => pool("avgpool", input, kernel, stride, padding),
            LayerSpec::Linear { out } => linear(input, out),
            LayerSpec::BatchNorm => batch_norm(input),
            LayerSpec::Flatten => flatten(input),
            LayerSpec::Relu
            | LayerSpec::Tanh
            | LayerSpec::Sigmoid
            | LayerSpec::Dropout { .. }
            | LayerSpec::LeakyRelu { .. } => Ok(element_wise(input)),
        }
    }
}

impl LayerSpec {
    /// What can be told of the layer without an input: sizes, kernels and strides of at
    /// least 1, a pooling padding of at most half its window, a drop probability in
    /// [0, 1], a slope that is a finite `f32` (the element type training uses: 1e39 is
    /// infinite there).
    pub fn check(&self) -> Result<(), String> {
        match *self {
            LayerSpec::Conv { out, kernel, stride, .. } if out == 0 || kernel == 0 || stride == 0 => {
                Err("sizes, kernels and strides must be at least 1".into())
            }
            LayerSpec::MaxPool { kernel, stride, .. } | LayerSpec::AvgPool { kernel, stride, .. }
                if kernel == 0 || stride == 0 =>
            {
                Err("sizes, kernels and strides must be at least 1".into())
            }
            LayerSpec::MaxPool { kernel, padding, .. } | LayerSpec::AvgPool { kernel, padding, .. }
                if padding > kernel / 2 =>
            {
                Err(format!("the padding {padding} exceeds half the kernel {kernel}"))
            }
            LayerSpec::Linear { out: 0 } => Err("sizes, kernels and strides must be at least 1".into()),
            LayerSpec::Dropout { p } if !(0.0..=1.0).contains(&p) => {
                Err(format!("the drop probability {p} is outside [0, 1]"))
            }
            LayerSpec::LeakyRelu { slope } if !(slope as f32).is_finite() => {
                Err(format!("the slope {slope:e} is not a finite 32-bit float (at most ±{:e})", f32::MAX))
            }
            _ => Ok(()),
        }
    }
}

fn too_large(what: &str) -> String {
    format!("{what} has more values than this machine can count")
}

/// `[C, H, W]` of a 4-D input, or the error a layer needing one gives.
fn image(kind: &str, input: &[usize]) -> Result<[usize; 3], String> {
    match *input {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(format!("{kind} needs a 4-D input [N, C, H, W], got {}", show(input))),
    }
}

/// The output side of a window of `kernel`, `stride`, `padding` over `size`:
/// `⌊(size + 2·padding − kernel) / stride⌋ + 1`.
fn window_side(input: &[usize], size: usize, kernel: usize, stride: usize, padding: usize) -> Result<usize, String> {
    let padded = padding
        .checked_mul(2)
        .and_then(|p| size.checked_add(p))
        .ok_or_else(|| format!("the padding {padding} makes the input {} too large to count", show(input)))?;
    if padded < kernel {
        return Err(format!(
            "does not fit its input {}: the kernel {kernel} is larger than {size} padded by {padding} on each side",
            show(input)
        ));
    }
    Ok((padded - kernel) / stride + 1)
}

/// `conv(OUT,K,s=S,p=P)`: `[C, H, W] → [OUT, oh, ow]`, `OUT·C·K² + OUT` parameters; the
/// derivation's `a = im2col(x)` (`N·oh·ow × C·K²`), `W` (`C·K² × OUT`), `z = a·W + b`.
fn conv(input: &[usize], out: usize, kernel: usize, stride: usize, padding: usize) -> Result<LayerPlan, String> {
    let [c, h, w] = image("conv", input)?;
    let (oh, ow) = (window_side(input, h, kernel, stride, padding)?, window_side(input, w, kernel, stride, padding)?);
    let taps = numel(&[c, kernel, kernel])
        .ok_or_else(|| too_large(&format!("a {kernel}×{kernel} kernel over {c} channels")))?;
    let positions = oh.checked_mul(ow).ok_or_else(|| too_large(&format!("the {oh}×{ow} output")))?;
    let parameters = taps.checked_mul(out).and_then(|w| w.checked_add(out)).ok_or_else(|| too_large("the weight"))?;
    let output = vec![out, oh, ow];
    numel(&output).ok_or_else(|| too_large(&format!("the output {}", show(&output))))?;
    let im2col_per_image = positions.checked_mul(taps).ok_or_else(|| too_large("one image's im2col matrix"))?;
    let im2col = PlannedMatrix {
        copies_input: true,
        ..PlannedMatrix::new("a = im2col(input)", vec![positions, taps], Batched::Rows)
    };
    Ok(LayerPlan {
        output,
        parameters,
        buffers: 0,
        matrices: vec![
            im2col,
            PlannedMatrix::new("W", vec![taps, out], Batched::No),
            PlannedMatrix::new("z = a·W + b", vec![positions, out], Batched::Rows),
        ],
        im2col_per_image,
    })
}

/// `maxpool(K,s=S,p=P)` and `avgpool(…)`: `[C, H, W] → [C, oh, ow]`, padding at most half
/// the window (every window holds an input value); a max-pool shows its window matrix
/// (`N·C·oh·ow × K²`) and the maximum of each row.
fn pool(kind: &str, input: &[usize], kernel: usize, stride: usize, padding: usize) -> Result<LayerPlan, String> {
    let [c, h, w] = image(kind, input)?;
    let (oh, ow) = (window_side(input, h, kernel, stride, padding)?, window_side(input, w, kernel, stride, padding)?);
    let output = vec![c, oh, ow];
    let windows = numel(&output).ok_or_else(|| too_large(&format!("the output {}", show(&output))))?;
    let area = kernel.checked_mul(kernel).ok_or_else(|| too_large(&format!("a {kernel}×{kernel} window")))?;
    windows.checked_mul(area).ok_or_else(|| too_large("one image's window matrix"))?;
    let matrices = if kind == "maxpool" {
        vec![
            PlannedMatrix { copies_input: true, ..PlannedMatrix::new("windows", vec![windows, area], Batched::Rows) },
            PlannedMatrix::new("max of each row", output.clone(), Batched::Axis),
        ]
    } else {
        Vec::new()
    };
    Ok(LayerPlan { output, parameters: 0, buffers: 0, matrices, im2col_per_image: 0 })
}

/// `linear(OUT)`: `[F] → [OUT]`, `F·OUT + OUT` parameters; `W` (`F × OUT`) and
/// `z = a·W + b`.
fn linear(input: &[usize], out: usize) -> Result<LayerPlan, String> {
    let &[features] = input else {
        return Err(format!("linear needs a 2-D input [N, F], got {} (put flatten before it)", show(input)));
    };
    let parameters = features
        .checked_mul(out)
        .and_then(|w| w.checked_add(out))
        .ok_or_else(|| too_large(&format!("the {features}×{out} weight")))?;
    Ok(LayerPlan {
        output: vec![out],
        parameters,
        buffers: 0,
        matrices: vec![
            PlannedMatrix::new("W", vec![features, out], Batched::No),
            PlannedMatrix::new("z = a·W + b", vec![out], Batched::Axis),
        ],
        im2col_per_image: 0,
    })
}

/// `batchnorm`: the shape unchanged; a scale and a shift per channel, and the running mean
/// and variance per channel plus the batch count as buffers.
fn batch_norm(input: &[usize]) -> Result<LayerPlan, String> {
    let channels = match *input {
        [c] | [c, _, _] => c,
        _ => return Err(format!("batchnorm needs a 2-D [N, C] or 4-D [N, C, H, W] input, got {}", show(input))),
    };
    let parameters = channels.checked_mul(2).ok_or_else(|| too_large("its scale and shift"))?;
    let buffers = parameters.checked_add(1).ok_or_else(|| too_large("its running statistics"))?;
    Ok(LayerPlan { output: input.to_vec(), parameters, buffers, matrices: Vec::new(), im2col_per_image: 0 })
}

/// `flatten`: `[C, H, W] → [C·H·W]` (the caller checked the product).
fn flatten(input: &[usize]) -> Result<LayerPlan, String> {
    let features = numel(input).ok_or_else(|| too_large(&format!("the input {}", show(input))))?;
    Ok(LayerPlan { output: vec![features], ..element_wise(input) })
}

/// An element-wise layer: the shape unchanged, nothing to train.
fn element_wise(input: &[usize]) -> LayerPlan {
    LayerPlan { output: input.to_vec(), parameters: 0, buffers: 0, matrices: Vec::new(), im2col_per_image: 0 }
}
