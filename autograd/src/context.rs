//! What a layer may need to know about the step it runs in, beyond its input: which shard
//! of the batch this tape records, the reduce group that joins the shards, and the keys of
//! the step's random streams. The training stack attaches it to each shard's tape
//! ([`Tape::with_context`](crate::Tape::with_context)); a layer reads it in its forward
//! pass through [`Var::tape`](crate::Var::tape) and [`Tape::context`](crate::Tape::context),
//! so `Module::forward(&self, Var)` needs no extra argument.

use std::sync::Arc;

use tensor::{CounterRng, Element, Tensor};

use crate::collective::ReduceGroup;

/// The step a tape records: see the module documentation.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// This tape's shard, in `0..shards`.
    pub shard: usize,
    /// The number of shards the batch is split into (1 when not split).
    pub shards: usize,
    /// The index of this shard's first sample in the whole batch, so that per-sample
    /// random draws do not depend on how the batch is split.
    pub first_sample: usize,
    /// The group joining the shards (None for a single shard): ops that need whole-batch
    /// statistics (batch normalisation) all-reduce through it.
    pub group: Option<Arc<ReduceGroup>>,
    /// The run's seed.
    pub seed: u64,
    /// The global step (counted over the whole run, so that a resumed run continues it).
    pub step: u64,
}

impl StepContext {
    /// The context of an unsplit batch: shard 0 of 1, no group.
    pub fn single(seed: u64, step: u64) -> Self {
        StepContext { shard: 0, shards: 1, first_sample: 0, group: None, seed, step }
    }

    /// The random stream of layer `layer` in this step, keyed by `(seed, step, layer)`:
    /// the same for every shard, to be indexed by the element's position in the whole
    /// batch (this shard's elements start at `first_sample · elements per sample`).
    pub fn stream(&self, layer: u64) -> CounterRng {
        CounterRng::from_words(&[self.seed, self.step, layer])
    }

    /// The dropout keep-mask of layer `layer` for this shard's part of the batch, `shape`
    /// being `[samples of this shard, …]`: element `e` of the whole batch is kept with
    /// probability `1 − p`, drawn from [`StepContext::stream`] at index `e`, so the shards'
    /// masks are the rows of the whole batch's mask whatever the split.
    pub fn dropout_mask<T: Element>(&self, layer: u64, shape: &[usize], p: f64) -> tensor::Result<Tensor<T>> {
        let per_sample: usize = shape.iter().skip(1).product();
        let first = (self.first_sample as u64).wrapping_mul(per_sample as u64);
        self.stream(layer).keep_mask(shape, p, first)
    }

    /// The group and this shard's index, as batch normalisation takes them.
    pub fn shard_of_group(&self) -> Option<(Arc<ReduceGroup>, usize)> {
        self.group.clone().map(|g| (g, self.shard))
    }
}
