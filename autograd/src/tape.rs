//! The tape: the record of one forward pass, walked once in reverse by `backward`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tensor::{Element, Tensor};

use crate::context::StepContext;
use crate::error::{AutogradError, Result};
use crate::gradients::Gradients;
use crate::kept::{Kept, Recipe};
use crate::op::Op;
use crate::param::{Param, ParamId};

/// What a node is, for the backward walk.
enum Origin<T: Element> {
    /// A value that needs no gradient: a constant, or anything computed from constants or
    /// in no-grad mode.
    Constant,
    /// A leaf whose gradient the caller wants (an input to check, a parameter).
    Leaf(Option<ParamId>),
    /// The output of an op: its VJP and the nodes it read.
    Op { op: Box<dyn Op<T>>, inputs: Vec<usize>, wanted: Vec<bool> },
    /// The output of an op whose VJP a backward pass has run and dropped, with what it
    /// saved (see [`Tape::set_retain_graph`]).
    Spent { op: &'static str },
}

/// A node's value, or only its shape once the value was [released](Var::release).
enum Slot<T: Element> {
    Held(Tensor<T>),
    Released(Vec<usize>),
}

struct Node<T: Element> {
    value: Slot<T>,
    origin: Origin<T>,
    /// How to compute the value again, if the op that made it said (see [`Kept`]).
    recipe: Option<Recipe<T>>,
}

impl<T: Element> Node<T> {
    fn requires_grad(&self) -> bool {
        !matches!(self.origin, Origin::Constant)
    }

    fn shape(&self) -> &[usize] {
        match &self.value {
            Slot::Held(t) => t.shape(),
            Slot::Released(shape) => shape,
        }
    }
}

/// The record of one forward pass. Ops on [`Var`]s append nodes; [`Tape::backward`] walks
/// them once in reverse. Make a tape per training step (or [`Tape::reset`] one), so that
/// memory does not grow with the number of steps.
///
/// The tape uses interior mutability: ops take `Var`s by value (they are `Copy` handles)
/// and record through a shared `&Tape`, so a model's forward pass is written as plain
/// method calls with no `&mut` threading through it.
pub struct Tape<T: Element> {
    id: u64,
    nodes: RefCell<Vec<Node<T>>>,
    recording: Cell<bool>,
    retain_graph: bool,
    context: Option<StepContext>,
}

/// A handle to a value on a [`Tape`]: cheap to copy, borrowing the tape so that it cannot
/// outlive it.
#[derive(Clone, Copy)]
pub struct Var<'t, T: Element> {
    tape: &'t Tape<T>,
    id: usize,
}

impl<T: Element> Default for Tape<T> {
    fn default() -> Self {
        Tape::new()
    }
}

impl<T: Element> Tape<T> {
    /// An empty tape that records ops.
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Tape { id, nodes: RefCell::new(Vec::new()), recording: Cell::new(true), retain_graph: false, context: None }
    }

    /// An empty recording tape carrying `context`: the shard, reduce group and random-stream
    /// keys of the step, which layers read in their forward pass with [`Tape::context`].
    pub fn with_context(context: StepContext) -> Self {
        let mut tape = Tape::new();
        tape.context = Some(context);
        tape
    }

    /// The step context this tape carries, if any (see [`StepContext`]). It survives
    /// [`Tape::reset`]; replace it with [`Tape::set_context`].
    pub fn context(&self) -> Option<&StepContext> {
        self.context.as_ref()
    }

    /// Replaces the step context (e.g. for the next step of a reused tape).
    pub fn set_context(&mut self, context: Option<StepContext>) {
        self.context = context;
    }

    /// This tape's identity, unique within the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// An empty tape in no-grad mode: ops compute their values and record no VJP, keep no
    /// saved tensors, and `backward` fails. For inference.
    pub fn no_grad() -> Self {
        let tape = Tape::new();
        tape.recording.set(false);
        tape
    }

    /// Turns recording off until the guard is dropped (even by a panic), then restores
    /// the previous mode.
    pub fn no_grad_guard(&self) -> NoGradGuard<'_, T> {
        NoGradGuard { tape: self, previous: self.recording.replace(false) }
    }

    /// Whether [`backward`](Tape::backward) keeps each op's VJP and saved tensors, so that
    /// it can run again from another output (`true`), or drops them as it goes (`false`,
    /// the default, as PyTorch's `retain_graph=False`): a training step's saved
    /// activations then go back while the backward pass still runs, instead of all staying
    /// until the tape is dropped, which lowers the step's peak memory. A second backward
    /// pass through a dropped op fails with [`AutogradError::GraphFreed`].
    pub fn set_retain_graph(&mut self, retain: bool) {
        self.retain_graph = retain;
    }

    /// Whether ops record their VJPs.
    pub fn is_recording(&self) -> bool {
        self.recording.get()
    }

    /// Drops every node, keeping the allocation for the next step.
    pub fn reset(&mut self) {
        self.nodes.get_mut().clear();
    }

    /// The number of nodes on the tape.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether the tape holds no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of nodes that carry a VJP (0 in no-grad mode).
    pub fn recorded_ops(&self) -> usize {
        self.nodes.borrow().iter().filter(|n| matches!(n.origin, Origin::Op { .. })).count()
    }

    /// A value that needs no gradient (input images, labels as one-hot, ...).
    pub fn constant(&self, value: Tensor<T>) -> Var<'_, T> {
        self.push(value, Origin::Constant)
    }

    /// A leaf whose gradient `backward` returns (look it up with [`Gradients::get`]). In
    /// no-grad mode it is a constant.
    pub fn leaf(&self, value: Tensor<T>) -> Var<'_, T> {
        let origin = if self.is_recording() { Origin::Leaf(None) } else { Origin::Constant };
        self.push(value, origin)
    }

    /// A parameter on this tape (sharing its storage, no copy); its gradient is found with
    /// [`Gradients::param`]. In no-grad mode it is a constant.
    pub fn param(&self, param: &Param<T>) -> Var<'_, T> {
        let origin = if self.is_recording() { Origin::Leaf(Some(param.id())) } else { Origin::Constant };
        self.push(param.value.clone(), origin)
    }

    /// Records the output `value` of an op over `inputs`. The op (its VJP and saved
    /// tensors) is built by `make` only when recording and some input needs a gradient;
    /// otherwise the output is a constant and nothing is kept for backward.
    pub fn record<'t, O: Op<T> + 'static>(
        &'t self,
        inputs: &[Var<'t, T>],
        value: Tensor<T>,
        make: impl FnOnce() -> O,
    ) -> Result<Var<'t, T>> {
        if inputs.iter().any(|v| !std::ptr::eq(v.tape, self)) {
            return Err(AutogradError::ForeignVar { op: "record" });
        }
        let wanted: Vec<bool> = {
            let nodes = self.nodes.borrow();
            inputs.iter().map(|v| nodes[v.id].requires_grad()).collect()
        };
        if !self.is_recording() || !wanted.iter().any(|&w| w) {
            return Ok(self.push(value, Origin::Constant));
        }
        let inputs = inputs.iter().map(|v| v.id).collect();
        Ok(self.push(value, Origin::Op { op: Box::new(make()), inputs, wanted }))
    }

    fn push(&self, value: Tensor<T>, origin: Origin<T>) -> Var<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node { value: Slot::Held(value), origin, recipe: None });
        Var { tape: self, id: nodes.len() - 1 }
    }

    /// The gradients of every leaf and parameter that `output` depends on, for a scalar
    /// (one-element) `output`, with seed `∂output/∂output = 1`.
    pub fn backward(&self, output: Var<'_, T>) -> Result<Gradients<T>> {
        let shape = output.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(AutogradError::NonScalarOutput { shape });
        }
        self.backward_with_seed(output, Tensor::ones(&shape)?)
    }

    /// Reverse-mode sweep from `output` with the seed gradient `seed` (the vector of the
    /// vector-Jacobian product; same shape as `output`). A node used by several ops
    /// accumulates the sum of their contributions.
    pub fn backward_with_seed(&self, output: Var<'_, T>, seed: Tensor<T>) -> Result<Gradients<T>> {
        if !std::ptr::eq(output.tape, self) {
            return Err(AutogradError::ForeignVar { op: "backward" });
        }
        {
            let nodes = self.nodes.borrow();
            let root = &nodes[output.id];
            if seed.shape() != root.shape() {
                return Err(AutogradError::SeedShape { seed: seed.shape().to_vec(), output: root.shape().to_vec() });
            }
            if !root.requires_grad() {
                return Err(AutogradError::DoesNotRequireGrad);
            }
        }
        let mut pending: Vec<Option<Tensor<T>>> = vec![None; output.id + 1];
        pending[output.id] = Some(seed);
        let mut grads = Gradients::new(self.id, output.id + 1);
        for id in (0..=output.id).rev() {
            let Some(grad) = pending[id].take() else { continue };
            let (taken, name, inputs, wanted) = {
                let mut nodes = self.nodes.borrow_mut();
                let origin = &mut nodes[id].origin;
                match origin {
                    Origin::Constant => continue,
                    Origin::Leaf(param) => {
                        grads.insert(id, *param, grad)?;
                        continue;
                    }
                    Origin::Spent { op } => return Err(AutogradError::GraphFreed { op }),
                    Origin::Op { op, inputs, wanted } if self.retain_graph => {
                        (None, op.name(), inputs.clone(), wanted.clone())
                    }
                    Origin::Op { op, .. } => {
                        let name = op.name();
                        match std::mem::replace(origin, Origin::Spent { op: name }) {
                            Origin::Op { op, inputs, wanted } => (Some(op), name, inputs, wanted),
                            _ => unreachable!("matched an op above"),
                        }
                    }
                }
            };
            let contributions = match taken {
                Some(op) if !inputs.iter().any(|&i| pending[i].is_some()) => op.vjp_last(&grad, &wanted)?,
                Some(op) => {
                    // The sums so far of the inputs read once, lent to the op to add into.
                    let once = |k: usize| inputs.iter().filter(|&&i| i == inputs[k]).count() == 1;
                    let mut sums: Vec<Option<Tensor<T>>> =
                        (0..inputs.len()).map(|k| if once(k) { pending[inputs[k]].take() } else { None }).collect();
                    let mut acc: Vec<Option<&mut Tensor<T>>> = sums.iter_mut().map(Option::as_mut).collect();
                    let result = op.vjp_last_adding(&grad, &wanted, &mut acc);
                    drop(acc);
                    for (&input, sum) in inputs.iter().zip(sums) {
                        if sum.is_some() {
                            pending[input] = sum;
                        }
                    }
                    result?
                }
                None => match &self.nodes.borrow()[id].origin {
                    Origin::Op { op, .. } => op.vjp(&grad, &wanted)?,
                    _ => unreachable!("a retained op stays on the tape"),
                },
            };
            drop(grad);
            for (k, (&input, contribution)) in inputs.iter().zip(contributions).enumerate() {
                let Some(g) = contribution.filter(|_| wanted[k]) else { continue };
                let nodes = self.nodes.borrow();
                let expected = nodes[input].shape();
                if g.shape() != expected {
                    let (expected, got) = (expected.to_vec(), g.shape().to_vec());
                    return Err(AutogradError::VjpShape { op: name, input: k, expected, got });
                }
                drop(nodes);
                match &mut pending[input] {
                    Some(acc) => acc.add_assign(&g)?,
                    slot => *slot = Some(g),
                }
            }
        }
        Ok(grads)
    }
}

impl<'t, T: Element> Var<'t, T> {
    /// The tape this value lives on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The node index on the tape (stable for the tape's life).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The value (sharing storage with the tape; no copy).
    ///
    /// # Panics
    ///
    /// If the value was [released](Var::release): releasing is the promise not to read it.
    pub fn value(&self) -> Tensor<T> {
        match &self.tape.nodes.borrow()[self.id].value {
            Slot::Held(t) => t.clone(),
            Slot::Released(_) => panic!("Var::value: node {} was released (Var::release)", self.id),
        }
    }

    /// The value's shape (known after a [release](Var::release) too).
    pub fn shape(&self) -> Vec<usize> {
        self.tape.nodes.borrow()[self.id].shape().to_vec()
    }

    /// Tells the tape that this value will not be read again (by [`Var::value`] or as an
    /// op's input): the tape drops its reference, so the memory goes back as soon as no
    /// recorded VJP keeps it (a convolution keeps its input, a ReLU its output; an
    /// addition keeps neither). Gradients still flow through it. `layers::forward_chain`
    /// calls it on each intermediate value once the next layer has read it, so that a
    /// forward pass holds only what its backward pass needs (in inference: only the values
    /// in flight).
    pub fn release(self) {
        let mut nodes = self.tape.nodes.borrow_mut();
        let node = &mut nodes[self.id];
        if let Slot::Held(t) = &node.value {
            node.value = Slot::Released(t.shape().to_vec());
        }
    }

    /// What an op should keep of this value for its VJP: the value, or the recipe the op
    /// that made it registered (batch norm with an activation does), so that the value's
    /// buffer goes back once [released](Var::release). See [`Kept`].
    ///
    /// # Panics
    ///
    /// If the value was released and has no live recipe, as [`Var::value`].
    pub fn kept(&self) -> Kept<T> {
        let recipe = self.tape.nodes.borrow()[self.id].recipe.as_ref().and_then(|r| r.upgrade());
        match recipe {
            Some(r) => Kept::recipe(r),
            None => Kept::value(self.value()),
        }
    }

    /// Registers how this value can be computed again; the tape holds it weakly, so the
    /// recipe lives as long as the ops that keep it (the caller's op must hold it strongly).
    pub(crate) fn set_recipe(&self, recipe: &Rc<dyn tensor::ImageSource<T>>) {
        self.tape.nodes.borrow_mut()[self.id].recipe = Some(Rc::downgrade(recipe));
    }

    /// Whether a gradient flows back through this value.
    pub fn requires_grad(&self) -> bool {
        self.tape.nodes.borrow()[self.id].requires_grad()
    }
}

/// Restores the tape's recording mode when dropped; see [`Tape::no_grad_guard`].
pub struct NoGradGuard<'t, T: Element> {
    tape: &'t Tape<T>,
    previous: bool,
}

impl<T: Element> Drop for NoGradGuard<'_, T> {
    fn drop(&mut self) {
        self.tape.recording.set(self.previous);
    }
}
