//! One step's forward and backward pass over a batch split across threads, and inference.
//!
//! The batch is split into `threads` contiguous slices; each thread records its slice on
//! its own tape, with its mean loss weighted by `slice / batch`, so the gradients of the
//! slices add up to the gradient of the batch's mean loss. The slices are summed in thread
//! order, so a step is reproducible bit for bit for a given thread count.
//!
//! Each tape carries a [`StepContext`]: its shard, the step's [`ReduceGroup`] (layers that
//! need whole-batch statistics, such as batch normalisation, all-reduce through it, so
//! their results do not depend on the split beyond rounding) and the keys of the step's
//! random streams (dropout masks are a function of the run's seed, the global step, the
//! layer and the sample's place in the batch, so a resumed run draws the same masks). A
//! shard that fails aborts the group, so the others return instead of waiting for it.

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

use autograd::{Gradients, ReduceGroup, StepContext, Tape};
use layers::Module;
use tensor::{BufferPool, Tensor};

use super::TrainError;
use super::chunk::infer_chunk;

/// The result of one step before the update: mean loss, correct predictions, gradients.
pub struct StepOutcome {
    /// Mean data loss over the batch.
    pub loss: f64,
    /// Images whose argmax is the label.
    pub correct: usize,
    /// Gradients of the batch's mean loss.
    pub grads: Gradients<f32>,
}

/// Forward and backward of one batch `x: [N, …]` with `labels` over `threads` slices, as
/// step 0 of a run seeded 0 (see [`forward_backward_step`]).
pub fn forward_backward<M: Module<f32> + ?Sized>(
    model: &M,
    x: &Tensor<f32>,
    labels: &[usize],
    threads: usize,
) -> Result<StepOutcome, TrainError> {
    forward_backward_step(model, x, labels, threads, 0, 0)
}

/// Forward and backward of one batch as global step `step` of a run seeded `seed` (the
/// keys of the step's random streams).
pub fn forward_backward_step<M: Module<f32> + ?Sized>(
    model: &M,
    x: &Tensor<f32>,
    labels: &[usize],
    threads: usize,
    seed: u64,
    step: u64,
) -> Result<StepOutcome, TrainError> {
    let n = labels.len();
    let shards = slices(n, threads).len();
    let group = Arc::new(ReduceGroup::new(shards)?);
    let run = |shard: usize, &(start, len): &(usize, usize)| -> Result<StepOutcome, TrainError> {
        let _abort_on_panic = group.abort_on_panic(shard);
        let context = StepContext { shard, shards, first_sample: start, group: Some(group.clone()), seed, step };
        let result = (|| {
            let tape = Tape::with_context(context);
            let xs = tape.constant(x.narrow(0, start, len)?);
            let logits = model.forward(xs)?;
            let correct = count_correct(&logits.value(), &labels[start..start + len])?;
            let loss = logits.softmax_cross_entropy(&labels[start..start + len])?.scale(len as f32 / n as f32)?;
            let value = f64::from(loss.value().item()?);
            let grads = tape.backward(loss)?;
            Ok(StepOutcome { loss: value, correct, grads })
        })();
        if let Err(e) = &result {
            group.abort(&format!("shard {shard} failed: {e}"));
        }
        result
    };
    let mut outcomes = on_threads(n, threads, run).into_iter();
    let mut total = outcomes.next().expect("at least one slice")?;
    for o in outcomes {
        let o = o?;
        total.loss += o.loss;
        total.correct += o.correct;
        total.grads.accumulate(&o.grads)?;
    }
    Ok(total)
}

/// The outputs `[N, K]` of a batch `x: [N, …]` without recording gradients, the batch
/// split over `threads` and each thread's share into calls of at most
/// [`INFER_CHUNK`](super::INFER_CHUNK) images, fewer when a chunk's activations would
/// outgrow the cache (see `chunk.rs`; each image's output does not depend on the split:
/// the model must be in evaluation mode, as for any prediction).
pub fn infer<M: Module<f32> + ?Sized>(model: &M, x: &Tensor<f32>, threads: usize) -> Result<Tensor<f32>, TrainError> {
    let n = x.shape().first().copied().unwrap_or(0);
    let chunk = infer_chunk(model, x.shape().get(1..).unwrap_or(&[]));
    let run = |_: usize, &(start, len): &(usize, usize)| -> Result<Vec<Tensor<f32>>, TrainError> {
        (start..start + len.max(1))
            .step_by(chunk)
            .map(|from| Ok(model.predict(&x.narrow(0, from, chunk.min(start + len - from))?)?))
            .collect()
    };
    let mut parts = Vec::new();
    for part in on_threads(n, threads, run) {
        parts.extend(part?);
    }
    if parts.len() == 1 {
        return Ok(parts.pop().expect("one part"));
    }
    let mut shape = parts[0].shape().to_vec();
    shape[0] = n;
    let mut values = Vec::with_capacity(parts.iter().map(Tensor::numel).sum());
    for part in &parts {
        values.extend(part.iter());
    }
    Ok(Tensor::from_vec(&shape, values)?)
}

/// Runs `f(index, slice)` on `threads` contiguous slices of `n` items (the first on the
/// calling thread, the others on the [`workers`] for that count, which persist across calls:
/// a thread spawned per call cost 80–95 µs here, a fifth of a small network's inference on
/// half a batch of 64), returning the results in slice order. Every slice draws its large
/// buffers from the caller's [`BufferPool`], if it has entered one.
fn on_threads<R: Send>(n: usize, threads: usize, f: impl Fn(usize, &(usize, usize)) -> R + Sync) -> Vec<R> {
    let slices = slices(n, threads);
    if slices.len() == 1 {
        return vec![f(0, &slices[0])];
    }
    let (f, pool) = (&f, BufferPool::current());
    let mut results: Vec<Option<R>> = slices.iter().map(|_| None).collect();
    let (first, rest) = results.split_first_mut().expect("two slices or more");
    match workers(slices.len() - 1) {
        Some(workers) => workers.in_place_scope(|s| {
            spawn_slices(s, rest, &slices[1..], f, &pool);
            *first = Some(f(0, &slices[0]));
        }),
        None => rayon::in_place_scope(|s| {
            spawn_slices(s, rest, &slices[1..], f, &pool);
            *first = Some(f(0, &slices[0]));
        }),
    }
    results.into_iter().map(|r| r.expect("every slice ran")).collect()
}

/// Spawns `f(i + 1, slice)` for each of `slices` (all but the first) into `slots`.
fn spawn_slices<'s, R: Send, F: Fn(usize, &(usize, usize)) -> R + Sync>(
    s: &rayon::Scope<'s>,
    slots: &'s mut [Option<R>],
    slices: &'s [(usize, usize)],
    f: &'s F,
    pool: &Option<BufferPool>,
) {
    for (i, (slot, slice)) in slots.iter_mut().zip(slices).enumerate() {
        let pool = pool.clone();
        s.spawn(move |_| {
            let _entered = pool.as_ref().map(BufferPool::enter);
            *slot = Some(f(i + 1, slice));
        });
    }
}

/// Pools of workers kept for the process, the most recently used last.
static WORKERS: Mutex<Vec<(usize, Arc<ThreadPool>)>> = Mutex::new(Vec::new());

/// A pool of exactly `count` worker threads (the caller runs the first slice), made once
/// per count and kept (the last 4 counts used); `None` if the threads cannot be made (the
/// slices then go to rayon's global pool). Two reasons not to use rayon's global pool (a
/// worker per core): beside the caller, its idle worker spun on the second of 2 cores (on
/// 2 threads, inference at batch 256: the overlapping-pool network +12 %, the batch-norm
/// network +20 %, the small residual network +8 %, and steadier); and more slices than
/// workers left a batch norm's shards waiting for each other for ever (`--threads 5` on 2
/// cores hung), as each shard blocks until every shard has reached it.
fn workers(count: usize) -> Option<Arc<ThreadPool>> {
    let mut pools = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(at) = pools.iter().position(|(n, _)| *n == count) {
        let entry = pools.remove(at);
        let pool = Arc::clone(&entry.1);
        pools.push(entry);
        return Some(pool);
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new().num_threads(count).thread_name(|i| format!("lenet5-worker-{i}")).build().ok()?,
    );
    if pools.len() >= 4 {
        pools.remove(0);
    }
    pools.push((count, Arc::clone(&pool)));
    Some(pool)
}

/// `threads` contiguous `(start, len)` slices of `n` items, sizes differing by at most 1,
/// none empty.
pub fn slices(n: usize, threads: usize) -> Vec<(usize, usize)> {
    let parts = threads.clamp(1, n.max(1));
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let s = (start, len);
            start += len;
            s
        })
        .collect()
}

/// How many rows of `logits: [N, K]` have their first maximum at the label.
pub fn count_correct(logits: &Tensor<f32>, labels: &[usize]) -> Result<usize, TrainError> {
    let predicted = logits.argmax_axis(1, false)?;
    Ok(predicted.iter().zip(labels).filter(|(p, l)| p == *l).count())
}
