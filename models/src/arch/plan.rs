//! A spec's sizes from its shapes alone, before any weight exists: each layer's output
//! shape, its parameter and buffer counts, and the matrices the derivation builds, all in
//! checked arithmetic, so that a number too large for the machine is an error naming the
//! layer instead of an allocation that aborts. Each kind plans its own layers
//! ([`Kind::plan`](super::Kind::plan), in its file of [`super::kinds`], with the helpers
//! here); the builder ([`super::build_layers`]), the shapes
//! table ([`crate::shapes`]) and the memory estimate ([`crate::memory`]) all read it.
//!
//! Shapes here are one sample's (`[C, H, W]` or `[F]`); a batch of N multiplies them in
//! [`PlannedMatrix::shape_for`], checked too.

use super::{LayerSpec, Preset, SpecError};

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
    /// Values per sample of the outputs inside the layer, kept for the backward pass like
    /// the layer's own output: a residual block's inner layers (0 for a single layer).
    pub inner: usize,
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
    /// A matrix that does not copy the layer's input.
    pub fn new(what: &'static str, shape: Vec<usize>, batched: Batched) -> Self {
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
    /// The preset the layers are, whose names the shapes table writes (none: layers named
    /// by their positions).
    pub preset: Option<&'static Preset>,
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
pub fn show(sample: &[usize]) -> String {
    let rest: Vec<String> = sample.iter().map(usize::to_string).collect();
    if rest.is_empty() { "[N]".into() } else { format!("[N, {}]", rest.join(", ")) }
}

/// Plans `layers` on inputs of `input = [C, H, W]`: every layer's sizes, then (when given)
/// that the output has one value per class, then that something is trainable. The first
/// error names its layer.
pub fn plan_layers(layers: &[LayerSpec], input: [usize; 3], classes: Option<usize>) -> Result<NetworkPlan, SpecError> {
    if layers.is_empty() {
        return Err(SpecError::whole("the spec has no layer"));
    }
    let [c, h, w] = input;
    if numel(&input).is_none() {
        return Err(SpecError::whole(format!("the input {c}×{h}×{w} has more values than this machine can count")));
    }
    if input.contains(&0) {
        return Err(SpecError::whole(format!("the input {c}×{h}×{w} has no values (every size must be at least 1)")));
    }
    let mut planned = Vec::with_capacity(layers.len());
    let (mut shape, mut parameters) = (input.to_vec(), 0usize);
    for (i, spec) in layers.iter().enumerate() {
        let err = |reason: String| SpecError::at(i + 1, spec, reason);
        let plan = spec.plan(&shape).map_err(err)?;
        parameters = parameters
            .checked_add(plan.parameters)
            .and_then(|p| p.checked_add(plan.buffers))
            .ok_or_else(|| err("the network's parameters are more than this machine can count".into()))?;
        shape = plan.output.clone();
        planned.push((spec.clone(), plan));
    }
    let plan = NetworkPlan { input, layers: planned, preset: None };
    if let Some(classes) = classes.filter(|&c| shape.len() != 1 || shape[0] < c) {
        let last = layers.len();
        return Err(SpecError::at(
            last,
            &layers[last - 1],
            format!(
                "the network's output is {}, but the data has {classes} classes: end with linear({classes})",
                show(&shape)
            ),
        ));
    }
    if plan.parameters() == 0 {
        return Err(SpecError::whole("the network has no parameter to train: add a conv or linear layer"));
    }
    Ok(plan)
}

/// `what has more values than this machine can count`: the error of a size that overflows.
pub fn too_large(what: &str) -> String {
    format!("{what} has more values than this machine can count")
}

/// `[C, H, W]` of a 4-D input, or the error a layer `kind` needing one gives.
pub fn image(kind: &str, input: &[usize]) -> Result<[usize; 3], String> {
    match *input {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(format!("{kind} needs a 4-D input [N, C, H, W], got {}", show(input))),
    }
}

impl LayerPlan {
    /// An element-wise layer's plan: the shape unchanged, nothing to train, no matrix.
    pub fn element_wise(input: &[usize]) -> Self {
        LayerPlan {
            output: input.to_vec(),
            parameters: 0,
            buffers: 0,
            matrices: Vec::new(),
            im2col_per_image: 0,
            inner: 0,
        }
    }
}
