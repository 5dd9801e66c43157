//! The result of a backward pass: one gradient per leaf, by node or by parameter.

use tensor::{Element, Tensor};

use crate::param::{Param, ParamId};
use crate::tape::Var;

/// Gradients of the leaves and parameters an output depends on. It holds no borrow of the
/// tape, so the tape can be dropped or reset before an optimizer uses them.
pub struct Gradients<T> {
    /// The tape these came from; `get` answers only for its `Var`s.
    tape: u64,
    by_node: Vec<Option<Tensor<T>>>,
    /// Each parameter's gradient, summed over every leaf that brought it onto the tape.
    by_param: Vec<(ParamId, Tensor<T>)>,
}

impl<T: Element> Gradients<T> {
    pub(crate) fn new(tape: u64, nodes: usize) -> Self {
        Gradients { tape, by_node: vec![None; nodes], by_param: Vec::new() }
    }

    /// Stores a leaf's gradient, and adds it to its parameter's sum.
    pub(crate) fn insert(&mut self, node: usize, param: Option<ParamId>, grad: Tensor<T>) -> tensor::Result<()> {
        if let Some(id) = param {
            self.add_to_param(id, &grad)?;
        }
        self.by_node[node] = Some(grad);
        Ok(())
    }

    fn add_to_param(&mut self, id: ParamId, grad: &Tensor<T>) -> tensor::Result<()> {
        match self.by_param.iter_mut().find(|(p, _)| *p == id) {
            Some((_, acc)) => acc.add_assign(grad),
            None => {
                self.by_param.push((id, grad.clone()));
                Ok(())
            }
        }
    }

    /// The gradient of a leaf made with [`Tape::leaf`](crate::Tape::leaf) or
    /// [`Tape::param`](crate::Tape::param) (this leaf's share only, for a parameter brought
    /// on more than once); `None` if the output does not depend on it or `var` belongs to
    /// another tape.
    pub fn get(&self, var: Var<'_, T>) -> Option<&Tensor<T>> {
        if var.tape().id() != self.tape {
            return None;
        }
        self.by_node.get(var.id()).and_then(Option::as_ref)
    }

    /// The gradient of a parameter, summed over every time it was brought onto the tape;
    /// `None` if the output does not depend on it.
    pub fn param(&self, param: &Param<T>) -> Option<&Tensor<T>> {
        self.param_by_id(param.id())
    }

    /// Like [`Gradients::param`], by identity.
    pub fn param_by_id(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.by_param.iter().find(|(p, _)| *p == id).map(|(_, g)| g)
    }

    /// Adds every parameter gradient of `other` into this one (inserting those this one
    /// lacks): the gradient of a sum of losses computed on separate tapes, e.g. over the
    /// slices of a batch on several threads. Leaf gradients (`get`) are not merged.
    pub fn accumulate(&mut self, other: &Gradients<T>) -> tensor::Result<()> {
        for (id, g) in other.params() {
            self.add_to_param(id, g)?;
        }
        Ok(())
    }

    /// Multiplies every parameter gradient by `factor` in place (e.g. to clip the global
    /// gradient norm). Leaf gradients (`get`) are left as they are.
    pub fn scale_all(&mut self, factor: T) {
        for (_, g) in &mut self.by_param {
            g.scale(factor);
        }
    }

    /// The parameters that received a gradient, with their gradients.
    pub fn params(&self) -> impl Iterator<Item = (ParamId, &Tensor<T>)> + '_ {
        self.by_param.iter().map(|(id, g)| (*id, g))
    }
}
