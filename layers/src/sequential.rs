//! A chain of modules, each feeding the next; parameters named `0.weight`, `1.bias`, … as
//! in PyTorch's `nn.Sequential`, or by the names given with [`Sequential::with_named`].
//! [`Sequential::input`] builds one from the shape of a sample, each layer sized by the one
//! before ([`crate::build`]).

use std::fmt;

use autograd::Var;
use tensor::{Dense, Element, SecondConv};

use crate::error::{LayerError, Result};
use crate::module::Module;
use crate::parts::{Part, PartMut};

/// Modules applied in order. Shareable across threads, like every [`Module`].
pub struct Sequential<T> {
    layers: Vec<(String, Box<dyn Module<T>>)>,
}

impl<T: Element> Default for Sequential<T> {
    fn default() -> Self {
        Sequential { layers: Vec::new() }
    }
}

impl<T: Element> Sequential<T> {
    /// An empty chain.
    pub fn new() -> Self {
        Sequential::default()
    }

    /// Appends a module named by its index, as `nn.Sequential` names it (builder style).
    pub fn with(mut self, layer: impl Module<T> + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Appends a module under `name` (builder style), as an `nn.Sequential` built from an
    /// `OrderedDict` names it; its parameters are `name.weight`, ….
    pub fn with_named(mut self, name: &str, layer: impl Module<T> + 'static) -> Self {
        self.layers.push((name.to_string(), Box::new(layer)));
        self
    }

    /// Appends a boxed module under `name`.
    pub fn push_named(&mut self, name: &str, layer: Box<dyn Module<T>>) {
        self.layers.push((name.to_string(), layer));
    }

    /// Appends a module named by its index.
    pub fn push(&mut self, layer: impl Module<T> + 'static) {
        self.push_boxed(Box::new(layer));
    }

    /// Appends a boxed module named by its index.
    pub fn push_boxed(&mut self, layer: Box<dyn Module<T>>) {
        self.layers.push((self.layers.len().to_string(), layer));
    }

    /// The modules.
    pub fn layers(&self) -> impl ExactSizeIterator<Item = &dyn Module<T>> + '_ {
        self.layers.iter().map(|(_, l)| l.as_ref())
    }

    /// The modules with their names.
    pub fn named_layers(&self) -> impl ExactSizeIterator<Item = (&str, &dyn Module<T>)> + '_ {
        self.layers.iter().map(|(n, l)| (n.as_str(), l.as_ref()))
    }

    /// The module named `name` (e.g. `"0"`), if any.
    pub fn get(&self, name: &str) -> Option<&dyn Module<T>> {
        self.layers.iter().find(|(n, _)| n == name).map(|(_, l)| l.as_ref())
    }

    /// The chain and its modules (its `Debug` text), e.g. `Sequential[Linear(4→2), ReLU]`.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The output shape after each module, for an input shape. The error names the
    /// module's position and description.
    pub fn shapes(&self, input: &[usize]) -> Result<Vec<Vec<usize>>> {
        let mut shape = input.to_vec();
        let mut out = Vec::with_capacity(self.layers.len());
        for (name, layer) in &self.layers {
            shape = layer.output_shape(&shape).map_err(|e| at_layer(name, e))?;
            out.push(shape.clone());
        }
        Ok(out)
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        forward_chain(self.named_layers(), x)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(self.shapes(input)?.pop().unwrap_or_else(|| input.to_vec()))
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(Part<'a, T>)) {
        for (name, layer) in &self.layers {
            f(Part::Child(name, layer.as_ref()));
        }
    }

    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(PartMut<'a, T>)) {
        for (name, layer) in &mut self.layers {
            f(PartMut::Child(name, layer.as_mut()));
        }
    }
}

/// `Sequential[Conv2d(…), ReLU, …]`.
impl<T> fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner: Vec<String> = self.layers.iter().map(|(_, l)| format!("{l:?}")).collect();
        write!(f, "Sequential[{}]", inner.join(", "))
    }
}

/// Runs `layers` in order from `x`. A layer followed by an activation layer applies it in
/// its own output pass when it can ([`Fuse`](crate::Fuse): for a convolution one op, and
/// no pre-activation tensor kept), with the same numbers as running both. When nothing is
/// recorded for gradients (inference), a convolution followed by batch norm in evaluation
/// (and an activation) is one convolution with the normalisation folded into its weights
/// ([`FoldAffine`](crate::FoldAffine)), equal to the three passes up to rounding; a
/// convolution after it (and its own batch norm and activation) is computed from the
/// convolution's output block ([`TakeConv`](crate::TakeConv)), the same values as the two
/// convolutions up to rounding (the same bits for a 1×1 convolution); and a max or average
/// pooling after the convolution (and those) is done in the output pass
/// ([`FusePool`](crate::FusePool)), the same values as the pooling op after it.
/// Each intermediate value is [released](Var::release) once the next layer has read it, so
/// the pass holds only what the backward pass needs (in inference, only the values in
/// flight); the chain's input and output stay readable. A shape error names the layer.
pub fn forward_chain<'t, 'a, T: Element>(
    layers: impl IntoIterator<Item = (&'a str, &'a dyn Module<T>)>,
    mut x: Var<'t, T>,
) -> Result<Var<'t, T>> {
    let input = x.id();
    let layers: Vec<_> = layers.into_iter().collect();
    let mut i = 0;
    while let Some(&(name, layer)) = layers.get(i) {
        let rest = &layers[i + 1..];
        let fused = match x.tape().is_recording() {
            true => None,
            false => forward_fused(layer, rest, x).map_err(|e| at_layer(name, e))?,
        };
        let (y, taken) = match fused {
            Some(fused) => fused,
            None => match rest.first().and_then(|(_, next)| next.activation()) {
                Some(act) => (layer.forward_activated(x, act).map_err(|e| at_layer(name, e))?, 1),
                None => (layer.forward(x).map_err(|e| at_layer(name, e))?, 0),
            },
        };
        release_consumed(x, y, input);
        x = y;
        i += 1 + taken;
    }
    Ok(x)
}

/// Releases `x`, an intermediate value a layer read to give `y` (see [`Var::release`]),
/// unless it is the chain's `input` (the caller's) or `y` itself (a layer that passed it
/// through). What a VJP keeps stays; the rest goes back before the next layer allocates.
pub(crate) fn release_consumed<T: Element>(x: Var<'_, T>, y: Var<'_, T>, input: usize) {
    if x.id() != input && x.id() != y.id() {
        x.release();
    }
}

/// `layer` in inference with what follows it in `rest` taken in, and how many layers of
/// `rest` it took: the next layer's affine map when `layer` can fold it
/// ([`FoldAffine`](crate::FoldAffine)), an activation after that; then a convolution (with
/// its own map and activation) when `layer` can take one in ([`TakeConv`](crate::TakeConv)),
/// a pooling after those when `layer` can pool ([`FusePool`](crate::FusePool)), and a
/// flatten and a fully connected layer (and its activation) after all that when `layer` can
/// take them in ([`TakeDense`](crate::TakeDense)). `None`, taking nothing, when there is
/// neither a map, a convolution, a pooling nor a fully connected layer to take.
fn forward_fused<'t, T: Element>(
    layer: &dyn Module<T>,
    rest: &[(&str, &dyn Module<T>)],
    x: Var<'t, T>,
) -> Result<Option<(Var<'t, T>, usize)>> {
    let (fold, fuse_pool) = (layer.fold_affine(), layer.fuse_pool());
    let next = |k: usize| rest.get(k).map(|&(_, l)| l);
    let map = fold.and_then(|f| next(0)?.channel_affine().filter(|m| m.scale.len() == f.out_channels()));
    let mut taken = usize::from(map.is_some());
    let act = next(taken).and_then(|l| l.activation());
    taken += usize::from(act.is_some());
    // Whether `then` fit after `layer` (maps and activations keep the shape): a layer that
    // does not is left to itself, whose error names it.
    let fits = |then: &[&dyn Module<T>]| {
        let mut shape = layer.output_shape(&x.shape());
        for l in then {
            shape = shape.and_then(|s| l.output_shape(&s));
        }
        shape.is_ok()
    };
    // A convolution next, its batch norm and activation.
    let mut second = None;
    let conv_fits = |conv: &&dyn Module<T>| conv.take_conv().is_some() && fits(&[*conv]);
    if let Some(conv) = layer.take_conv().and(next(taken).filter(conv_fits)) {
        let face = conv.take_conv().expect("filtered");
        let map2 = next(taken + 1).and_then(|l| l.channel_affine());
        let folded = map2.as_ref().and_then(|m| face.as_second(Some(m)));
        let k = taken + 1 + usize::from(folded.is_some());
        if let Some(w) = folded.or_else(|| face.as_second(None)) {
            let act2 = next(k).and_then(|l| l.activation());
            taken = k + usize::from(act2.is_some());
            second = Some((w, act2, conv));
        }
    }
    let mut path: Vec<&dyn Module<T>> = second.iter().map(|s| s.2).collect();
    // A pooling after them.
    let pool_layer = next(taken).filter(|&pool| {
        (second.is_some() || fuse_pool.is_some()) && pool.pooling().is_some() && fits(&[&path[..], &[pool]].concat())
    });
    let pooling = pool_layer.and_then(|l| l.pooling());
    taken += usize::from(pooling.is_some());
    path.extend(pool_layer);
    let then = second.as_ref().map(|(w, act, _)| SecondConv {
        weight: &w.weight,
        bias: w.bias.as_ref(),
        window: w.window,
        act: *act,
    });
    // A flatten and a fully connected layer after all that, and its activation.
    if let Some(face) = layer.take_dense()
        && let (Some(flatten), Some(fc)) = (next(taken).filter(|l| l.is_flatten()), next(taken + 1))
        && let Some(dense) = fc.fully_connected()
        && fits(&[&path[..], &[flatten, fc]].concat())
    {
        let (weight, bias) = dense.dense_weights();
        let dense_act = next(taken + 2).and_then(|l| l.activation());
        let dense = Dense { weight: &weight, bias: bias.as_ref(), act: dense_act };
        let y = face.forward_dense(x, map.as_ref(), act, then.as_ref(), pooling.as_ref(), &dense)?;
        return Ok(Some((y, taken + 2 + usize::from(dense_act.is_some()))));
    }
    if let Some((face, then)) = layer.take_conv().zip(then) {
        let y = face.forward_pair(x, map.as_ref(), act, &then, pooling.as_ref())?;
        return Ok(Some((y, taken)));
    }
    Ok(match (fold, fuse_pool, map, pooling) {
        (_, Some(face), map, Some(pooling)) => Some((face.forward_pooled(x, map.as_ref(), act, &pooling)?, taken)),
        (Some(face), _, Some(map), None) => Some((face.forward_folded(x, &map, act)?, taken)),
        _ => None,
    })
}

/// An input-shape error of the layer `name`, naming it (`layer 3 (Conv2d(…))`).
pub(crate) fn at_layer(name: &str, e: LayerError) -> LayerError {
    match e {
        LayerError::InputShape { module, expected, got } => {
            LayerError::InputShape { module: format!("layer {name} ({module})"), expected, got }
        }
        other => other,
    }
}
